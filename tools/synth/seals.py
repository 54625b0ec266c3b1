"""Marks on real plates that are not characters: seals, coats of arms and side badges.

German plates carry a registration seal (and, on the rear, the round inspection
sticker above it) between the district code and the rest; Austrian, Slovenian and
Croatian plates carry a coat of arms there; French and Italian plates have a blue
band on the right with a regional badge and a small number. The hand-read
``eu-crops`` (``tools/labels``) show the reader taking these for characters:
M·ID2044 read M8ID2044, KU·MOPS1 read KU9MOPS1, AA-630-DJ read AA630DJB. The
renderer draws them so that the reader learns to skip them.

A layout pattern marks the seal's place with :data:`SEAL_SLOT`; the text is drawn
with a gap there (:func:`gap_text`) and :func:`draw_in_gap` paints the mark into
the widest gap of the drawn text.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

logger = logging.getLogger(__name__)

#: in a layout pattern, the place of a seal or coat of arms
SEAL_SLOT = "@"
#: the kinds of mark :func:`draw_in_gap` paints
KINDS = ("de", "shield", "checker")


def gap_text(shown: str) -> str:
    """Replace each :data:`SEAL_SLOT` of a laid-out text by the gap the mark goes into."""
    return shown.replace(SEAL_SLOT, "   ")


def widest_gap(mask: np.ndarray, lo: float = 0.2, hi: float = 0.8, *, interior: bool = False) -> tuple[int, int]:
    """The widest run of empty columns of *mask* between fractions *lo* and *hi* of its width.

    With *interior*, the run is looked for between the first and the last inked
    columns instead (the gaps between characters, not the margins).

    Returns:
        ``(width, start)`` of the run (the later one on a tie); ``(0, 0)`` when
        every column there holds ink.
    """
    w = mask.shape[1]
    a, b = int(w * lo), int(w * hi)
    if interior:
        inked = np.flatnonzero(mask.max(axis=0) >= 0.05)
        a, b = (int(inked[0]), int(inked[-1]) + 1) if inked.size else (0, 0)
    cols = mask[:, a:b].max(axis=0) < 0.05 if b > a else np.zeros(0, bool)
    empty = np.concatenate(([False], cols, [False]))  # closed at both ends, so runs pair up
    edges = np.flatnonzero(np.diff(empty.astype(np.int8)))
    starts, ends = edges[0::2], edges[1::2]
    if starts.size == 0:
        return 0, 0
    runs = sorted(zip((ends - starts).tolist(), (starts + a).tolist(), strict=True))
    return runs[-1]


def _shield_polygon(cx: int, top: int, ew: int, eh: int) -> np.ndarray:
    left = cx - ew // 2
    return np.array([[left, top], [left + ew, top], [left + ew, top + eh * 2 // 3], [cx, top + eh],
                     [left, top + eh * 2 // 3]], np.int32)


def ink_shield_in_gap(mask: np.ndarray, rng: np.random.Generator) -> None:
    """Ink a shield (filled or outlined) into the widest gap in the middle of a text *mask*.

    This is the national shield between the letters and digits of old Argentine
    plates, drawn in the text's own colour. Nothing is drawn when no gap is at least
    a quarter of the mask's height wide.
    """
    h = mask.shape[0]
    width, start = widest_gap(mask)
    if width < 0.25 * h:
        return
    ew = max(2, int(min(width * 0.7, h * float(rng.uniform(0.3, 0.5)))))
    eh = max(3, int(h * float(rng.uniform(0.35, 0.6))))
    cx, cy = start + width // 2, h // 2 + int(h * float(rng.uniform(-0.08, 0.08)))
    shield = _shield_polygon(cx, cy - eh // 2, ew, eh)
    if rng.random() < 0.6:
        cv2.fillPoly(mask, [shield], 1.0, cv2.LINE_AA)
    else:
        cv2.polylines(mask, [shield], True, 1.0, max(1, h // 14), cv2.LINE_AA)


def random_colour(rng: np.random.Generator, lo: int = 20, hi: int = 240) -> tuple[int, int, int]:
    return tuple(int(v) for v in rng.integers(lo, hi, 3))


def _rim_marks(img: np.ndarray, cx: int, cy: int, r: int, colour, rng: np.random.Generator) -> None:
    """Small dashes around a disc's rim, like the lettering and month numbers of a seal."""
    n = int(rng.integers(8, 20))
    t = max(1, r // 10)
    for k in range(n):
        a = 2 * np.pi * (k + float(rng.uniform(-0.2, 0.2))) / n
        r0, r1 = r * 0.72, r * float(rng.uniform(0.8, 0.92))
        p0 = (int(cx + r0 * np.cos(a)), int(cy + r0 * np.sin(a)))
        p1 = (int(cx + r1 * np.cos(a)), int(cy + r1 * np.sin(a)))
        cv2.line(img, p0, p1, colour, t, cv2.LINE_AA)


def _german(img: np.ndarray, cx: int, y0: int, h: int, width: int, rng: np.random.Generator) -> None:
    """The registration seal, with the inspection sticker above it on rear plates (half of them)."""
    rear = rng.random() < 0.5
    r = max(2, int(min(width * 0.5, h * (0.26 if rear else 0.34)) * float(rng.uniform(0.85, 1.05))))
    discs = [(y0 + h * 0.27, True), (y0 + h * 0.73, False)] if rear else [(y0 + h * float(rng.uniform(0.4, 0.6)), False)]
    for cy_f, sticker in discs:
        cy = int(cy_f)
        if sticker:  # the inspection sticker: a coloured disc with a dark sector marking the month
            cv2.circle(img, (cx, cy), r, random_colour(rng, 60, 250), -1, cv2.LINE_AA)
            a0 = float(rng.uniform(0, 360))
            cv2.ellipse(img, (cx, cy), (r, r), a0, 0, 30, (20, 20, 20), -1, cv2.LINE_AA)
            _rim_marks(img, cx, cy, r, (20, 20, 20), rng)
        else:  # the seal: a pale disc with a ring of lettering and a coloured coat of arms
            tone = int(rng.integers(150, 245))
            cv2.circle(img, (cx, cy), r, (tone, tone, tone), -1, cv2.LINE_AA)
            cv2.circle(img, (cx, cy), r, random_colour(rng, 20, 160), max(1, r // 8), cv2.LINE_AA)
            _rim_marks(img, cx, cy, r, random_colour(rng, 20, 120), rng)
            _arms(img, cx, cy - int(r * 0.45), int(r * 0.8), int(r * 0.95), rng)


def _paste_inside(img: np.ndarray, layer: np.ndarray, poly: np.ndarray) -> None:
    """Copy the pixels of *layer* inside polygon *poly* onto *img* (a figure clipped to its shield)."""
    clip = np.zeros(img.shape[:2], np.uint8)
    cv2.fillPoly(clip, [poly], 255)
    img[clip > 0] = layer[clip > 0]


def _arms(img: np.ndarray, cx: int, top: int, ew: int, eh: int, rng: np.random.Generator) -> None:
    """A coat of arms: a shield with stripes, halves or a figure, in random colours."""
    ew, eh = max(3, ew), max(4, eh)
    poly = _shield_polygon(cx, top, ew, eh)
    cv2.fillPoly(img, [poly], random_colour(rng), cv2.LINE_AA)
    layer = img.copy()
    figure = int(rng.integers(4))
    second = random_colour(rng)
    left = cx - ew // 2
    if figure == 0:  # horizontal band (red-white-red)
        cv2.rectangle(layer, (left, top + eh // 3), (left + ew, top + eh * 2 // 3), second, -1)
    elif figure == 1:  # halves
        cv2.rectangle(layer, (cx, top), (left + ew, top + eh), second, -1)
    elif figure == 2:  # a beast or a tower: a blob
        cv2.ellipse(layer, (cx, top + eh * 2 // 5), (max(1, ew // 4), max(1, eh // 4)), float(rng.uniform(0, 180)),
                    0, 360, second, -1, cv2.LINE_AA)
    else:  # mountains (Slovenia's Triglav) over waves
        peaks = np.array([[left, top + eh * 3 // 5], [cx - ew // 4, top + eh // 4], [cx, top + eh // 2],
                          [cx + ew // 4, top + eh // 4], [left + ew, top + eh * 3 // 5]], np.int32)
        cv2.polylines(layer, [peaks], False, second, max(1, ew // 8), cv2.LINE_AA)
    _paste_inside(img, layer, poly)
    if rng.random() < 0.5:
        cv2.polylines(img, [poly], True, random_colour(rng, 10, 120), max(1, ew // 12), cv2.LINE_AA)


def _checker(img: np.ndarray, cx: int, top: int, ew: int, eh: int, rng: np.random.Generator) -> None:
    """Croatia's chequered shield, with a small crown of blocks above it."""
    ew, eh = max(5, ew), max(6, eh)
    crown = eh // 5
    poly = _shield_polygon(cx, top + crown, ew, eh - crown)
    squares = img.copy()
    light, dark = random_colour(rng, 170, 250), random_colour(rng, 20, 140)
    n = 5
    cell = max(1, ew // n)
    left = cx - ew // 2
    for i in range(n + 2):
        for j in range(n):
            tone = light if (i + j) % 2 else dark
            x0, y0 = left + j * cell, top + crown + i * cell
            cv2.rectangle(squares, (x0, y0), (x0 + cell, y0 + cell), tone, -1)
    _paste_inside(img, squares, poly)
    for j in range(5):  # the crown
        x0 = left + j * ew // 5
        cv2.rectangle(img, (x0, top), (x0 + max(1, ew // 6), top + crown - 1), random_colour(rng, 40, 220), -1)


def draw_in_gap(img: np.ndarray, mask: np.ndarray, x: int, y: int, kind: str, rng: np.random.Generator) -> bool:
    """Paint a mark of *kind* into the widest gap of a text *mask* drawn at (*x*, *y*) on *img*.

    Args:
        img: the plate canvas (BGR, modified in place).
        mask: the text mask as drawn (its shape gives the text's size).
        x: canvas column of the mask's left edge.
        y: canvas row of the mask's top edge.
        kind: one of :data:`KINDS`.
        rng: random source for sizes and colours.

    Returns:
        True when a mark was drawn, False when the text has no gap wide enough.

    Raises:
        ValueError: unknown *kind*.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown seal kind {kind!r}; expected one of {', '.join(KINDS)}")
    h = mask.shape[0]
    width, start = widest_gap(mask, interior=True)
    if width < 0.25 * h:
        return False
    cx = x + start + width // 2
    if kind == "de":
        _german(img, cx, y, h, width, rng)
        return True
    eh = int(h * float(rng.uniform(0.7, 1.0)))
    ew = int(min(width * 0.9, eh * float(rng.uniform(0.65, 0.85))))
    top = y + (h - eh) // 2 + int(h * float(rng.uniform(-0.05, 0.05)))
    (_arms if kind == "shield" else _checker)(img, cx, top, ew, eh, rng)
    return True


__all__ = ["KINDS", "SEAL_SLOT", "draw_in_gap", "gap_text", "ink_shield_in_gap", "random_colour", "widest_gap"]
