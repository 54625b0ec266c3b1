"""Journal: events in SQLite, JPEG snapshots, retention, low disk, write failures."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import time

import cv2
import numpy as np
import pytest

from plategate.config import JournalConfig
from plategate.journal import Journal, new_event_id


@pytest.fixture
def journal(tmp_path):
    j = Journal(tmp_path / "j.db", tmp_path / "snaps", JournalConfig(min_free_mb=0))
    yield j
    j.close()


def event(ts=None, plate="AB12CDE", decision="granted"):
    ts = time.time() if ts is None else ts
    return {"id": new_event_id(ts), "ts": ts, "plate": plate, "confidence": 0.97,
            "candidates": [["AB12CDE", 0.97], ["AB12C0E", 0.02]], "decision": decision,
            "reason": "exact_match", "allowlist_version": 3, "latency_ms": 88.0, "opened": True}


def image(w=200, h=50):
    return np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)


def test_record_stores_row_and_decodable_snapshots(journal):
    stored = journal.record(event(), image(), image(640, 360))
    row = journal.get(stored["id"])
    assert row["plate"] == "AB12CDE" and row["candidates"][1] == ["AB12C0E", 0.02] and row["opened"] is True
    assert row["time"].endswith("Z")
    crop = cv2.imread(row["crop_path"])
    assert crop.shape == (50, 200, 3)
    assert cv2.imread(row["frame_path"]).shape == (360, 640, 3)


def test_recent_since_and_export(journal):
    ids = [journal.record(event(plate=f"P{i}"))["id"] for i in range(5)]
    assert [e["id"] for e in journal.recent(3)] == ids[:1:-1]
    assert [e["plate"] for e in journal.since(2)] == ["P2", "P3", "P4"]
    out = io.StringIO()
    assert journal.export(out, "jsonl") == 5
    assert json.loads(out.getvalue().splitlines()[0])["plate"] == "P0"
    out = io.StringIO()
    journal.export(out, "csv")
    assert out.getvalue().splitlines()[0].startswith("seq,id,time")


def test_event_ids_are_unique_and_sortable():
    ids = [new_event_id(1795000000.0 + i / 1000) for i in range(50)]
    assert len(set(ids)) == 50 and ids == sorted(ids)
    assert all("/" not in i and "+" not in i and "#" not in i for i in ids)


def test_retention_by_age_and_by_size(tmp_path):
    j = Journal(tmp_path / "j.db", tmp_path / "snaps", JournalConfig(retention_days=1, max_snapshot_mb=1,
                                                                      min_free_mb=0))
    now = time.time()
    old = j.record(event(ts=now - 3 * 86400), image())
    os.utime(old["crop_path"], (now - 3 * 86400, now - 3 * 86400))
    fresh = [j.record(event(ts=now - i), image(1000, 400)) for i in range(8)]  # > 1 MB of noise JPEGs
    result = j.enforce_retention(now)
    assert j.get(old["id"]) is None and not os.path.exists(old["crop_path"])
    assert result["snapshot_bytes"] <= 1_000_000
    assert j.get(fresh[-1]["id"]) is not None  # rows are kept, only snapshot files go
    assert os.path.exists(fresh[-1]["crop_path"])  # the newest snapshot file survives
    assert not os.path.exists(fresh[0]["crop_path"])  # the oldest went to meet the size budget
    j.close()


def test_low_disk_stops_snapshots_but_not_events(tmp_path, caplog):
    j = Journal(tmp_path / "j.db", tmp_path / "snaps", JournalConfig(min_free_mb=10**12))  # never enough room
    stored = j.record(event(), image(), image())
    assert stored["crop_path"] is None and j.snapshots_skipped == 1
    assert j.get(stored["id"]) is not None
    assert "snapshots stop" in caplog.text
    j.close()


def test_unwritable_database_holds_events_and_writes_them_later(tmp_path, caplog):
    j = Journal(tmp_path / "j.db", tmp_path / "snaps", JournalConfig(min_free_mb=0))
    blocker = sqlite3.connect(tmp_path / "j.db", timeout=0)
    blocker.execute("BEGIN EXCLUSIVE")  # another writer holds the database: writes fail
    j._db.execute("PRAGMA busy_timeout = 50")
    stored = j.record(event())
    assert "held in memory" in caplog.text
    assert j.flush() == 1
    blocker.rollback()
    blocker.close()
    assert j.flush() == 0
    assert j.get(stored["id"]) is not None
    j.close()
