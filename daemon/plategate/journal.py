"""The event journal: every decision in SQLite (WAL), snapshots as JPEG files.

Snapshots are kept within an age and a total-size budget. When the disk runs low
(below ``journal.min_free_mb``) snapshots stop, with one warning, while events keep
being written; if even an event cannot be written (disk full, I/O error) it is
held in memory and written later: the journal never stops a decision.

Each row also says whether it still has to reach MQTT (column ``outbox``: NULL = MQTT
was off when it was recorded, 0 = not yet in the MQTT outbox, 1 = handed to the
outbox), so that an event the outbox could not take (a full disk) is handed over
later from here: see :mod:`plategate.forwarding`.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import logging
import os
import secrets
import shutil
import sqlite3
import threading
import time
from collections import deque
from pathlib import Path
from typing import IO

import numpy as np

from .config import JournalConfig
from .db import open_sqlite
from .errors import StorageError

logger = logging.getLogger(__name__)

COLUMNS = ("id", "time", "ts", "plate", "confidence", "candidates", "decision", "reason", "matched", "label",
           "allowlist_version", "latency_ms", "opened", "crop_path", "frame_path", "extra")

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    time TEXT NOT NULL,
    ts REAL NOT NULL,
    plate TEXT,
    confidence REAL,
    candidates TEXT,
    decision TEXT NOT NULL,
    reason TEXT,
    matched TEXT,
    label TEXT,
    allowlist_version INTEGER,
    latency_ms REAL,
    opened INTEGER NOT NULL DEFAULT 0,
    crop_path TEXT,
    frame_path TEXT,
    extra TEXT
);
CREATE INDEX IF NOT EXISTS events_ts ON events(ts);
CREATE INDEX IF NOT EXISTS events_plate ON events(plate);
"""
# Added after the first release: journals written before have no ``outbox`` column; their
# rows get NULL (not to be published again).
MIGRATIONS = (
    ("outbox", "ALTER TABLE events ADD COLUMN outbox INTEGER"),
)
OUTBOX_INDEX = "CREATE INDEX IF NOT EXISTS events_outbox ON events(seq) WHERE outbox = 0"


MAX_BACKLOG = 10_000


def new_event_id(now: float | None = None) -> str:
    """A unique, time-sortable, topic-safe event id such as ``20261121T083005123-9f2c4a1b``."""
    now = time.time() if now is None else now
    stamp = dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y%m%dT%H%M%S")
    return f"{stamp}{int(now * 1000) % 1000:03d}-{secrets.token_hex(4)}"


def iso_utc(ts: float) -> str:
    """ISO 8601 UTC time with milliseconds and a ``Z``."""
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


_NOT_CHECKED = "NOT EXISTS (SELECT 1 FROM audit WHERE audit.action = ? AND audit.target = events.id)"


