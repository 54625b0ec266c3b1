"""tools/gen_config_docs (every schema key documented) and tools/draw_wiring (a real PNG)."""

from __future__ import annotations

import re

import cv2

from plategate.config import PlategateConfig
from tools import draw_wiring, gen_config_docs


def test_every_key_is_documented_with_type_and_default():
    text = gen_config_docs.render()
    paths = gen_config_docs.all_key_paths(PlategateConfig)
    assert {"camera.fps", "gate.relay.pulse_ms", "mqtt.tls.ca_file", "control.socket", "site_id"} <= set(paths)
    for path in paths:
        section, _, key = path.rpartition(".")
        heading = (f"## [[{section}]]" if section in gen_config_docs.list_sections() else f"## [{section}]") \
            if section else "## Top level"
        block = text.split(heading, 1)[1].split("\n## ", 1)[0]
        row = re.search(rf"^\| `{re.escape(key)}` \| (.+?) \| (.+?) \|", block, re.M)
        assert row, f"{path} missing from the reference"
    assert "| `pulse_ms` | integer | `500` | ≥ 50, ≤ 60000 |" in text
    assert '| `backend` | `"picamera2"` \\| `"opencv"` \\| `"replay"` | `"picamera2"` |' in text


def test_check_mode(tmp_path, capsys):
    out = tmp_path / "configuration.md"
    assert gen_config_docs.main(["-o", str(out), "--check"]) == 1
    assert "out of date" in capsys.readouterr().err
    assert gen_config_docs.main(["-o", str(out)]) == 0
    assert gen_config_docs.main(["-o", str(out), "--check"]) == 0
    out.write_text(out.read_text() + "edited\n")
    assert gen_config_docs.main(["-o", str(out), "--check"]) == 1


def test_wiring_png(tmp_path):
    out = tmp_path / "wiring.png"
    assert draw_wiring.main(["-o", str(out)]) == 0
    img = cv2.imread(str(out))
    assert img.shape == (draw_wiring.H, draw_wiring.W, 3)
    assert (img < 128).mean() > 0.01  # there is drawing on it


def test_relative_links_in_docs_resolve():
    from pathlib import Path

    docs = Path(__file__).resolve().parent.parent / "docs"
    broken = []
    for page in sorted(docs.glob("*.md")):
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if "://" in target or target.startswith("mailto:"):
                continue
            if not (page.parent / target).exists():
                broken.append(f"{page.name}: {target}")
    assert not broken, broken
