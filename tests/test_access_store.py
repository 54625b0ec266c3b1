"""The SQLite allowlist store: atomic apply (also under kill -9), hashes, CSV/JSON import/export."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from plategate.access.entry import content_hash, make_entry
from plategate.access.store import AllowlistStore
from plategate.errors import AccessError

ENTRIES = [make_entry("AB123CD", "Unit 1"), make_entry("XY99", "Unit 2", windows="Mon-Fri 07:00-19:00"),
           make_entry("BAD1", "stolen", "block")]


@pytest.fixture
def store(tmp_path):
    s = AllowlistStore(tmp_path / "access.db")
    yield s
    s.close()


def test_replace_all_persists_version_hash_and_entries(tmp_path, store):
    store.replace_all(ENTRIES, version=4, origin="site")
    assert store.version == 4 and store.count() == 3
    assert store.content_hash() == content_hash(ENTRIES)
    store.close()
    again = AllowlistStore(tmp_path / "access.db")
    assert again.version == 4
    assert again.entries() == sorted(ENTRIES, key=lambda e: e.plate)
    assert again.content_hash() == content_hash(ENTRIES)
    assert again.state()["origin"] == "site"
    again.close()


def test_hash_is_order_independent_and_incremental(store):
    store.replace_all(ENTRIES[:1], version=1)
    store.apply_delta(ENTRIES[1:], [], version=2)
    assert store.content_hash() == content_hash(list(reversed(ENTRIES)))
    store.apply_delta([], ["XY99"], version=3)
    assert store.content_hash() == content_hash([ENTRIES[0], ENTRIES[2]])
    replaced = make_entry("AB123CD", "Unit 1b")
    store.apply_delta([replaced], [], version=4)
    assert store.get("AB123CD").label == "Unit 1b"
    assert store.content_hash() == content_hash([replaced, ENTRIES[2]])


def test_delta_with_wrong_expected_hash_changes_nothing(store):
    store.replace_all(ENTRIES, version=1)
    before = (store.version, store.content_hash(), store.entries())
    with pytest.raises(AccessError, match="hash mismatch"):
        store.apply_delta([make_entry("NEW1")], ["AB123CD"], version=2, expected_hash="0" * 64)
    assert (store.version, store.content_hash(), store.entries()) == before


def test_local_add_remove_keep_version(store):
    store.replace_all(ENTRIES, version=7, origin="site")
    store.add(make_entry("ne-w 1", "visitor"))
    assert store.get("NEW1").label == "visitor" and store.version == 7
    assert store.remove("new1") is True
    assert store.remove("NOPE") is False
    assert store.content_hash() == content_hash(ENTRIES)


def test_change_listener_sees_new_index(store):
    seen = []
    store.on_change(lambda idx: seen.append((idx.version, len(idx.by_plate))))
    store.replace_all(ENTRIES, version=2)
    assert seen == [(2, 3)]


def test_csv_roundtrip_and_header_optional(tmp_path, store):
    src = tmp_path / "list.csv"
    src.write_text("# residents\nAB-123 CD,Unit 1\n\nbad1,stolen,block\nWK1,Cleaner,allow,2026-01-01,,Mon-Fri 07:00-19:00;Sat 08:00-12:00\n")
    assert store.import_csv(src) == 3
    assert store.get("AB123CD").label == "Unit 1"
    assert store.get("BAD1").kind.value == "block"
    assert len(store.get("WK1").windows) == 2
    out = tmp_path / "out.csv"
    store.export_csv(out)
    other = AllowlistStore(tmp_path / "other.db")
    other.import_csv(out)
    assert other.content_hash() == store.content_hash()
    js = tmp_path / "out.json"
    store.export_json(js)
    doc = json.loads(js.read_text())
    assert doc["hash"] == store.content_hash() and len(doc["entries"]) == 3
    other.replace_all([])
    other.import_json(js)
    assert other.content_hash() == store.content_hash()
    other.close()


@pytest.mark.parametrize("text,problem", [
    ("AB1,x\nAB-1,y\n", "list.csv:2: plate AB1 already listed on line 1"),
    ("AB1,x,maybe\n", "list.csv:1: kind"),
    ("---,x\n", "list.csv:1: plate"),
    ("AB1,x,allow,soon\n", "list.csv:1: valid_from"),
    ("AB1,x,allow,,,Mon 9-10\n", "list.csv:1: windows"),
    ("plate,colour\nAB1,red\n", "unknown column"),
    ("AB1,x,allow,,,,extra\n", "7 columns"),
])
def test_bad_csv_names_file_and_line_and_changes_nothing(tmp_path, store, text, problem):
    store.replace_all(ENTRIES, version=1)
    before = store.content_hash()
    src = tmp_path / "list.csv"
    src.write_text(text)
    with pytest.raises(AccessError) as err:
        store.import_csv(src)
    assert problem in str(err.value)
    assert store.content_hash() == before


def test_bad_json_and_unreadable_files(tmp_path, store):
    bad = tmp_path / "l.json"
    bad.write_text('{"entries": [{"plate": "AB1", "colour": "red"}]}')
    with pytest.raises(AccessError, match=r"entries\[0\]: entry has unknown keys: colour"):
        store.import_json(bad)
    bad.write_text("{not json")
    with pytest.raises(AccessError, match="not valid JSON"):
        store.import_json(bad)
    with pytest.raises(AccessError, match="cannot read"):
        store.import_csv(tmp_path / "missing.csv")
    binary = tmp_path / "bin.csv"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(AccessError, match="not UTF-8"):
        store.import_csv(binary)


_WRITER = r"""
import sys
from plategate.access.entry import make_entry
from plategate.access.store import AllowlistStore
store = AllowlistStore(sys.argv[1])
a = [make_entry(f"A{i:06d}", "a") for i in range(20000)]
b = [make_entry(f"B{i:06d}", "b") for i in range(20000)]
v = store.version + 1
store.replace_all(a if v % 2 else b, version=v)
print("ready", flush=True)
while True:
    v += 1
    if v % 2:
        store.replace_all(a, version=v)
    else:
        store.apply_delta(b, [e.plate for e in a], version=v)
"""


def test_kill_9_during_apply_leaves_old_or_new_list(tmp_path):
    db = tmp_path / "access.db"
    versions = set()
    for delay in (0.4, 0.9, 1.5):
        proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(db)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        store = AllowlistStore(db)
        plates = {e.plate for e in store.entries()}
        v = store.version
        versions.add(v)
        prefix = "A" if v % 2 else "B"
        assert len(plates) == 20000 and all(p.startswith(prefix) for p in plates), f"mixed list at version {v}"
        assert store.meta("hash") == store.content_hash() == content_hash(store.entries())
        store.close()
    assert len(versions) >= 2, "the writer made no progress between kills; the test proved nothing"


def test_unusable_paths_are_storage_errors(tmp_path):
    from plategate.errors import StorageError

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StorageError, match="cannot open allowlist store"):
        AllowlistStore(blocker / "access.db")
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StorageError, match="garbage.db"):
        AllowlistStore(garbage)
