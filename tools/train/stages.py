"""The stage widths of the project's networks, as given on command lines."""

from __future__ import annotations

#: both the reader and the detector are built of five stages
STAGES = 5


def parse_stage_widths(text: str) -> tuple[int, ...]:
    """``"16,32,64,128,192"`` -> the five stage widths of a network.

    Raises:
        ValueError: not five positive integers separated by commas.
    """
    try:
        widths = tuple(int(v) for v in text.split(","))
    except ValueError:
        widths = ()
    if len(widths) != STAGES or min(widths) < 1:
        raise ValueError(f"needs five positive stage widths separated by commas, got {text!r}")
    return widths
