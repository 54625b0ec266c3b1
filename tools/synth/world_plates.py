"""One-line plates of Pakistan, India, the Gulf and Australia, and the marks beside their characters.

* ``pk``: Punjab plates, white with the green band and its golden emblem on the left
  (the small PUNJAB below it), the district letters, the small two-digit year raised
  beside them, the number; or the older yellow plates with PUNJAB below, or white on
  black. The year is part of the text, in reading order (LEA 07 7952 is ``LEA077952``).
* ``in``: Indian plates, white (yellow for commercial, green for electric vehicles),
  a dark rim, often the hologram and the small IND on the left.
* ``gulf``: the Latin part of Gulf plates (a letter code and up to five digits) with a
  block of non-Latin writing beside it, drawn as random strokes, and often the
  emirate's name in small Latin letters; neither is part of the text.
* ``au``: Australian plates (ABC123, 1ABC234, AB12CD) with the state's name or slogan
  in small letters above or below.

Each renderer takes ``(text, rng, height, data_dir)`` and returns the BGR image drawn at
twice *height*; :func:`tools.synth.plates.render_plate` resizes it.
"""

from __future__ import annotations

import cv2
import numpy as np

from plategate.vision.reader import plate_shape
from tools.synth.canvas import Canvas, border, ink_cols, jitter, new_canvas, screws, small_font
from tools.synth.plate_text import AU_FORMATS, GULF_FORMATS, IN_FORMATS, PK_FORMATS, grouped
from tools.synth.text import NARROW_FACES, choose_font

_GREEN = (60, 120, 0)
_GOLD = (40, 190, 230)
_EMIRATES = ("DUBAI", "SHARJAH", "AJMAN", "ABU DHABI", "RAK", "FUJAIRAH", "KUWAIT", "QATAR", "OMAN", "BAHRAIN")
_AU_WORDS = ("VICTORIA", "NEW SOUTH WALES", "QUEENSLAND", "SUNSHINE STATE", "THE PLACE TO BE", "WESTERN AUSTRALIA",
             "STATE OF EXCELLENCE", "TASMANIA", "SOUTH AUSTRALIA", "THE FESTIVAL STATE", "NSW", "ACT", "NT")


