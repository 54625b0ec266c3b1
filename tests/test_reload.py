"""Reload (SIGHUP) on the real daemon process: a removed site key is revoked at once, live
MQTT settings apply, restart-only sections are refused loudly, --log-level survives."""

from __future__ import annotations

import logging
import time

import pytest

from plategate.access.entry import make_entry
from plategate.mqtt.signing import generate_private_key, public_key_b64
from tests.cli_support import short_dir, write_frames
from tests.daemon_process import DaemonProcess, daemon_config
from tests.mqtt_helpers import Recorder, publish, wait_until
from tools.allowlist_publish import build_command, build_snapshot

BASE = "plategate/estate/north"


def mqtt_body(port: int, keys: list) -> str:
    listed = ", ".join(f'"{public_key_b64(k.public_key())}"' for k in keys)
    return (f'enabled = true\nhost = "127.0.0.1"\nport = {port}\nreconnect_min_s = 0.1\nreconnect_max_s = 0.5\n'
            f'snapshot_request_interval_s = 0.5\nsite_public_keys = [{listed}]\n')


@pytest.fixture
def root():
    path = short_dir()
    yield path
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def reloaded(daemon: DaemonProcess, sock, after: float) -> dict | None:
    last = daemon.client(sock).call("status").get("last_reload")
    return last if last and last["time"] >= after else None


@pytest.mark.mosquitto
def test_sighup_revokes_a_removed_key_at_once(root, mosquitto):
    host, port = mosquitto
    key_a, key_b = generate_private_key(), generate_private_key()
    frames = write_frames(root / "frames", moving=False)
    cfg = root / "p.toml"
    cfg.write_text(daemon_config(root, frames, mqtt_body(port, [key_a, key_b])))
    rec = Recorder(host, port, [f"{BASE}/#"])
    daemon = DaemonProcess(cfg)
    sock = root / "control.sock"
    try:
        daemon.wait_ready(sock)
        assert rec.wait_for(lambda m: any(t == f"{BASE}/status" for t, _ in m), 15)
        # key B is trusted: its snapshot is applied
        publish(host, port, "plategate/estate/allowlist",
                build_snapshot([make_entry("AB123CD", "one")], "estate", 1, key_b))
        assert rec.wait_for(lambda m: any(s["version"] == 1 for s in rec.json_on(f"{BASE}/allowlist/state")), 10)

        # the site's key B leaked: remove it from the config and send SIGHUP
        cfg.write_text(daemon_config(root, frames, mqtt_body(port, [key_a])))
        before = time.time()
        daemon.hangup()
        assert wait_until(lambda: reloaded(daemon, sock, before), 10), daemon.text()
        report = reloaded(daemon, sock, before)
        assert report["applied"] == ["mqtt"] and report["refused"] == []
        assert "restart plategated to apply" not in daemon.text()

        # a snapshot signed by B is refused, and allowlist/state says why
        publish(host, port, "plategate/estate/allowlist",
                build_snapshot([make_entry("EV1L000", "attacker")], "estate", 2, key_b))
        assert rec.wait_for(lambda m: any(s.get("last_error") and "unknown key id" in s["last_error"]
                                          for s in rec.json_on(f"{BASE}/allowlist/state")), 10)
        assert rec.json_on(f"{BASE}/allowlist/state")[-1]["version"] == 1
        # an open command signed by B is refused; the refusal names the command and its nonce
        publish(host, port, f"{BASE}/cmd", build_command("open", "estate", "north", key_b, nonce="leaked-0001"))
        assert rec.wait_for(lambda m: rec.json_on(f"{BASE}/cmd/result"), 10)
        refused = rec.json_on(f"{BASE}/cmd/result")[-1]
        assert refused["ok"] is False and refused["cmd"] == "open" and refused["nonce"] == "leaked-0001"
        assert "unknown key id" in refused["error"]
        status = daemon.client(sock).call("status")
        assert status["gate"]["opens"] == 0 and status["gate"]["relay_energised"] is False
        assert not [e for e in daemon.client(sock).call("events") if e["opened"]]

        # key A still works, and the opening it asks for is journaled and published with its origin
        publish(host, port, f"{BASE}/cmd", build_command("open", "estate", "north", key_a, {"reason": "delivery"},
                                                         nonce="good-00001"))
        assert rec.wait_for(lambda m: any(r["ok"] for r in rec.json_on(f"{BASE}/cmd/result")), 10)
        assert rec.wait_for(lambda m: rec.json_on(f"{BASE}/event"), 10)
        event = rec.json_on(f"{BASE}/event")[-1]
        assert event["reason"] == "remote_command" and event["opened"] is True and event["note"] == "delivery"
        assert "good-00001" in event["requested_by"] and "signed by key" in event["requested_by"]
        assert daemon.client(sock).call("status")["gate"]["opens"] == 1
    finally:
        code = daemon.stop()
        rec.close()
    assert code == 0, daemon.text()


