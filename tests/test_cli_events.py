"""platectl events: tail / show / export through the daemon and on the journal file (read-only)."""

from __future__ import annotations

import csv
import json
import os
import threading
import time

import pytest
from cli_support import FakeDaemon, add_events, cleanup, short_dir, write_config

from plategate.cli.main import main
from plategate.config import JournalConfig
from plategate.journal import Journal


@pytest.fixture
def root(monkeypatch):
    path = short_dir()
    monkeypatch.setenv("PLATEGATE_CONFIG", str(write_config(path)))
    yield path
    cleanup(path)


@pytest.fixture
def journal(root):
    state = root / "state"
    j = Journal(state / "journal.db", state / "snapshots", JournalConfig())
    yield j
    j.close()


PLATES = [("AB123CD", "granted"), ("XY987ZT", "denied"), ("KL555MN", "unknown")]


def test_offline_tail_show_export(root, journal, capsys):
    events = add_events(journal, PLATES, start=1_700_000_000.0)
    before = os.stat(root / "state" / "journal.db").st_mtime_ns
    assert main(["events", "tail", "-n", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:4] == ["TIME", "PLATE", "DECISION", "REASON"]
    assert [line.split()[2] for line in out[1:]] == ["XY987ZT", "KL555MN"]  # oldest first, local time 2 words
    assert main(["events", "tail", "--json"]) == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [r["plate"] for r in rows] == ["AB123CD", "XY987ZT", "KL555MN"]
    assert rows[0]["candidates"] == [["AB123CD", 0.9]] and rows[0]["opened"] is True

    assert main(["events", "show", events[1]["id"]]) == 0
    out = capsys.readouterr().out
    assert "XY987ZT" in out and "denied" in out and "not_listed" in out
    assert main(["events", "show", "no-such-id"]) == 1
    assert capsys.readouterr().err.strip() == "platectl: error: no event with id 'no-such-id'"

    target = root / "out.csv"
    assert main(["events", "export", "-o", str(target), "--since", "2023-11-14T22:13:21+00:00"]) == 0
    with target.open() as fh:
        exported = list(csv.DictReader(fh))
    assert [r["plate"] for r in exported] == ["XY987ZT", "KL555MN"]  # the first is one second earlier
    assert json.loads(exported[0]["candidates"]) == [["XY987ZT", 0.9]]
    assert main(["events", "export", "--format", "json"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3
    assert main(["events", "export", "--since", "yesterday"]) == 2
    assert "--since: not an ISO 8601" in capsys.readouterr().err
    # read-only: nothing was written to the journal
    assert os.stat(root / "state" / "journal.db").st_mtime_ns == before


def test_offline_without_journal(root, capsys):
    assert main(["events", "tail"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"platectl: error: no event journal at {root}/state/journal.db")
    assert not (root / "state" / "journal.db").exists()  # not created by reading


def test_tail_follow_prints_new_events(root, journal, capsys):
    add_events(journal, PLATES[:1])

    def later():
        time.sleep(0.3)
        add_events(journal, [("NEW0001", "granted")], start=time.time())

    t = threading.Thread(target=later)
    t.start()
    assert main(["events", "tail", "-f", "--interval", "0.2", "--max-polls", "5"]) == 0
    t.join()
    out = capsys.readouterr().out.splitlines()
    assert "AB123CD" in out[1] and "NEW0001" in out[-1]
    assert sum("NEW0001" in line for line in out) == 1


def test_through_daemon(root, capsys):
    with FakeDaemon(root) as daemon:
        events = add_events(daemon.journal, PLATES)
        assert main(["events", "tail", "--json", "-n", "5"]) == 0
        assert [json.loads(x)["plate"] for x in capsys.readouterr().out.splitlines()] == [p for p, _ in PLATES]
        assert main(["events", "show", "--json", events[0]["id"]]) == 0
        assert json.loads(capsys.readouterr().out)["plate"] == "AB123CD"
        assert main(["events", "show", "nope"]) == 1
        assert "no event with id 'nope'" in capsys.readouterr().err
        assert main(["events", "export", "--format", "json"]) == 0
        assert len(capsys.readouterr().out.splitlines()) == 3
