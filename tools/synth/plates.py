"""Synthetic licence plates: clean, upright renders of EU, UK, US, Brazilian and Argentine plates,
and (through :mod:`tools.synth.world_plates` and :mod:`tools.synth.two_line`) of Pakistani,
Indian, Gulf and Australian plates and two-line plates.

The renders follow the real layouts (EU blue band with stars and country letters,
UK yellow rear / white front, US state backgrounds dressed with headers, slogans, frames,
stickers and bolts (:mod:`tools.synth.us_dressing`), Brazilian grey/red and Mercosul
plates, Argentine black and Mercosul plates) with several fonts, so that a reader
trained on them transfers to real crops. Use :mod:`tools.synth.augment` to turn a
clean render into a camera-like crop.

Example::

    rng = np.random.default_rng(0)
    img, text = render_plate(style="br", rng=rng, height=64)
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np

from plategate.vision.reader import plate_shape
from tools.synth import seals, two_line, us_dressing, world_plates
from tools.synth.canvas import Canvas, border, ink_cols, jitter, new_canvas, screws, small_font
from tools.synth.plate_text import (
    ALL_STYLES,
    EU_FORMATS,
    STYLES,
    TWO_LINE_SPLIT,
    US_FORMATS,
    group,
    grouped,
    normalise,
    pattern_text,
    random_text,
    slots,
)
from tools.synth.strokefont import ARGENTINE_PREFIX
from tools.synth.text import NARROW_FACES, FontSpec, choose_font

logger = logging.getLogger(__name__)


#: the blue of the EU band (and of the French and Italian right-hand bands), BGR
_EU_BLUE = (150, 50, 10)
#: the mark each country carries in a pattern's seal slot
_SEAL_KIND = {"D": "de", "A": "shield", "SLO": "shield", "HR": "checker"}
#: countries with a blue band on the right: regional badge and department number (F), year and province (I)
_RIGHT_BAND = ("F", "I")
#: share of French and Italian renders of style ``eu`` drawn with the right-hand band
#: (style ``band`` always has it)
RIGHT_BAND_SHARE = 0.7
#: share of old (LLLDDD) Argentine plates drawn in the tall, narrow face of the 1995-2016
#: plates (:func:`tools.synth.strokefont.argentine_style`: closed 4, square O) with the
#: plate's raised rim and fixing holes; the rest use the general fonts
AR_OLD_FACE_SHARE = 0.5
#: share of those old-face plates drawn at the real plate's proportions (294 x 129 mm, not
#: widened), with the wide light rim (8-14 mm) and characters filling most of the height
#: inside it, as tight real crops of these plates show them
AR_TRUE_SHAPE_SHARE = 0.6
#: share of old-face plates whose black field ends 0.5-3 mm beside the outer characters, the
#: rim widened to meet them: on real plates the last character (often a narrow 1) touches the
#: field's edge, and readers trained on centred text dropped it there (KRW301 read KRW30)
AR_EDGE_HUG_SHARE = 0.5
#: share of old-format (LLLDDDD) Brazilian plates drawn red with white characters (commercial
#: plates). 0.85 (rather than 0.45) makes light characters on a darker plate as common among
#: rendered old BR crops (69 %) as among the br-crops training part (68.8 % of its 927 crops, by
#: :func:`tools.synth.reader_data.light_text_share`; rendered at 0.45: 44 %)
BR_RED_SHARE = 0.85
#: share of US plates drawn with any of the dressings of :mod:`tools.synth.us_dressing` (header,
#: slogan, dealer frame, stickers, bolts, a symbol between the characters); the rest stay bare
US_DRESSED_SHARE = 0.8
_US_STATES = ("TEXAS", "OHIO", "IOWA", "MAINE", "UTAH", "OREGON", "NEVADA", "ALASKA", "IDAHO", "KANSAS")
_BR_CITIES = ("SP - SAO PAULO", "RJ - RIO DE JANEIRO", "PR - CURITIBA", "MG - BELO HORIZONTE", "RS - PORTO ALEGRE")


def _right_band(c: Canvas, country: str, rng: np.random.Generator) -> None:
    """The blue band on the right of French and Italian plates, with its small badge and characters."""
    c.rect(474, 4, 516, 106, jitter(_EU_BLUE, rng, 12))
    white = (245, 245, 245)
    if country == "F":
        cv2.ellipse(c.img, (c.px(495), c.px(32)), (c.px(14), c.px(16)), 0, 0, 360, seals.random_colour(rng), -1,
                    cv2.LINE_AA)
        c.text(pattern_text("DD", rng), (476, 60, 514, 100), 22, white, small_font(rng), rng)
    else:
        c.text(pattern_text("DD", rng), (476, 14, 514, 48), 18, white, small_font(rng), rng)
        c.text(pattern_text("LL", rng), (476, 60, 514, 100), 20, white, small_font(rng), rng)


def _eu(text: str, rng, height, data_dir, band: bool = False) -> np.ndarray:
    """An EU plate in a layout of :data:`EU_FORMATS` that fits *text*; *band*: only the French
    and Italian layouts, always with their right-hand band (style ``band``)."""
    known = [f for f in EU_FORMATS if f[0] in _RIGHT_BAND] if band else list(EU_FORMATS)
    fmts = [f for f in known if slots(f[1]) == plate_shape(text)]
    country, pattern, yellow, fg = (fmts or known)[int(rng.integers(len(fmts or known)))]
    shown = group(text, pattern) if fmts else text
    c = new_canvas(520, 110, height, (40, 200, 250) if yellow else (245, 245, 245), rng)
    c.rect(4, 4, 46, 106, jitter(_EU_BLUE, rng, 12))
    for k in range(12):  # the circle of stars
        a = 2 * np.pi * k / 12
        cv2.circle(c.img, (c.px(25 + 11 * np.cos(a)), c.px(33 + 11 * np.sin(a))), max(1, c.px(2)), (0, 210, 255), -1, cv2.LINE_AA)
    c.text(country, (6, 64, 44, 100), 22 if len(country) < 3 else 16, (245, 245, 245), small_font(rng), rng)
    right = 512
    if country in _RIGHT_BAND and (rng.random() < RIGHT_BAND_SHARE or band):
        _right_band(c, country, rng)
        right = 470
    font = choose_font(rng, data_dir, text, ("DejaVuSansCondensed-Bold.ttf", "DejaVuSansMono-Bold.ttf"))
    mask, x, y = c.text(seals.gap_text(shown), (52, 8, right, 102), float(rng.uniform(62, 78)), jitter(fg, rng, 15),
                        font, rng, spacing=float(rng.uniform(0.05, 0.2)), data_dir=data_dir,
                        squeeze=float(rng.uniform(0.75, 1.05)))
    if seals.SEAL_SLOT in shown:
        seals.draw_in_gap(c.img, mask, x, y, _SEAL_KIND[country], rng)
    border(c, 2, 2.5, (30, 30, 30))
    return c.img


def _uk(text: str, rng, height, data_dir) -> np.ndarray:
    rear = rng.random() < 0.6
    c = new_canvas(520, 111, height, (20, 200, 250) if rear else (245, 245, 245), rng)
    shown = group(text, "LLDD LLL") if plate_shape(text) == "LLDDLLL" else text
    x0 = 8
    if rng.random() < 0.4:
        c.rect(4, 4, 44, 107, jitter(_EU_BLUE, rng, 12))
        c.text("UK" if rng.random() < 0.5 else "GB", (6, 60, 42, 100), 22, (245, 245, 245), small_font(rng), rng)
        x0 = 50
    font = choose_font(rng, data_dir, text, ("DejaVuSansCondensed-Bold.ttf",))
    c.text(shown, (x0, 8, 512, 103), float(rng.uniform(66, 79)), jitter((15, 15, 15), rng, 10), font, rng,
           spacing=float(rng.uniform(0.06, 0.16)), data_dir=data_dir,
           squeeze=float(rng.uniform(0.7, 1.05)))
    if rng.random() < 0.5:
        border(c, 2, 2, (30, 30, 30))
    return c.img


@functools.lru_cache(maxsize=2)
def _us_backgrounds(folder: Path) -> tuple[np.ndarray, ...]:
    imgs = []
    for p in sorted(folder.glob("*.png")) + sorted(folder.glob("*.jpg")):
        img = cv2.imread(str(p), cv2.IMREAD_COLOR)
        if img is not None:
            imgs.append(img)
    return tuple(imgs)


def _us(text: str, rng, height, data_dir) -> np.ndarray:
    shown = grouped(text, US_FORMATS, rng)
    dressed = rng.random() < US_DRESSED_SHARE
    shown, symbol = us_dressing.symbol_gap(shown, rng) if dressed else (shown, False)
    c = new_canvas(305, 152, height, (245, 245, 240), rng)
    backgrounds = _us_backgrounds(Path(data_dir) / "us-plate-backgrounds") if data_dir is not None else ()
    if backgrounds and rng.random() < 0.85:
        bg = backgrounds[int(rng.integers(len(backgrounds)))]
        c.img[:] = cv2.resize(bg, (c.img.shape[1], c.img.shape[0]), interpolation=cv2.INTER_LINEAR)
    else:
        band = jitter((140, 40, 20) if rng.random() < 0.5 else (30, 30, 160), rng, 25)
        c.rect(0, 0, 305, 30, band)
        c.rect(0, 130, 305, 152, band)
        if dressed and rng.random() < us_dressing.SHARES["header"]:  # any words, not only the few names
            state = us_dressing.random_words(rng, 1)
        else:
            state = _US_STATES[int(rng.integers(len(_US_STATES)))]
        c.text(state, (20, 4, 285, 28), 17, (245, 245, 245), small_font(rng), rng)
    fg = [(110, 30, 10), (20, 20, 20), (30, 30, 150), (40, 90, 20)][int(rng.integers(4))]
    font = choose_font(rng, data_dir, text, ("DejaVuSansCondensed-Bold.ttf", "DejaVuSans-Bold.ttf"))
    ink = jitter(fg, rng, 15)
    mask, x, y = c.text(shown, (14, 34, 291, 124), float(rng.uniform(58, 72)), ink, font, rng,
                        spacing=float(rng.uniform(0.04, 0.14)), data_dir=data_dir,
                        squeeze=float(rng.uniform(0.7, 1.05)))
    if dressed:
        us_dressing.dress(c, mask, x, y, ink, rng, symbol=symbol)
    return c.img


def _mercosul(text: str, country: str, rng, height, data_dir, pattern: str) -> np.ndarray:
    c = new_canvas(400, 130, height, (248, 248, 248), rng)
    c.rect(0, 0, 400, 30, jitter((150, 60, 0), rng, 15))
    c.text(country, (60, 4, 340, 27), 15, (245, 245, 245), small_font(rng), rng)
    c.rect(8, 5, 30, 25, jitter((200, 150, 40), rng, 20))  # the Mercosur emblem square
    if rng.random() < 0.4:  # wide gaps between the groups, as on many real plates
        pattern = pattern.replace(" ", "  ")
    shown = group(text, pattern) if plate_shape(text) == slots(pattern) else text
    font = choose_font(rng, data_dir, text, ("DejaVuSansMono-Bold.ttf", *NARROW_FACES))
    c.text(shown, (10, 38, 390, 124), float(rng.uniform(58, 70)), jitter((15, 15, 15), rng, 10), font, rng,
           spacing=float(rng.uniform(0.04, 0.16)), data_dir=data_dir,
           squeeze=float(rng.uniform(0.7, 1.05)))
    border(c, 1, 3, (20, 20, 20))
    screws(c, rng, [(80, 34), (320, 34)])
    return c.img


def _br(text: str, rng, height, data_dir) -> np.ndarray:
    shape = plate_shape(text)
    if shape == "LLLDLDD" or (shape != "LLLDDDD" and rng.random() < 0.4):
        return _mercosul(text, "BRASIL", rng, height, data_dir, "LLLDLDD")
    red = rng.random() < BR_RED_SHARE  # commercial plates are red with white text
    bg, fg = ((60, 60, 170), (235, 235, 235)) if red else ((200, 200, 200), (25, 25, 25))
    c = new_canvas(400, 130, height, bg, rng)
    sep = "-" if rng.random() < 0.5 else "·"
    shown = group(text, f"LLL{sep}DDDD") if shape == "LLLDDDD" else text
    c.text(_BR_CITIES[int(rng.integers(len(_BR_CITIES)))], (60, 5, 340, 22), 10, fg, small_font(rng), rng)
    font = choose_font(rng, data_dir, text, ("DejaVuSans-Bold.ttf", *NARROW_FACES))
    c.text(shown, (8, 26, 392, 124), float(rng.uniform(64, 80)), jitter(fg, rng, 15), font, rng,
           spacing=float(rng.uniform(0.04, 0.14)), data_dir=data_dir,
           squeeze=float(rng.uniform(0.7, 1.05)))
    border(c, 3, 2.5, fg)
    screws(c, rng, [(40, 14), (360, 14)])
    return c.img


def _ar(text: str, rng, height, data_dir) -> np.ndarray:
    shape = plate_shape(text)
    if shape == "LLDDDLL" or (shape != "LLLDDD" and rng.random() < 0.5):
        return _mercosul(text, "REPUBLICA ARGENTINA", rng, height, data_dir, "LL DDD LL")
    old_face = rng.random() < AR_OLD_FACE_SHARE  # the tall, narrow face of the 1995-2016 plates
    true_shape = old_face and rng.random() < AR_TRUE_SHAPE_SHARE
    w = float(rng.uniform(294, 310)) if true_shape else 294 * 1.2
    c = new_canvas(w, 129, height, (25, 25, 25), rng)
    emblem = rng.random() < 0.5  # the national shield between the groups, as on real old plates
    sep = "   " if emblem else (" ", "·", "-", "  ")[int(rng.integers(4))]
    shown = group(text, f"LLL{sep}DDD") if shape == "LLLDDD" else text
    if old_face:
        if true_shape:  # wide rim, characters filling the height inside it
            rim: float | None = float(rng.uniform(8, 14))
            box, caps = (rim + 2, rim + 2, w - rim - 2, 127 - rim), (80, 92)
        else:  # a 3-8 mm rim drawn by _ar_rim, sometimes the small ARGENTINA above the characters
            rim, box, caps = None, (12, 20, w - 12, 124), (74, 90)
            if rng.random() < 0.5:
                c.text("ARGENTINA", (80, 3, w - 80, 18), 9, (200, 200, 200), small_font(rng), rng)
        font = FontSpec("stroke", f"{ARGENTINE_PREFIX}{int(rng.integers(2**31))}")
        mask, x, _ = c.text(shown, box, float(rng.uniform(*caps)), jitter((235, 235, 235), rng, 15), font, rng,
                            spacing=float(rng.uniform(0.06, 0.16)), data_dir=data_dir,
                            squeeze=float(rng.uniform(0.85, 1.05)), emblem=emblem)
        rim_colour = _ar_rim(c, rng, rim)
        if rng.random() < AR_EDGE_HUG_SHARE:
            _hug_field(c, mask, x, rim_colour, rng)
        return c.img
    c.text("ARGENTINA", (80, 5, w - 80, 24), 12, (235, 235, 235), small_font(rng), rng)
    font = choose_font(rng, data_dir, text, ("DejaVuSansMono-Bold.ttf", *NARROW_FACES))
    c.text(shown, (12, 30, w - 12, 122), float(rng.uniform(62, 78)), jitter((235, 235, 235), rng, 15), font, rng,
           spacing=float(rng.uniform(0.05, 0.18)), data_dir=data_dir,
           squeeze=float(rng.uniform(0.7, 1.05)), emblem=emblem)
    border(c, 3, float(rng.uniform(2, 7)), (220, 220, 220))  # the retro-reflective frame
    return c.img


def _ar_rim(c: Canvas, rng: np.random.Generator, rim: float | None = None) -> tuple[int, int, int]:
    """The raised light rim of an old Argentine plate (*rim* mm wide; 3-8 mm at random when
    None), with its two fixing holes at the top and two slots at the bottom (dark where the
    car shows through). Returns the rim's colour."""
    h, w = c.img.shape[:2]
    rim = float(rng.uniform(3, 8)) if rim is None else rim
    colour = jitter((215, 215, 215), rng, 25)
    border(c, rim / 2, rim, colour)
    hole = jitter((30, 30, 30), rng, 15)
    slot_y = h / c.scale - rim * 0.6
    for fx in (0.16, 0.84):
        x = fx * w / c.scale + float(rng.uniform(-6, 6))
        cv2.ellipse(c.img, (c.px(x), c.px(rim * 0.8)), (max(1, c.px(6)), max(1, c.px(4))), 0, 0, 360, hole, -1, cv2.LINE_AA)
        c.rect(x - 6, slot_y - 1.2, x + 6, slot_y + 1.2, hole)
    return colour


