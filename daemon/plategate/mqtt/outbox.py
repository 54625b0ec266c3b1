"""The persistent outbox: every outgoing event is committed to SQLite before it is published
and deleted only when the broker has acknowledged it (QoS 1).

Rows are published in ``seq`` order. Under the size cap (``mqtt.outbox_max_mb``) the oldest
snapshot (JPEG) rows are dropped first; events are dropped only when no snapshot is left,
and then each dropped event id is logged at ERROR level and counted in :attr:`Outbox.dropped_events`.
When a snapshot is dropped while its event still waits in the outbox, the event's JSON is
rewritten with ``"snapshot": false`` so that no consumer waits for a JPEG that will not come.
"""

from __future__ import annotations

import enum
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..db import open_sqlite
from ..errors import StorageError

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    msg_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_kind ON outbox(kind, seq);
"""


class MessageKind(enum.StrEnum):
    EVENT = "event"
    SNAPSHOT = "snapshot"


@dataclass(frozen=True)
class OutboxMessage:
    seq: int
    msg_id: str
    kind: MessageKind
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = False


class Outbox:
    """SQLite outbox (thread-safe).

    Args:
        path: database file (created with its folder).
        max_bytes: size cap of all stored payloads.

    Raises:
        StorageError: the database cannot be opened.
    """

    def __init__(self, path: str | Path, max_bytes: int = 200 * 1024 * 1024) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.dropped_events = 0
        self.dropped_snapshots = 0
        self._lock = threading.Lock()
        try:
            self._db = open_sqlite(self.path, synchronous="FULL", autocommit=True)
            self._db.executescript(_SCHEMA)
            row = self._db.execute("SELECT COUNT(*), COALESCE(SUM(LENGTH(payload)), 0) FROM outbox").fetchone()
        except (sqlite3.Error, OSError) as exc:
            raise StorageError(f"{self.path}: cannot open outbox: {exc}") from None
        self._depth, self._bytes = int(row[0]), int(row[1])

    def put(self, messages: Iterable[tuple[str, MessageKind, str, bytes]], qos: int = 1, retain: bool = False) -> list[int]:
        """Commit ``(msg_id, kind, topic, payload)`` messages in one transaction; returns their seqs.

        Raises:
            StorageError: the database cannot be written (nothing is stored).
        """
        rows = [(mid, MessageKind(kind).value, topic, bytes(payload), qos, int(retain), time.time())
                for mid, kind, topic, payload in messages]
        with self._lock:
            try:
                seqs = []
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    for row in rows:
                        cur = self._db.execute(
                            "INSERT INTO outbox(msg_id, kind, topic, payload, qos, retain, created) VALUES (?,?,?,?,?,?,?)", row)
                        seqs.append(int(cur.lastrowid))
                    added = sum(len(r[3]) for r in rows)
                    if self._enforce_cap(self._bytes + added):
                        self._refresh_totals()
                    else:
                        self._depth += len(rows)
                        self._bytes += added
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._refresh_totals()
                raise StorageError(f"{self.path}: cannot write outbox: {exc}") from None
        return seqs

    def _enforce_cap(self, total: int) -> bool:
        if total <= self.max_bytes:
            return False
        for kind in (MessageKind.SNAPSHOT, MessageKind.EVENT):
            while total > self.max_bytes:
                rows = self._db.execute(
                    "SELECT seq, msg_id, LENGTH(payload) FROM outbox WHERE kind=? ORDER BY seq LIMIT 64", (kind.value,)
                ).fetchall()
                if not rows:
                    break
                for seq, msg_id, size in rows:
                    if total <= self.max_bytes:
                        break
                    self._db.execute("DELETE FROM outbox WHERE seq=?", (seq,))
                    total -= size
                    if kind is MessageKind.EVENT:
                        self.dropped_events += 1
                        logger.error("outbox over its cap of %d bytes: dropped event %s (seq %d) undelivered", self.max_bytes, msg_id, seq)
                    else:
                        self.dropped_snapshots += 1
                        self._unflag_snapshot(msg_id)
                        logger.warning("outbox over its cap: dropped snapshot of event %s", msg_id)
        return True

    def _unflag_snapshot(self, msg_id: str) -> None:
        row = self._db.execute("SELECT seq, payload FROM outbox WHERE msg_id=? AND kind=?",
                               (msg_id, MessageKind.EVENT.value)).fetchone()
        if row is None:
            return  # the event has gone out already
        try:
            event = json.loads(bytes(row[1]))
        except ValueError:
            return
        if isinstance(event, dict) and event.get("snapshot"):
            event["snapshot"] = False
            self._db.execute("UPDATE outbox SET payload=? WHERE seq=?",
                             (json.dumps(event, separators=(",", ":")).encode("utf-8"), row[0]))

    def _refresh_totals(self) -> None:
        try:
            row = self._db.execute("SELECT COUNT(*), COALESCE(SUM(LENGTH(payload)), 0) FROM outbox").fetchone()
        except sqlite3.Error:
            return
        self._depth, self._bytes = int(row[0]), int(row[1])

    def pending(self, after_seq: int = 0, limit: int = 100) -> list[OutboxMessage]:
        """Messages with seq > *after_seq*, oldest first.

        Raises:
            StorageError: the database cannot be read.
        """
        with self._lock:
            try:
                rows = self._db.execute(
                    "SELECT seq, msg_id, kind, topic, payload, qos, retain FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
                    (after_seq, limit),
                ).fetchall()
            except sqlite3.Error as exc:
                raise StorageError(f"{self.path}: cannot read outbox: {exc}") from None
        return [OutboxMessage(r[0], r[1], MessageKind(r[2]), r[3], bytes(r[4]), r[5], bool(r[6])) for r in rows]

    def ack(self, seqs: Iterable[int]) -> None:
        """Delete acknowledged messages.

        Raises:
            StorageError: the database cannot be written.
        """
        seqs = list(seqs)
        if not seqs:
            return
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                removed = 0
                freed = 0
                for seq in seqs:
                    row = self._db.execute("DELETE FROM outbox WHERE seq=? RETURNING LENGTH(payload)", (seq,)).fetchone()
                    if row is not None:
                        removed += 1
                        freed += int(row[0])
                self._db.execute("COMMIT")
                self._depth -= removed
                self._bytes -= freed
            except sqlite3.Error as exc:
                raise StorageError(f"{self.path}: cannot update outbox: {exc}") from None

    def depth(self) -> int:
        """Messages waiting (events and snapshots)."""
        return self._depth

    def size_bytes(self) -> int:
        return self._bytes

    def close(self) -> None:
        with self._lock:
            self._db.close()
