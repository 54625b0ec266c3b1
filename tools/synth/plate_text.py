"""Random plate texts in the formats of each rendered style, and the layouts that group them.

:func:`random_text` draws a text; the ``group`` helpers insert a layout's separators. The
renderers of :mod:`tools.synth.plates` draw these texts; the draws from the generator are
part of every shard's seed, so their order here must not change.
"""

from __future__ import annotations

import re

import numpy as np

from plategate.vision.reader import plate_shape

STYLES: tuple[str, ...] = ("eu", "uk", "us", "br", "ar")
#: one-line styles of further countries: Pakistan, India, the Gulf (Latin part), Australia
MORE_STYLES: tuple[str, ...] = ("pk", "in", "gulf", "au")
#: two-line styles: motorcycle plates of Argentina and Brazil, Pakistani and Indian two-line
#: plates, square British and European plates
TWO_LINE_STYLES: tuple[str, ...] = ("moto", "pk2", "in2", "square")
#: styles drawn only when a fine-tune asks for them (not in the default shares of
#: :data:`tools.synth.reader_data.STYLE_WEIGHTS`): ``band`` is the French and Italian layout
#: (LL-DDD-LL, LL DDDLL) always with its right-hand blue band, whose small department or
#: province characters a reader must leave out of the text
EXTRA_STYLES: tuple[str, ...] = ("band",)
#: every style :func:`random_text` and :func:`tools.synth.plates.render_plate` know
ALL_STYLES: tuple[str, ...] = STYLES + MORE_STYLES + TWO_LINE_STYLES + EXTRA_STYLES
MOTO_FORMATS = ("DDDLLL", "LDDDLLL", "LLLDDDD", "LLLDLDD")
#: the characters on the top line of a motorcycle plate
TWO_LINE_SPLIT = 3
#: Pakistani plates: district letters, the small two-digit year (kept in reading order), the number
PK_FORMATS = ("LLL DD DDDD", "LLL DD DDD", "LLL DDDD", "LLL DDD")
#: Indian plates: state, district, series, number
IN_FORMATS = ("LL DD LL DDDD", "LL DD L DDDD")
#: the Latin part of Gulf plates: a letter code and up to five digits
GULF_FORMATS = ("L DDDDD", "L DDDD", "LL DDDDD", "L DDD", "LL DDDD")
#: Australian plates (Victoria, Western Australia, New South Wales, Queensland)
AU_FORMATS = ("LLL DDD", "D LLL DDD", "LL DD LL", "DDD LLL", "LLL DD L")
#: square two-line plates (top line, bottom line): British, Northern Irish, Romanian, French / Italian
SQUARE_FORMATS = (("LLDD", "LLL"), ("LLL", "DDDD"), ("LDD", "LLL"), ("LLDDD", "LL"), ("LL", "DDDD"))
#: share of US texts that are vanity words (letters, sometimes a digit) instead of a serial format
US_VANITY_SHARE = 0.15

_L = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_UK_L = "ABCDEFGHJKLMNOPRSTUVWXYZ"  # no I, Q in UK memory tags
_D = "0123456789"
_NON_ALNUM = re.compile(r"[^0-9A-Z]")

# (country letters, pattern, yellow background?, text colour BGR)
EU_FORMATS: tuple[tuple[str, str, bool, tuple[int, int, int]], ...] = (
    ("F", "LL-DDD-LL", False, (20, 20, 20)),
    ("I", "LL DDDLL", False, (20, 20, 20)),
    ("D", "L-LL DDDD", False, (20, 20, 20)),
    ("D", "LL-L DDD", False, (20, 20, 20)),
    ("NL", "DD-LLL-D", True, (20, 20, 20)),
    ("NL", "LL-DD-LL", True, (20, 20, 20)),
    ("B", "D-LLL-DDD", False, (30, 30, 170)),
    ("E", "DDDD LLL", False, (20, 20, 20)),
    ("PL", "LL DDDDD", False, (20, 20, 20)),
    ("RO", "L DD LLL", False, (20, 20, 20)),
    ("A", "L DDDDD L", False, (20, 20, 20)),
    ("SLO", "LL LL-DDD", False, (20, 20, 20)),
    ("CZ", "DLD DDDD", False, (20, 20, 20)),
    ("P", "DD-LL-DD", False, (20, 20, 20)),
    # "@": a seal or coat of arms between the groups (tools.synth.seals)
    ("D", "L@LL DDDD", False, (20, 20, 20)),
    ("D", "LL@L DDD", False, (20, 20, 20)),
    ("D", "LLL@LL DDD", False, (20, 20, 20)),
    ("A", "L@DDDDD L", False, (20, 20, 20)),
    ("A", "LL@DDD LL", False, (20, 20, 20)),
    ("SLO", "LL@LL-DDD", False, (20, 20, 20)),
    ("HR", "LL@DDD-LL", False, (20, 20, 20)),
)
#: share of random texts (other than UK) in which one letter is made an I: the narrow bar
#: of DIN-like faces is the commonest real misread (I read J or 1, or dropped)
I_SHARE = 0.25
US_FORMATS = ("LLL DDDD", "DLLLDDD", "LLL-DDD", "DDD LLL", "LLL DDD", "DDDDDD", "LL DDDDD", "DLL DDDD")


