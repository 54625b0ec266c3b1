"""The lane's rules on top of the allowlist policy: what each direction of travel may do,
and the presence of cars on site shared by the lanes of one box.

Rules (``[lane] approaching / leaving / unknown``):

* ``listed``: the allowlist policy decides (the default).
* ``any``: every read plate opens, unless the allowlist policy denies it for a blocklist
  entry (a blocklist entry always wins) or the read is below ``access.min_confidence``.
* ``seen``: listed plates open, and so does a plate an entry lane of this box recorded
  inside within ``lane.presence_max_h``.
* ``none``: nothing opens in that direction; the decision says why.

With ``lane.presence = "enter"`` every car the lane opens for is recorded inside the
shared :class:`PresenceStore`; with ``"exit"`` it is recorded gone.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from ..config_processing import LaneConfig
from ..db import open_sqlite
from ..direction import Direction, travel_direction
from ..errors import StorageError
from ..types import Decision, DecisionKind, PlateRead, normalise_plate

logger = logging.getLogger(__name__)

BLOCKED_REASONS = frozenset({"blocklisted", "blocklisted_similar"})


class PresenceStore:
    """Plates recorded inside the site, in an SQLite file the lanes of a box share.

    Args:
        path: the database file (created with its folder).

    Raises:
        StorageError: the file cannot be opened as a database.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self._db = open_sqlite(self.path, synchronous="FULL")
            with self._db:
                self._db.execute("CREATE TABLE IF NOT EXISTS presence (plate TEXT PRIMARY KEY, lane TEXT NOT NULL,"
                                 " since REAL NOT NULL)")
        except (sqlite3.Error, OSError) as exc:
            raise StorageError(f"lane.presence_db {self.path}: cannot open: {exc}") from None
        self._lock = threading.Lock()

    def enter(self, plate: str, lane: str, now: float | None = None) -> None:
        """Record *plate* inside (again), by *lane*."""
        with self._lock, self._db:
            self._db.execute("INSERT OR REPLACE INTO presence (plate, lane, since) VALUES (?, ?, ?)",
                             (plate, lane, time.time() if now is None else now))

    def leave(self, plate: str) -> bool:
        """Record *plate* gone; True if it was inside."""
        with self._lock, self._db:
            return self._db.execute("DELETE FROM presence WHERE plate = ?", (plate,)).rowcount > 0

    def seen(self, plate: str, max_age_s: float, now: float | None = None) -> dict | None:
        """``{"lane", "since"}`` if *plate* was recorded inside less than *max_age_s* ago, else None."""
        now = time.time() if now is None else now
        with self._lock:
            row = self._db.execute("SELECT lane, since FROM presence WHERE plate = ?", (plate,)).fetchone()
        if row is None or now - row[1] > max_age_s:
            return None
        return {"lane": row[0], "since": row[1]}

    def inside(self) -> list[dict]:
        """Every plate recorded inside, most recent first."""
        with self._lock:
            rows = self._db.execute("SELECT plate, lane, since FROM presence ORDER BY since DESC").fetchall()
        return [{"plate": p, "lane": lane, "since": s} for p, lane, s in rows]

    def close(self) -> None:
        self._db.close()