def _hug_field(c: Canvas, mask: np.ndarray, x: int, colour, rng: np.random.Generator) -> None:
    """Widen the rim at both sides until it ends 0.5-3 mm (each side its own) from the ink of
    the text drawn with *mask* at column *x*; a side already closer is left as it is."""
    first, last = ink_cols(mask, x)
    if last == first:
        return
    w = c.img.shape[1]
    left = first - c.px(float(rng.uniform(0.5, 3)))
    right = last + c.px(float(rng.uniform(0.5, 3)))
    if left > 0:
        c.img[:, :left] = colour
    if right < w:
        c.img[:, right:] = colour


def _moto(text: str, rng, height, data_dir) -> tuple[np.ndarray, int]:
    """A two-line plate: the first :data:`TWO_LINE_SPLIT` characters above the rest."""
    top, bottom = text[:TWO_LINE_SPLIT], text[TWO_LINE_SPLIT:]
    look = int(rng.integers(3))  # 0: old Argentine (white on black), 1: Mercosul, 2: old Brazilian grey
    bg, fg = [((25, 25, 25), (235, 235, 235)), ((248, 248, 248), (15, 15, 15)), ((200, 200, 200), (25, 25, 25))][look]
    c = new_canvas(200, 170, height, bg, rng)
    band = 0.0
    if look == 1:
        band = 30.0
        c.rect(0, 0, 200, band, jitter((150, 60, 0), rng, 15))
        c.text("ARGENTINA" if rng.random() < 0.5 else "BRASIL", (30, 4, 170, 26), 14, (245, 245, 245), small_font(rng), rng)
    font = choose_font(rng, data_dir, text, ("DejaVuSansMono-Bold.ttf", *NARROW_FACES))
    line_h = (170 - band - 12) / 2
    cap = float(rng.uniform(0.68, 0.82)) * line_h
    ink = jitter(fg, rng, 15)
    for k, part in enumerate((top, bottom)):
        y0 = band + 6 + k * line_h
        if part:
            c.text(part, (10, y0, 190, y0 + line_h), cap, ink, font, rng, spacing=float(rng.uniform(0.05, 0.2)),
                   data_dir=data_dir, squeeze=float(rng.uniform(0.75, 1.05)))
    border(c, 3, float(rng.uniform(2, 5)), fg if look != 1 else (20, 20, 20))
    return c.img, TWO_LINE_SPLIT


