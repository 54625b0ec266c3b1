"""One allowlist entry: validation, canonical form and its digest for the content hash.

The content hash of a list is the sum, modulo 2**256, of the SHA-256 digests of the
canonical JSON of each entry (sorted keys, no spaces, UTF-8). Being a sum it does not
depend on order and can be updated entry by entry when a delta is applied; the site side
(``tools/allowlist_publish.py``) computes it with the same function.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from ..errors import AccessError
from ..types import normalise_plate
from .schedule import Window, in_any_window, normalise_bound, parse_window, resolve_bound

MAX_PLATE_LEN = 16
MAX_LABEL_LEN = 200
MAX_WINDOWS = 16
_HASH_MOD = 1 << 256
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
ENTRY_KEYS = frozenset({"plate", "label", "kind", "valid_from", "valid_until", "windows"})


class EntryKind(enum.StrEnum):
    """Allow grants (within validity and windows); block always denies."""

    ALLOW = "allow"
    BLOCK = "block"


class Validity(enum.StrEnum):
    """Why an entry is or is not usable at a given moment."""

    VALID = "valid"
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"
    OUTSIDE_WINDOW = "outside_window"


@dataclass(frozen=True, slots=True)
class Entry:
    """An allowlist or blocklist entry (plate normalised, bounds canonical)."""

    plate: str
    label: str = ""
    kind: EntryKind = EntryKind.ALLOW
    valid_from: str | None = None
    valid_until: str | None = None
    windows: tuple[Window, ...] = ()
    digest_cache: int | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict:
        """The canonical dict (also the JSON export and wire format)."""
        return {
            "plate": self.plate,
            "label": self.label,
            "kind": self.kind.value,
            "valid_from": self.valid_from,
            "valid_until": self.valid_until,
            "windows": [w.text() for w in self.windows],
        }

    def canonical_json(self) -> str:
        return _CANONICAL.encode(self.to_dict())

    def digest(self) -> int:
        """SHA-256 of the canonical JSON as an integer (a term of the content hash; computed once)."""
        value = self.digest_cache
        if value is None:
            value = int.from_bytes(hashlib.sha256(self.canonical_json().encode("utf-8")).digest(), "big")
            object.__setattr__(self, "digest_cache", value)
        return value

    def validity(self, now: datetime, tz: ZoneInfo) -> Validity:
        """Whether the entry applies at the aware moment *now* in the site's time zone *tz*."""
        if self.valid_from is not None and now < resolve_bound(self.valid_from, tz, end_of_day=False):
            return Validity.NOT_YET_VALID
        if self.valid_until is not None and now >= resolve_bound(self.valid_until, tz, end_of_day=True):
            return Validity.EXPIRED
        if not in_any_window(self.windows, now, tz):
            return Validity.OUTSIDE_WINDOW
        return Validity.VALID


def make_entry(
    plate: str,
    label: str = "",
    kind: str | EntryKind = EntryKind.ALLOW,
    valid_from: object = None,
    valid_until: object = None,
    windows: Iterable[str] | str | None = None,
) -> Entry:
    """Build a validated entry from loose values.

    Raises:
        AccessError: naming the field that is wrong.
    """
    if not isinstance(plate, str):
        raise AccessError(f"plate: must be text, got {type(plate).__name__}")
    norm = normalise_plate(plate)
    if not norm:
        raise AccessError(f"plate: {plate!r} has no letters or digits")
    if len(norm) > MAX_PLATE_LEN:
        raise AccessError(f"plate: {plate!r} is longer than {MAX_PLATE_LEN} characters")
    if label is None:
        label = ""
    if not isinstance(label, str):
        raise AccessError(f"label: must be text, got {type(label).__name__}")
    if len(label) > MAX_LABEL_LEN:
        raise AccessError(f"label: longer than {MAX_LABEL_LEN} characters")
    try:
        kind_value = EntryKind(kind.strip().lower() if isinstance(kind, str) else kind)
    except (ValueError, AttributeError):
        raise AccessError(f"kind: must be 'allow' or 'block', got {kind!r}") from None
    try:
        vf = normalise_bound(valid_from)
    except AccessError as exc:
        raise AccessError(f"valid_from: {exc}") from None
    try:
        vu = normalise_bound(valid_until)
    except AccessError as exc:
        raise AccessError(f"valid_until: {exc}") from None
    if windows is None or windows == "":
        parsed: tuple[Window, ...] = ()
    else:
        if isinstance(windows, str):
            windows = [w for w in windows.split(";") if w.strip()]
        if not isinstance(windows, list | tuple):
            raise AccessError(f"windows: must be a list of texts, got {type(windows).__name__}")
        if len(windows) > MAX_WINDOWS:
            raise AccessError(f"windows: more than {MAX_WINDOWS}")
        try:
            parsed = tuple(parse_window(w) for w in windows)
        except AccessError as exc:
            raise AccessError(f"windows: {exc}") from None
    entry = Entry(norm, label.strip(), kind_value, vf, vu, parsed)
    if vf and vu:
        utc = ZoneInfo("UTC")
        if resolve_bound(vu, utc, True) <= resolve_bound(vf, utc, False):
            raise AccessError(f"valid_until {vu} is not after valid_from {vf}")
    return entry


def entry_from_dict(data: object) -> Entry:
    """Build an entry from a dict such as the JSON/wire form.

    Raises:
        AccessError: not a dict, unknown keys, or a bad field.
    """
    if not isinstance(data, Mapping):
        raise AccessError(f"entry must be an object, got {type(data).__name__}")
    unknown = set(data) - ENTRY_KEYS
    if unknown:
        raise AccessError(f"entry has unknown keys: {', '.join(sorted(map(str, unknown)))}")
    if "plate" not in data:
        raise AccessError("entry has no 'plate'")
    entry = make_entry(
        data["plate"],
        data.get("label", ""),
        data.get("kind", "allow"),
        data.get("valid_from"),
        data.get("valid_until"),
        data.get("windows"),
    )
    return entry


def content_hash(entries: Iterable[Entry]) -> str:
    """The order-independent content hash of a list (64 hex digits)."""
    total = 0
    for entry in entries:
        total = (total + entry.digest()) % _HASH_MOD
    return hash_hex(total)


def hash_hex(total: int) -> str:
    return f"{total % _HASH_MOD:064x}"


def hash_add(total_hex: str, digest: int) -> str:
    return hash_hex(int(total_hex, 16) + digest)


def hash_sub(total_hex: str, digest: int) -> str:
    return hash_hex(int(total_hex, 16) - digest)
