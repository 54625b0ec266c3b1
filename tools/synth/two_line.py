"""Two-line plates other than motorcycle plates: Pakistani, Indian and square British / European plates.

The top line holds the first :func:`tools.synth.plate_text.two_line_split` characters of
the text, the bottom line the rest: LEA 07 above 7952 (the Pakistani year stays on the
top line, small and raised, in reading order), HR26 above DV8992, MC51 above OFW, LOR
above 9807. The plates are narrower than 1.6 times their height, so the reader reads
them line by line (:func:`plategate.vision.reader.two_line_halves`).

Each renderer takes ``(text, rng, height, data_dir)`` and returns ``(image, split)``:
the BGR image drawn at twice *height* and the number of characters on the top line.
"""

from __future__ import annotations

import numpy as np

from tools.synth.canvas import Canvas, border, ink_cols, jitter, new_canvas, screws, small_font
from tools.synth.plate_text import two_line_split
from tools.synth.text import NARROW_FACES, FontSpec, choose_font
from tools.synth.world_plates import ind_mark, pk_band, pk_year, split_year

_EU_BLUE = (150, 50, 10)


def _line(c: Canvas, part: str, box, cap: float, ink, font: FontSpec, rng: np.random.Generator, data_dir,
          spacing: float) -> tuple[np.ndarray, int, int]:
    return c.text(part, box, cap, ink, font, rng, spacing=spacing, data_dir=data_dir,
                  squeeze=float(rng.uniform(0.8, 1.05)))


def _pk2(text: str, rng, height, data_dir) -> tuple[np.ndarray, int]:
    split = two_line_split("pk2", text)
    letters, year, number = split_year(text)
    w, h = float(rng.uniform(215, 235)), 150.0
    yellow = rng.random() < 0.15
    c = new_canvas(w, h, height, (40, 200, 240) if yellow else (235, 235, 235), rng)
    band = float(rng.uniform(50, 60))
    if not yellow:
        pk_band(c, band, h, rng)
    x0 = (band if not yellow else 0) + 6
    ink = jitter((20, 20, 20), rng, 12)
    font = choose_font(rng, data_dir, text, ("DejaVuSansCondensed-Bold.ttf", "DejaVuSans-Bold.ttf"))
    cap = float(rng.uniform(48, 58))
    spacing = float(rng.uniform(0.05, 0.15))
    right_top = w - 6 - (cap * 1.1 if year else 0)
    mask, x, _ = _line(c, letters, (x0, 6, right_top, 72), cap, ink, font, rng, data_dir, spacing)
    if year:
        right = ink_cols(mask, x)[1] / c.scale
        pk_year(c, year, right + 1.5, 12, cap * float(rng.uniform(0.36, 0.5)), ink, rng, small_font(rng))
    _line(c, number, (x0, 78, w - 6, 144), cap, ink, font, rng, data_dir, spacing)
    border(c, 2, float(rng.uniform(1.5, 3)), (30, 30, 30))
    return c.img, split


def _in2(text: str, rng, height, data_dir) -> tuple[np.ndarray, int]:
    split = two_line_split("in2", text)
    w, h = float(rng.uniform(200, 230)), 150.0
    yellow = rng.random() < 0.35
    c = new_canvas(w, h, height, (40, 200, 245) if yellow else (240, 240, 240), rng)
    x0 = 8.0
    if rng.random() < 0.5:
        x0 = ind_mark(c, 6, 6, 70, rng) + 3
    ink = jitter((20, 20, 20), rng, 12)
    font = choose_font(rng, data_dir, text, ("DejaVuSansCondensed-Bold.ttf", *NARROW_FACES))
    cap = float(rng.uniform(48, 60))
    spacing = float(rng.uniform(0.05, 0.15))
    top, bottom = text[:split], text[split:]
    top_shown = f"{top[:2]} {top[2:]}" if rng.random() < 0.5 else top
    bottom_shown = f"{bottom[:-4]} {bottom[-4:]}" if len(bottom) > 4 and rng.random() < 0.6 else bottom
    _line(c, top_shown, (x0, 6, w - 8, 72), cap, ink, font, rng, data_dir, spacing)
    _line(c, bottom_shown, (8, 78, w - 8, 144), cap, ink, font, rng, data_dir, spacing)
    border(c, 3, float(rng.uniform(2, 4)), (20, 20, 20))
    screws(c, rng, [(w * 0.5, 6), (w * 0.5, 144)])
    return c.img, split


def _square(text: str, rng, height, data_dir) -> tuple[np.ndarray, int]:
    split = two_line_split("square", text)
    w, h = float(rng.uniform(280, 300)), 203.0  # the British square plate is 279 x 203 mm
    look = int(rng.integers(3))  # 0: yellow rear, 1: white, 2: white on black
    bg, fg = [((20, 200, 250), (15, 15, 15)), ((245, 245, 245), (15, 15, 15)), ((25, 25, 25), (225, 225, 225))][look]
    c = new_canvas(w, h, height, bg, rng)
    x0 = 8.0
    if look != 2 and rng.random() < 0.4:  # the blue band with its country letters
        c.rect(3, 3, 40, h - 3, jitter(_EU_BLUE, rng, 12))
        c.text(("GB", "UK", "IRL", "RO", "F", "I")[int(rng.integers(6))], (5, h * 0.6, 38, h * 0.8), 18,
               (245, 245, 245), small_font(rng), rng)
        x0 = 46.0
    ink = jitter(fg, rng, 12)
    font = choose_font(rng, data_dir, text, ("DejaVuSansCondensed-Bold.ttf", "DejaVuSans-Bold.ttf"))
    cap = float(rng.uniform(64, 80))
    spacing = float(rng.uniform(0.06, 0.18))
    _line(c, text[:split], (x0, 8, w - 8, 100), cap, ink, font, rng, data_dir, spacing)
    _line(c, text[split:], (x0, 104, w - 8, 196), cap, ink, font, rng, data_dir, spacing)
    if rng.random() < 0.5:
        border(c, 2, 2, (30, 30, 30) if look != 2 else (200, 200, 200))
    return c.img, split


RENDERERS = {"pk2": _pk2, "in2": _in2, "square": _square}

__all__ = ["RENDERERS"]
