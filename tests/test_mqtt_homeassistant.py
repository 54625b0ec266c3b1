"""Home Assistant discovery as a full device, against a real mosquitto and the real daemon:
the image entity gets the last plate crop, the event entity's template turns each event into
an HA event, and the gate / relay / camera / pipeline sensors follow the daemon's status."""

from __future__ import annotations

import json
import threading
import time

import pytest
from cli_support import cleanup, short_dir, write_frames
from gpiozero.pins.mock import MockFactory

from plategate.config import parse_config
from plategate.control_client import ControlClient
from tests.mqtt_helpers import Recorder

jinja2 = pytest.importorskip("jinja2", reason="jinja2 comes with the web extra")
service_mod = pytest.importorskip("plategate.service")
recognizer_mod = pytest.importorskip("plategate.vision.recognizer")
pytestmark = pytest.mark.mosquitto

NODE = "plategate_estate_north"
BASE = "plategate/estate/north"


class NoPlate:
    def recognize(self, frame, roi=None):
        return recognizer_mod.RecognitionResult(timing_ms={"detect": 0.0, "read": 0.0, "total": 0.0})


def render(template: str, payload: bytes) -> str:
    """What Home Assistant does with a value_template: Jinja over the parsed JSON payload."""
    return jinja2.Environment().from_string(template).render(value_json=json.loads(payload)).strip()


@pytest.fixture
def daemon(mosquitto):
    host, port = mosquitto
    root = short_dir()
    cfg = parse_config({
        "site_id": "estate", "gate_id": "north", "state_dir": str(root / "state"),
        "camera": {"backend": "replay", "source": str(write_frames(root / "frames", n=10)), "width": 320,
                   "height": 240, "lores_width": 160, "lores_height": 120, "fps": 20, "loop": True},
        "gate": {"pin_factory": "mock", "relay": {"pin": 17, "pulse_ms": 1500}},
        "control": {"socket": str(root / "control.sock"), "group": ""},
        "mqtt": {"enabled": True, "host": host, "port": port, "homeassistant": True, "reconnect_min_s": 0.1},
    })
    service = service_mod.Service(cfg, pin_factory=MockFactory(), recognizer=NoPlate())
    service.start()
    runner = threading.Thread(target=service.run, kwargs={"duration": 60}, daemon=True)
    runner.start()
    yield service, host, port
    service.request_stop()
    runner.join(10)
    service.stop()
    cleanup(root)


def test_full_home_assistant_device(daemon):
    service, host, port = daemon
    rec = Recorder(host, port, ["homeassistant/#", f"{BASE}/#"])
    assert rec.wait_for(lambda m: sum(t.startswith("homeassistant/") for t, _ in m) >= 10, 15)
    configs = {t: json.loads(p) for t, p in rec.messages if t.startswith("homeassistant/") and p}
    entity = {t.split("/")[1] + "/" + t.split("/")[3]: c for t, c in configs.items()}
    assert {"image/last_plate_image", "event/decision", "sensor/gate_state", "binary_sensor/relay",
            "binary_sensor/camera_problem", "binary_sensor/pipeline_problem", "sensor/last_plate"} <= set(entity)
    assert all(c["device"]["identifiers"] == [NODE] for c in configs.values())
    assert len({c["unique_id"] for c in configs.values()}) == len(configs)
    assert "button/open" not in entity  # unsigned opens are off by default: no button
    image, event = entity["image/last_plate_image"], entity["event/decision"]
    assert image["image_topic"] == f"{BASE}/snapshot" and image["content_type"] == "image/jpeg"
    assert event["event_types"] == ["granted", "denied", "unknown"]

    # An event with a snapshot: the event entity's template gives HA its event, the image is retained.
    jpeg = b"\xff\xd8\xff\xe0plate-crop\xff\xd9"
    event_id = service.bridge.publish_event({"id": "ev-1", "plate": "AB12CDE", "decision": "granted",
                                             "reason": "exact_match", "label": "Flat 3", "confidence": 0.97}, jpeg)
    assert rec.wait_for(lambda m: any(t == f"{BASE}/event" for t, _ in m), 10)
    payload = next(p for t, p in rec.messages if t == f"{BASE}/event")
    fired = json.loads(render(event["value_template"], payload))
    assert fired == {"event_type": "granted", "plate": "AB12CDE", "reason": "exact_match", "label": "Flat 3",
                     "confidence": 0.97, "id": event_id}
    late = Recorder(host, port, [image["image_topic"]])  # a Home Assistant that starts later
    assert late.wait_for(lambda m: m, 10)
    assert late.messages[0][1] == jpeg
    late.close()

    # A manual open: the gate and relay sensors follow within a second, camera and pipeline are fine.
    status_count = sum(1 for t, _ in rec.messages if t == f"{BASE}/status")
    ControlClient(service.cfg.control.socket).call("open", reason="test", user="test")

    def latest_status_with(pred):
        for t, p in reversed(rec.messages):
            if t == f"{BASE}/status" and "health" in json.loads(p) and pred(json.loads(p)):
                return p
        return None

    assert rec.wait_for(lambda m: latest_status_with(lambda s: s["health"]["relay"]["relay_energised"]), 5)
    status = latest_status_with(lambda s: s["health"]["relay"]["relay_energised"])
    assert sum(1 for t, _ in rec.messages if t == f"{BASE}/status") > status_count
    assert render(entity["binary_sensor/relay"]["value_template"], status) == "ON"
    assert render(entity["sensor/gate_state"]["value_template"], status) not in ("", "idle")
    assert render(entity["binary_sensor/camera_problem"]["value_template"], status) == "OFF"
    assert render(entity["binary_sensor/pipeline_problem"]["value_template"], status) == "OFF"
    assert render(entity["sensor/gate_state"]["value_template"], b'{"state": "online"}') == ""  # no health yet
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not latest_status_with(lambda s: not s["health"]["relay"]["relay_energised"]
                                                                 and s["health"]["relay"]["opens"] >= 1):
        time.sleep(0.1)
    off = latest_status_with(lambda s: not s["health"]["relay"]["relay_energised"] and s["health"]["relay"]["opens"])
    assert off and render(entity["binary_sensor/relay"]["value_template"], off) == "OFF"
    rec.close()
