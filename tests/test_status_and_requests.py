"""The smaller promises of the MQTT side and systemd readiness, on real parts: READY=1 once
the camera delivers (or after a bounded wait, with STATUS saying why), a retained status
with fresh health every time, a rate-limited allowlist request deferred (not dropped), a
snapshot dropped by the outbox cap no longer announced."""

from __future__ import annotations

import json
import socket
import time

import pytest
from gpiozero.pins.mock import MockFactory

from plategate.access.store import AllowlistStore
from plategate.config import parse_config
from plategate.mqtt.bridge import MqttBridge
from plategate.mqtt.outbox import MessageKind, Outbox
from plategate.notify import Notifier
from plategate.service import Service
from tests.cli_support import write_frames
from tests.mqtt_helpers import Recorder, make_config, site_key

STATUS = "plategate/estate/north/status"
REQUEST = "plategate/estate/north/allowlist/request"


def service_config(tmp, camera: dict, **extra) -> object:
    return parse_config({"site_id": "estate", "gate_id": "north", "state_dir": str(tmp / "state"),
                         "camera": {"width": 320, "height": 240, "lores_width": 160, "lores_height": 120,
                                    "reopen_min_s": 0.2, "reopen_max_s": 0.5, **camera},
                         "motion": {"enabled": False}, "gate": {"pin_factory": "mock"},
                         "control": {"socket": str(tmp / "c.sock"), "group": ""}, **extra})


@pytest.fixture
def notify_socket(tmp_path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify.sock"))
    sock.settimeout(10)
    yield sock, Notifier({"NOTIFY_SOCKET": str(tmp_path / "notify.sock")})
    sock.close()


def ready_message(sock) -> str:
    while True:
        text = sock.recv(4096).decode()
        if text.startswith("READY=1"):
            return text


def test_ready_waits_for_the_camera(tmp_path, notify_socket):
    sock, notifier = notify_socket
    frames = write_frames(tmp_path / "frames", moving=False)
    cfg = service_config(tmp_path, {"backend": "replay", "source": str(frames), "fps": 5, "loop": True})
    service = Service(cfg, pin_factory=MockFactory(), notifier=notifier, ready_wait_s=10)
    service.start()
    try:
        text = ready_message(sock)
        assert "camera ok" in text and "not up" not in text, text
    finally:
        service.stop()


def test_ready_after_a_bounded_wait_says_the_camera_is_missing(tmp_path, notify_socket):
    sock, notifier = notify_socket
    cfg = service_config(tmp_path, {"backend": "opencv", "source": str(tmp_path / "no-such.mp4")})
    service = Service(cfg, pin_factory=MockFactory(), notifier=notifier, ready_wait_s=1.0)
    started = time.monotonic()
    service.start()
    try:
        text = ready_message(sock)
        assert time.monotonic() - started >= 1.0
        assert "camera not up after 1 s" in text and "retrying" in text, text
        assert service.status_extra()["not_ready"].startswith("camera not up")
    finally:
        service.stop()


@pytest.mark.mosquitto
def test_every_status_message_carries_fresh_health(tmp_path, mosquitto):
    host, port = mosquitto
    frames = write_frames(tmp_path / "frames", moving=False)
    cfg = service_config(tmp_path, {"backend": "replay", "source": str(frames), "fps": 5, "loop": True},
                         mqtt={"enabled": True, "host": host, "port": port, "status_interval_s": 0.3})
    rec = Recorder(host, port, [STATUS])
    service = Service(cfg, pin_factory=MockFactory(), ready_wait_s=5)
    service.start()
    try:
        assert rec.wait_for(lambda m: len(rec.json_on(STATUS)) >= 4, 10)
    finally:
        service.stop()
        rec.close()
    online = [s for s in rec.json_on(STATUS) if s["state"] == "online"]
    uptimes = [s["uptime_s"] for s in online]
    assert len(set(uptimes)) == len(uptimes) and uptimes == sorted(uptimes), uptimes
    assert all(s["health"]["camera"] and s["health"]["models"] for s in online)
    frames_seen = [s["health"]["camera"]["frames"] for s in online if "frames" in s["health"]["camera"]]
    assert len(set(frames_seen)) > 1 or not frames_seen


@pytest.mark.mosquitto
def test_a_rate_limited_allowlist_request_is_deferred_not_dropped(tmp_path, mosquitto):
    host, port = mosquitto
    cfg = make_config(tmp_path, port, site_key(), snapshot_request_interval_s=1.0)
    store = AllowlistStore(cfg.access_db())
    bridge = MqttBridge(cfg, store)
    rec = Recorder(host, port, [REQUEST])
    bridge.start()
    try:
        assert bridge.wait_connected(10)
        assert bridge.sync.request_snapshot("first") is True
        sent = time.monotonic()
        assert bridge.sync.request_snapshot("second") is False  # within the interval: deferred
        assert bridge.sync.deferred == "second"
        assert rec.wait_for(lambda m: len(m) >= 2, 5)
        assert time.monotonic() - sent >= 0.9
        assert [r["reason"] for r in rec.json_on(REQUEST)] == ["first", "second"]
        assert bridge.sync.deferred is None
    finally:
        bridge.stop()
        store.close()
        rec.close()


def test_a_snapshot_dropped_by_the_cap_is_no_longer_announced(tmp_path):
    box = Outbox(tmp_path / "outbox.db", max_bytes=3000)
    try:
        first = json.dumps({"id": "e1", "snapshot": True}).encode()
        box.put([("e1", MessageKind.EVENT, "t/event", first), ("e1", MessageKind.SNAPSHOT, "t/e1/snap", b"x" * 2000)])
        second = json.dumps({"id": "e2", "snapshot": True}).encode()
        box.put([("e2", MessageKind.EVENT, "t/event", second), ("e2", MessageKind.SNAPSHOT, "t/e2/snap", b"y" * 2000)])
        rows = {(m.msg_id, m.kind): m for m in box.pending()}
        assert ("e1", MessageKind.SNAPSHOT) not in rows and ("e2", MessageKind.SNAPSHOT) in rows
        assert json.loads(rows[("e1", MessageKind.EVENT)].payload)["snapshot"] is False
        assert json.loads(rows[("e2", MessageKind.EVENT)].payload)["snapshot"] is True
        assert box.dropped_snapshots == 1 and box.dropped_events == 0
    finally:
        box.close()
