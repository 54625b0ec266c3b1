"""The access decision (DESIGN.md "Decision policy").

Order of checks for one read:

1. no plate text -> ``unknown/no_plate``;
2. an exact blocklist entry -> ``denied/blocklisted`` (whatever the confidence);
3. confidence below ``min_confidence`` -> ``unknown/low_confidence``;
4. an exact allowlist entry -> granted while valid, else ``denied/not_yet_valid|expired|outside_window``;
5. tolerant match (one OCR-confusable substitution): a blocklist entry among the candidates
   denies (``blocklisted_similar``); exactly one allow entry with a confident read grants
   (``tolerant_match``); several give ``unknown/ambiguous_match``; a read below
   ``tolerant_min_confidence`` gives ``unknown/tolerant_low_confidence``;
6. otherwise ``denied/not_listed``.

A grant that would re-open the gate for the same entry within ``holdoff_s`` is returned as
``granted/holdoff`` with ``open_gate=False``, until :meth:`AccessPolicy.vehicle_left` is called.
"""

from __future__ import annotations

import enum
import logging
import threading
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from ..config import AccessConfig
from ..types import Decision, DecisionKind, PlateRead, normalise_plate
from .entry import Entry, EntryKind, Validity
from .store import AllowlistStore

logger = logging.getLogger(__name__)


class Reason(enum.StrEnum):
    """Machine-readable reasons carried by every decision."""

    NO_PLATE = "no_plate"
    BLOCKLISTED = "blocklisted"
    BLOCKLISTED_SIMILAR = "blocklisted_similar"
    LOW_CONFIDENCE = "low_confidence"
    EXACT_MATCH = "exact_match"
    TOLERANT_MATCH = "tolerant_match"
    AMBIGUOUS_MATCH = "ambiguous_match"
    TOLERANT_LOW_CONFIDENCE = "tolerant_low_confidence"
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"
    OUTSIDE_WINDOW = "outside_window"
    NOT_LISTED = "not_listed"
    HOLDOFF = "holdoff"
    REMOTE_COMMAND = "remote_command"


class AccessPolicy:
    """Decide reads against an :class:`AllowlistStore` (thread-safe).

    Args:
        store: the allowlist store (its current index is read on every decision).
        cfg: the ``[access]`` section.
    """

    def __init__(self, store: AllowlistStore, cfg: AccessConfig) -> None:
        self.store = store
        self.cfg = cfg
        self._last_open: dict[str, datetime] = {}
        self._lock = threading.Lock()

    @property
    def tz(self) -> ZoneInfo:
        """The site time zone (follows ``cfg`` when the daemon swaps it on reload)."""
        return ZoneInfo(self.cfg.timezone)

    def decide(self, read: PlateRead, now: datetime | None = None) -> Decision:
        """Decide one read. *now* must be timezone-aware (default: the current UTC time)."""
        now = now or datetime.now(UTC)
        if now.tzinfo is None:
            now = now.replace(tzinfo=self.tz)
        idx = self.store.index
        plate = normalise_plate(read.text)
        base = {"plate": plate, "allowlist_version": idx.version}
        if not plate:
            return Decision(DecisionKind.UNKNOWN, Reason.NO_PLATE, **base)
        exact = idx.by_plate.get(plate)
        if exact is not None and exact.kind is EntryKind.BLOCK:
            return self._decision(DecisionKind.DENIED, Reason.BLOCKLISTED, base, exact)
        if read.confidence < self.cfg.min_confidence:
            return Decision(DecisionKind.UNKNOWN, Reason.LOW_CONFIDENCE, **base,
                            detail={"confidence": read.confidence, "min_confidence": self.cfg.min_confidence})
        if exact is not None:
            return self._grant_if_valid(exact, Reason.EXACT_MATCH, base, now)
        if not self.cfg.tolerant_match:
            return Decision(DecisionKind.DENIED, Reason.NOT_LISTED, **base)
        candidates = idx.tolerant_candidates(plate)
        if not candidates:
            return Decision(DecisionKind.DENIED, Reason.NOT_LISTED, **base)
        detail = {"tolerant_candidates": [c.plate for c in candidates]}
        blocked = [c for c in candidates if c.kind is EntryKind.BLOCK]
        if blocked:
            return self._decision(DecisionKind.DENIED, Reason.BLOCKLISTED_SIMILAR, base, blocked[0], detail)
        if len(candidates) > 1:
            return Decision(DecisionKind.UNKNOWN, Reason.AMBIGUOUS_MATCH, **base, detail=detail)
        if read.confidence < self.cfg.tolerant_min_confidence:
            detail["tolerant_min_confidence"] = self.cfg.tolerant_min_confidence
            return self._decision(DecisionKind.UNKNOWN, Reason.TOLERANT_LOW_CONFIDENCE, base, candidates[0], detail)
        return self._grant_if_valid(candidates[0], Reason.TOLERANT_MATCH, base, now, detail)

    def _decision(self, kind: DecisionKind, reason: Reason, base: dict, entry: Entry,
                  detail: dict | None = None, open_gate: bool = False) -> Decision:
        return Decision(kind, reason, matched=entry.plate, label=entry.label or None,
                        open_gate=open_gate, detail=detail or {}, **base)

    def _grant_if_valid(self, entry: Entry, reason: Reason, base: dict, now: datetime,
                        detail: dict | None = None) -> Decision:
        validity = entry.validity(now, self.tz)
        if validity is not Validity.VALID:
            return self._decision(DecisionKind.DENIED, Reason(validity.value), base, entry, detail)
        with self._lock:
            last = self._last_open.get(entry.plate)
            if last is not None and 0 <= (now - last).total_seconds() < self.cfg.holdoff_s:
                return self._decision(DecisionKind.GRANTED, Reason.HOLDOFF, base, entry,
                                      {**(detail or {}), "granted_reason": reason.value})
            self._last_open[entry.plate] = now
            if len(self._last_open) > 1000:
                self._prune(now)
        return self._decision(DecisionKind.GRANTED, reason, base, entry, detail, open_gate=True)

    def _prune(self, now: datetime) -> None:
        self._last_open = {p: t for p, t in self._last_open.items() if (now - t).total_seconds() < self.cfg.holdoff_s}

    def vehicle_left(self) -> None:
        """Forget recent openings: the next read of any plate may open the gate again."""
        with self._lock:
            self._last_open.clear()
