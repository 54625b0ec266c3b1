"""The daemon end to end: rendered footage -> replay camera -> motion -> shipped models ->
decision -> gpiozero mock relay -> journal; watchdog, stop, missing models, dead camera."""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from plategate.config import parse_config
from plategate.notify import Notifier
from plategate.service import Service
from plategate.service import main as plategated
from tools import make_demo

PULSE_MS = 300
# Two granted by day, one denied by day, one granted at night (IR look).
E2E_VEHICLES = make_demo.VEHICLES[:4]


@pytest.fixture(scope="module")
def footage(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("footage")
    make_demo.render(out, fps=10.0, seed=3, vehicles=E2E_VEHICLES)
    return out


def make_cfg(tmp: Path, footage: Path, **over) -> object:
    data = {
        "state_dir": str(tmp / "state"),
        "camera": {"backend": "replay", "source": str(footage), "fps": 20, "realtime": True,
                   "reopen_min_s": 0.1, "reopen_max_s": 0.5},
        "motion": {"roi": {"x1": 0.15, "y1": 0.35, "x2": 0.85, "y2": 1.0}, "burst_frames": 3,
                   "burst_interval_ms": 40},
        "access": {"allowlist_file": str(make_demo.ALLOWLIST), "holdoff_s": 60},
        "gate": {"pin_factory": "mock", "relay": {"pin": 17, "pulse_ms": PULSE_MS}},
        "control": {"socket": str(tmp / "state" / "control.sock"), "group": ""},
    }
    for key, value in over.items():
        data.setdefault(key, {}).update(value) if isinstance(value, dict) else data.__setitem__(key, value)
    return parse_config(data)


def high_periods(pin) -> list[float]:
    """Durations of the high periods of a gpiozero MockPin (each state's timestamp is the
    time since the previous change)."""
    return [st.timestamp for prev, st in zip(pin.states, pin.states[1:], strict=False) if prev.state and not st.state]


@pytest.mark.slow
def test_end_to_end_on_rendered_footage(tmp_path, footage, caplog):
    factory = MockFactory()
    lines: list[str] = []
    service = Service(make_cfg(tmp_path, footage), pin_factory=factory, printer=lines.append)
    service.start()
    try:
        with caplog.at_level(logging.INFO, logger="plategate.service"):
            assert service.run(duration=60) == 0  # stops by itself at the end of the footage
        assert "end of footage: stopping" in caplog.text
        assert "stalled" not in caplog.text  # the capture thread ending with its footage is no stall
        time.sleep(PULSE_MS / 1000 + 0.1)
        events = service.journal.recent(100)
        list_version = service.store.version
    finally:
        service.stop()
    manifest = json.loads((footage / "manifest.json").read_text())
    granted = {v["plate"] for v in manifest["vehicles"] if v["expect"] == "granted"}
    denied = {v["plate"] for v in manifest["vehicles"] if v["expect"] == "denied"}

    opened = [e for e in events if e["opened"]]
    assert {e["plate"] for e in opened} == granted, [(e["plate"], e["decision"], e["reason"]) for e in events]
    assert all(e["decision"] == "granted" and e["reason"] in ("exact_match", "tolerant_match") for e in opened)
    for plate in denied:  # each denied car was read and refused, never opened for
        rows = [e for e in events if e["plate"] == plate]
        assert rows and not any(e["opened"] for e in rows)
        assert any(e["decision"] == "denied" and e["reason"] in ("not_listed", "blocklisted") for e in rows)
        assert all(e["decision"] in ("denied", "unknown") for e in rows)  # unknown: a read not sure enough
    # The mock relay pin went high once per granted car, for the pulse length.
    periods = high_periods(factory.pin(17))
    assert len(periods) == len(granted)
    assert all(PULSE_MS / 1000 - 0.02 <= p <= PULSE_MS / 1000 + 0.15 for p in periods), periods
    assert factory.pin(17).state is False
    # Journal rows carry the evidence, snapshots are real JPEGs.
    first = opened[0]
    assert first["candidates"] and first["latency_ms"] > 0 and first["allowlist_version"] == list_version
    assert first["crop_path"] and Path(first["crop_path"]).read_bytes()[:2] == b"\xff\xd8"
    # The demo printer saw the decisions and the relay actions.
    assert any("GRANTED" in line for line in lines) and any("relay ON" in line for line in lines)


def test_watchdog_stops_while_the_pipeline_stalls(tmp_path, footage):
    sock_path = str(tmp_path / "notify.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(sock_path)
    server.settimeout(0.2)
    notifier = Notifier({"NOTIFY_SOCKET": sock_path, "WATCHDOG_USEC": "200000"})
    from plategate.service import build_recognizer

    cfg = make_cfg(tmp_path, footage, camera={"loop": True})
    real = build_recognizer(cfg)
    hang = threading.Event()
    release = threading.Event()

    class HangingRecognizer:  # the real recognizer, with a way to make one inference hang
        def recognize(self, frame, roi=None):
            if hang.is_set():
                release.wait(30)
            return real.recognize(frame, roi)

    service = Service(cfg, pin_factory=MockFactory(), recognizer=HangingRecognizer(), notifier=notifier,
                      stall_s=1.0)
    service.start()
    runner = threading.Thread(target=service.run, kwargs={"duration": 30}, daemon=True)
    runner.start()

    def received(seconds: float) -> list[bytes]:
        out, end = [], time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                out.append(server.recv(200))
            except TimeoutError:
                pass
        return out

    try:
        assert b"WATCHDOG=1" in received(1.0)
        hang.set()  # the next recognised frame hangs inside inference
        deadline = time.monotonic() + 20
        while service.alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not service.alive(), "the pipeline never stalled"
        time.sleep(0.3)  # let a watchdog decided just before the stall arrive, then drop it
        server.setblocking(False)  # drop what was sent before the stall was noticed
        try:
            while server.recv(200):
                pass
        except BlockingIOError:
            pass
        server.settimeout(0.2)
        assert b"WATCHDOG=1" not in received(1.0)
        hang.clear()
        release.set()
        time.sleep(0.5)
        assert b"WATCHDOG=1" in received(1.0)
    finally:
        release.set()
        service.request_stop()
        runner.join(10)
        service.stop()
        server.close()


def test_stop_deenergises_the_relay_and_flushes(tmp_path, footage):
    factory = MockFactory()
    service = Service(make_cfg(tmp_path, footage, camera={"loop": True}), pin_factory=factory)
    service.start()
    service.gate.open("manual")
    assert factory.pin(17).state is True
    service.stop()
    assert factory.pin(17).state is False
    assert service.state == "stopped"


def test_watchdog_false_in_the_config_sends_no_pings(tmp_path, footage, monkeypatch):
    sock_path = str(tmp_path / "notify.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(sock_path)
    server.settimeout(0.5)
    monkeypatch.setenv("NOTIFY_SOCKET", sock_path)
    monkeypatch.setenv("WATCHDOG_USEC", "200000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    service = Service(make_cfg(tmp_path, footage, watchdog=False, camera={"loop": True}), pin_factory=MockFactory())
    service.start()
    try:
        service.run(duration=1.0)
    finally:
        service.stop()
    got = []
    while True:
        try:
            got.append(server.recv(300))
        except TimeoutError:
            break
    server.close()
    assert any(m.startswith(b"READY=1") and m.endswith(b"WATCHDOG_USEC=0") for m in got)
    assert b"WATCHDOG=1" not in got


def test_camera_that_cannot_open_keeps_the_daemon_guarding(tmp_path, footage):
    missing = tmp_path / "camera-later"
    service = Service(make_cfg(tmp_path, missing), pin_factory=MockFactory())
    service.start()
    try:
        time.sleep(0.5)
        assert service.camera.health["state"] == "reconnecting"
        assert service.alive()  # threads keep beating while the camera is retried
        shutil.copytree(footage, missing)
        deadline = time.monotonic() + 5
        while (service.camera.health["state"] != "ok" or not service.stats.frames) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert service.camera.health["state"] == "ok"
        assert service.stats.frames > 0
    finally:
        service.stop()


def test_missing_model_refuses_to_start_with_a_clear_message(tmp_path, footage, capsys, caplog):
    caplog.set_level(logging.ERROR)
    cfg_file = tmp_path / "p.toml"
    cfg_file.write_text(
        f'state_dir = "{tmp_path / "state"}"\n[camera]\nbackend = "replay"\nsource = "{footage}"\n'
        f'[recognition]\ndetector_model = "{tmp_path / "nope.tflite"}"\n[gate]\npin_factory = "mock"\n'
        f'[control]\nsocket = "{tmp_path / "c.sock"}"\ngroup = ""\n')
    assert plategated(["--config", str(cfg_file)]) == 1
    assert "nope.tflite" in caplog.text and "cannot start" in caplog.text
    assert "Traceback" not in capsys.readouterr().err


def test_sighup_reload_applies_a_new_allowlist_file(tmp_path, footage):
    allow = tmp_path / "allow.csv"
    allow.write_text("plate,label\nAB12CDE,one\n")
    cfg = make_cfg(tmp_path, footage, camera={"loop": True}, access={"allowlist_file": str(allow)})
    service = Service(cfg, pin_factory=MockFactory())
    service.start()
    try:
        assert service.store.count() == 1
        allow.write_text("plate,label\nAB12CDE,one\nXY99ZZZ,two\n")
        service.request_reload()
        threading.Thread(target=service.run, kwargs={"duration": 1.0}, daemon=True).start()
        deadline = time.monotonic() + 3
        while service.store.count() != 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert service.store.count() == 2
    finally:
        service.request_stop()
        time.sleep(0.6)
        service.stop()


@pytest.mark.slow
def test_events_reach_mqtt_and_platectl_sees_the_daemon(tmp_path, footage, mosquitto, capsys):
    import paho.mqtt.client as mqtt

    from plategate.cli.main import main as platectl

    host, port = mosquitto
    received: list[tuple[str, bytes]] = []
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="e2e-consumer")
    sub.on_message = lambda _c, _u, msg: received.append((msg.topic, msg.payload))
    sub.connect(host, port)
    sub.subscribe("plategate/#", qos=1)
    sub.loop_start()
    cfg = make_cfg(tmp_path, footage, mqtt={"enabled": True, "host": host, "port": port,
                                            "reconnect_min_s": 0.2, "reconnect_max_s": 1.0},
                   site_id="oak", gate_id="north")
    service = Service(cfg, pin_factory=MockFactory())
    service.start()
    try:
        assert service.bridge.wait_connected(5)
        sock = str(cfg.control.socket)
        assert platectl(["status", "--json", "--socket", sock]) == 0
        status = json.loads(capsys.readouterr().out)
        assert status["state"] == "running" and status["mqtt"]["connected"] is True
        assert status["allowlist"]["count"] == 4
        service.run(duration=60)
        assert service.bridge.wait_drained(10)
        assert platectl(["status", "--json", "--socket", sock]) == 0
        pipeline = json.loads(capsys.readouterr().out)["pipeline"]
        assert pipeline["decisions"] == service.keeper.decisions > 0  # the gatekeeper's count, not a dead counter
        assert platectl(["events", "tail", "--json", "--socket", sock]) == 0
        tail = capsys.readouterr().out
    finally:
        service.stop()
        time.sleep(0.3)
        sub.loop_stop()
        sub.disconnect()
    events = [json.loads(p) for t, p in received if t == "plategate/oak/north/event"]
    assert {e["plate"] for e in events if e["decision"] == "granted" and e["opened"]} == {
        v.plate for v in E2E_VEHICLES if v.expect == "granted"}
    assert len({e["id"] for e in events}) == len(events)
    snaps = [t for t, _ in received if t.endswith("/snapshot")]
    assert snaps and all(p[:2] == b"\xff\xd8" for t, p in received if t.endswith("/snapshot"))
    assert any(e["id"] in tail for e in events)


def test_loop_detector_triggers_a_burst_without_motion(tmp_path, footage):
    factory = MockFactory()
    cfg = make_cfg(tmp_path, footage, camera={"loop": True}, motion={"enabled": False},
                   gate={"loop_detector": {"enabled": True, "pin": 27, "bounce_ms": 0}})
    service = Service(cfg, pin_factory=factory)
    service.start()
    try:
        time.sleep(0.5)
        assert service.stats.triggers == 0  # motion detection is off
        factory.pin(27).drive_low()  # a vehicle on the loop
        deadline = time.monotonic() + 5
        while service.keeper.decisions < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        # one burst of up to 3 frames (fewer when the vote is sure early), then one decision
        assert service.stats.triggers == 1 and service.stats.bursts == 1
        assert 1 <= service.stats.frames_recognised <= 3
        assert service.keeper.decisions == 1
        assert service.gate.vehicle_present
    finally:
        service.stop()


def test_sigterm_stops_the_daemon_process_cleanly(tmp_path, footage):
    import signal
    import subprocess
    import sys

    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify.sock"))
    notify.settimeout(30)
    cfg_file = tmp_path / "p.toml"
    cfg_file.write_text(
        f'state_dir = "{tmp_path / "state"}"\n[camera]\nbackend = "replay"\nsource = "{footage}"\nloop = true\n'
        f'[gate]\npin_factory = "mock"\n[control]\nsocket = "{tmp_path / "c.sock"}"\ngroup = ""\n')
    env = dict(os.environ, NOTIFY_SOCKET=str(tmp_path / "notify.sock"), WATCHDOG_USEC="2000000")
    proc = subprocess.Popen([sys.executable, "-m", "plategate.service", "--config", str(cfg_file)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        messages = [notify.recv(500)]
        assert messages[0].startswith(b"READY=1")
        assert notify.recv(500) == b"WATCHDOG=1"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
        notify.close()
    assert proc.returncode == 0, err
    assert "stopped" in err and "Traceback" not in err