def split_year(text: str) -> tuple[str, str, str]:
    """A Pakistani text as (district letters, year digits or "", number)."""
    letters = len(text) - len(text.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    digits = text[letters:]
    if len(digits) >= 5:
        return text[:letters], digits[:2], digits[2:]
    return text[:letters], "", digits


def pk_band(c: Canvas, x1: float, y1: float, rng: np.random.Generator) -> None:
    """The green band (0..*x1* mm wide, *y1* mm high) of Punjab plates, its golden emblem and the small PUNJAB."""
    c.rect(0, 0, x1, y1, jitter(_GREEN, rng, 15))
    gold = jitter(_GOLD, rng, 20)
    cx, cy, s = x1 / 2, y1 * 0.4, min(x1, y1) * 0.42
    for k in range(int(rng.integers(5, 9))):  # the sheaf: leaves fanned out from a stem
        a = np.pi * (0.2 + 0.6 * k / 8) + float(rng.uniform(-0.1, 0.1))
        px, py = cx + np.cos(a) * s * 0.6, cy - np.sin(a) * s * 0.8
        cv2.ellipse(c.img, (c.px(px), c.px(py)), (max(1, c.px(s * 0.45)), max(1, c.px(s * 0.16))),
                    float(-np.degrees(a)), 0, 360, gold, -1, cv2.LINE_AA)
    c.rect(cx - s * 0.08, cy, cx + s * 0.08, cy + s * 1.1, gold)
    if rng.random() < 0.7:
        c.text("PUNJAB", (1, y1 * 0.82, x1 - 1, y1 * 0.97), y1 * 0.06, (240, 240, 240), small_font(rng), rng)


def pk_year(c: Canvas, year: str, x: float, y0: float, cap: float, ink, rng: np.random.Generator, font) -> float:
    """The small two-digit year at mm column *x*, its top at *y0*, sometimes after a dot or dash.

    Returns:
        The mm column where its ink ends.
    """
    shown = ("", "·", "-")[int(rng.integers(3))] + year
    mask, left, _ = c.text(shown, (x, y0, x + cap * 2.2, y0 + cap), cap, ink, font, rng, align="left", spacing=0.1)
    return ink_cols(mask, left)[1] / c.scale


def _pk(text: str, rng, height, data_dir) -> np.ndarray:
    letters, year, number = split_year(text)
    look = int(rng.integers(3))  # 0: white with the green band, 1: old yellow, 2: white on black
    bg, fg = [((235, 235, 235), (20, 20, 20)), ((40, 200, 240), (20, 20, 20)), ((25, 25, 25), (225, 225, 225))][look]
    w = float(rng.uniform(380, 440))
    c = new_canvas(w, 110, height, bg, rng)
    x0 = 6.0
    if look == 0:
        pk_band(c, 70, 110, rng)
        x0 = 76.0
    font = choose_font(rng, data_dir, text, ("DejaVuSansCondensed-Bold.ttf", "DejaVuSans-Bold.ttf"))
    ink = jitter(fg, rng, 12)
    cap = float(rng.uniform(60, 72))
    bottom = 96 if look == 1 else 104
    if look == 1 and rng.random() < 0.8:
        c.text("PUNJAB", (w * 0.3, 92, w * 0.7, 108), 11, ink, small_font(rng), rng)
    sep = ("-", " ", "·")[int(rng.integers(3))]
    if year and look != 0 and rng.random() < 0.5:  # the year as big as the rest, between dashes
        c.text(f"{letters}{sep}{year}{sep}{number}", (x0, 6, w - 6, bottom), cap, ink, font, rng,
               spacing=float(rng.uniform(0.05, 0.15)), data_dir=data_dir, squeeze=float(rng.uniform(0.8, 1.05)))
    else:
        span = w - 6 - x0
        lbox = (x0, 6, x0 + span * 0.42, bottom)
        mask, x, _ = c.text(letters, lbox, cap, ink, font, rng, spacing=0.1, data_dir=data_dir,
                            squeeze=float(rng.uniform(0.8, 1.05)))
        right = ink_cols(mask, x)[1] / c.scale
        if year:
            right = pk_year(c, year, right + 2, (bottom + 6 - cap) / 2, cap * float(rng.uniform(0.36, 0.5)), ink, rng,
                            small_font(rng))
        c.text(number, (max(x0 + span * 0.56, right + 6), 6, w - 6, bottom), cap, ink, font, rng, spacing=0.1,
               data_dir=data_dir, squeeze=float(rng.uniform(0.8, 1.05)))
    border(c, 2, float(rng.uniform(1.5, 3)), (30, 30, 30) if look != 2 else (200, 200, 200))
    return c.img


def ind_mark(c: Canvas, x0: float, y0: float, h: float, rng: np.random.Generator) -> float:
    """The hologram (a wheel) and the small IND of Indian plates, in a column *h* mm high at (*x0*, *y0*).

    Returns:
        The mm column where the mark ends.
    """
    blue = jitter((170, 90, 30), rng, 20)
    r = h * 0.16
    cx, cy = x0 + r + 1, y0 + r + 2
    cv2.circle(c.img, (c.px(cx), c.px(cy)), max(1, c.px(r)), blue, max(1, c.px(1.2)), cv2.LINE_AA)
    for k in range(12):
        a = np.pi * k / 6
        cv2.line(c.img, (c.px(cx), c.px(cy)), (c.px(cx + r * np.cos(a)), c.px(cy + r * np.sin(a))), blue,
                 max(1, c.px(0.6)), cv2.LINE_AA)
    c.text("IND", (x0, y0 + h * 0.5, x0 + 2 * r + 4, y0 + h * 0.8), h * 0.15, blue, small_font(rng), rng)
    return x0 + 2 * r + 4


def _in(text: str, rng, height, data_dir) -> np.ndarray:
    r = rng.random()  # white private, yellow commercial, green electric, black rental
    bg, fg = [((240, 240, 240), (20, 20, 20)), ((40, 200, 245), (20, 20, 20)), ((60, 160, 40), (240, 240, 240)),
              ((25, 25, 25), (40, 200, 240))][int(np.searchsorted([0.7, 0.88, 0.97], r, side="right"))]
    w = float(rng.uniform(480, 520))
    c = new_canvas(w, 120, height, bg, rng)
    x0 = 10.0
    if rng.random() < 0.6:
        x0 = ind_mark(c, 8, 8, 104, rng) + 3
    seps = ["LL DD LL DDDD", "LLDD LL DDDD", "LLDDLLDDDD", "LL-DD-LL-DDDD"] if len(text) == 10 else \
        ["LL DD L DDDD", "LLDD L DDDD", "LLDDLDDDD", "LL.DD.L.DDDD"]
    shown = grouped(text, tuple(p.replace(".", "·") for p in seps), rng)
    font = choose_font(rng, data_dir, text, ("DejaVuSansCondensed-Bold.ttf", *NARROW_FACES))
    c.text(shown, (x0, 10, w - 10, 110), float(rng.uniform(60, 80)), jitter(fg, rng, 12), font, rng,
           spacing=float(rng.uniform(0.04, 0.14)), data_dir=data_dir, squeeze=float(rng.uniform(0.7, 1.0)))
    border(c, 3, float(rng.uniform(2, 4)), fg)
    screws(c, rng, [(w * 0.3, 8), (w * 0.7, 8)])
    return c.img


def scribble(c: Canvas, box: tuple[float, float, float, float], colour, rng: np.random.Generator) -> None:
    """Non-Latin writing in *box* (mm): joined strokes along a baseline with hooks, loops and dots."""
    x0, y0, x1, y1 = box
    h = y1 - y0
    base = y0 + h * float(rng.uniform(0.55, 0.7))
    t = max(1, c.px(h * float(rng.uniform(0.08, 0.14))))
    x = x1
    while x > x0 + h * 0.3:  # right to left, word by word
        word = float(rng.uniform(0.6, 1.6)) * h
        a = max(x0, x - word)
        pts = [(x, base)]
        for px in np.linspace(x, a, int(rng.integers(3, 7)))[1:]:
            kind = rng.random()
            if kind < 0.35:  # a tall stroke
                pts += [(px, base - h * float(rng.uniform(0.4, 0.6))), (px, base)]
            elif kind < 0.6:  # a hook below the line
                pts += [(px, base + h * float(rng.uniform(0.15, 0.35))), (px - h * 0.1, base)]
            else:
                pts.append((px, base - h * float(rng.uniform(0.0, 0.12))))
        poly = np.array([(c.px(px), c.px(py)) for px, py in pts], np.int32)
        cv2.polylines(c.img, [poly], False, colour, t, cv2.LINE_AA)
        if rng.random() < 0.5:  # a loop
            lx = float(rng.uniform(a, x))
            cv2.ellipse(c.img, (c.px(lx), c.px(base - h * 0.1)), (max(1, c.px(h * 0.1)), max(1, c.px(h * 0.12))),
                        0, 0, 360, colour, t, cv2.LINE_AA)
        for _ in range(int(rng.integers(0, 3))):  # dots above or below
            dy = -0.75 if rng.random() < 0.6 else 0.45
            cv2.circle(c.img, (c.px(float(rng.uniform(a, x))), c.px(base + dy * h * 0.5)), max(1, t // 2 + 1), colour,
                       -1, cv2.LINE_AA)
        x = a - h * float(rng.uniform(0.15, 0.4))


def _gulf(text: str, rng, height, data_dir) -> np.ndarray:
    shape = plate_shape(text)
    code = text[: len(shape) - len(shape.lstrip("L"))]
    digits = text[len(code):]
    w = float(rng.uniform(480, 520))
    c = new_canvas(w, 110, height, (240, 240, 240), rng)
    ink = jitter((20, 20, 20), rng, 12)
    font = choose_font(rng, data_dir, text, ("DejaVuSansCondensed-Bold.ttf", "DejaVuSans-Bold.ttf"))
    cap = float(rng.uniform(62, 76))
    spacing = float(rng.uniform(0.05, 0.15))
    layout = int(rng.integers(3))  # 0: code | writing | digits, 1: writing | code digits, 2: code digits | writing
    if layout == 0 and code:
        c.text(code, (10, 10, 90, 100), cap, ink, font, rng, data_dir=data_dir, spacing=spacing)
        scribble(c, (95, 16, 190, 58), ink, rng)
        if rng.random() < 0.8:
            name = _EMIRATES[int(rng.integers(len(_EMIRATES)))]
            c.text(name, (95, 66, 190, 92), 13, ink, small_font(rng), rng)
        c.text(digits, (195, 10, w - 10, 100), cap, ink, font, rng, data_dir=data_dir, spacing=spacing)
    else:
        wb = float(rng.uniform(110, 150))
        wbox = (10, 14, 10 + wb, 96) if layout == 1 else (w - 10 - wb, 14, w - 10, 96)
        tbox = (20 + wb, 10, w - 10, 100) if layout == 1 else (10, 10, w - 20 - wb, 100)
        if rng.random() < 0.4:  # a coloured block behind the writing
            c.rect(wbox[0] - 4, 4, wbox[2] + 4, 106, jitter((40, 40, 190), rng, 25))
            scribble(c, (wbox[0], 14, wbox[2], 60), (240, 240, 240), rng)
        else:
            scribble(c, (wbox[0], 14, wbox[2], 60), ink, rng)
            scribble(c, (wbox[0], 62, wbox[2], 96), ink, rng)
        shown = f"{code} {digits}" if code else digits
        c.text(shown, tbox, cap, ink, font, rng, data_dir=data_dir, spacing=spacing,
               squeeze=float(rng.uniform(0.8, 1.05)))
    border(c, 2, float(rng.uniform(1.5, 3)), (30, 30, 30))
    return c.img


def _au(text: str, rng, height, data_dir) -> np.ndarray:
    looks = [((240, 240, 240), (140, 50, 10)), ((240, 240, 240), (30, 30, 120)), ((240, 240, 240), (20, 20, 20)),
             ((40, 200, 245), (20, 20, 20)), ((25, 25, 25), (240, 240, 240)), ((240, 240, 240), (40, 100, 20))]
    bg, fg = looks[int(rng.integers(len(looks)))]
    c = new_canvas(372, 134, height, bg, rng)
    ink = jitter(fg, rng, 12)
    shown = grouped(text, AU_FORMATS + tuple(p.replace(" ", "·") for p in AU_FORMATS), rng)
    top, bottom = 10.0, 124.0
    if rng.random() < 0.7:
        word = _AU_WORDS[int(rng.integers(len(_AU_WORDS)))]
        at_top = rng.random() < 0.35
        band = (60, 6, 312, 24) if at_top else (40, 108, 332, 128)
        c.text(word, band, 12, ink, small_font(rng), rng)
        top, bottom = (26.0, 126.0) if at_top else (8.0, 106.0)
    font = choose_font(rng, data_dir, text, ("DejaVuSansCondensed-Bold.ttf", "DejaVuSans-Bold.ttf"))
    c.text(shown, (12, top, 360, bottom), float(rng.uniform(66, min(84, bottom - top - 4))), ink, font, rng,
           spacing=float(rng.uniform(0.05, 0.16)), data_dir=data_dir, squeeze=float(rng.uniform(0.75, 1.05)))
    border(c, 3, float(rng.uniform(1.5, 3.5)), fg)
    return c.img


RENDERERS = {"pk": _pk, "in": _in, "gulf": _gulf, "au": _au}
#: the layouts each style's texts follow (for tests and the format list of a deployment)
FORMATS = {"pk": PK_FORMATS, "in": IN_FORMATS, "gulf": GULF_FORMATS, "au": AU_FORMATS}

__all__ = ["FORMATS", "RENDERERS", "ind_mark", "pk_band", "pk_year", "scribble", "split_year"]
