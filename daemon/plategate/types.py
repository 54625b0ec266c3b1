"""Value types shared between the vision, access, gate, journal and MQTT parts.

They are plain frozen dataclasses so that every part can be tested on its own and
nothing needs to import a heavier module just to name a result.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field

_NON_ALNUM = re.compile(r"[^0-9A-Z]")


def normalise_plate(text: str) -> str:
    """Return *text* upper-cased with everything but 0-9 and A-Z removed."""
    return _NON_ALNUM.sub("", text.upper())


def plate_shape(text: str) -> str:
    """The format of *text* as ``L`` (letter) and ``D`` (digit), e.g. ``"LLLDDDD"`` for ``"ABC1234"``."""
    return "".join("D" if c.isdigit() else "L" for c in text)


def parse_shapes(text: str) -> list[str]:
    """Plate formats written comma-separated (``"LLLDDDD, lllDLDD"``) as a list of upper-case shapes.

    Raises:
        ValueError: a shape holds other letters than L and D.
    """
    shapes = [f.strip().upper() for f in (text or "").split(",") if f.strip()]
    if any(set(f) - {"L", "D"} for f in shapes):
        raise ValueError(f"shapes are strings of L (letter) and D (digit), got {text!r}")
    return shapes


@dataclass(frozen=True)
class PlateRead:
    """One read of one plate: from a single frame or voted over a burst.

    Attributes:
        text: normalised text, 0-9A-Z only.
        confidence: probability-like score in [0, 1] that *text* is exactly right.
        candidates: up to a few ``(text, confidence)`` pairs, best first.
        box: ``(x1, y1, x2, y2)`` in pixels of the frame the read came from.
        detection_score: score of the detector box the read came from.
    """

    text: str
    confidence: float
    candidates: tuple[tuple[str, float], ...] = ()
    box: tuple[int, int, int, int] | None = None
    detection_score: float = 1.0


class DecisionKind(enum.StrEnum):
    """What the gate decided for a read (values are the MQTT contract's strings)."""

    GRANTED = "granted"
    DENIED = "denied"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Decision:
    """The outcome of the access policy for one read.

    Attributes:
        kind: granted, denied or unknown.
        reason: a short machine-readable reason (``exact_match``, ``blocklisted``,
            ``not_listed``, ``outside_window``, ``low_confidence``, ``holdoff`` ...).
        plate: the normalised plate that was decided on.
        matched: the matched entry's plate, if any.
        label: the matched entry's label (resident, unit), if any.
        allowlist_version: the version of the list the decision used.
        open_gate: whether the relay should be pulsed (False for a hold-off repeat).
    """

    kind: DecisionKind
    reason: str
    plate: str
    matched: str | None = None
    label: str | None = None
    allowlist_version: int = 0
    open_gate: bool = False
    detail: dict = field(default_factory=dict)
