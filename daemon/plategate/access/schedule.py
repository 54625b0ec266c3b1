"""Weekly time windows and validity periods, evaluated in the site's time zone.

A window is written ``"Mon-Fri 07:00-19:00"``, ``"Sat,Sun 09:00-12:30"``, ``"daily 00:00-24:00"``
or ``"Fri 22:00-06:00"`` (overnight: from Friday 22:00 to Saturday 06:00). Windows are compared
with the local wall-clock time obtained through :mod:`zoneinfo`, so "07:00" means 07:00 on the
gate's clock on both sides of a daylight-saving change.

Validity bounds are ISO 8601 strings: a date (``2026-12-31``; *from* = start of that day,
*until* = end of that day), a local date-time without offset (``2026-12-31T18:00``, read in the
site's time zone) or an absolute one with an offset (``2026-12-31T17:00:00+00:00``).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from ..errors import AccessError

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_WINDOW_RE = re.compile(r"^\s*(?P<days>[A-Za-z,\- ]+?)\s+(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})\s*$")


@dataclass(frozen=True, slots=True)
class Window:
    """A weekly window: the days it starts on (0 = Monday) and start/end in minutes after midnight."""

    days: frozenset[int]
    start: int
    end: int

    @property
    def overnight(self) -> bool:
        return self.end <= self.start

    def contains(self, local: datetime) -> bool:
        """Whether the local wall-clock time *local* falls inside the window."""
        minute = local.hour * 60 + local.minute
        day = local.weekday()
        if not self.overnight:
            return day in self.days and self.start <= minute < self.end
        if day in self.days and minute >= self.start:
            return True
        return (day - 1) % 7 in self.days and minute < self.end

    def text(self) -> str:
        """Canonical text form, e.g. ``"Mon,Tue,Wed,Thu,Fri 07:00-19:00"``."""
        days = ",".join(DAY_NAMES[d] for d in sorted(self.days))
        return f"{days} {_hhmm(self.start)}-{_hhmm(self.end)}"


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _minutes(text: str, allow_24: bool) -> int:
    hh, mm = text.split(":")
    h, m = int(hh), int(mm)
    if m > 59 or h > 24 or (h == 24 and (m != 0 or not allow_24)):
        raise AccessError(f"time {text!r} out of range")
    return h * 60 + m


def _day(name: str) -> int:
    key = name.strip().lower()
    for i, full in enumerate(_FULL):
        if key == full or key == full[:3]:
            return i
    raise AccessError(f"unknown day {name!r} (use Mon..Sun, 'Mon-Fri' or 'daily')")


def _parse_days(text: str) -> frozenset[int]:
    key = text.strip().lower()
    if key in ("daily", "all", "*"):
        return frozenset(range(7))
    if key == "weekdays":
        return frozenset(range(5))
    if key in ("weekends", "weekend"):
        return frozenset((5, 6))
    days: set[int] = set()
    for part in key.replace(" ", "").split(","):
        if not part:
            continue
        first, sep, last = part.partition("-")
        a = _day(first)
        if not sep:
            days.add(a)
            continue
        b = _day(last)
        i = a
        days.add(i)
        while i != b:
            i = (i + 1) % 7
            days.add(i)
    if not days:
        raise AccessError("no days given")
    return frozenset(days)


_FULL = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def parse_window(text: str) -> Window:
    """Parse ``"Mon-Fri 07:00-19:00"`` style text (cached: lists repeat the same few windows).

    Raises:
        AccessError: the text is not a window (the message quotes it and says why).
    """
    if isinstance(text, str) and len(text) <= 64:
        return _parse_window_cached(text)
    return _parse_window(text)


@functools.lru_cache(maxsize=1024)
def _parse_window_cached(text: str) -> Window:
    return _parse_window(text)


def _parse_window(text: str) -> Window:
    """Parse ``"Mon-Fri 07:00-19:00"`` style text.

    Raises:
        AccessError: the text is not a window (the message quotes it and says why).
    """
    if not isinstance(text, str):
        raise AccessError(f"window must be text like 'Mon-Fri 07:00-19:00', got {type(text).__name__}")
    match = _WINDOW_RE.match(text)
    if not match:
        raise AccessError(f"window {text!r}: expected 'DAYS HH:MM-HH:MM', e.g. 'Mon-Fri 07:00-19:00'")
    try:
        days = _parse_days(match["days"])
        start = _minutes(match["start"], allow_24=False)
        end = _minutes(match["end"], allow_24=True)
    except AccessError as exc:
        raise AccessError(f"window {text!r}: {exc}") from None
    if start == end:
        raise AccessError(f"window {text!r}: start and end are equal (use 00:00-24:00 for a whole day)")
    return Window(days, start, end)


def in_any_window(windows: tuple[Window, ...], now: datetime, tz: ZoneInfo) -> bool:
    """True when *windows* is empty (always allowed) or *now* falls inside one of them."""
    if not windows:
        return True
    local = now.astimezone(tz)
    return any(w.contains(local) for w in windows)


# Validity bounds -------------------------------------------------------------------------

def normalise_bound(value: object) -> str | None:
    """Canonical text of a validity bound (``None``/empty stays ``None``).

    Raises:
        AccessError: the value is not an ISO 8601 date or date-time.
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        return value.isoformat()
    elif isinstance(value, str):
        text = value.strip()
        if len(text) == 10:
            try:
                return date.fromisoformat(text).isoformat()
            except ValueError:
                raise AccessError(f"not an ISO date: {value!r}") from None
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise AccessError(f"not an ISO 8601 date or date-time: {value!r}") from None
    else:
        raise AccessError(f"validity bound must be an ISO 8601 string, got {type(value).__name__}")
    if parsed.tzinfo is None:
        return parsed.replace(microsecond=0).isoformat()
    return parsed.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def resolve_bound(text: str, tz: ZoneInfo, end_of_day: bool) -> datetime:
    """Turn a canonical bound into an aware datetime (date-only *until* means the end of that day)."""
    if len(text) == 10:
        day = date.fromisoformat(text)
        if end_of_day:
            day = day + timedelta(days=1)
        return datetime(day.year, day.month, day.day, tzinfo=tz)
    if text.endswith("Z"):
        return datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)
    return datetime.fromisoformat(text).replace(tzinfo=tz)