def pattern_text(pattern: str, rng: np.random.Generator, letters: str = _L) -> str:
    """Fill the ``L`` (letter) and ``D`` (digit) slots of *pattern* at random; other characters stay."""
    out = []
    for p in pattern:
        if p == "L":
            out.append(letters[int(rng.integers(len(letters)))])
        elif p == "D":
            out.append(_D[int(rng.integers(10))])
        else:
            out.append(p)
    return "".join(out)


def normalise(text: str) -> str:
    """Upper-case *text* and drop everything but 0-9A-Z."""
    return _NON_ALNUM.sub("", text.upper())


def random_text(style: str, rng: np.random.Generator) -> str:
    """Return a random plate text in the format of *style* (normalised, 0-9A-Z).

    Raises:
        ValueError: *style* is not one of :data:`STYLES`, :data:`MORE_STYLES`, :data:`TWO_LINE_STYLES`
            or :data:`EXTRA_STYLES`.
    """
    if style == "uk":
        return pattern_text("LLDDLLL", rng, _UK_L)
    if style in MORE_STYLES or style in TWO_LINE_STYLES[1:]:
        return _more_text(style, rng)
    if style == "eu":
        text = normalise(pattern_text(EU_FORMATS[int(rng.integers(len(EU_FORMATS)))][1], rng))
    elif style == "us":
        text = normalise(pattern_text(US_FORMATS[int(rng.integers(len(US_FORMATS)))], rng))
        if rng.random() < US_VANITY_SHARE:
            return vanity_text(rng)
    elif style == "br":
        text = pattern_text("LLLDLDD" if rng.random() < 0.4 else "LLLDDDD", rng)
    elif style == "ar":
        text = pattern_text("LLDDDLL" if rng.random() < 0.5 else "LLLDDD", rng)
    elif style == "moto":
        text = pattern_text(MOTO_FORMATS[int(rng.integers(len(MOTO_FORMATS)))], rng)
    elif style == "band":
        text = pattern_text("LLDDDLL", rng)
    else:
        raise ValueError(f"unknown plate style {style!r}; expected one of {', '.join(ALL_STYLES)}")
    letters = [i for i, ch in enumerate(text) if ch.isalpha()]
    if letters and rng.random() < I_SHARE:
        i = letters[int(rng.integers(len(letters)))]
        text = text[:i] + "I" + text[i + 1 :]
    return text


def _pick(patterns, rng: np.random.Generator):
    return patterns[int(rng.integers(len(patterns)))]


#: the formats of the further one-line styles and of the two-line plates of those countries
_MORE_FORMATS = {"pk": PK_FORMATS, "pk2": PK_FORMATS, "in": IN_FORMATS, "in2": IN_FORMATS, "gulf": GULF_FORMATS,
                 "au": AU_FORMATS}


def _more_text(style: str, rng: np.random.Generator) -> str:
    if style in _MORE_FORMATS:
        return normalise(pattern_text(_pick(_MORE_FORMATS[style], rng), rng))
    top, bottom = _pick(SQUARE_FORMATS, rng)
    return pattern_text(top + bottom, rng, _UK_L if top == "LLDD" else _L)


def vanity_text(rng: np.random.Generator) -> str:
    """A US vanity text: 5 to 7 letters, sometimes one of them a digit (ONEFISH2, ZENDOG)."""
    n = int(rng.integers(5, 8))
    chars = [_L[int(rng.integers(26))] for _ in range(n)]
    if rng.random() < 0.4:
        chars[int(rng.integers(n))] = _D[int(rng.integers(10))]
    return "".join(chars)


def two_line_split(style: str, text: str) -> int:
    """The number of characters of *text* on the top line of a two-line plate of *style*.

    Motorcycle plates carry three characters above; Pakistani ones the district letters
    and, when the text has one, the two-digit year (LEA 07 / 7952); Indian ones the state
    and district (HR26 / DV8992); square plates follow the layout their text fits
    (:data:`SQUARE_FORMATS`: MC51 / OFW, LOR / 9807), else put the larger half above.

    Raises:
        ValueError: *style* is not one of :data:`TWO_LINE_STYLES`.
    """
    shape = plate_shape(text)
    if style == "moto":
        split = TWO_LINE_SPLIT
    elif style == "pk2":
        letters = len(shape) - len(shape.lstrip("L"))
        split = letters + (2 if len(shape) - letters >= 5 else 0)
    elif style == "in2":
        split = 4
    elif style == "square":
        fits = [len(top) for top, bottom in SQUARE_FORMATS if top + bottom == shape]
        split = fits[0] if fits else (len(text) + 1) // 2
    else:
        raise ValueError(f"{style!r} is not a two-line plate style; expected one of {', '.join(TWO_LINE_STYLES)}")
    return max(1, min(split, len(text) - 1)) if len(text) > 1 else len(text)


def group(text: str, pattern: str) -> str:
    """Insert the separators of *pattern* (whose L/D slots match *text*) into *text*."""
    out, i = [], 0
    for p in pattern:
        if p in "LD":
            out.append(text[i])
            i += 1
        else:
            out.append(p)
    return "".join(out)


def slots(pattern: str) -> str:
    """The L/D slots of a layout pattern, without its separators."""
    return "".join(p for p in pattern if p in "LD")


def grouped(text: str, patterns: tuple[str, ...], rng: np.random.Generator) -> str:
    shape = plate_shape(text)
    fits = [p for p in patterns if slots(p) == shape]
    if fits:
        return group(text, fits[int(rng.integers(len(fits)))])
    return text
