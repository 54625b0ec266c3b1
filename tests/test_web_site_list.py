"""A gate whose allowlist comes from the site's signed sync: the console shows it read-only
with a banner, and the daemon refuses changes from the console (platectl still may)."""

from __future__ import annotations

import re
import threading

import pytest
from cli_support import cleanup, short_dir, write_frames
from gpiozero.pins.mock import MockFactory

from plategate.access.entry import make_entry
from plategate.config import parse_config
from plategate.control_client import ControlClient
from plategate.errors import ControlError
from tests.mqtt_helpers import site_key

pytest.importorskip("flask", reason="the web extra is not installed")
pytest.importorskip("argon2", reason="the web extra is not installed")
service_mod = pytest.importorskip("plategate.service")
recognizer_mod = pytest.importorskip("plategate.vision.recognizer")
pytestmark = pytest.mark.mosquitto

from plategate.mqtt.signing import public_key_b64  # noqa: E402
from plategate.web.app import create_app  # noqa: E402
from plategate.web.auth import set_password  # noqa: E402

PASSWORD = "site managed list"


class NoPlate:
    def recognize(self, frame, roi=None):
        return recognizer_mod.RecognitionResult(timing_ms={"detect": 0.0, "read": 0.0, "total": 0.0})


@pytest.fixture
def synced_gate(mosquitto):
    host, port = mosquitto
    root = short_dir()
    cfg = parse_config({
        "site_id": "estate", "gate_id": "north", "state_dir": str(root / "state"),
        "camera": {"backend": "replay", "source": str(write_frames(root / "frames")), "width": 320, "height": 240,
                   "lores_width": 160, "lores_height": 120, "fps": 10, "loop": True},
        "gate": {"pin_factory": "mock"},
        "control": {"socket": str(root / "control.sock"), "group": ""},
        "mqtt": {"enabled": True, "host": host, "port": port,
                 "site_public_keys": [public_key_b64(site_key().public_key())]},
        "web": {"password_file": str(root / "web.passwd")},
    })
    service = service_mod.Service(cfg, pin_factory=MockFactory(), recognizer=NoPlate())
    service.start()
    service.store.replace_all([make_entry("AB12CDE", "Flat 3"), make_entry("ZZ999ZZ", kind="block")], version=7,
                              origin="site")
    runner = threading.Thread(target=service.run, kwargs={"duration": 60}, daemon=True)
    runner.start()
    set_password(cfg.web.password_file, "bob", PASSWORD)
    yield cfg, service
    service.request_stop()
    runner.join(10)
    service.stop()
    cleanup(root)


def logged_in(app):
    client = app.test_client()
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    assert client.post("/login", data={"user": "bob", "password": PASSWORD, "csrf": token}).status_code == 302
    return client


def test_site_list_is_read_only_in_the_console(synced_gate):
    cfg, service = synced_gate
    client = logged_in(create_app(cfg))
    page = client.get("/allowlist").get_data(as_text=True)
    assert 'id="site-banner"' in page and "signed allowlist sync" in page
    assert 'id="entry-form"' not in page and "Remove" not in page
    assert "AB12CDE" in page and "ZZ999ZZ" in page and "version 7" in page
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/relay").get_data(as_text=True)).group(1)
    r = client.post("/allowlist", data={"csrf": csrf, "plate": "NEW1", "kind": "allow"})
    assert r.status_code == 400 and "comes from the site" in r.get_data(as_text=True)
    client.post("/allowlist/AB12CDE/delete", data={"csrf": csrf})
    assert service.store.get("AB12CDE") is not None and service.store.get("NEW1") is None
    assert service.store.state()["origin"] == "site" and service.audit.recent(10) == []
    # The technician's platectl is not the console: it still may (and is journaled as such).
    with pytest.raises(ControlError, match="comes from the site"):
        ControlClient(cfg.control.socket).call("allowlist_remove", plate="AB12CDE", source="web", user="web:x")
    ControlClient(cfg.control.socket).call("allowlist_remove", plate="ZZ999ZZ", user="platectl:tech")
    assert [(r["user"], r["action"], r["target"]) for r in service.audit.recent(5)] == \
        [("platectl:tech", "allowlist_remove", "ZZ999ZZ")]
