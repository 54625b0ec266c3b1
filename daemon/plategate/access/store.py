"""The allowlist store: SQLite on disk, an immutable index in memory.

Every change (a full snapshot, a delta, a local add or remove, an import) is one SQLite
transaction that also updates the version and the content hash in the ``meta`` table, so a
``kill -9`` or a power cut leaves either the old list or the new one, never a mix (WAL mode,
``synchronous=FULL``). After the commit a new :class:`~.index.AllowlistIndex` is swapped in
for the decision thread.

Each row also records where the entry came from (column ``source``, not part of the content
hash): ``site`` (signed sync), ``file`` (``access.allowlist_file``, see :meth:`sync_file`) or
``local`` (``platectl allowlist add`` / ``import``, the control socket). Rows from before
the column existed have none and count as ``file`` rows.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from ..db import open_sqlite
from ..errors import AccessError, StorageError
from .entry import Entry, EntryKind, content_hash, hash_add, hash_hex, hash_sub
from .index import AllowlistIndex
from .schedule import parse_window

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    plate TEXT PRIMARY KEY,
    label TEXT NOT NULL,
    kind TEXT NOT NULL,
    valid_from TEXT,
    valid_until TEXT,
    windows TEXT NOT NULL,
    digest TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
_COLUMNS = "plate, label, kind, valid_from, valid_until, windows, digest, source"
SOURCES = ("site", "file", "local")
_EMPTY_HASH = hash_hex(0)


def _source(origin: str) -> str:
    return origin if origin in SOURCES else "local"


def _row(entry: Entry, source: str) -> tuple:
    return (
        entry.plate,
        entry.label,
        entry.kind.value,
        entry.valid_from,
        entry.valid_until,
        ";".join(w.text() for w in entry.windows),
        f"{entry.digest():064x}",
        source,
    )


class AllowlistStore:
    """SQLite-backed allowlist with atomic apply and an in-memory index.

    Args:
        path: the database file (created with its folder if missing).

    Raises:
        StorageError: the database cannot be opened or is not an allowlist store.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._listeners: list[Callable[[AllowlistIndex], None]] = []
        try:
            self._db = open_sqlite(self.path, synchronous="FULL", autocommit=True)
            self._db.executescript(_SCHEMA)
            if "source" not in {row[1] for row in self._db.execute("PRAGMA table_info(entries)")}:
                self._db.execute("ALTER TABLE entries ADD COLUMN source TEXT")
            self._index = self._load()
        except (sqlite3.Error, OSError) as exc:
            raise StorageError(f"{self.path}: cannot open allowlist store: {exc}") from None
        except (KeyError, ValueError, AccessError) as exc:
            raise StorageError(f"{self.path}: allowlist store holds a corrupt row: {exc}") from None

    # Reading -------------------------------------------------------------------------
    @property
    def index(self) -> AllowlistIndex:
        """The current immutable index (safe to use from any thread)."""
        return self._index

    @property
    def version(self) -> int:
        return self._index.version

    def count(self) -> int:
        return len(self._index.by_plate)

    def content_hash(self) -> str:
        return self._index.hash

    def entries(self) -> list[Entry]:
        """All entries sorted by plate."""
        return [self._index.by_plate[p] for p in sorted(self._index.by_plate)]

    def get(self, plate: str) -> Entry | None:
        return self._index.by_plate.get(plate)

    def meta(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def state(self) -> dict:
        """Applied version, entry count and content hash (the ``allowlist/state`` payload core)."""
        idx = self._index
        return {"version": idx.version, "count": len(idx.by_plate), "hash": idx.hash, "origin": self.meta("origin") or "local"}

    def on_change(self, fn: Callable[[AllowlistIndex], None]) -> None:
        """Call *fn(index)* after every committed change."""
        self._listeners.append(fn)

    def _load(self) -> AllowlistIndex:
        windows_cache: dict[str, tuple] = {"": ()}
        kinds = {k.value: k for k in EntryKind}
        entries = []
        total = 0
        for plate, label, kind, vf, vu, windows, digest in self._db.execute(
            "SELECT plate, label, kind, valid_from, valid_until, windows, digest FROM entries"
        ):
            w = windows_cache.get(windows)
            if w is None:
                w = windows_cache[windows] = tuple(parse_window(t) for t in windows.split(";"))
            d = int(digest, 16)
            entries.append(Entry(plate, label, kinds[kind], vf, vu, w, d))
            total += d
        meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        computed = hash_hex(total)
        stored = meta.get("hash", _EMPTY_HASH)
        if stored != computed:
            logger.warning("%s: stored content hash %s does not match the entries (%s); using the entries", self.path, stored, computed)
        return AllowlistIndex.build(int(meta.get("version", "0")), computed, entries)

    # Writing -------------------------------------------------------------------------
    def _commit(self, work: Callable[[sqlite3.Connection], AllowlistIndex]) -> AllowlistIndex:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    new_index = work(self._db)
                    self._db.execute(
                        "INSERT OR REPLACE INTO meta(key, value) VALUES ('version', ?), ('hash', ?), ('updated_at', ?)",
                        (str(new_index.version), new_index.hash, str(time.time())),
                    )
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise StorageError(f"{self.path}: cannot write allowlist: {exc}") from None
            self._index = new_index
        for fn in list(self._listeners):
            try:
                fn(new_index)
            except Exception:
                logger.exception("allowlist change listener failed")
        return new_index

    def replace_all(self, entries: Iterable[Entry], version: int | None = None, origin: str = "local",
                    expected_hash: str | None = None) -> AllowlistIndex:
        """Replace the whole list atomically.

        Args:
            entries: the new entries (duplicate plates: the last one wins).
            version: the new version; ``None`` keeps the current one.
            origin: ``"site"`` for a signed snapshot, ``"file"`` for the allowlist file, anything
                else (``"local"``, ``"platectl"``) for imports and edits: the rows' source.
            expected_hash: if given, the content hash the new list must have.

        Raises:
            AccessError: *expected_hash* does not match (nothing is changed).
            StorageError: the database cannot be written.
        """
        unique = {e.plate: e for e in entries}
        new_hash = content_hash(unique.values())
        if expected_hash is not None and expected_hash != new_hash:
            raise AccessError(f"content hash mismatch: list hashes to {new_hash}, expected {expected_hash}")
        new_version = self.version if version is None else int(version)

        def work(db: sqlite3.Connection) -> AllowlistIndex:
            db.execute("DELETE FROM entries")
            db.executemany(f"INSERT INTO entries ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?)",
                           (_row(e, _source(origin)) for e in unique.values()))
            db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('origin', ?)", (origin,))
            return AllowlistIndex.build(new_version, new_hash, unique.values())

        idx = self._commit(work)
        logger.info("allowlist replaced: version %s, %d entries, origin %s", idx.version, len(idx.by_plate), origin)
        return idx

    def apply_delta(self, add: Iterable[Entry], remove: Iterable[str], version: int | None = None,
                    origin: str = "site", expected_hash: str | None = None) -> AllowlistIndex:
        """Remove plates, then upsert entries, atomically.

        Raises:
            AccessError: the result's content hash differs from *expected_hash* (nothing changed).
            StorageError: the database cannot be written.
        """
        add = list(add)
        remove = list(remove)
        cur = self._index
        new_hash = cur.hash
        present = set(cur.by_plate)
        for plate in remove:
            if plate in present:
                new_hash = hash_sub(new_hash, cur.by_plate[plate].digest())
                present.discard(plate)
        upserts: dict[str, Entry] = {}
        for entry in add:
            upserts[entry.plate] = entry
        for plate, entry in upserts.items():
            if plate in present:
                new_hash = hash_sub(new_hash, cur.by_plate[plate].digest())
            new_hash = hash_add(new_hash, entry.digest())
        if expected_hash is not None and expected_hash != new_hash:
            raise AccessError(f"content hash mismatch after delta: got {new_hash}, expected {expected_hash}")
        new_version = cur.version if version is None else int(version)

        def work(db: sqlite3.Connection) -> AllowlistIndex:
            db.executemany("DELETE FROM entries WHERE plate=?", ((p,) for p in remove))
            db.executemany(f"INSERT OR REPLACE INTO entries ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?)",
                           (_row(e, _source(origin)) for e in upserts.values()))
            db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('origin', ?)", (origin,))
            return cur.updated(new_version, new_hash, upserts.values(), remove)

        idx = self._commit(work)
        logger.info("allowlist delta applied: version %s, +%d -%d, %d entries", idx.version, len(upserts), len(remove), len(idx.by_plate))
        return idx

    def add(self, entry: Entry) -> AllowlistIndex:
        """Add or replace one entry locally (version unchanged).

        Raises:
            StorageError: the database cannot be written.
        """
        return self.apply_delta([entry], [], origin="local")

    def remove(self, plate: str) -> bool:
        """Remove one plate locally; returns whether it was present.

        Raises:
            StorageError: the database cannot be written.
        """
        from ..types import normalise_plate

        norm = normalise_plate(plate)
        if norm not in self._index.by_plate:
            return False
        self.apply_delta([], [norm], origin="local")
        return True

    def sources(self) -> dict[str, str]:
        """plate -> where its entry came from (``site``, ``file`` or ``local``)."""
        with self._lock:
            rows = self._db.execute("SELECT plate, COALESCE(source, 'file') FROM entries").fetchall()
        return dict(rows)

    def source_of(self, plate: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT COALESCE(source, 'file') FROM entries WHERE plate=?", (plate,)).fetchone()
        return row[0] if row else None

    def sync_file(self, entries: Iterable[Entry]) -> dict:
        """Make the ``file`` entries equal to *entries* (the allowlist file), atomically.

        File entries no longer in the file are removed; a plate that has a ``local`` (or
        ``site``) entry keeps it: a local edit outlives the file until removed. Returns counts
        ``{"file": n, "added": ..., "updated": ..., "removed": ..., "local_kept": ...}``.

        Raises:
            StorageError: the database cannot be written.
        """
        wanted = {e.plate: e for e in entries}
        current = self._index.by_plate
        sources = self.sources()
        kept = {p for p, src in sources.items() if src != "file"}
        remove = [p for p, src in sources.items() if src == "file" and p not in wanted]
        add = [e for p, e in wanted.items() if p not in kept and current.get(p) != e]
        counts = {"file": len(wanted), "added": sum(p not in current for p in (e.plate for e in add)),
                  "updated": sum(p in current for p in (e.plate for e in add)), "removed": len(remove),
                  "local_kept": len(kept & set(wanted))}
        if add or remove:
            self.apply_delta(add, remove, origin="file")
        return counts

    # Import / export -----------------------------------------------------------------
    def import_csv(self, path: str | Path, replace: bool = True) -> int:
        """Load entries from a CSV file (see :mod:`.io`); returns how many were read.

        Raises:
            AccessError: the file is malformed (message names file and line); nothing changes.
        """
        from .io import read_csv

        entries = read_csv(path)
        self._import(entries, replace)
        return len(entries)

    def import_json(self, path: str | Path, replace: bool = True) -> int:
        """Load entries from a JSON file (see :mod:`.io`); returns how many were read.

        Raises:
            AccessError: the file is malformed; nothing changes.
        """
        from .io import read_json

        entries = read_json(path)
        self._import(entries, replace)
        return len(entries)

    def _import(self, entries: list[Entry], replace: bool) -> None:
        if replace:
            self.replace_all(entries, origin="local")
        else:
            self.apply_delta(entries, [], origin="local")

    def export_csv(self, path: str | Path) -> int:
        from .io import write_csv

        return write_csv(path, self.entries())

    def export_json(self, path: str | Path) -> int:
        from .io import write_json

        return write_json(path, self.entries(), version=self.version, hash_hex=self.content_hash())

    def close(self) -> None:
        with self._lock:
            self._db.close()
