"""Every gate's events and status, as the site collected them (SQLite, in the site database).

Events are keyed by their id, so a message the broker delivers twice (at-least-once) is
stored once. Status, allowlist state and allowlist requests update one row per gate.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from ..db import open_with_schema

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (id TEXT PRIMARY KEY, gate TEXT NOT NULL, time TEXT, plate TEXT, decision TEXT,
                                   reason TEXT, direction TEXT, opened INTEGER, payload TEXT NOT NULL,
                                   received REAL NOT NULL);
CREATE INDEX IF NOT EXISTS events_gate ON events (gate, received);
CREATE TABLE IF NOT EXISTS gates (gate TEXT PRIMARY KEY, state TEXT, version TEXT, status TEXT, status_at REAL,
                                  allowlist_version INTEGER, allowlist_hash TEXT, allowlist_at REAL,
                                  requests INTEGER NOT NULL DEFAULT 0, last_request REAL);
"""


class FleetStore:
    """The gates' events and status.

    Args:
        path: the site database (shared with :class:`~plategate.site.master.MasterList`).

    Raises:
        StorageError: the file cannot be opened as a database.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._db = open_with_schema(self.path, SCHEMA, "site database")
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    def _gate_row(self, gate: str) -> None:
        self._db.execute("INSERT OR IGNORE INTO gates (gate) VALUES (?)", (gate,))

    def add_event(self, gate: str, event: dict, now: float | None = None) -> bool:
        """Store one event (committed before returning); False if its id was stored before."""
        now = time.time() if now is None else now
        with self._lock, self._db:
            self._gate_row(gate)
            cur = self._db.execute(
                "INSERT OR IGNORE INTO events (id, gate, time, plate, decision, reason, direction, opened, payload, "
                "received) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (str(event["id"]), gate, event.get("time"), event.get("plate"), event.get("decision"),
                 event.get("reason"), event.get("direction"), int(bool(event.get("opened"))), json.dumps(event), now))
            return cur.rowcount > 0

    def set_status(self, gate: str, status: dict, now: float | None = None) -> None:
        now = time.time() if now is None else now
        with self._lock, self._db:
            self._gate_row(gate)
            self._db.execute("UPDATE gates SET state = ?, version = ?, status = ?, status_at = ? WHERE gate = ?",
                             (status.get("state"), status.get("version"), json.dumps(status), now, gate))

    def set_allowlist_state(self, gate: str, state: dict, now: float | None = None) -> None:
        now = time.time() if now is None else now
        with self._lock, self._db:
            self._gate_row(gate)
            self._db.execute("UPDATE gates SET allowlist_version = ?, allowlist_hash = ?, allowlist_at = ? "
                             "WHERE gate = ?", (state.get("version"), state.get("hash"), now, gate))

    def note_request(self, gate: str, now: float | None = None) -> None:
        now = time.time() if now is None else now
        with self._lock, self._db:
            self._gate_row(gate)
            self._db.execute("UPDATE gates SET requests = requests + 1, last_request = ? WHERE gate = ?", (now, gate))

    def events(self, n: int = 20, gate: str | None = None) -> list[dict]:
        """The newest *n* events (of one gate), newest first."""
        sql = "SELECT payload, gate, received FROM events"
        args: tuple = ()
        if gate:
            sql += " WHERE gate = ?"
            args = (gate,)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY received DESC, rowid DESC LIMIT ?", (*args, n)).fetchall()
        return [{**json.loads(p), "gate": g, "received": r} for p, g, r in rows]

    def count(self, gate: str | None = None) -> int:
        with self._lock:
            if gate:
                return self._db.execute("SELECT COUNT(*) FROM events WHERE gate = ?", (gate,)).fetchone()[0]
            return self._db.execute("SELECT COUNT(*) FROM events").fetchone()[0]

    def report(self, current_version: int, current_hash: str | None, offline_after_s: float,
               now: float | None = None) -> list[dict]:
        """One row per gate: online, allowlist version (and whether it is the current one), last event."""
        now = time.time() if now is None else now
        with self._lock:
            gates = self._db.execute("SELECT gate, state, version, status_at, allowlist_version, allowlist_hash, "
                                     "requests FROM gates ORDER BY gate").fetchall()
            last = {g: (t, p, d) for g, t, p, d in self._db.execute(
                "SELECT gate, time, plate, decision FROM events e WHERE rowid = "
                "(SELECT rowid FROM events WHERE gate = e.gate ORDER BY received DESC, rowid DESC LIMIT 1)")}
            counts = dict(self._db.execute("SELECT gate, COUNT(*) FROM events GROUP BY gate").fetchall())
        out = []
        for gate, state, version, status_at, al_version, al_hash, requests in gates:
            online = state == "online" and status_at is not None and now - status_at <= offline_after_s
            event = last.get(gate)
            out.append({
                "gate": gate, "online": online, "state": state or "unknown", "software": version,
                "last_status_s": round(now - status_at, 1) if status_at else None,
                "allowlist_version": al_version,
                "allowlist_current": al_version == current_version and (current_hash is None or al_hash == current_hash),
                "requests": requests, "events": counts.get(gate, 0),
                "last_event": {"time": event[0], "plate": event[1], "decision": event[2]} if event else None,
            })
        return out
