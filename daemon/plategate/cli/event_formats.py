"""platectl events formats: the shapes of a site's plates, and the ``plate_formats`` that fit them.

``recognition.plate_formats`` keeps only reads of the site's shapes (``LLDDLLL`` for the UK),
which turns a letter read as a digit back into a letter. Which shapes a site sees is in its
journal: every plate a person checked in the web console, and every read the reader was sure of
(confidence >= :data:`plategate.cli.event_accuracy.SURE`). A plate counts once however often
it passed, so residents do not outvote visitors.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..types import normalise_plate, plate_shape
from .event_accuracy import SURE

#: the share of the site's plates the suggested formats must fit
DEFAULT_COVER = 0.95
#: more shapes than this to reach the cover: no suggestion (free decoding fits such a site better)
MAX_FORMATS = 4
#: fewer distinct plates than this: too few to suggest anything
MIN_PLATES = 30
EXAMPLES = 3


@dataclass(frozen=True)
class ShapeCount:
    """One plate shape of a site: how many distinct plates have it, their share, a few of them."""

    shape: str
    plates: int
    share: float
    examples: tuple[str, ...]


@dataclass(frozen=True)
class SiteShapes:
    """The shapes of a site's plates, most common first, and the formats suggested for them."""

    shapes: list[ShapeCount]
    plates: int
    events: int
    unsure: int
    suggested: list[str]
    covered: float
    why_none: str = ""


def site_plates(rows: Iterable[dict]) -> tuple[set[str], int, int]:
    """The distinct plate texts of event *rows*: the text a person checked (``checked_text``;
    empty means unreadable and counts nothing), else the read if it is sure (:data:`SURE`).
    Returns (texts, events looked at, events left out as unsure)."""
    texts: set[str] = set()
    events = unsure = 0
    for row in rows:
        events += 1
        if "checked_text" in row:
            text = normalise_plate(row.get("checked_text") or "")
        elif float(row.get("confidence") or 0.0) >= SURE:
            text = normalise_plate(row.get("plate") or "")
        else:
            unsure += 1
            continue
        if text:
            texts.add(text)
    return texts, events, unsure


def tally(texts: Iterable[str]) -> list[ShapeCount]:
    """The shapes of *texts*, most plates first (ties by shape)."""
    by_shape: dict[str, list[str]] = {}
    for text in sorted(texts):
        by_shape.setdefault(plate_shape(text), []).append(text)
    total = sum(len(v) for v in by_shape.values())
    return [ShapeCount(shape, len(v), len(v) / total, tuple(v[:EXAMPLES]))
            for shape, v in sorted(by_shape.items(), key=lambda kv: (-len(kv[1]), kv[0]))]


def suggest(shapes: list[ShapeCount], plates: int, cover: float = DEFAULT_COVER) -> tuple[list[str], float, str]:
    """The fewest shapes, most common first, that fit at least *cover* of the *plates*.

    Returns (formats, share they fit, why there is no suggestion: empty when there is one).
    """
    if plates < MIN_PLATES:
        return [], 0.0, f"{plates} plates are too few to tell the site's shapes (at least {MIN_PLATES})"
    chosen: list[str] = []
    covered = 0.0
    for s in shapes:
        if covered >= cover - 1e-9:
            break
        chosen.append(s.shape)
        covered += s.share
    if len(chosen) > MAX_FORMATS:
        fit = sum(s.share for s in shapes[:MAX_FORMATS])
        return [], 0.0, (f"{MAX_FORMATS} shapes fit only {100 * fit:.1f} % of the plates (less than "
                         f"{100 * cover:.0f} %): keep free decoding")
    return chosen, covered, ""


def site_shapes(rows: Iterable[dict], cover: float = DEFAULT_COVER) -> SiteShapes:
    """:func:`site_plates`, :func:`tally` and :func:`suggest` over event *rows*."""
    texts, events, unsure = site_plates(rows)
    shapes = tally(texts)
    formats, covered, why = suggest(shapes, len(texts), cover)
    return SiteShapes(shapes, len(texts), events, unsure, formats, covered, why)


def render(result: dict) -> str:
    """The text report of :func:`site_shapes` (as a dict, the ``--json`` form)."""
    lines = [f"{result['plates']} plates in {result['events']} events (checked by a person, or read at >= {SURE}); "
             f"{result['unsure']} unsure reads nobody checked left out"]
    if result["shapes"]:
        lines.append(f"{'SHAPE':<12}{'PLATES':>7}{'SHARE':>8}{'SUM':>8}  EXAMPLES")
        total = 0.0
        for s in result["shapes"]:
            total += s["share"]
            lines.append(f"{s['shape']:<12}{s['plates']:>7}{100 * s['share']:>7.1f}%{100 * total:>7.1f}%  "
                         f"{', '.join(s['examples'])}")
    if result["suggested"]:
        quoted = ", ".join(f'"{f}"' for f in result["suggested"])
        lines.append(f"suggested: [recognition] plate_formats = [{quoted}] fits {100 * result['covered']:.1f} % of "
                     "these plates. A plate of another shape (a visitor's, a personal plate) is then read as the likeliest "
                     "text of these shapes, or freely when none is likely; platectl events accuracy --formats tries "
                     "them on the crops people checked.")
    else:
        lines.append(f"no suggestion: {result['why_none']}")
    return "\n".join(lines)
