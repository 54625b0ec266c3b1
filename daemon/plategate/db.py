"""Opening the SQLite databases (journal, allowlist store, MQTT outbox) the same way."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from .errors import StorageError


def open_sqlite(path: Path, *, synchronous: str = "NORMAL", autocommit: bool = False,
                timeout: float = 10.0) -> sqlite3.Connection:
    """Open *path* (creating its folder) in WAL mode, shareable between threads.

    Args:
        synchronous: ``NORMAL`` (journal) or ``FULL`` (stores that must survive a power cut
            with every committed transaction).
        autocommit: ``isolation_level=None``: the caller issues BEGIN/COMMIT itself.

    Raises:
        sqlite3.Error: the file is not a database or cannot be opened.
        OSError: the folder cannot be created.
    """
    if synchronous not in ("OFF", "NORMAL", "FULL", "EXTRA"):
        raise ValueError(f"unknown synchronous mode {synchronous!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    kwargs = {"isolation_level": None} if autocommit else {}
    db = sqlite3.connect(str(path), check_same_thread=False, timeout=timeout, **kwargs)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA synchronous={synchronous}")
    return db


def open_with_schema(path: Path, schema: str, what: str, **kwargs) -> sqlite3.Connection:
    """:func:`open_sqlite` (``synchronous=FULL`` unless given), then run *schema* (``CREATE ... IF NOT EXISTS``).

    Raises:
        StorageError: the file cannot be opened as a database; the message names *what* it is.
    """
    kwargs.setdefault("synchronous", "FULL")
    try:
        db = open_sqlite(path, **kwargs)
        db.executescript(schema)
    except (sqlite3.Error, OSError) as exc:
        raise StorageError(f"{what} {path}: cannot open: {exc}") from None
    return db
