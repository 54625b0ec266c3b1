"""What surrounds the characters of real US plates: none of it is part of the plate's text.

Real US crops carry the state's name above the characters and a slogan below, dealer
frames with their own lettering, registration stickers in the corners, bolts in the
fixing holes right above or below the outer characters, and sometimes a small symbol
between the characters (the wheelchair of disabled plates, a heart, a star). Readers
trained on bare plates read these as extra characters (ISTNTV for STNTV, 1396E for
1396). :func:`dress` draws each of them with its own probability (:data:`SHARES`),
so that bare plates remain among the renders.

All positions are in millimetres on the 305 x 152 mm US plate.
"""

from __future__ import annotations

import cv2
import numpy as np

from tools.synth import seals
from tools.synth.canvas import Canvas, ink_cols, jitter, small_font

#: probability of each dressing of a US plate (``header``: random words instead of a state's
#: name in the top band of a plain plate, drawn by :func:`tools.synth.plates.render_plate`)
SHARES = {"header": 0.5, "slogan": 0.5, "frame": 0.3, "sticker": 0.4, "bolts": 0.5, "symbol": 0.12}
#: state names and words of slogans and dealer frames; random letter runs are mixed in
WORDS = ("CALIFORNIA", "TEXAS", "FLORIDA", "NEW YORK", "VIRGINIA", "WASHINGTON", "OREGON", "ARIZONA", "OHIO",
         "GEORGIA", "NEVADA", "ILLINOIS", "MICHIGAN", "COLORADO", "OKLAHOMA", "NEW JERSEY", "MARYLAND",
         "SUNSHINE STATE", "EMPIRE STATE", "THE LONE STAR STATE", "LAND OF LINCOLN", "VIRGINIA IS FOR LOVERS",
         "GREAT LAKES", "GRAND CANYON STATE", "DMV.CA.GOV", "EVERGREEN STATE", "GARDEN STATE", "MOTORS",
         "TOYOTA OF", "HONDA", "AUTO GROUP", "FORD", "CHEVROLET", "PREMIER", "SALES", "SERVICE", "DEALER")


def random_words(rng: np.random.Generator, n: int) -> str:
    """*n* words: mostly from :data:`WORDS`, sometimes random letter runs (so that no word is learnt by heart)."""
    out = []
    for _ in range(n):
        if rng.random() < 0.7:
            out.append(WORDS[int(rng.integers(len(WORDS)))])
        else:
            out.append("".join(chr(65 + int(rng.integers(26))) for _ in range(int(rng.integers(3, 9)))))
    return " ".join(out)


def symbol_gap(shown: str, rng: np.random.Generator) -> tuple[str, bool]:
    """*shown* with a wide gap between two characters for a symbol, with :data:`SHARES` ``symbol``.

    Returns:
        ``(text to draw, whether a gap was made)``.
    """
    inner = [i for i in range(1, len(shown)) if shown[i - 1].isalnum() and shown[i].isalnum()]
    if not inner or rng.random() >= SHARES["symbol"]:
        return shown, False
    i = inner[int(rng.integers(len(inner)))]
    return shown[:i] + "   " + shown[i:], True


