"""Remote commands: signature, gate, freshness, replay (also across restarts), unsigned mode."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest

from plategate.errors import GateError, StorageError
from plategate.mqtt.commands import CommandProcessor, NonceStore
from plategate.mqtt.signing import generate_private_key, load_public_keys, public_key_b64, sign_bytes
from tools.allowlist_publish import build_command

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


def iso(dt: datetime) -> str:
    return dt.isoformat().replace("+00:00", "Z")


@pytest.fixture
def key():
    return generate_private_key()


def make(tmp_path, key, allow_unsigned=False):
    nonces = NonceStore(tmp_path / "outbox.db", keep_s=180)
    proc = CommandProcessor("estate", "north", load_public_keys([public_key_b64(key.public_key())]), nonces,
                            max_age_s=60, max_bytes=4096, allow_unsigned=allow_unsigned)
    calls = []

    def handler(name, args, origin):
        calls.append((name, args))
        if args.get("fail"):
            raise GateError("relay not wired")
        return {"done": name}

    proc.handler = handler
    return proc, calls


def test_signed_open_runs_once_and_replay_is_refused(tmp_path, key, caplog):
    proc, calls = make(tmp_path, key)
    raw = build_command("open", "estate", "north", key, {"reason": "visitor"}, nonce="nonce-0001", issued_at=iso(NOW))
    result = proc.handle(raw, NOW)
    assert result["ok"] and result["result"] == {"done": "open"} and result["nonce"] == "nonce-0001"
    assert calls == [("open", {"reason": "visitor"})]
    with caplog.at_level(logging.WARNING):
        again = proc.handle(raw, NOW + timedelta(seconds=5))
    assert not again["ok"] and "replayed" in again["error"] and "replayed" in caplog.text
    assert len(calls) == 1
    # A restart does not forget the nonce.
    proc.nonces.close()
    proc2, calls2 = make(tmp_path, key)
    assert not proc2.handle(raw, NOW + timedelta(seconds=10))["ok"]
    assert calls2 == []


@pytest.mark.parametrize("mutation,reason", [
    (dict(issued_at=iso(NOW - timedelta(seconds=61))), "too old"),
    (dict(issued_at=iso(NOW + timedelta(seconds=120))), "in the future"),
    (dict(gate="south"), "this gate is estate/north"),
    (dict(site="other"), "this gate is estate/north"),
    (dict(cmd="selfdestruct"), "cmd"),
    (dict(nonce="short"), "nonce"),
    (dict(issued_at="yesterday"), "issued_at"),
    (dict(args=[1]), "args"),
])
def test_bad_commands_are_refused(tmp_path, key, mutation, reason, caplog):
    proc, calls = make(tmp_path, key)
    payload = {"type": "command", "cmd": "open", "site": "estate", "gate": "north", "nonce": "abcdefgh01",
               "issued_at": iso(NOW), "args": {}}
    payload.update(mutation)
    with caplog.at_level(logging.WARNING):
        result = proc.handle(sign_bytes(payload, key), NOW)
    assert not result["ok"] and reason in result["error"] and reason in caplog.text
    assert calls == []


def test_unsigned_and_wrongly_signed_commands_are_refused(tmp_path, key):
    proc, calls = make(tmp_path, key)
    plain = json.dumps({"cmd": "open"}).encode()
    assert "unsigned" in proc.handle(plain, NOW)["error"]
    other = build_command("open", "estate", "north", generate_private_key(), issued_at=iso(NOW))
    assert "unknown key id" in proc.handle(other, NOW)["error"]
    assert "exceeds the limit" in proc.handle(b"{" + b" " * 5000 + b"}", NOW)["error"]
    assert calls == []


def test_unsigned_mode_for_a_trusted_local_broker(tmp_path, key):
    proc, calls = make(tmp_path, key, allow_unsigned=True)
    assert proc.handle(json.dumps({"cmd": "open", "args": {"source": "homeassistant"}}).encode(), NOW)["ok"]
    assert proc.handle(json.dumps({"cmd": "reload", "nonce": "n-12345678"}).encode(), NOW)["ok"]
    assert not proc.handle(json.dumps({"cmd": "reload", "nonce": "n-12345678"}).encode(), NOW)["ok"]
    assert not proc.handle(json.dumps({"cmd": "open", "extra": 1}).encode(), NOW)["ok"]
    # Signed commands still work in this mode.
    assert proc.handle(build_command("snapshot", "estate", "north", key, issued_at=iso(NOW)), NOW)["ok"]
    assert [c[0] for c in calls] == ["open", "reload", "snapshot"]


def test_handler_errors_and_missing_handler_are_reported(tmp_path, key):
    proc, _ = make(tmp_path, key)
    failed = proc.handle(build_command("open", "estate", "north", key, {"fail": True}, issued_at=iso(NOW)), NOW)
    assert not failed["ok"] and failed["error"] == "relay not wired"
    proc.handler = None
    assert proc.handle(build_command("open", "estate", "north", key, issued_at=iso(NOW)), NOW)["error"] == "no command handler"


def test_nonce_store_survives_reopening_and_names_a_broken_file(tmp_path):
    path = tmp_path / "state" / "nonces.db"
    store = NonceStore(path, keep_s=180)
    assert store.claim("n-1", now=1000.0)
    assert not NonceStore(path, keep_s=180).claim("n-1", now=1001.0)  # a replay after a restart
    bad = tmp_path / "garbage.db"
    bad.write_bytes(b"not a database at all" * 100)
    with pytest.raises(StorageError, match=r"nonce store .*garbage\.db: cannot open"):
        NonceStore(bad, keep_s=180)
