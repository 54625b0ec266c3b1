"""Rendering for platectl: aligned text tables and key/value blocks, or JSON."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, TextIO


def to_json(data: Any) -> str:
    """One-line JSON with dates, paths and bytes turned into strings."""

    def default(value: Any) -> Any:
        if hasattr(value, "isoformat"):
            return value.isoformat()
        if isinstance(value, bytes):
            return value.hex()
        if isinstance(value, set | frozenset | tuple):
            return list(value)
        return str(value)

    return json.dumps(data, default=default, ensure_ascii=False)


def cell(value: Any) -> str:
    """A table cell: ``-`` for nothing, compact floats, yes/no for booleans."""
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    if isinstance(value, list | tuple):
        return ",".join(cell(v) for v in value) or "-"
    if isinstance(value, dict):
        return " ".join(f"{k}={cell(v)}" for k, v in value.items()) or "-"
    return str(value)


def table(rows: Iterable[dict], columns: Sequence[tuple[str, str]]) -> str:
    """Render *rows* as an aligned text table.

    Args:
        rows: dicts; missing keys print as ``-``.
        columns: ``(key, header)`` pairs in display order.
    """
    body = [[cell(row.get(key)) for key, _ in columns] for row in rows]
    headers = [header for _, header in columns]
    widths = [max([len(h)] + [len(r[i]) for r in body]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in body]
    return "\n".join(lines)


def keyvalues(pairs: Iterable[tuple[str, Any]]) -> str:
    """Render ``(label, value)`` pairs as an aligned block."""
    pairs = [(label, cell(value)) for label, value in pairs]
    if not pairs:
        return ""
    width = max(len(label) for label, _ in pairs)
    return "\n".join(f"{label.ljust(width)}  {value}" for label, value in pairs)


def flatten(data: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Nested dicts as dotted ``(key, value)`` pairs (lists of dicts are left whole)."""
    if not isinstance(data, dict):
        return [(prefix or "value", data)]
    out: list[tuple[str, Any]] = []
    for key, value in data.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            out.extend(flatten(value, name))
        else:
            out.append((name, value))
    return out


def duration(seconds: float | None) -> str:
    """``93784`` -> ``1d 2h 3m``; ``None`` -> ``-``."""
    if seconds is None:
        return "-"
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h {minutes}m"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def local_time(value: Any) -> str:
    """An ISO 8601 time (or epoch seconds) shown in the local zone, to the second."""
    if value is None or value == "":
        return "-"
    try:
        if isinstance(value, int | float):
            when = datetime.fromtimestamp(value, UTC)
        else:
            when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
        return when.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except (ValueError, OSError, OverflowError):
        return str(value)


def emit(as_json: bool, data: Any, render: Callable[[Any], str], out: TextIO | None = None) -> None:
    """Print *data* as one JSON line or through *render* as text."""
    out = out or sys.stdout
    text = to_json(data) if as_json else render(data)
    if text:
        print(text, file=out, flush=True)