_RENDERERS = {"eu": _eu, "uk": _uk, "us": _us, "br": _br, "ar": _ar, "band": functools.partial(_eu, band=True),
              **world_plates.RENDERERS}
_TWO_LINE_RENDERERS = {"moto": _moto, **two_line.RENDERERS}


class RenderedPlate(NamedTuple):
    """A rendered plate: the image, its text, and the characters on the top line (None: one line)."""

    image: np.ndarray
    text: str
    split: int | None


def render_plate(
    text: str | None = None,
    style: str | None = None,
    rng: np.random.Generator | None = None,
    *,
    height: int = 64,
    data_dir: Path | None = None,
) -> tuple[np.ndarray, str]:
    """Render a clean, upright plate.

    Args:
        text: the characters to show (separators are ignored and re-inserted in the
            style's own layout); random in the style's format when None.
        style: one of :data:`~tools.synth.plate_text.ALL_STYLES`;
            random among :data:`STYLES` when None.
        rng: random source (fonts, colours, layout); a fresh unseeded one when None.
        height: height of the returned image in pixels.
        data_dir: the shared datasets folder; enables ``chars/`` glyph fonts and
            ``us-plate-backgrounds``. Works without it.

    Returns:
        ``(image, text)``: a BGR uint8 image of the plate and its normalised text.
        :func:`render_lines` also tells where a two-line plate's text is split.

    Raises:
        ValueError: unknown style, empty text, text longer than 10 characters or a
            height below 8 pixels.
    """
    image, norm, _split = render_lines(text, style, rng, height=height, data_dir=data_dir)
    return image, norm


