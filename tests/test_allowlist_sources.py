"""The allowlist's sources on the real daemon: access.allowlist_file manages its own entries,
local edits outlive restarts and reloads, and an edit that will not last says so."""

from __future__ import annotations

import json
import shutil
import time

import pytest

from plategate.cli.main import main as platectl
from plategate.mqtt.signing import generate_private_key, public_key_b64
from tests.cli_support import short_dir, write_frames
from tests.daemon_process import DaemonProcess, daemon_config
from tests.mqtt_helpers import wait_until


@pytest.fixture
def root():
    path = short_dir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


def listed(cfg, capsys) -> dict[str, str]:
    assert platectl(["--config", str(cfg), "allowlist", "list", "--json"]) == 0
    return {e["plate"]: e["source"] for e in json.loads(capsys.readouterr().out)["entries"]}


def reload_and_wait(daemon: DaemonProcess, sock) -> None:
    before = time.time()
    daemon.hangup()
    assert wait_until(lambda: (daemon.client(sock).call("status").get("last_reload") or {}).get("time", 0) >= before, 10)


def test_local_edits_outlive_reload_and_restart_and_the_file_manages_its_own(root, capsys):
    frames = write_frames(root / "frames", moving=False)
    allow = root / "allow.csv"
    allow.write_text("plate,label\nAAA111,from file\nBBB222,from file\n")
    cfg = root / "p.toml"
    cfg.write_text(daemon_config(root, frames, extra=f'[access]\nallowlist_file = "{allow}"\n'))
    sock = root / "control.sock"
    daemon = DaemonProcess(cfg)
    try:
        daemon.wait_ready(sock)
        assert platectl(["--config", str(cfg), "allowlist", "add", "LOC4L1", "--label", "visitor"]) == 0
        out = capsys.readouterr()
        assert "added LOC4L1" in out.out and "via daemon" in out.out and out.err == ""  # it lasts: nothing to warn
        reload_and_wait(daemon, sock)
        assert listed(cfg, capsys) == {"AAA111": "file", "BBB222": "file", "LOC4L1": "local"}
        # the file drops AAA111, adds CCC333 and lists the locally added plate too
        allow.write_text("plate,label\nBBB222,from file\nCCC333,from file\nLOC4L1,file label\n")
        reload_and_wait(daemon, sock)
        assert listed(cfg, capsys) == {"BBB222": "file", "CCC333": "file", "LOC4L1": "local"}
        # removing a file entry locally works now but warns that the file brings it back
        assert platectl(["--config", str(cfg), "allowlist", "remove", "BBB222"]) == 0
        assert "comes back at the next restart or reload" in capsys.readouterr().err
    finally:
        assert daemon.stop() == 0
    daemon = DaemonProcess(cfg)
    try:
        daemon.wait_ready(sock)
        entries = listed(cfg, capsys)
        assert entries == {"BBB222": "file", "CCC333": "file", "LOC4L1": "local"}
        status = daemon.client(sock).call("status")
        assert status["allowlist"]["count"] == 3
    finally:
        assert daemon.stop() == 0


def test_with_signed_sync_the_file_is_ignored_and_an_edit_warns(root, capsys):
    frames = write_frames(root / "frames", moving=False)
    allow = root / "allow.csv"
    allow.write_text("plate,label\nAAA111,from file\n")
    key = public_key_b64(generate_private_key().public_key())
    mqtt = f'enabled = true\nhost = "127.0.0.1"\nport = 1\nsite_public_keys = ["{key}"]\n'
    cfg = root / "p.toml"
    cfg.write_text(daemon_config(root, frames, mqtt, extra=f'[access]\nallowlist_file = "{allow}"\n'))
    sock = root / "control.sock"
    daemon = DaemonProcess(cfg)  # the broker is unreachable: the daemon guards the gate anyway
    try:
        daemon.wait_ready(sock)
        assert "access.allowlist_file" in daemon.text() and "ignored" in daemon.text()
        assert listed(cfg, capsys) == {}
        assert platectl(["--config", str(cfg), "allowlist", "add", "LOC4L1"]) == 0
        err = capsys.readouterr().err
        assert "signed site sync is on" in err and "replaces the list" in err
    finally:
        assert daemon.stop() == 0


def test_read_only_commands_create_no_store(root, capsys):
    frames = write_frames(root / "frames", moving=False)
    cfg = root / "p.toml"
    cfg.write_text(daemon_config(root, frames))
    assert platectl(["--config", str(cfg), "allowlist", "list"]) == 0
    assert "(no entries)" in capsys.readouterr().out
    assert platectl(["--config", str(cfg), "allowlist", "export"]) == 0
    assert not (root / "state" / "access.db").exists() and not (root / "state").exists()
