"""plategate.db: databases opened alike, and a file that is not one named in the error."""

from __future__ import annotations

import pytest

from plategate.db import open_with_schema
from plategate.errors import StorageError

SCHEMA = "CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY);"


def test_schema_is_created_once_and_data_kept(tmp_path):
    db = open_with_schema(tmp_path / "sub" / "x.db", SCHEMA, "test database")
    with db:
        db.execute("INSERT INTO t VALUES ('a')")
    db.close()
    db = open_with_schema(tmp_path / "sub" / "x.db", SCHEMA, "test database")
    assert db.execute("SELECT k FROM t").fetchall() == [("a",)]
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def test_not_a_database_is_named(tmp_path):
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not a database, just text " * 100)
    with pytest.raises(StorageError, match=r"test database .*bad\.db: cannot open"):
        open_with_schema(bad, SCHEMA, "test database")