def _symbol(c: Canvas, mask: np.ndarray, x: int, y: int, ink, rng: np.random.Generator) -> None:
    """A wheelchair, heart or star in the widest gap between the characters drawn with *mask* at (*x*, *y*)."""
    h = mask.shape[0]
    width, start = seals.widest_gap(mask, interior=True)
    if width < 0.25 * h:
        return
    cx, cy = x + start + width // 2, y + h // 2
    r = max(2, int(min(width * 0.42, h * float(rng.uniform(0.2, 0.35)))))
    kind = int(rng.integers(3))
    t = max(1, r // 4)
    if kind == 0:  # wheelchair: a head, a seat and a wheel
        cv2.circle(c.img, (cx, cy - r), max(1, r // 4), ink, -1, cv2.LINE_AA)
        cv2.line(c.img, (cx, cy - r // 2), (cx, cy + r // 3), ink, t, cv2.LINE_AA)
        cv2.line(c.img, (cx, cy + r // 3), (cx + r // 2, cy + r // 3), ink, t, cv2.LINE_AA)
        cv2.ellipse(c.img, (cx, cy + r // 2), (r // 2 + 1, r // 2 + 1), 0, 60, 330, ink, t, cv2.LINE_AA)
    elif kind == 1:  # heart
        colour = jitter((40, 40, 200), rng, 30)
        cv2.circle(c.img, (cx - r // 2, cy - r // 4), r // 2 + 1, colour, -1, cv2.LINE_AA)
        cv2.circle(c.img, (cx + r // 2, cy - r // 4), r // 2 + 1, colour, -1, cv2.LINE_AA)
        tri = np.array([[cx - r, cy - r // 8], [cx + r, cy - r // 8], [cx, cy + r]], np.int32)
        cv2.fillPoly(c.img, [tri], colour, cv2.LINE_AA)
    else:  # star
        pts = [(cx + (r if k % 2 == 0 else r * 0.45) * np.sin(np.pi * k / 5),
                cy - (r if k % 2 == 0 else r * 0.45) * np.cos(np.pi * k / 5)) for k in range(10)]
        cv2.fillPoly(c.img, [np.array(pts, np.int32)], seals.random_colour(rng, 30, 200), cv2.LINE_AA)


def _bolt(c: Canvas, x: float, y: float, rng: np.random.Generator) -> None:
    """A bolt head (with its slot or cross) or an empty hole at (*x*, *y*) mm."""
    r = float(rng.uniform(3, 5.5))
    if rng.random() < 0.3:  # an empty slot: dark, a little wider than high
        cv2.ellipse(c.img, (c.px(x), c.px(y)), (max(1, c.px(r * 1.4)), max(1, c.px(r * 0.8))), 0, 0, 360,
                    jitter((35, 35, 35), rng, 15), -1, cv2.LINE_AA)
        return
    tone = int(rng.integers(90, 230))
    cv2.circle(c.img, (c.px(x), c.px(y)), max(2, c.px(r)), (tone, tone, tone), -1, cv2.LINE_AA)
    dark = (tone // 3,) * 3
    cv2.circle(c.img, (c.px(x), c.px(y)), max(2, c.px(r)), dark, max(1, c.px(0.6)), cv2.LINE_AA)
    d = r * 0.6
    cv2.line(c.img, (c.px(x - d), c.px(y)), (c.px(x + d), c.px(y)), dark, max(1, c.px(0.9)), cv2.LINE_AA)
    if rng.random() < 0.5:
        cv2.line(c.img, (c.px(x), c.px(y - d)), (c.px(x), c.px(y + d)), dark, max(1, c.px(0.9)), cv2.LINE_AA)


def _sticker(c: Canvas, x: float, y: float, rng: np.random.Generator) -> None:
    """A registration sticker with its top-left corner at (*x*, *y*) mm: a bright label and tiny digits."""
    w, h = float(rng.uniform(16, 28)), float(rng.uniform(11, 18))
    colour = seals.random_colour(rng, 30, 250)
    c.rect(x, y, x + w, y + h, colour)
    ink = (20, 20, 20) if sum(colour) > 380 else (240, 240, 240)
    digits = "".join(str(int(rng.integers(10))) for _ in range(int(rng.integers(1, 3))))
    c.text(digits, (x + 1, y + 1, x + w - 1, y + h - 1), h * 0.55, ink, small_font(rng), rng)


def _frame(c: Canvas, rng: np.random.Generator) -> None:
    """A dealer frame over the plate's edges: wide bars at top and bottom with lettering, narrow sides."""
    w, h = c.img.shape[1] / c.scale, c.img.shape[0] / c.scale
    colour = jitter((30, 30, 30), rng, 20) if rng.random() < 0.6 else jitter((190, 190, 190), rng, 30)
    lettering = (230, 230, 230) if sum(colour) < 300 else (30, 30, 30)
    top, bottom, side = float(rng.uniform(5, 14)), float(rng.uniform(10, 22)), float(rng.uniform(3, 8))
    c.rect(0, 0, w, top, colour)
    c.rect(0, h - bottom, w, h, colour)
    c.rect(0, 0, side, h, colour)
    c.rect(w - side, 0, w, h, colour)
    if top > 8 and rng.random() < 0.6:
        c.text(random_words(rng, int(rng.integers(1, 3))), (w * 0.2, 1, w * 0.8, top - 1), top * 0.5, lettering,
               small_font(rng), rng)
    if rng.random() < 0.8:
        c.text(random_words(rng, int(rng.integers(1, 4))), (w * 0.1, h - bottom + 1, w * 0.9, h - 1),
               bottom * 0.5, lettering, small_font(rng), rng)


def dress(c: Canvas, mask: np.ndarray, x: int, y: int, ink, rng: np.random.Generator, *,
          symbol: bool = False) -> None:
    """Dress a US plate whose characters were drawn with *mask* at canvas pixel (*x*, *y*).

    Args:
        c: the plate canvas (305 x 152 mm), modified in place.
        mask: the characters' mask as drawn.
        x: canvas column of the mask's left edge.
        y: canvas row of the mask's top edge.
        ink: colour of the characters (for the symbol and the lettering).
        rng: random source.
        symbol: draw a symbol in the widest gap between the characters (made by :func:`symbol_gap`).

    The state's name at the top is the renderer's (the plate background's, or any words
    with :data:`SHARES` ``header`` on a plain plate).
    """
    left, right = ink_cols(mask, x)
    first, last = (left / c.scale, right / c.scale) if right > left else (60.0, 245.0)
    top_mm, bottom_mm = y / c.scale, (y + mask.shape[0]) / c.scale
    if symbol:
        _symbol(c, mask, x, y, ink, rng)
    if rng.random() < SHARES["slogan"]:
        c.text(random_words(rng, int(rng.integers(1, 4))), (30, max(bottom_mm + 2, 128), 275, 149),
               float(rng.uniform(6, 11)), ink, small_font(rng), rng)
    if rng.random() < SHARES["bolts"]:  # fixing holes 181 mm apart, above and below the outer characters
        cx = 152.5 + float(rng.uniform(-8, 8))
        for bx in (cx - 90.5, cx + 90.5):
            for by in (float(rng.uniform(8, 20)), float(rng.uniform(132, 145))):
                if rng.random() < 0.7:
                    _bolt(c, bx, by, rng)
        mid = (top_mm + bottom_mm) / 2
        if first > 18 and rng.random() < 0.3:  # a bolt right beside the first or last character
            _bolt(c, first - float(rng.uniform(9, 12)), mid, rng)
        if last < 287 and rng.random() < 0.3:
            _bolt(c, last + float(rng.uniform(9, 12)), mid, rng)
    if rng.random() < SHARES["frame"]:
        _frame(c, rng)
    if rng.random() < SHARES["sticker"]:
        for _ in range(int(rng.integers(1, 3))):
            sx = float(rng.uniform(6, 40)) if rng.random() < 0.5 else float(rng.uniform(255, 280))
            sy = float(rng.uniform(5, 14)) if rng.random() < 0.7 else float(rng.uniform(124, 132))
            _sticker(c, sx, sy, rng)
        if last < 270 and rng.random() < 0.3:  # a sticker beside the last character
            _sticker(c, last + float(rng.uniform(4, 8)), (top_mm + bottom_mm) / 2 - 8, rng)


__all__ = ["SHARES", "WORDS", "dress", "random_words", "symbol_gap"]