class LanePolicy:
    """The allowlist policy with the lane's direction rules and presence records.

    Args:
        policy: the allowlist policy (``decide(read, now=None) -> Decision``).
        cfg: the ``[lane]`` section.
        lane: this lane's name (recorded with presence).
        presence: the shared store; required when the config uses presence or ``seen``.
    """

    def __init__(self, policy, cfg: LaneConfig, lane: str, presence: PresenceStore | None = None) -> None:
        if presence is None and (cfg.presence != "none" or "seen" in self.rules(cfg).values()):
            raise ValueError("lane: presence or 'seen' needs a PresenceStore")
        self.policy = policy
        self.cfg = cfg
        self.lane = lane
        self.presence = presence
        self._last_open: dict[str, float] = {}

    @property
    def store(self):
        """The allowlist store the policy decides from."""
        return self.policy.store

    @staticmethod
    def rules(cfg: LaneConfig) -> dict[str, str]:
        return {"approaching": cfg.approaching, "leaving": cfg.leaving, "unknown": cfg.unknown}

    @property
    def needs_direction(self) -> bool:
        """Whether the directions are treated differently (a decision then waits for the direction)."""
        return len(set(self.rules(self.cfg).values())) > 1

    def direction(self, reads: list[PlateRead], text: str | None = None) -> Direction:
        """The direction of travel of the burst's reads (:func:`plategate.direction.travel_direction`)."""
        return travel_direction(reads, text, self.cfg.min_size_change, self.cfg.approach_moves, self.cfg.min_shift)

    def ready(self, reads: list[PlateRead], voted: PlateRead) -> bool:
        """Whether a confident vote may be decided before the burst ends: always, unless the
        rules depend on the direction and it is not known yet."""
        return not self.needs_direction or self.direction(reads, voted.text) is not Direction.UNKNOWN

    def vehicle_left(self) -> None:
        self.policy.vehicle_left()
        self._last_open.clear()

    def decide(self, read: PlateRead, direction: Direction | str = Direction.UNKNOWN,
               now: datetime | None = None) -> Decision:
        """Decide *read* travelling in *direction*; the decision's ``detail`` names the lane rule."""
        direction = Direction(direction)
        rule = self.rules(self.cfg)[direction.value]
        base = self.policy.decide(read, now)
        detail = {**base.detail, "direction": direction.value, "lane_rule": rule}
        decision = replace(base, detail=detail)
        if rule == "none":
            if base.kind is DecisionKind.GRANTED:
                decision = replace(decision, kind=DecisionKind.DENIED, reason="direction_not_allowed",
                                   open_gate=False, detail={**detail, "allowlist_reason": str(base.reason)})
        elif rule in ("any", "seen") and base.kind is not DecisionKind.GRANTED and base.reason not in BLOCKED_REASONS \
                and base.reason not in ("low_confidence", "no_plate"):
            decision = self._beyond_list(read, rule, decision, now)
        if decision.open_gate:
            self._record(decision.plate)
        return decision

    def _beyond_list(self, read: PlateRead, rule: str, decision: Decision, now: datetime | None) -> Decision:
        plate = normalise_plate(read.text)
        detail = {**decision.detail, "allowlist_reason": str(decision.reason)}
        if rule == "seen":
            seen = self.presence.seen(plate, self.cfg.presence_max_h * 3600) if self.presence else None
            if seen is None:
                return replace(decision, reason="not_seen_entering", detail=detail)
            detail["seen"] = {"lane": seen["lane"], "time": datetime.fromtimestamp(seen["since"], UTC).isoformat()}
            reason = "seen_entering"
        else:
            reason = "lane_any"
        t = (now or datetime.now(UTC)).timestamp()
        last = self._last_open.get(plate)
        holdoff = self.policy.cfg.holdoff_s
        if last is not None and 0 <= t - last < holdoff:
            return replace(decision, kind=DecisionKind.GRANTED, reason="holdoff", open_gate=False,
                           detail={**detail, "granted_reason": reason})
        self._last_open[plate] = t
        if len(self._last_open) > 1000:
            self._last_open = {p: v for p, v in self._last_open.items() if t - v < holdoff}
        return replace(decision, kind=DecisionKind.GRANTED, reason=reason, open_gate=True, detail=detail)

    def _record(self, plate: str) -> None:
        if self.presence is None or self.cfg.presence == "none" or not plate:
            return
        try:
            if self.cfg.presence == "enter":
                self.presence.enter(plate, self.lane)
            else:
                self.presence.leave(plate)
        except sqlite3.Error as exc:  # presence is a convenience: the gate has opened already
            logger.error("lane.presence_db: cannot record %s: %s", plate, exc)

    def close(self) -> None:
        if self.presence is not None:
            self.presence.close()


def build_lane_policy(policy, cfg: LaneConfig, lane: str) -> LanePolicy:
    """The lane policy for the ``[lane]`` section, opening the shared presence store if it is used.

    Raises:
        StorageError: the presence database cannot be opened.
    """
    uses = cfg.presence != "none" or "seen" in LanePolicy.rules(cfg).values()
    presence = PresenceStore(cfg.presence_db) if uses and cfg.presence_db is not None else None
    return LanePolicy(policy, cfg, lane, presence)
