"""platectl's command line: bad input is one clear line and a non-zero exit, never a traceback."""

from __future__ import annotations

import json
import os
import socket
import sys

import pytest
from cli_support import FakeDaemon, cleanup, short_dir, write_config

from plategate.cli.main import main


@pytest.fixture
def root():
    path = short_dir()
    yield path
    cleanup(path)


@pytest.fixture
def cfg(root, monkeypatch):
    path = write_config(root)
    monkeypatch.setenv("PLATEGATE_CONFIG", str(path))
    return path


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_help_and_version(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in ("status", "diag", "test-relay", "capture", "allowlist", "events", "watch", "recognize"):
        assert name in out
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("platectl ")


@pytest.mark.parametrize("argv, needle", [
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["status", "--bogus"], "unrecognized arguments: --bogus"),
    ([], "the following arguments are required: COMMAND"),
    (["events", "tail", "-n", "many"], "invalid int value: 'many'"),
    (["allowlist"], "the following arguments are required: ACTION"),
])
def test_usage_errors_are_one_line_exit_2(argv, needle, capsys):
    assert main(argv) == 2
    line = one_error_line(capsys.readouterr().err)
    assert line.startswith("platectl") and needle in line, line


def test_dead_daemon_is_a_clear_message(cfg, capsys):
    assert main(["status"]) == 1
    line = one_error_line(capsys.readouterr().err)
    assert line.startswith("platectl: error: plategated is not running (no socket at ") and "control.sock" in line
    assert main(["watch"]) == 1
    assert "plategated is not running" in one_error_line(capsys.readouterr().err)


def test_stale_socket_is_a_clear_message(cfg, root, capsys):
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(root / "control.sock"))
    dead.close()
    assert main(["status"]) == 1
    assert "plategated is not running (stale socket" in one_error_line(capsys.readouterr().err)


def test_relay_test_needs_confirm(cfg, capsys):
    assert main(["test-relay"]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert line == "platectl: error: test-relay moves the barrier: add --confirm to pulse the relay"
    assert main(["test-relay", "--pulse", "10", "--confirm"]) == 2
    assert "--pulse 10: must be between 50 and 60000 ms" in one_error_line(capsys.readouterr().err)


def test_bad_config_is_named(root, monkeypatch, capsys):
    bad = root / "bad.toml"
    bad.write_text("[camera]\nfsp = 3\n")
    assert main(["--config", str(bad), "status"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.startswith(f"platectl: error: {bad}: invalid configuration")
    assert "camera.fsp: unknown key" in err
    assert main(["status", "--config", str(root / "missing.toml")]) == 1
    assert "cannot read config file" in one_error_line(capsys.readouterr().err)


def test_debug_shows_traceback(cfg, capsys):
    assert main(["--debug", "status"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "plategated is not running" in err


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to own the socket as another user")
def test_socket_of_another_user_refused(cfg, root, capsys):
    """A socket owned by another user and group (mode 0660) cannot be used by a third user."""
    with FakeDaemon(root) as daemon:
        os.chown(daemon.server.path, 0, 44)  # group video, not ours below
        rfd, wfd = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(rfd)
            sys.stderr = os.fdopen(wfd, "w")
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            rc = main(["status"])
            sys.stderr.flush()
            os._exit(rc)
        os.close(wfd)
        with os.fdopen(rfd) as fh:
            err = fh.read()
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 1
    line = one_error_line(err)
    assert line.startswith("platectl: error: permission denied on ") and "usermod -aG video" in line


def test_status_from_daemon(cfg, root, capsys):
    with FakeDaemon(root) as daemon:
        from cli_support import add_events

        add_events(daemon.journal, [("AB123CD", "granted"), ("ZZ999ZZ", "denied")])
        assert main(["status"]) == 0
        out = capsys.readouterr().out
        assert "state            running" in out or "running" in out.splitlines()[0]
        assert "1h 2m" in out and "9.8" in out
        assert "DISCONNECTED, outbox 7" in out
        assert "detector ok, reader ok" in out
        assert "AB123CD" in out and "ZZ999ZZ" in out
        assert main(["--json", "status"]) == 0
        assert json.loads(capsys.readouterr().out)["state"] == "running"
        assert main(["status", "--json"]) == 0
        data = json.loads(capsys.readouterr().out)
        assert data["state"] == "running" and data["mqtt"]["outbox_depth"] == 7
        assert [e["plate"] for e in data["last_events"]] == ["ZZ999ZZ", "AB123CD"]
        assert "cpu_temp_c" in data["host"]


def test_watch_streams_items(cfg, root, capsys):
    with FakeDaemon(root) as daemon:
        daemon.watch_items = [{"time": "2026-01-02T03:04:05Z", "plate": "AB123CD", "decision": "granted",
                               "reason": "exact_match", "confidence": 0.97, "opened": True},
                              {"type": "relay", "state": "on"}]
        assert main(["watch"]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert "AB123CD" in lines[0] and "GRANTED" in lines[0] and "GATE OPENED" in lines[0]
        assert lines[1].endswith("relay: state=on")
        assert main(["watch", "--json", "--count", "1"]) == 0
        assert json.loads(capsys.readouterr().out)["plate"] == "AB123CD"


def test_status_render_of_models_and_host():
    from plategate.cli.status import render

    text = render({"state": "degraded", "uptime_s": 59,
                   "models": {"detector": {"ok": True, "sha256": "ab"}, "reader": {"ok": False, "error": "missing"},
                              "frames": 39, "last_timing_ms": {"total": 16.6}},
                   "host": {"cpu_temp_c": 71.5, "throttled": {"raw": "0x50000", "now": [],
                                                              "past": ["under-voltage has occurred"]}}})
    lines = dict(line.split("  ", 1) for line in text.splitlines()[:6] if "  " in line)
    assert lines["state"].strip() == "degraded"
    assert lines["models"].strip() == "detector ok, reader FAILED (missing)"
    assert lines["cpu temperature"].strip() == "71.5 C"
    assert lines["throttling"].strip() == "no (earlier: under-voltage has occurred)"
