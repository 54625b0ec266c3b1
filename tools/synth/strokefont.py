"""A parametric constant-stroke plate font, drawn from line and arc skeletons.

Plate faces such as DIN 1451 (German and many South American plates), the faces of
old Argentine plates and Brazil's Mandatory are built from strokes of one width
along straight lines and rounded arcs. None of them is installed with Debian, so
this module draws the family itself: each character is a skeleton of polylines in
a box one unit high and ``width`` units wide, stroked with round ends.

A :class:`StrokeStyle` varies what differs between real plate faces:

* character width and stroke weight,
* squareness of the bowls (superellipse exponent: 2 = round, 5 = nearly square),
  which moves O, 0 and D toward the squarish shapes of old Argentine plates,
* an open-top 4 (left stroke not meeting the stem) or a closed one,
* a flat-topped or a round 3, a 1 with or without a foot, a crossed 7,
* how deep the middle of the M reaches.

All coordinates are in skeleton units: x to the right in ``[0, width]``, y down in
``[0, 1]`` (0 = cap line, 1 = baseline).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import cv2
import numpy as np

logger = logging.getLogger(__name__)

Path2 = list[tuple[float, float]]

#: characters :func:`stroke_mask` can draw (plus space, ``-`` and ``·``)
CHARSET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

_CAP_PX = 96  # cap height in pixels at which masks are drawn
_SHIFT = 4  # fixed-point bits for sub-pixel polylines


@dataclass(frozen=True)
class StrokeStyle:
    """The parameters of one face of the family.

    Attributes:
        width: character width as a fraction of the cap height.
        weight: stroke width as a fraction of the cap height.
        square: superellipse exponent of bowls and rounded letters (2 round .. 5 square).
        open_four: draw the 4 with an open top.
        four_top: how far the top of a closed 4 runs left from the stem before its
            left stroke goes down, as a fraction of the width (0: the usual diagonal
            from the stem's top; 0.7: a near-vertical left stroke, the box-like 4 of
            old Argentine plates that reads like a 0 open at the bottom left).
        flat_three: draw the 3 with a flat top and a diagonal.
        one_foot: draw a foot under the 1.
        crossed_seven: draw a bar across the 7.
        m_depth: how far down the middle of the M reaches (0.5 .. 1).
        w_straight: how upright the outer strokes of the W stand (0: the usual slant;
            1: nearly vertical, with the middle apex lower: the W of old Argentine
            plates, which reads like an H when blurred).
        i_serif: the I's bars at top and bottom, as their length over the character
            width (0: a bare stem; old Argentine plates have bars, and readers trained
            on bare stems read that I as T or 1).
        q_tail: the height of the Q's tail as a short tick up from the bottom of the bowl
            near its middle, as a fraction of the cap height (0: the usual diagonal across
            the bottom right, which a square bowl all but hides; old Argentine plates draw
            the tick, and readers trained without it read that Q as O).
    """

    width: float = 0.55
    weight: float = 0.13
    square: float = 2.6
    open_four: bool = False
    four_top: float = 0.0
    flat_three: bool = False
    one_foot: bool = False
    crossed_seven: bool = False
    m_depth: float = 0.7
    w_straight: float = 0.0
    i_serif: float = 0.0
    q_tail: float = 0.0


def random_style(rng: np.random.Generator) -> StrokeStyle:
    """Draw a face of the family at random (ranges taken from real plate faces)."""
    return StrokeStyle(
        width=float(rng.uniform(0.42, 0.62)),
        weight=float(rng.uniform(0.09, 0.17)),
        square=float(rng.uniform(2.0, 5.0)),
        open_four=bool(rng.random() < 0.5),
        flat_three=bool(rng.random() < 0.3),
        one_foot=bool(rng.random() < 0.25),
        crossed_seven=bool(rng.random() < 0.08),
        m_depth=float(rng.uniform(0.5, 1.0)),
    )


#: share of :func:`argentine_style` faces whose 1 stands on a foot: most real old Argentine 1s
#: do (GNS641, FST841 in ar-crops), and with the barred I a footless rendered 1 taught the
#: reader to read a real footed 1 as I
AR_ONE_FOOT_SHARE = 0.5


def argentine_style(rng: np.random.Generator) -> StrokeStyle:
    """Draw a face like that of Argentina's 1995-2016 plates: tall and narrow, square bowls,
    a closed 4 (mostly with a flat top and a steep left stroke), a W with upright sides,
    mostly an I with bars at top and bottom and a Q whose tail is a short tick through the
    bottom of the bowl, and on :data:`AR_ONE_FOOT_SHARE` of the faces a 1 standing on a foot."""
    return StrokeStyle(
        width=float(rng.uniform(0.38, 0.5)),
        weight=float(rng.uniform(0.11, 0.16)),
        square=float(rng.uniform(3.0, 5.0)),
        open_four=False,
        flat_three=bool(rng.random() < 0.5),
        crossed_seven=False,
        m_depth=float(rng.uniform(0.6, 0.9)),
        # drawn last, so that the fields above keep their values for a given seed
        four_top=float(rng.uniform(0.45, 0.7)) if rng.random() < 0.7 else float(rng.uniform(0.0, 0.45)),
        w_straight=float(rng.uniform(0.6, 1.0)) if rng.random() < 0.7 else float(rng.uniform(0.0, 0.6)),
        i_serif=float(rng.uniform(0.5, 0.8)) if rng.random() < 0.8 else 0.0,
        q_tail=float(rng.uniform(0.18, 0.3)) if rng.random() < 0.8 else 0.0,
        one_foot=bool(rng.random() < AR_ONE_FOOT_SHARE),
    )


#: prefix of a stroke face name that selects :func:`argentine_style` (``"ar:<seed>"``)
ARGENTINE_PREFIX = "ar:"


def style_named(name: str) -> StrokeStyle:
    """The face a stroke font name stands for: ``"<seed>"`` (:func:`random_style`) or
    ``"ar:<seed>"`` (:func:`argentine_style`).

    Raises:
        ValueError: the seed is not an integer.
    """
    if name.startswith(ARGENTINE_PREFIX):
        return argentine_style(np.random.default_rng(int(name[len(ARGENTINE_PREFIX):])))
    return random_style(np.random.default_rng(int(name)))


def arc(cx: float, cy: float, rx: float, ry: float, a0: float, a1: float, square: float, n: int = 24) -> Path2:
    """Points along a superellipse arc from angle *a0* to *a1* (degrees; 0 = right, 90 = down)."""
    pts = []
    e = 2.0 / square
    for t in np.linspace(math.radians(a0), math.radians(a1), n):
        c, s = math.cos(t), math.sin(t)
        pts.append((cx + rx * math.copysign(abs(c) ** e, c), cy + ry * math.copysign(abs(s) ** e, s)))
    return pts


def _bowl(x0: float, y0: float, x1: float, y1: float, sq: float) -> Path2:
    """A bowl on a vertical stem at *x0* (B, D, P, R): from (x0, y0) right, round, back to (x0, y1)."""
    ry = (y1 - y0) / 2
    rx = min(x1 - x0, ry * 1.2)
    cx = x1 - rx
    return [(x0, y0)] + arc(cx, y0 + ry, rx, ry, -90, 90, sq) + [(x0, y1)]


def _rot(paths: list[Path2], w: float) -> list[Path2]:
    """Turn a glyph by 180 degrees (6 -> 9)."""
    return [[(w - x, 1.0 - y) for x, y in p] for p in paths]


def _six(w: float, sq: float) -> list[Path2]:
    loop = arc(w / 2, 0.66, w / 2, 0.34, 0, 360, sq, 40)
    hook = [(0.0, 0.66)] + arc(w / 2, 0.36, w / 2, 0.36, 180, 310, sq)
    return [loop, hook]


def skeleton(ch: str, st: StrokeStyle) -> tuple[list[Path2], float]:
    """Return the stroke paths of *ch* and its advance width (skeleton units).

    Raises:
        ValueError: *ch* is not in :data:`CHARSET`.
    """
    w, sq = st.width, st.square
    half = w / 2
    if ch in "0O":
        ww = w * (0.92 if ch == "0" else 1.0)
        return [arc(ww / 2, 0.5, ww / 2, 0.5, 0, 360, sq, 48)], ww
    if ch == "1":
        paths = [[(w * 0.12, 0.28), (w * 0.6, 0.0), (w * 0.6, 1.0)]]
        if st.one_foot:
            paths.append([(w * 0.2, 1.0), (w, 1.0)])
        return paths, w * (1.0 if st.one_foot else 0.75)
    if ch == "2":
        top = arc(half, 0.29, half, 0.29, -165, 25, sq)
        return [top + [(0.0, 1.0), (w, 1.0)]], w
    if ch == "3":
        if st.flat_three:
            return [[(w * 0.05, 0.0), (w, 0.0), (w * 0.35, 0.42)] + arc(half, 0.7, half, 0.3, -110, 155, sq)[1:]], w
        return [arc(half * 0.95, 0.24, half * 0.9, 0.24, -160, 90, sq), arc(half, 0.7, half, 0.3, -100, 155, sq)], w
    if ch == "4":
        bar = 0.7
        if st.open_four:
            return [[(w * 0.12, 0.0), (0.0, bar), (w, bar)], [(w * 0.72, 0.25), (w * 0.72, 1.0)]], w
        top = [(w * (0.75 - st.four_top), 0.0)] if st.four_top > 0 else []
        return [[(w * 0.75, 1.0), (w * 0.75, 0.0), *top, (0.0, bar), (w, bar)]], w
    if ch == "5":
        bowl = arc(half, 0.67, half, 0.33, -130, 155, sq)
        return [[(w * 0.95, 0.0), (w * 0.1, 0.0)] + bowl], w
    if ch == "6":
        return _six(w, sq), w
    if ch == "7":
        paths = [[(0.0, 0.0), (w, 0.0), (w * 0.3, 1.0)]]
        if st.crossed_seven:
            paths.append([(w * 0.3, 0.5), (w * 0.9, 0.5)])
        return paths, w
    if ch == "8":
        return [arc(half, 0.24, half * 0.88, 0.24, 0, 360, sq, 40), arc(half, 0.73, half, 0.27, 0, 360, sq, 40)], w
    if ch == "9":
        return _rot(_six(w, sq), w), w
    if ch == "A":
        return [[(0.0, 1.0), (half, 0.0), (w, 1.0)], [(w * 0.17, 0.66), (w * 0.83, 0.66)]], w
    if ch == "B":
        return [[(0.0, 0.0), (0.0, 1.0)], _bowl(0.0, 0.0, w * 0.92, 0.47, sq), _bowl(0.0, 0.47, w, 1.0, sq)], w
    if ch == "C":
        return [arc(half, 0.5, half, 0.5, -40, -320, sq, 40)], w
    if ch == "D":
        return [[(0.0, 0.0), (0.0, 1.0)], _bowl(0.0, 0.0, w, 1.0, sq)], w
    if ch == "E":
        return [[(w, 0.0), (0.0, 0.0), (0.0, 1.0), (w, 1.0)], [(0.0, 0.5), (w * 0.85, 0.5)]], w
    if ch == "F":
        return [[(w, 0.0), (0.0, 0.0), (0.0, 1.0)], [(0.0, 0.5), (w * 0.8, 0.5)]], w
    if ch == "G":
        return [arc(half, 0.5, half, 0.5, -40, -355, sq, 40), [(w * 0.5, 0.55), (w, 0.55)]], w
    if ch == "H":
        return [[(0.0, 0.0), (0.0, 1.0)], [(w, 0.0), (w, 1.0)], [(0.0, 0.5), (w, 0.5)]], w
    if ch == "I":
        if st.i_serif > 0:
            bar = w * st.i_serif
            return [[(0.0, 0.0), (bar, 0.0)], [(bar / 2, 0.0), (bar / 2, 1.0)], [(0.0, 1.0), (bar, 1.0)]], bar
        return [[(0.0, 0.0), (0.0, 1.0)]], 0.0
    if ch == "J":
        return [[(w, 0.0)] + arc(half, 0.62, half, 0.38, 0, 165, sq)], w
    if ch == "K":
        return [[(0.0, 0.0), (0.0, 1.0)], [(w, 0.0), (0.0, 0.62)], [(w * 0.3, 0.43), (w, 1.0)]], w
    if ch == "L":
        return [[(0.0, 0.0), (0.0, 1.0), (w * 0.92, 1.0)]], w * 0.92
    if ch == "M":
        mw = w * 1.15
        return [[(0.0, 1.0), (0.0, 0.0), (mw / 2, st.m_depth), (mw, 0.0), (mw, 1.0)]], mw
    if ch == "N":
        return [[(0.0, 1.0), (0.0, 0.0), (w, 1.0), (w, 0.0)]], w
    if ch == "P":
        return [[(0.0, 0.0), (0.0, 1.0)], _bowl(0.0, 0.0, w, 0.54, sq)], w
    if ch == "Q":
        bowl = arc(half, 0.5, half, 0.5, 0, 360, sq, 48)
        if st.q_tail > 0:
            return [bowl, [(w * 0.42, 1.0 - st.q_tail), (w * 0.64, 1.0)]], w
        return [bowl, [(w * 0.55, 0.7), (w * 1.02, 1.04)]], w
    if ch == "R":
        return [[(0.0, 0.0), (0.0, 1.0)], _bowl(0.0, 0.0, w, 0.52, sq), [(w * 0.45, 0.52), (w, 1.0)]], w
    if ch == "S":
        top = arc(half, 0.25, half, 0.25, -20, -270, sq)
        bottom = arc(half, 0.74, half, 0.26, -90, 160, sq)
        return [top + bottom], w
    if ch == "T":
        return [[(0.0, 0.0), (w, 0.0)], [(half, 0.0), (half, 1.0)]], w
    if ch == "U":
        return [[(0.0, 0.0)] + arc(half, 0.6, half, 0.4, 180, 0, sq) + [(w, 0.0)]], w
    if ch == "V":
        return [[(0.0, 0.0), (half, 1.0), (w, 0.0)]], w
    if ch == "W":
        ww = w * 1.25
        foot = 0.25 - 0.2 * st.w_straight
        mid = 0.3 + 0.15 * st.w_straight
        return [[(0.0, 0.0), (ww * foot, 1.0), (ww * 0.5, mid), (ww * (1 - foot), 1.0), (ww, 0.0)]], ww
    if ch == "X":
        return [[(0.0, 0.0), (w, 1.0)], [(w, 0.0), (0.0, 1.0)]], w
    if ch == "Y":
        return [[(0.0, 0.0), (half, 0.5), (w, 0.0)], [(half, 0.5), (half, 1.0)]], w
    if ch == "Z":
        return [[(0.0, 0.0), (w, 0.0), (0.0, 1.0), (w, 1.0)]], w
    raise ValueError(f"the stroke font cannot draw {ch!r}")


def _glyph(ch: str, st: StrokeStyle) -> np.ndarray:
    """Draw one character as an ink mask _CAP_PX high."""
    stroke = max(2.0, st.weight * _CAP_PX)
    scale = _CAP_PX - stroke  # skeleton unit in pixels: stroke edges then span the cap height
    paths, adv = skeleton(ch, st)
    width = int(math.ceil(adv * scale + stroke)) + 1
    canvas = np.zeros((_CAP_PX + 1, width + 2), np.uint8)
    off = stroke / 2
    for path in paths:
        pts = np.array([[(x * scale + off) * (1 << _SHIFT), (min(y, 1.0) * scale + off) * (1 << _SHIFT)]
                        for x, y in path], np.int32)
        cv2.polylines(canvas, [pts], False, 255, int(round(stroke)), cv2.LINE_AA, _SHIFT)
    return canvas.astype(np.float32) / 255.0


def compose_line(text: str, height: int, glyph, *, space: int, gap: int, thickness: int, margin: int) -> np.ndarray:
    """Lay out the masks of *text*'s characters side by side (shared by every mask font).

    Args:
        text: characters, spaces, ``-`` and ``·``.
        height: rows of every part.
        glyph: callable ``char -> mask`` (*height* rows) for the other characters.
        space: width of a space and of a separator's cell.
        gap: columns between parts.
        thickness: stroke of a separator (the dash's height, the dot's size).
        margin: empty columns on each side of a dash.

    Returns:
        A float32 mask of *height* rows (one empty column for an empty *text*).
    """
    blank = np.zeros((height, max(1, gap)), np.float32)
    parts: list[np.ndarray] = []
    for ch in text:
        if ch == " ":
            parts.append(np.zeros((height, space), np.float32))
        elif ch in "-·":
            sep = np.zeros((height, space), np.float32)
            y0 = height // 2 - thickness // 2
            x0, x1 = (margin, space - margin) if ch == "-" else (space // 2 - thickness // 2, space // 2 + thickness - thickness // 2)
            sep[y0 : y0 + thickness, x0:x1] = 1.0
            parts.append(sep)
        else:
            parts.append(glyph(ch))
        parts.append(blank)
    return np.hstack(parts[:-1]) if parts else np.zeros((height, 1), np.float32)


def stroke_mask(text: str, st: StrokeStyle, spacing: float) -> np.ndarray:
    """Render *text* (characters of :data:`CHARSET`, spaces, ``-`` and ``·``) in the face *st*.

    Args:
        text: what to draw.
        st: the face.
        spacing: gap between characters as a fraction of the cap height.

    Returns:
        A float32 mask (1 = ink) whose rows span exactly the cap height.

    Raises:
        ValueError: a character cannot be drawn.
    """
    return compose_line(text, _CAP_PX + 1, lambda ch: _glyph(ch, st), space=int(_CAP_PX * 0.3),
                        gap=int(spacing * _CAP_PX), thickness=max(2, int(st.weight * _CAP_PX)), margin=3)


__all__ = ["ARGENTINE_PREFIX", "CHARSET", "StrokeStyle", "arc", "argentine_style", "compose_line", "random_style",
           "skeleton", "stroke_mask", "style_named"]