def render_lines(
    text: str | None = None,
    style: str | None = None,
    rng: np.random.Generator | None = None,
    *,
    height: int = 64,
    data_dir: Path | None = None,
) -> RenderedPlate:
    """Render a clean, upright plate, as :func:`render_plate`, and say how its text is laid out.

    Returns:
        A :class:`RenderedPlate`; its ``split`` is the number of characters on the top
        line of a two-line plate (``text[:split]`` above ``text[split:]``), None for a
        one-line plate.

    Raises:
        ValueError: as :func:`render_plate`.
    """
    rng = rng if rng is not None else np.random.default_rng()
    if style is None:
        style = STYLES[int(rng.integers(len(STYLES)))]
    if style not in _RENDERERS and style not in _TWO_LINE_RENDERERS:
        raise ValueError(f"unknown plate style {style!r}; expected one of {', '.join(ALL_STYLES)}")
    if height < 8:
        raise ValueError(f"plate height must be at least 8 pixels, got {height}")
    norm = random_text(style, rng) if text is None else normalise(text)
    if not 1 <= len(norm) <= 10:
        raise ValueError(f"plate text must have 1 to 10 characters 0-9A-Z, got {text!r}")
    split = None
    if style in _TWO_LINE_RENDERERS:
        big, split = _TWO_LINE_RENDERERS[style](norm, rng, height, data_dir)
    else:
        big = _RENDERERS[style](norm, rng, height, data_dir)
    width = max(1, int(round(big.shape[1] * height / big.shape[0])))
    return RenderedPlate(cv2.resize(big, (width, height), interpolation=cv2.INTER_AREA), norm, split)
