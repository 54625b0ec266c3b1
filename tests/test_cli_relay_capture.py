"""platectl test-relay and capture: directly on mock pins / replay camera, and through the daemon."""

from __future__ import annotations

import json

import cv2
import pytest
from cli_support import FakeDaemon, cleanup, short_dir, write_config

from plategate.cli import relay
from plategate.cli.main import main
from plategate.config import load_config


@pytest.fixture
def root(monkeypatch):
    path = short_dir()
    monkeypatch.setenv("PLATEGATE_CONFIG", str(write_config(path)))
    yield path
    cleanup(path)


def test_relay_direct_on_mock_pins(root, capsys):
    result = relay.pulse_direct(load_config(root / "plategate.toml"), 60)
    assert result["changes"] == ["on", "off"] and result["energised_after"] is False
    assert main(["test-relay", "--pulse", "80", "--confirm", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["via"] == "direct" and data["pulsed_ms"] == 80 and data["changes"] == ["on", "off"]


def test_relay_through_daemon(root, capsys):
    with FakeDaemon(root) as daemon:
        assert main(["test-relay", "--confirm"]) == 0
        assert capsys.readouterr().out.strip() == "relay pulsed for 500 ms by plategated"
        assert daemon.relay_changes[:1] == ["on"]


def test_serial_relay_direct(root, capsys):
    cfg = root / "serial.toml"
    cfg.write_text((root / "plategate.toml").read_text() +
                   '\n[gate.relay]\ntype = "serial"\nserial_port = "loop://"\n')
    assert main(["--config", str(cfg), "test-relay", "--pulse", "50", "--confirm"]) == 0
    assert "serial loop://" in capsys.readouterr().out


def test_capture_single_and_burst(root, capsys):
    target = root / "shot.jpg"
    assert main(["capture", "-o", str(target)]) == 0
    assert capsys.readouterr().out.strip() == f"saved {target}"
    assert cv2.imread(str(target)).shape == (240, 320, 3)
    outdir = root / "burst"
    assert main(["capture", "-o", str(outdir), "--burst", "3"]) == 2
    assert f"-o {outdir}: no such folder (create it first" in capsys.readouterr().err
    assert main(["capture", "-o", str(root / "typo" / "shot.jpg")]) == 2
    assert f"folder {root / 'typo'} does not exist" in capsys.readouterr().err
    assert not outdir.exists() and not (root / "typo").exists()
    outdir.mkdir()
    assert main(["capture", "-o", str(outdir), "--burst", "3", "--motion", "--timeout", "10", "--json"]) == 0
    saved = json.loads(capsys.readouterr().out)["saved"]
    assert len(saved) == 3 and all(cv2.imread(p) is not None for p in saved)


def test_capture_errors(root, capsys):
    assert main(["capture", "--burst", "0"]) == 2
    assert "--burst 0: must be between 1 and 100" in capsys.readouterr().err
    bad = root / "bad.toml"
    bad.write_text((root / "plategate.toml").read_text().replace(f"{root}/frames", f"{root}/gone"))
    assert main(["--config", str(bad), "capture", "-o", str(root / "x.jpg")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("platectl: error: replay source") and "gone" in err


def test_capture_through_daemon(root, capsys):
    with FakeDaemon(root):
        target = root / "d.jpg"
        assert main(["capture", "-o", str(target)]) == 0
        assert cv2.imread(str(target)).shape == (240, 320, 3)
        assert main(["capture", "--motion"]) == 2
        assert "--motion needs the camera" in capsys.readouterr().err


ROI_EXTRA = """
[motion.roi]
x1 = 0.25
y1 = 0.5
x2 = 0.75
y2 = 1.0

[recognition.roi]
x1 = 0.1
y1 = 0.1
x2 = 0.9
y2 = 0.9
"""


def _colour_share(img, colour, region) -> float:
    """Share of the pixels in *region* (x1, y1, x2, y2) within 60 of *colour* (BGR, JPEG-tolerant)."""
    x1, y1, x2, y2 = region
    patch = img[y1:y2, x1:x2].astype(int)
    return float(((abs(patch - colour)).max(axis=2) < 60).mean())


@pytest.mark.parametrize("through_daemon", [False, True])
def test_capture_draws_the_rois(root, capsys, through_daemon):
    """The saved picture shows the motion ROI (green) and the recognition ROI (orange) where the config puts
    them, directly and through the daemon; --no-roi leaves the picture as the camera gave it."""
    from contextlib import nullcontext

    from plategate.cli.capture import MOTION_COLOUR, RECOGNITION_COLOUR

    cfg = root / "roi.toml"
    cfg.write_text((root / "plategate.toml").read_text() + ROI_EXTRA)
    with FakeDaemon(root) if through_daemon else nullcontext():
        shot, plain = root / "roi.jpg", root / "plain.jpg"
        assert main(["--config", str(cfg), "capture", "-o", str(shot)]) == 0
        assert main(["--config", str(cfg), "capture", "-o", str(plain), "--no-roi"]) == 0
    img, raw = cv2.imread(str(shot)), cv2.imread(str(plain))
    assert img.shape == raw.shape
    h, w = img.shape[:2]

    def at(fx1, fy1, fx2, fy2):
        return (round(fx1 * (w - 1)), round(fy1 * (h - 1)), round(fx2 * (w - 1)) + 1, round(fy2 * (h - 1)) + 1)

    motion_left = at(0.25, 0.6, 0.25, 0.9)  # the left edge of the motion ROI
    recognition_top = at(0.3, 0.1, 0.7, 0.1)  # the top edge of the recognition ROI
    inside = at(0.45, 0.7, 0.55, 0.8)

    def changed(region) -> float:
        x1, y1, x2, y2 = region
        return float(abs(img[y1:y2, x1:x2].astype(int) - raw[y1:y2, x1:x2].astype(int)).mean())

    assert changed(motion_left) > 40 and changed(recognition_top) > 40 and changed(inside) < 15
    assert _colour_share(img, MOTION_COLOUR, motion_left) > 0.5
    assert _colour_share(img, RECOGNITION_COLOUR, recognition_top) > 0.5
    assert _colour_share(raw, MOTION_COLOUR, motion_left) < 0.05
    capsys.readouterr()
