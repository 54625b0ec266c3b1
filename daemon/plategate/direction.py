"""The direction of travel of a plate over a burst: towards the camera or away from it.

A plate that comes closer grows in the frame; one that goes away shrinks. The box area
of the plate in each frame of the burst (in frame order) gives the trend: the
least-squares slope of log(area) over the frames, times the burst's span, is the
logarithm of the size change from the first frame to the last. Near the barrier a car
is slow and its plate changes size little; a camera mounted above the lane then still
sees the plate move: down the picture while the car approaches, up while it leaves.
That shift, fitted the same way and measured in plate heights, decides when the size
does not; when the two cues contradict each other (small, noisy boxes far away) the
answer is ``unknown`` rather than a guess. Pure functions, no state: the caller passes
the reads of a burst (and of the plate's previous burst, when the burst alone is short).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence

from .types import PlateRead


class Direction(enum.StrEnum):
    """Direction of travel relative to the camera."""

    APPROACHING = "approaching"
    LEAVING = "leaving"
    UNKNOWN = "unknown"


def box_area(box: Sequence[float] | None) -> float:
    """Area of an ``(x1, y1, x2, y2)`` box in square pixels (0 for None or an empty box)."""
    if not box:
        return 0.0
    x1, y1, x2, y2 = box
    return max(0.0, float(x2) - float(x1)) * max(0.0, float(y2) - float(y1))


def _fitted_change(points: list[tuple[int, float]]) -> float | None:
    """Least-squares slope of ``(index, value)`` points times their span: the fitted change."""
    if len(points) < 2:
        return None
    n = len(points)
    mx = sum(i for i, _ in points) / n
    my = sum(v for _, v in points) / n
    var = sum((i - mx) ** 2 for i, _ in points)
    slope = sum((i - mx) * (v - my) for i, v in points) / var
    return slope * (points[-1][0] - points[0][0])


def size_change(areas: Sequence[float]) -> float | None:
    """The fitted growth factor of the plate from the first to the last frame (1.0 = same size).

    ``None`` with fewer than two usable (non-zero) areas.
    """
    change = _fitted_change([(i, math.log(a)) for i, a in enumerate(areas) if a > 0])
    return None if change is None else math.exp(change)


def vertical_shift(boxes: Sequence[Sequence[float] | None]) -> float | None:
    """The fitted downward movement of the box centre over the burst, in plate heights
    (negative: upwards). ``None`` with fewer than two boxes."""
    usable = [(i, b) for i, b in enumerate(boxes) if b and b[3] > b[1]]
    change = _fitted_change([(i, (b[1] + b[3]) / 2) for i, b in usable])
    if change is None:
        return None
    height = sum(b[3] - b[1] for _, b in usable) / len(usable)
    return change / height


def travel_direction(reads: Sequence[PlateRead], text: str | None = None, min_change: float = 0.15,
                     approach_moves: str = "down", min_shift: float = 0.5) -> Direction:
    """The direction of travel from the plate reads of one burst, in frame order.

    Args:
        reads: the best read of each frame that had a plate (their ``box`` in pixels).
        text: the voted plate; when at least two reads agree with it, only those count
            (another car in the picture must not steer the answer).
        min_change: the relative size change that counts as motion: 0.15 means the
            plate grew to at least 1.15 times (approaching) or shrank to at most
            1/1.15 (leaving) of its size over the burst.
        approach_moves: where an approaching plate moves in the picture when its size
            says nothing: ``down`` (camera above the lane, the usual mounting), ``up``,
            or ``none`` (use the size only).
        min_shift: the movement, in plate heights over the burst, that counts.

    Returns:
        ``UNKNOWN`` with fewer than two boxes, or neither cue past its threshold.
    """
    if text is not None:
        same = [r for r in reads if r.text == text and r.box]
        if len(same) >= 2:
            reads = same
    change = size_change([box_area(r.box) for r in reads])
    if change is None:
        return Direction.UNKNOWN
    by_size = Direction.UNKNOWN
    if change >= 1.0 + min_change:
        by_size = Direction.APPROACHING
    elif change <= 1.0 / (1.0 + min_change):
        by_size = Direction.LEAVING
    by_shift = Direction.UNKNOWN
    if approach_moves in ("down", "up"):
        shift = vertical_shift([r.box for r in reads])
        if shift is not None and abs(shift) >= min_shift:
            down = shift > 0
            by_shift = Direction.APPROACHING if down == (approach_moves == "down") else Direction.LEAVING
    if Direction.UNKNOWN in (by_size, by_shift) or by_size is by_shift:
        return by_size if by_size is not Direction.UNKNOWN else by_shift
    return Direction.UNKNOWN  # the cues contradict each other
