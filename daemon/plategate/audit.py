"""The audit trail: who changed what.

Every change made through the control socket on a person's behalf (the web console,
``platectl``): allowlist additions, edits, removals and imports, the motion region
drawn in the web console, and the text a person says an event's plate shows
(:data:`PLATE_TEXT`, which ``platectl events crops`` takes for teaching the reader), is
one row: time, user, action, the object (a plate, a setting, an event) and details as JSON. Rows live in the journal's SQLite file, in their own table,
and age out with the journal's retention. Manual opens and relay tests are not rows here:
they are events in the journal itself, published like decisions
(:meth:`plategate.gatekeeper.GateKeeper.open_on_request`).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from pathlib import Path

from .db import open_with_schema
from .errors import StorageError

logger = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    user TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT,
    detail TEXT
);
CREATE INDEX IF NOT EXISTS audit_ts ON audit(ts);
CREATE INDEX IF NOT EXISTS audit_target ON audit(action, target);
"""

MAX_USER_LEN = 64
#: the action of a person's reading of an event's plate (target: the event id; detail: ``{"text": ...}``)
PLATE_TEXT = "plate_text"
#: targets looked up per query
_CHUNK = 500


def latest_by_target(db: sqlite3.Connection, action: str, targets: list[str]) -> dict[str, dict]:
    """The newest *action* row of each of *targets* that has one, as ``target -> row``
    (``user``, ``ts``, ``detail``). A database without the audit table has none.

    Raises:
        sqlite3.Error: the query fails for another reason than a missing table.
    """
    out: dict[str, dict] = {}
    for k in range(0, len(targets), _CHUNK):
        part = targets[k : k + _CHUNK]
        try:
            rows = db.execute(f"SELECT target, user, ts, detail FROM audit WHERE action = ? AND target IN "
                              f"({','.join('?' * len(part))}) ORDER BY seq", (action, *part)).fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return {}
            raise
        for target, user, ts, detail in rows:
            out[target] = {"user": user, "ts": ts, "detail": json.loads(detail or "{}")}
    return out


def mark_checked(rows: list[dict], found: dict[str, dict]) -> list[dict]:
    """Events *rows* with ``checked_text`` and ``checked_by`` from :data:`PLATE_TEXT` rows *found*
    by event id (:func:`latest_by_target`); rows nobody checked are left as they are."""
    for row in rows:
        hit = found.get(str(row.get("id")))
        if hit is not None:
            row["checked_text"], row["checked_by"] = str(hit["detail"].get("text", "")), hit["user"]
    return rows


class AuditLog:
    """Append-only record of people's actions.

    Args:
        db_path: SQLite file (the journal's; the table is created if missing).

    Raises:
        StorageError: the database cannot be opened.
    """

    def __init__(self, db_path: Path) -> None:
        self._lock = threading.Lock()
        self._db = open_with_schema(Path(db_path), SCHEMA, "audit log", timeout=5.0)

    def record(self, user: str, action: str, target: str | None = None, detail: dict | None = None) -> dict:
        """Append one row and return it.

        Raises:
            StorageError: the row cannot be written (the caller decides whether the
                action still goes ahead).
        """
        user = (str(user or "").strip() or "unknown")[:MAX_USER_LEN]
        row = {"ts": time.time(), "user": user, "action": action, "target": target, "detail": detail or {}}
        with self._lock:
            try:
                with self._db:
                    cur = self._db.execute("INSERT INTO audit(ts, user, action, target, detail) VALUES (?,?,?,?,?)",
                                           (row["ts"], user, action, target, json.dumps(row["detail"])))
            except sqlite3.Error as exc:
                raise StorageError(f"audit log: cannot write {action} by {user}: {exc}") from None
        row["seq"] = cur.lastrowid
        logger.info("audit: %s %s %s %s", user, action, target or "", row["detail"] or "")
        return row

    def recent(self, n: int = 50, action: str | None = None) -> list[dict]:
        """The last *n* rows, newest first (only *action* when given)."""
        sql = "SELECT seq, ts, user, action, target, detail FROM audit"
        args: tuple = ()
        if action:
            sql += " WHERE action = ?"
            args = (action,)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY seq DESC LIMIT ?", (*args, int(n))).fetchall()
        return [{"seq": r[0], "ts": r[1], "user": r[2], "action": r[3], "target": r[4],
                 "detail": json.loads(r[5] or "{}")} for r in rows]

    def latest(self, action: str, targets: list[str]) -> dict[str, dict]:
        """The newest *action* row of each of *targets* (:func:`latest_by_target`).

        Raises:
            StorageError: the audit log cannot be read.
        """
        with self._lock:
            try:
                return latest_by_target(self._db, action, targets)
            except sqlite3.Error as exc:
                raise StorageError(f"audit log: cannot read {action} rows: {exc}") from None

    def prune(self, before_ts: float) -> int:
        """Delete rows older than *before_ts*; returns how many."""
        with self._lock:
            try:
                with self._db:
                    return self._db.execute("DELETE FROM audit WHERE ts < ?", (before_ts,)).rowcount
            except sqlite3.Error as exc:
                logger.error("audit retention failed: %s", exc)
                return 0

    def close(self) -> None:
        with self._lock:
            self._db.close()
