"""The site's master allow/blocklist in SQLite, and the versions published from it.

The list is edited freely (add, edit, remove, import); publishing freezes it as the next
version: the entries of every published version are kept (the last few), so that a delta
from the version before can always be signed, and the newest snapshot re-signed for a
gate that asks.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from ..access.entry import Entry, content_hash, entry_from_dict, make_entry
from ..db import open_with_schema
from ..errors import AccessError
from ..types import normalise_plate

KEEP_VERSIONS = 20
EDITABLE = ("label", "kind", "valid_from", "valid_until", "windows")

SCHEMA = """
CREATE TABLE IF NOT EXISTS master (plate TEXT PRIMARY KEY, entry TEXT NOT NULL, changed REAL NOT NULL);
CREATE TABLE IF NOT EXISTS published (version INTEGER PRIMARY KEY, hash TEXT NOT NULL, count INTEGER NOT NULL,
                                      entries TEXT NOT NULL, time REAL NOT NULL);
"""


class MasterList:
    """The master list and its published versions (thread-safe, several processes may share the file).

    Args:
        path: the site database.

    Raises:
        StorageError: the file cannot be opened as a database.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._db = open_with_schema(self.path, SCHEMA, "site database", autocommit=True)
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    # Reading --------------------------------------------------------------------------
    def entries(self) -> list[Entry]:
        """Every entry, by plate."""
        with self._lock:
            rows = self._db.execute("SELECT entry FROM master ORDER BY plate").fetchall()
        return [entry_from_dict(json.loads(r[0])) for r in rows]

    def get(self, plate: str) -> Entry | None:
        with self._lock:
            row = self._db.execute("SELECT entry FROM master WHERE plate = ?", (normalise_plate(plate),)).fetchone()
        return entry_from_dict(json.loads(row[0])) if row else None

    def content_hash(self) -> str:
        return content_hash(self.entries())

    def latest(self) -> tuple[int, str, list[Entry]] | None:
        """``(version, hash, entries)`` of the newest published version, or None."""
        with self._lock:
            row = self._db.execute("SELECT version, hash, entries FROM published ORDER BY version DESC LIMIT 1").fetchone()
        if row is None:
            return None
        return row[0], row[1], [entry_from_dict(e) for e in json.loads(row[2])]

    def published_version(self) -> int:
        latest = self.latest()
        return latest[0] if latest else 0

    def dirty(self) -> bool:
        """Whether the list differs from the newest published version (or nothing was published)."""
        latest = self.latest()
        return latest is None or latest[1] != self.content_hash()

    # Editing --------------------------------------------------------------------------
    def _put(self, entry: Entry) -> None:
        self._db.execute("INSERT OR REPLACE INTO master (plate, entry, changed) VALUES (?, ?, ?)",
                         (entry.plate, json.dumps(entry.to_dict()), time.time()))

    def add(self, entry: Entry) -> Entry:
        """Add a new plate.

        Raises:
            AccessError: the plate is already on the list (use :meth:`edit`).
        """
        with self._lock:
            if self._db.execute("SELECT 1 FROM master WHERE plate = ?", (entry.plate,)).fetchone():
                raise AccessError(f"{entry.plate} is already on the list (edit it instead)")
            self._put(entry)
        return entry

    def edit(self, plate: str, **changes) -> Entry:
        """Change fields of an entry (``label``, ``kind``, ``valid_from``, ``valid_until``, ``windows``).

        Raises:
            AccessError: no such plate, an unknown field, or a value the entry does not accept.
        """
        unknown = set(changes) - set(EDITABLE)
        if unknown:
            raise AccessError(f"cannot edit {', '.join(sorted(unknown))} (editable: {', '.join(EDITABLE)})")
        current = self.get(plate)
        if current is None:
            raise AccessError(f"{normalise_plate(plate) or repr(plate)} is not on the list")
        data = {**current.to_dict(), **{k: v for k, v in changes.items() if v is not None}}
        updated = entry_from_dict(data)
        with self._lock:
            self._put(updated)
        return updated

    def remove(self, plate: str) -> bool:
        """Remove a plate; False if it was not on the list."""
        with self._lock:
            return self._db.execute("DELETE FROM master WHERE plate = ?", (normalise_plate(plate),)).rowcount > 0

    def import_entries(self, entries: list[Entry], replace_all: bool = False) -> dict:
        """Add or update *entries* (one transaction); with *replace_all*, plates not in them are removed.

        Raises:
            AccessError: a plate appears twice in *entries*.
        """
        plates = [e.plate for e in entries]
        if len(set(plates)) != len(plates):
            dupes = sorted({p for p in plates if plates.count(p) > 1})
            raise AccessError(f"the import lists {', '.join(dupes[:5])} more than once")
        with self._lock:
            before = {r[0] for r in self._db.execute("SELECT plate FROM master")}
            self._db.execute("BEGIN IMMEDIATE")
            try:
                if replace_all:
                    self._db.execute("DELETE FROM master")
                for entry in entries:
                    self._put(entry)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        removed = len(before - set(plates)) if replace_all else 0
        return {"added": len(set(plates) - before), "updated": len(set(plates) & before), "removed": removed}

    # Publishing -----------------------------------------------------------------------
    def freeze(self) -> tuple[int, str, list[Entry], tuple[int, list[Entry]] | None]:
        """Record the current list as the next version, unless it equals the newest one.

        Returns:
            ``(version, hash, entries, previous)`` where *previous* is ``(version, entries)`` of the
            version before (None for the first), so the caller can sign a delta and a snapshot.
        """
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                rows = self._db.execute("SELECT entry FROM master ORDER BY plate").fetchall()
                entries = [entry_from_dict(json.loads(r[0])) for r in rows]
                digest = content_hash(entries)
                last = self._db.execute("SELECT version, hash, entries FROM published ORDER BY version DESC LIMIT 1").fetchone()
                previous = (last[0], [entry_from_dict(e) for e in json.loads(last[2])]) if last else None
                if last is not None and last[1] == digest:
                    self._db.execute("COMMIT")
                    return last[0], digest, entries, None
                version = (last[0] if last else 0) + 1
                self._db.execute("INSERT INTO published (version, hash, count, entries, time) VALUES (?, ?, ?, ?, ?)",
                                 (version, digest, len(entries), json.dumps([e.to_dict() for e in entries]), time.time()))
                self._db.execute("DELETE FROM published WHERE version <= ?", (version - KEEP_VERSIONS,))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return version, digest, entries, previous


def entry_from_options(plate: str, label: str = "", kind: str = "allow", valid_from: str | None = None,
                       valid_until: str | None = None, windows: list[str] | None = None) -> Entry:
    """An entry from command-line values.

    Raises:
        AccessError: a value is not accepted (names the field).
    """
    return make_entry(plate, label, kind=kind, valid_from=valid_from, valid_until=valid_until, windows=windows or ())

