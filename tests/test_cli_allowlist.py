"""platectl allowlist: on the store file without a daemon, through the daemon when it runs."""

from __future__ import annotations

import json
import os

import pytest
from cli_support import FakeDaemon, cleanup, short_dir, write_config

from plategate.access.store import AllowlistStore
from plategate.cli.main import main


@pytest.fixture
def root(monkeypatch):
    path = short_dir()
    monkeypatch.setenv("PLATEGATE_CONFIG", str(write_config(path)))
    yield path
    cleanup(path)


def plates_in(root) -> list[str]:
    store = AllowlistStore(root / "state" / "access.db")
    try:
        return [e.plate for e in store.entries()]
    finally:
        store.close()


def test_offline_add_list_remove_export_import(root, capsys):
    assert main(["allowlist", "add", "ab-123 cd", "--label", "Flat 4"]) == 0
    assert capsys.readouterr().out.strip() == f"added AB123CD (allow, Flat 4) via store {root}/state/access.db"
    assert main(["allowlist", "add", "XY987ZT", "--block", "--window", "Mon-Fri 07:00-19:00",
                 "--valid-until", "2030-01-01"]) == 0
    capsys.readouterr()
    assert main(["allowlist", "list"]) == 0
    out = capsys.readouterr().out
    assert "AB123CD" in out and "Flat 4" in out and "XY987ZT" in out and "block" in out and "Mon,Tue,Wed,Thu,Fri 07:00-19:00" in out
    assert main(["allowlist", "list", "--json", "--kind", "block"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [e["plate"] for e in data["entries"]] == ["XY987ZT"] and data["count"] == 2

    export = root / "list.csv"
    assert main(["allowlist", "export", "-o", str(export)]) == 0
    assert export.read_text().splitlines()[0] == "plate,label,kind,valid_from,valid_until,windows"

    assert main(["allowlist", "remove", "AB123CD"]) == 0
    assert plates_in(root) == ["XY987ZT"]
    assert main(["allowlist", "remove", "AB123CD"]) == 1
    assert capsys.readouterr().err.strip().endswith("platectl: error: AB123CD is not on the allowlist")

    assert main(["allowlist", "import", str(export)]) == 0
    assert plates_in(root) == ["AB123CD", "XY987ZT"]
    other = root / "more.json"
    other.write_text(json.dumps([{"plate": "NEW1", "label": "visitor"}]))
    assert main(["allowlist", "import", "--merge", str(other)]) == 0
    assert plates_in(root) == ["AB123CD", "NEW1", "XY987ZT"]


def test_bad_input_changes_nothing(root, capsys):
    assert main(["allowlist", "add", "AB123CD"]) == 0
    bad = root / "bad.csv"
    bad.write_text("plate,label\nGOOD1,ok\n,no plate\n")
    assert main(["allowlist", "import", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "bad.csv:3" in err and "Traceback" not in err
    assert plates_in(root) == ["AB123CD"]
    assert main(["allowlist", "add", "!!!"]) == 1
    assert "has no letters or digits" in capsys.readouterr().err
    assert main(["allowlist", "add", "AB1", "--window", "Someday 25:00-26:00"]) == 1
    assert "windows:" in capsys.readouterr().err
    assert main(["allowlist", "import", str(root / "missing.csv")]) == 1
    assert "cannot read" in capsys.readouterr().err


def test_through_daemon(root, capsys):
    with FakeDaemon(root) as daemon:
        assert main(["allowlist", "add", "DAEMON1", "--label", "via socket"]) == 0
        assert capsys.readouterr().out.strip().endswith("via daemon")
        assert daemon.store.get("DAEMON1").label == "via socket"
        assert main(["allowlist", "list", "--json"]) == 0
        assert [e["plate"] for e in json.loads(capsys.readouterr().out)["entries"]] == ["DAEMON1"]
        src = root / "in.csv"
        src.write_text("A1\nB2,second\n")
        assert main(["allowlist", "import", str(src)]) == 0
        assert [e.plate for e in daemon.store.entries()] == ["A1", "B2"]
        assert main(["allowlist", "remove", "A1"]) == 0
        assert main(["allowlist", "remove", "A1"]) == 1
        assert [e.plate for e in daemon.store.entries()] == ["B2"]
        capsys.readouterr()
        assert main(["allowlist", "export", "--format", "json"]) == 0
        out = capsys.readouterr().out
        assert json.loads(out)["entries"][0]["plate"] == "B2"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_offline_edit_as_root_keeps_files_owned_by_the_service_user(root, capsys):
    state = root / "state"
    state.mkdir()
    os.chown(state, 65534, 65534)  # as /var/lib/plategate belongs to the plategate user
    assert main(["allowlist", "add", "OWN1"]) == 0
    files = [p for p in state.iterdir() if p.name.startswith("access.db")]
    assert files and all((p.stat().st_uid, p.stat().st_gid) == (65534, 65534) for p in files), \
        [(p.name, p.stat().st_uid) for p in files]