@pytest.mark.mosquitto
def test_restart_only_change_is_refused_but_the_key_is_still_revoked(root, mosquitto):
    host, port = mosquitto
    key_a, key_b = generate_private_key(), generate_private_key()
    frames = write_frames(root / "frames", moving=False)
    cfg = root / "p.toml"
    cfg.write_text(daemon_config(root, frames, mqtt_body(port, [key_a, key_b])))
    rec = Recorder(host, port, [f"{BASE}/cmd/result"])
    daemon = DaemonProcess(cfg, "--log-level", "DEBUG")
    sock = root / "control.sock"
    try:
        daemon.wait_ready(sock)
        assert wait_until(lambda: daemon.client(sock).call("status")["mqtt"]["connected"], 10)
        # camera.fps needs a restart; keepalive needs a reconnect; key B is removed; the file says INFO
        text = daemon_config(root, frames, mqtt_body(port, [key_a]) + "keepalive = 10\n").replace("fps = 5", "fps = 4")
        cfg.write_text('log_level = "INFO"\n' + text)
        before = time.time()
        daemon.hangup()
        assert wait_until(lambda: reloaded(daemon, sock, before), 10), daemon.text()
        report = reloaded(daemon, sock, before)
        assert report["refused"] == ["camera"] and "mqtt" in report["applied"]
        assert any(line.startswith("camera: changed; needs a restart") for line in report["errors"])
        assert "ERROR plategate.reload: reload: camera: changed; needs a restart" in daemon.text()
        status = daemon.client(sock).call("status")
        assert status["mqtt"]["connected"] or wait_until(
            lambda: daemon.client(sock).call("status")["mqtt"]["connected"], 10)
        publish(host, port, f"{BASE}/cmd", build_command("open", "estate", "north", key_b, nonce="leaked-0002"))
        assert rec.wait_for(lambda m: rec.json_on(f"{BASE}/cmd/result"), 10)
        assert rec.json_on(f"{BASE}/cmd/result")[-1]["ok"] is False
        assert daemon.client(sock).call("status")["gate"]["opens"] == 0
        # --log-level DEBUG from the command line outlives the reload
        mark = len(daemon.text())
        daemon.client(sock).call("status")
        before = time.time()
        daemon.hangup()
        assert wait_until(lambda: reloaded(daemon, sock, before), 10)
        assert " DEBUG " in daemon.text()[mark:]
    finally:
        code = daemon.stop()
        rec.close()
    assert code == 0, daemon.text()


def test_a_new_key_that_does_not_parse_still_revokes_the_removed_one(root, mosquitto, caplog):
    from gpiozero.pins.mock import MockFactory

    from plategate.config import load_config
    from plategate.mqtt.signing import load_public_keys
    from plategate.service import Service

    host, port = mosquitto
    key_a, key_b = generate_private_key(), generate_private_key()
    frames = write_frames(root / "frames", moving=False)
    cfg = root / "p.toml"
    cfg.write_text(daemon_config(root, frames, mqtt_body(port, [key_a, key_b])))
    service = Service(load_config(cfg), cfg, pin_factory=MockFactory(), ready_wait_s=5)
    service.start()
    try:
        assert len(service.bridge.keys) == 2
        body = mqtt_body(port, [key_a]).replace("site_public_keys = [", 'site_public_keys = ["not-a-key", ')
        cfg.write_text(daemon_config(root, frames, body))
        with caplog.at_level(logging.WARNING):
            report = service.reload()
        assert report.refused == ["mqtt"]
        assert any(e.startswith("mqtt.site_public_keys: ") and "not-a-key" in e for e in report.errors)
        assert set(service.bridge.keys) == set(load_public_keys([public_key_b64(key_a.public_key())]))
        assert "revoked" in caplog.text
    finally:
        service.stop()


@pytest.mark.mosquitto
def test_reload_turns_mqtt_on_moves_it_to_another_broker_and_turns_it_off(root, tmp_path, mosquitto):
    from gpiozero.pins.mock import MockFactory

    from plategate.config import load_config
    from plategate.service import Service
    from tests.brokers import Mosquitto

    host, port = mosquitto
    frames = write_frames(root / "frames", moving=False)
    cfg = root / "p.toml"
    cfg.write_text(daemon_config(root, frames))
    service = Service(load_config(cfg), cfg, pin_factory=MockFactory(), ready_wait_s=5)
    service.start()
    second = Mosquitto(tmp_path / "second")
    second.start()
    rec1 = Recorder(host, port, [f"{BASE}/status"])
    rec2 = Recorder(second.host, second.port, [f"{BASE}/event"])
    try:
        assert service.bridge is None
        cfg.write_text(daemon_config(root, frames, mqtt_body(port, [])))
        assert service.reload().applied == ["mqtt"]
        assert service.bridge is not None and service.bridge.wait_connected(10)
        assert rec1.wait_for(lambda m: any(s["state"] == "online" for s in rec1.json_on(f"{BASE}/status")), 10)
        # another broker: the daemon reconnects there, and its events follow
        cfg.write_text(daemon_config(root, frames, mqtt_body(second.port, [])))
        assert service.reload().applied == ["mqtt"]
        assert service.bridge.wait_connected(10) and service.cfg.mqtt.port == second.port
        assert rec1.wait_for(lambda m: rec1.json_on(f"{BASE}/status")[-1]["state"] == "offline", 10)
        event = service.keeper.open_on_request("manual_open", "test", "moved broker")
        assert rec2.wait_for(lambda m: any(e["id"] == event["id"] for e in rec2.json_on(f"{BASE}/event")), 10)
        cfg.write_text(daemon_config(root, frames))
        assert service.reload().applied == ["mqtt"] and service.bridge is None
        assert not service.forwarder.active
    finally:
        service.stop()
        rec1.close()
        rec2.close()
        second.stop()
