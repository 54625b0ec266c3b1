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
MOTO_FORMATS = ("DDDLLL", "LDDDLLL", "LLLDDDD", "LLLDLDD")

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
        ValueError: *style* is not one of :data:`STYLES`.
    """
    if style == "uk":
        return pattern_text("LLDDLLL", rng, _UK_L)
    if style == "eu":
        text = normalise(pattern_text(EU_FORMATS[int(rng.integers(len(EU_FORMATS)))][1], rng))
    elif style == "us":
        text = normalise(pattern_text(US_FORMATS[int(rng.integers(len(US_FORMATS)))], rng))
    elif style == "br":
        text = pattern_text("LLLDLDD" if rng.random() < 0.4 else "LLLDDDD", rng)
    elif style == "ar":
        text = pattern_text("LLDDDLL" if rng.random() < 0.5 else "LLLDDD", rng)
    elif style == "moto":
        text = pattern_text(MOTO_FORMATS[int(rng.integers(len(MOTO_FORMATS)))], rng)
    else:
        raise ValueError(f"unknown plate style {style!r}; expected one of {', '.join(STYLES)}")
    letters = [i for i, ch in enumerate(text) if ch.isalpha()]
    if letters and rng.random() < I_SHARE:
        i = letters[int(rng.integers(len(letters)))]
        text = text[:i] + "I" + text[i + 1 :]
    return text


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
