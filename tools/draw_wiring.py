"""Draw docs/wiring.png: Raspberry Pi, relay module, barrier controller, loop detector, photo-eye.

    python -m tools.draw_wiring [-o docs/wiring.png]

Uses Pillow (the ``test``/``train`` extras) with the DejaVu fonts; the pins drawn are
the defaults of config/plategate.toml (relay GPIO17, loop detector GPIO27, photo-eye GPIO22).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

REPO = Path(__file__).resolve().parent.parent
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
W, H = 1500, 980

RED, BLACK, BLUE, GREEN, ORANGE, GREY = "#c62828", "#212121", "#1565c0", "#2e7d32", "#ef6c00", "#9e9e9e"


def font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    try:
        return ImageFont.truetype(str(FONT_DIR / name), size)
    except OSError:
        return ImageFont.load_default()


class Sheet:
    def __init__(self) -> None:
        self.img = Image.new("RGB", (W, H), "white")
        self.d = ImageDraw.Draw(self.img)

    def box(self, x: int, y: int, w: int, h: int, title: str, fill: str = "#f5f5f5", sub: str = "") -> None:
        self.d.rounded_rectangle((x, y, x + w, y + h), radius=10, fill=fill, outline=BLACK, width=3)
        self.d.text((x + 12, y + 8), title, fill=BLACK, font=font(20, True))
        if sub:
            self.d.text((x + 12, y + 34), sub, fill="#424242", font=font(14))

    def terminal(self, x: int, y: int, label: str, left: bool = False) -> tuple[int, int]:
        self.d.ellipse((x - 7, y - 7, x + 7, y + 7), fill="white", outline=BLACK, width=2)
        f = font(16)
        if left:
            tw = self.d.textlength(label, font=f)
            self.d.text((x - 14 - tw, y - 10), label, fill=BLACK, font=f)
        else:
            self.d.text((x + 14, y - 10), label, fill=BLACK, font=f)
        return x, y

    def wire(self, points: list[tuple[int, int]], colour: str, width: int = 4) -> None:
        self.d.line(points, fill=colour, width=width, joint="curve")
        for px, py in (points[0], points[-1]):
            self.d.ellipse((px - 5, py - 5, px + 5, py + 5), fill=colour)

    def note(self, x: int, y: int, text: str, size: int = 15, colour: str = "#424242") -> None:
        self.d.multiline_text((x, y), text, fill=colour, font=font(size), spacing=4)


def draw() -> Image.Image:
    s = Sheet()
    s.d.text((30, 20), "plategate wiring (defaults of config/plategate.toml, BCM pin numbers)", fill=BLACK,
             font=font(26, True))

    # Raspberry Pi header
    s.box(40, 90, 330, 560, "Raspberry Pi", fill="#e8f5e9", sub="40-pin header (physical pin numbers)")
    pi = {}
    rows = [("5V  (pin 2)", RED), ("GND (pin 6)", BLACK), ("GPIO17 (pin 11)", BLUE), ("GND (pin 9)", BLACK),
            ("GPIO27 (pin 13)", GREEN), ("GND (pin 14)", BLACK), ("GPIO22 (pin 15)", ORANGE), ("GND (pin 20)", BLACK)]
    for i, (label, _colour) in enumerate(rows):
        pi[label.split()[0] + str(i)] = s.terminal(370, 150 + i * 58, label, left=True)
    s.note(60, 610, "CSI ribbon -> camera module (NoIR)", 15)

    # Relay module
    s.box(560, 90, 300, 250, "Relay module", fill="#e3f2fd", sub="opto-isolated, 5 V coil, 1 channel")
    r_vcc = s.terminal(560, 160, "VCC", left=False)
    r_gnd = s.terminal(560, 215, "GND", left=False)
    r_in = s.terminal(560, 270, "IN", left=False)
    r_com = s.terminal(860, 160, "COM", left=True)
    r_no = s.terminal(860, 215, "NO", left=True)
    s.terminal(860, 270, "NC (unused)", left=True)

    # Barrier controller
    s.box(1080, 90, 380, 250, "Barrier controller", fill="#fff3e0", sub="'open' input: potential-free contact")
    b_open = s.terminal(1080, 160, "OPEN", left=False)
    b_com = s.terminal(1080, 215, "COM", left=False)
    s.note(1100, 250, "pulse mode: closes for pulse_ms\n(gate.relay.pulse_ms = 500)", 14)

    # Loop detector
    s.box(560, 420, 300, 170, "Loop detector", fill="#f1f8e9", sub="presence relay output (dry contact)")
    l_no = s.terminal(560, 500, "NO", left=False)
    l_com = s.terminal(560, 550, "COM", left=False)
    s.note(880, 470, "closed = vehicle on the loop\ngate.loop_detector.enabled = true\npin = 27, pull = \"up\" (active low)", 14)

    # Photo-eye
    s.box(560, 660, 300, 170, "Photo-eye receiver", fill="#fff8e1", sub="relay output (dry contact)")
    p_no = s.terminal(560, 740, "NO", left=False)
    p_com = s.terminal(560, 790, "COM", left=False)
    s.note(880, 710, "closed = beam interrupted\ngate.photo_eye.enabled = true\npin = 22, pull = \"up\"", 14)

    # Wires: Pi -> relay
    s.wire([pi["5V0"], (450, 150), (450, 160), r_vcc], RED)
    s.wire([pi["GND1"], (470, 208), (470, 215), r_gnd], BLACK)
    s.wire([pi["GPIO172"], (490, 266), (490, 270), r_in], BLUE)
    # relay contact -> barrier controller
    s.wire([r_com, (960, 160), b_open], GREY)
    s.wire([r_no, (960, 215), b_com], GREY)
    # Pi -> loop detector
    s.wire([pi["GPIO274"], (500, 382), (500, 500), l_no], GREEN)
    s.wire([pi["GND5"], (470, 440), (470, 550), l_com], BLACK)
    # Pi -> photo-eye
    s.wire([pi["GPIO226"], (420, 498), (420, 740), p_no], ORANGE)
    s.wire([pi["GND7"], (400, 556), (400, 790), p_com], BLACK)

    s.note(40, 860,
           "Never connect 12/24 V or mains to a GPIO pin: inputs take a potential-free contact only (the Pi's internal "
           "pull-up to 3.3 V, contact to GND).\n"
           "Relay contacts switch the barrier controller's low-voltage 'open' input, never the motor. "
           "A USB relay board (gate.relay.type = \"serial\", /dev/ttyUSB0) replaces the relay module.\n"
           "The IR illuminator has its own supply; the relay de-energises at start, stop and when plategated dies.",
           15, BLACK)
    return s.img


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.draw_wiring", description="Draw the wiring diagram PNG.")
    parser.add_argument("-o", "--output", default=str(REPO / "docs" / "wiring.png"))
    args = parser.parse_args(argv)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    draw().save(out, optimize=True)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
