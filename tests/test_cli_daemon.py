"""platectl against the real plategated Service (its own control handlers and streams).

The recognizer is a stand-in that finds no plate (the shipped models are exercised by the
service's own tests); everything else is the real daemon: replay camera, motion, journal,
allowlist store, gpiozero MockFactory relay, control socket.
"""

from __future__ import annotations

import json
import threading
import time

import pytest
from cli_support import cleanup, short_dir, write_frames
from gpiozero.pins.mock import MockFactory

from plategate.cli.main import main
from plategate.config import parse_config

service_mod = pytest.importorskip("plategate.service")
recognizer_mod = pytest.importorskip("plategate.vision.recognizer")


class NoPlate:
    """Finds nothing in any frame."""

    def recognize(self, frame, roi=None):
        return recognizer_mod.RecognitionResult(timing_ms={"detect": 0.0, "read": 0.0, "total": 0.0})


@pytest.fixture
def daemon():
    root = short_dir()
    frames = write_frames(root / "frames", n=20)
    cfg = parse_config({
        "state_dir": str(root / "state"),
        "camera": {"backend": "replay", "source": str(frames), "width": 320, "height": 240,
                   "lores_width": 160, "lores_height": 120, "fps": 20, "loop": True},
        "gate": {"pin_factory": "mock", "relay": {"pin": 17, "pulse_ms": 100}},
        "control": {"socket": str(root / "control.sock"), "group": ""},
    })
    factory = MockFactory()
    service = service_mod.Service(cfg, pin_factory=factory, recognizer=NoPlate())
    service.start()
    runner = threading.Thread(target=service.run, kwargs={"duration": 60}, daemon=True)
    runner.start()
    yield root, factory, service
    service.request_stop()
    runner.join(10)
    service.stop()
    cleanup(root)


def test_platectl_against_the_service(daemon, capsys):
    root, factory, service = daemon
    sock = ["--socket", str(root / "control.sock")]

    assert main(["status", *sock]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["state", "running"]
    assert "allowlist" in out and "version 0, 0 entries" in out
    assert main(["status", "--json", *sock]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["camera"]["backend"] == "replay"

    assert main(["allowlist", "add", "AB123CD", "--label", "Flat 1", *sock]) == 0
    assert capsys.readouterr().out.strip().endswith("via daemon")
    assert service.store.get("AB123CD").label == "Flat 1"
    assert main(["allowlist", "list", "--json", *sock]) == 0
    assert [e["plate"] for e in json.loads(capsys.readouterr().out)["entries"]] == ["AB123CD"]
    assert main(["allowlist", "remove", "AB123CD", *sock]) == 0
    assert service.store.count() == 0
    capsys.readouterr()

    pin = factory.pin(17)
    assert main(["test-relay", "--pulse", "100", "--confirm", *sock]) == 0
    assert capsys.readouterr().out.strip() == ("relay pulsed for 100 ms by plategated on MOCK pins: nothing was "
                                               "switched (journaled as relay_test)")
    assert service.journal.recent(1)[0]["reason"] == "relay_test"
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline and not any(s.state for s in pin.states):
        time.sleep(0.02)
    assert any(s.state for s in pin.states)

    shot = root / "shot.jpg"
    assert main(["capture", "-o", str(shot), *sock]) == 0
    assert shot.read_bytes()[:2] == b"\xff\xd8"

    assert main(["events", "tail", "--json", *sock]) == 0
    capsys.readouterr()
    assert main(["events", "show", "nope", *sock]) == 1
    assert "no event with id 'nope'" in capsys.readouterr().err

    assert main(["diag", "--json", *sock, "--only", "daemon", "--only", "camera"]) in (0, 1)
    checks = {c["name"]: c for c in json.loads(capsys.readouterr().out)["checks"]}
    assert checks["daemon"]["status"] == "PASS"
    assert "measured by plategated" in checks["camera"]["message"]


def test_watch_streams_live_bursts(daemon, capsys):
    root, _factory, _service = daemon
    result: list[int] = []
    t = threading.Thread(target=lambda: result.append(
        main(["watch", "--json", "--count", "1", "--socket", str(root / "control.sock")])), daemon=True)
    t.start()
    t.join(15)
    assert result == [0], "no live item within 15 s"
    item = json.loads(capsys.readouterr().out.splitlines()[0])
    assert item["type"] == "no_plate" and item["frames"] >= 1  # the stand-in recognizer finds nothing
    t = threading.Thread(target=lambda: result.append(
        main(["watch", "--count", "1", "--socket", str(root / "control.sock")])), daemon=True)
    t.start()
    t.join(15)
    assert result == [0, 0]
    assert "no_plate: burst=" in capsys.readouterr().out