def _select(where: list[str]) -> str:
    return ("SELECT * FROM events" + (" WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY seq DESC LIMIT ? OFFSET ?")


class Journal:
    """Stores events and their snapshots.

    Args:
        db_path: SQLite file (created with its folder).
        snapshot_dir: folder for JPEG snapshots (created).
        cfg: the ``[journal]`` section.

    Raises:
        StorageError: the database cannot be opened or created.
    """

    def __init__(self, db_path: Path, snapshot_dir: Path, cfg: JournalConfig) -> None:
        self.db_path = Path(db_path)
        self.snapshot_dir = Path(snapshot_dir)
        self.cfg = cfg
        self._lock = threading.Lock()
        self._backlog: deque[dict] = deque(maxlen=MAX_BACKLOG)
        self.snapshots_skipped = 0
        self._low_disk = False
        self._queued: set[str] = set()  # handed to the outbox, not yet marked in the database
        try:
            self.snapshot_dir.mkdir(parents=True, exist_ok=True)
            self._db = open_sqlite(self.db_path, synchronous="NORMAL", timeout=5.0)
            self._db.executescript(SCHEMA)
            have = {row[1] for row in self._db.execute("PRAGMA table_info(events)")}
            for column, sql in MIGRATIONS:
                if column not in have:
                    self._db.execute(sql)
            self._db.execute(OUTBOX_INDEX)
            self._db.commit()
        except (OSError, sqlite3.Error) as exc:
            raise StorageError(f"journal {self.db_path}: cannot open: {exc}") from exc

    # -- writing ----------------------------------------------------------
    def disk_ok(self) -> bool:
        """Whether there is room for snapshots (free space above ``min_free_mb``)."""
        try:
            free_mb = shutil.disk_usage(self.snapshot_dir).free / 1e6
        except OSError:
            return False
        ok = free_mb >= self.cfg.min_free_mb
        if not ok and not self._low_disk:
            logger.warning("disk low (%.0f MB free < %d MB): snapshots stop, decisions and events go on",
                           free_mb, self.cfg.min_free_mb)
        elif ok and self._low_disk:
            logger.info("disk space back (%.0f MB free): snapshots resume", free_mb)
        self._low_disk = not ok
        return ok

    def _write_jpeg(self, path: Path, image: np.ndarray) -> str | None:
        import cv2

        try:
            ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.cfg.jpeg_quality])
            if not ok:
                raise OSError("JPEG encoding failed")
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(data.tobytes())
            os.replace(tmp, path)
            return str(path)
        except (OSError, cv2.error) as exc:
            self.snapshots_skipped += 1
            logger.warning("snapshot %s not saved: %s", path.name, exc)
            return None

    def save_snapshots(self, event_id: str, ts: float, crop: np.ndarray | None,
                       frame: np.ndarray | None) -> tuple[str | None, str | None]:
        """Write the plate crop and frame JPEGs if enabled and the disk allows; returns their paths."""
        if not self.cfg.snapshots or (crop is None and frame is None):
            return None, None
        if not self.disk_ok():
            self.snapshots_skipped += 1
            return None, None
        day = self.snapshot_dir / dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d")
        crop_path = self._write_jpeg(day / f"{event_id}-plate.jpg", crop) if crop is not None and crop.size else None
        frame_path = None
        if frame is not None and self.cfg.save_frames:
            frame_path = self._write_jpeg(day / f"{event_id}-frame.jpg", frame)
        return crop_path, frame_path

    def record(self, event: dict, crop: np.ndarray | None = None, frame: np.ndarray | None = None) -> dict:
        """Store *event* (keys as :data:`COLUMNS`; ``id``, ``ts`` and ``decision`` required).

        Snapshots are written first (if possible), then the row. Never raises for
        storage problems: a row that cannot be written is kept and retried. ``outbox``:
        ``0`` when the event is still to be published over MQTT, ``None`` (default) when not.
        """
        event = dict(event)
        event.setdefault("time", iso_utc(event["ts"]))
        crop_path, frame_path = self.save_snapshots(event["id"], event["ts"], crop, frame)
        event["crop_path"], event["frame_path"] = crop_path, frame_path
        with self._lock:
            self._backlog.append(event)
            self._flush_locked()
        return event

    def _flush_locked(self) -> None:
        while self._backlog:
            event = self._backlog[0]
            row = [event.get(c) for c in COLUMNS]
            row[COLUMNS.index("candidates")] = json.dumps(event.get("candidates") or [])
            row[COLUMNS.index("extra")] = json.dumps(event.get("extra") or {})
            row[COLUMNS.index("opened")] = int(bool(event.get("opened")))
            outbox = event.get("outbox")
            row.append(1 if outbox is not None and event["id"] in self._queued else outbox)
            try:
                with self._db:
                    self._db.execute(f"INSERT OR IGNORE INTO events ({','.join(COLUMNS)},outbox) "
                                     f"VALUES ({','.join('?' * (len(COLUMNS) + 1))})", row)
            except sqlite3.Error as exc:
                logger.error("journal write failed (%s): %d event(s) held in memory", exc, len(self._backlog))
                return
            self._queued.discard(event["id"])
            self._backlog.popleft()
        self._mark_queued_locked()

    def _mark_queued_locked(self) -> None:
        if not self._queued:
            return
        held = {e["id"] for e in self._backlog}
        ids = [i for i in self._queued if i not in held]
        if not ids:
            return
        try:
            with self._db:
                self._db.executemany("UPDATE events SET outbox = 1 WHERE id = ?", ((i,) for i in ids))
        except sqlite3.Error as exc:
            logger.warning("journal: cannot mark %d event(s) as handed to the outbox yet: %s", len(ids), exc)
            return
        self._queued.difference_update(ids)

    def mark_queued(self, event_id: str) -> None:
        """Note that *event_id* is now in the MQTT outbox (never raises; retried on flush)."""
        with self._lock:
            self._queued.add(event_id)
            self._mark_queued_locked()

    def unqueued(self, limit: int = 100) -> list[dict]:
        """Written events that still have to be handed to the MQTT outbox, oldest first.

        Raises:
            StorageError: the database cannot be read.
        """
        try:
            rows = self._query("SELECT * FROM events WHERE outbox = 0 ORDER BY seq LIMIT ?", (limit + len(self._queued),))
        except sqlite3.Error as exc:
            raise StorageError(f"journal {self.db_path}: cannot read: {exc}") from None
        return [r for r in rows if r["id"] not in self._queued][:limit]

    def flush(self) -> int:
        """Retry held events; returns how many are still held."""
        with self._lock:
            self._flush_locked()
            return len(self._backlog)

    # -- reading ----------------------------------------------------------
    @staticmethod
    def _row(cursor: sqlite3.Cursor, row: tuple) -> dict:
        out = {d[0]: v for d, v in zip(cursor.description, row, strict=True)}
        for key in ("candidates", "extra"):
            if isinstance(out.get(key), str):
                out[key] = json.loads(out[key])
        if "opened" in out:
            out["opened"] = bool(out["opened"])
        if isinstance(out.get("extra"), dict):  # the direction of travel is stored in extra
            out["direction"] = out["extra"].get("direction") or "unknown"
        return out

    def _query(self, sql: str, args: tuple = ()) -> list[dict]:
        with self._lock:
            cur = self._db.execute(sql, args)
            return [self._row(cur, r) for r in cur.fetchall()]

    def recent(self, n: int = 20) -> list[dict]:
        """The last *n* events, newest first."""
        return self._query("SELECT * FROM events ORDER BY seq DESC LIMIT ?", (n,))

    def since(self, seq: int, limit: int = 1000, since_ts: float | None = None) -> list[dict]:
        """Events with ``seq`` greater than *seq* (and ``ts`` at or after *since_ts*), oldest
        first: ``tail -f``, and the pages of an export."""
        return self._query("SELECT * FROM events WHERE seq > ? AND ts >= ? ORDER BY seq LIMIT ?",
                           (seq, since_ts or 0.0, limit))

    def get(self, event_id: str) -> dict | None:
        rows = self._query("SELECT * FROM events WHERE id = ?", (event_id,))
        return rows[0] if rows else None

    def search(self, plate: str = "", since_ts: float | None = None, until_ts: float | None = None,
               decision: str = "", limit: int = 50, offset: int = 0, reasons: tuple[str, ...] = (), *,
               below: float | None = None, unchecked: str | None = None) -> list[dict]:
        """Events newest first, filtered by a (partial) plate, a time range, a decision and
        the reasons (e.g. the openings on request: ``manual_open``, ``relay_test``).

        *plate* is normalised (upper-case alphanumerics) and matched anywhere in the
        read, so ``12C`` finds ``AB12CDE``. *below* keeps reads with a confidence under it.
        *unchecked*, an audit action (:data:`plategate.audit.PLATE_TEXT`), keeps the events
        with a plate crop that have no row of that action in the audit table of the same
        file (a file without that table: every event with a crop).
        """
        where, args = [], []
        text = "".join(c for c in plate.upper() if c.isalnum())
        if text:
            where.append("plate LIKE ?")
            args.append(f"%{text}%")
        if since_ts is not None:
            where.append("ts >= ?")
            args.append(since_ts)
        if until_ts is not None:
            where.append("ts < ?")
            args.append(until_ts)
        if decision:
            where.append("decision = ?")
            args.append(decision)
        if reasons:
            where.append(f"reason IN ({','.join('?' * len(reasons))})")
            args.extend(reasons)
        if below is not None:
            where.append("confidence < ?")
            args.append(float(below))
        page = (int(limit), int(offset))
        if unchecked:
            where.append("crop_path IS NOT NULL AND crop_path != ''")
            try:
                return self._query(_select([*where, _NOT_CHECKED]), (*args, unchecked, *page))
            except sqlite3.OperationalError as exc:
                if "no such table" not in str(exc):
                    raise
        return self._query(_select(where), (*args, *page))

    def count(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM events").fetchone()[0]

    def export(self, out: IO[str], fmt: str = "csv", since_ts: float | None = None) -> int:
        """Write events oldest first as ``csv`` or ``jsonl``; returns the number written."""
        rows = self._query("SELECT * FROM events WHERE ts >= ? ORDER BY seq", (since_ts or 0.0,))
        if fmt == "jsonl":
            for r in rows:
                out.write(json.dumps(r) + "\n")
        elif fmt == "csv":
            writer = csv.DictWriter(out, fieldnames=["seq", *COLUMNS, "direction"], extrasaction="ignore")
            writer.writeheader()
            for r in rows:
                writer.writerow({**r, "candidates": json.dumps(r["candidates"]), "extra": json.dumps(r["extra"])})
        else:
            raise StorageError(f"unknown export format {fmt!r} (csv or jsonl)")
        return len(rows)

    # -- retention --------------------------------------------------------
    def snapshot_usage(self) -> int:
        """Total bytes of snapshot files."""
        return sum(p.stat().st_size for p in self.snapshot_dir.rglob("*.jpg") if p.is_file())

    def enforce_retention(self, now: float | None = None) -> dict:
        """Delete events and snapshots older than ``retention_days``, then the oldest
        snapshots until their total is within ``max_snapshot_mb``. Returns counts."""
        now = time.time() if now is None else now
        cutoff = now - self.cfg.retention_days * 86400
        removed_rows = 0
        with self._lock:
            try:
                with self._db:
                    removed_rows = self._db.execute("DELETE FROM events WHERE ts < ?", (cutoff,)).rowcount
            except sqlite3.Error as exc:
                logger.error("journal retention failed: %s", exc)
        files = sorted((p.stat().st_mtime, p.stat().st_size, p) for p in self.snapshot_dir.rglob("*.jpg"))
        budget = self.cfg.max_snapshot_mb * 1_000_000
        total = sum(size for _, size, _ in files)
        removed_files = 0
        for mtime, size, path in files:
            if mtime >= cutoff and total <= budget:
                break
            try:
                path.unlink()
                removed_files += 1
                total -= size
            except OSError as exc:
                logger.warning("cannot remove snapshot %s: %s", path, exc)
        for day in self.snapshot_dir.iterdir():
            if day.is_dir() and not any(day.iterdir()):
                day.rmdir()
        if removed_rows or removed_files:
            logger.info("retention: removed %d event(s) and %d snapshot(s)", removed_rows, removed_files)
        return {"events": removed_rows, "snapshots": removed_files, "snapshot_bytes": total}

    def close(self) -> None:
        with self._lock:
            self._flush_locked()
            if self._backlog:
                logger.error("journal closing with %d event(s) that could not be written", len(self._backlog))
            self._db.close()
