"""Signed allowlist sync (AllowlistSync driven directly; the broker path is in test_mqtt_bridge)."""

from __future__ import annotations

import base64
import json
import logging

import pytest

from plategate.access.entry import content_hash, make_entry
from plategate.access.store import AllowlistStore
from plategate.mqtt.signing import generate_private_key, key_id, load_public_keys, public_key_b64, sign_bytes
from plategate.mqtt.sync import AllowlistSync, SyncResult
from tools.allowlist_publish import build_delta, build_snapshot

V1 = [make_entry("AB123CD", "Unit 1"), make_entry("XY99", "Unit 2")]
V2 = [make_entry("AB123CD", "Unit 1"), make_entry("NEW1", "Unit 3")]
V3 = [make_entry("NEW1", "Unit 3"), make_entry("BAD1", "stolen", "block")]


@pytest.fixture
def key():
    return generate_private_key()


@pytest.fixture
def setup(tmp_path, key):
    store = AllowlistStore(tmp_path / "access.db")
    requests: list[dict] = []
    sync = AllowlistSync(store, "estate", load_public_keys([public_key_b64(key.public_key())]), 1 << 20,
                         requests.append, min_request_interval_s=0)
    yield store, sync, requests
    store.close()


def test_snapshot_then_deltas(setup, key):
    store, sync, requests = setup
    applied = []
    sync.on_applied(applied.append)
    assert sync.handle_snapshot(build_snapshot(V1, "estate", 10, key)) == SyncResult.APPLIED
    assert (store.version, store.content_hash()) == (10, content_hash(V1))
    assert sync.handle_delta(build_delta(V1, V2, "estate", 10, key)) == SyncResult.APPLIED
    assert sync.handle_delta(build_delta(V2, V3, "estate", 11, key)) == SyncResult.APPLIED
    assert (store.version, store.content_hash()) == (12, content_hash(V3))
    assert [a["version"] for a in applied] == [10, 11, 12]
    assert requests == []
    # The retained snapshot arriving again after a reconnect is a no-op (older) or unchanged.
    assert sync.handle_snapshot(build_snapshot(V3, "estate", 12, key)) == SyncResult.UNCHANGED


def test_gap_requests_snapshot_and_pending_deltas_apply_after_it(setup, key):
    store, sync, requests = setup
    sync.handle_snapshot(build_snapshot(V1, "estate", 10, key))
    assert sync.handle_delta(build_delta(V2, V3, "estate", 11, key)) == SyncResult.PENDING
    assert store.version == 10
    assert requests and requests[-1]["have_version"] == 10 and "gap" in requests[-1]["reason"]
    assert sync.handle_snapshot(build_snapshot(V2, "estate", 11, key)) == SyncResult.APPLIED
    assert (store.version, store.content_hash()) == (12, content_hash(V3))  # pending delta applied


def test_hash_mismatch_requests_snapshot_and_changes_nothing(setup, key):
    store, sync, requests = setup
    sync.handle_snapshot(build_snapshot(V1, "estate", 10, key))
    store.add(make_entry("LOCAL1", "edited on the gate"))  # the gate diverged from the site
    before = store.content_hash()
    assert sync.handle_delta(build_delta(V1, V2, "estate", 10, key)) == SyncResult.REJECTED
    assert (store.version, store.content_hash()) == (10, before)
    assert "hash mismatch" in requests[-1]["reason"]
    # The site answers with a snapshot of the same version: it replaces the local edits.
    assert sync.handle_snapshot(build_snapshot(V1, "estate", 10, key)) == SyncResult.APPLIED
    assert store.content_hash() == content_hash(V1)


def _resign(raw: bytes, key, mutate) -> bytes:
    payload = json.loads(json.loads(raw)["payload"])
    mutate(payload)
    return sign_bytes(payload, key)


def _tamper(raw: bytes) -> bytes:
    env = json.loads(raw)
    env["payload"] = env["payload"].replace("Unit 1", "Unit 9")
    return json.dumps(env).encode()


def _bad_cases(key, other_key):
    good = build_snapshot(V2, "estate", 20, key)
    env = json.loads(good)
    return {
        "unsigned": (json.dumps(json.loads(env["payload"])).encode(), "unsigned"),
        "wrong key": (build_snapshot(V2, "estate", 20, other_key), "unknown key id"),
        "forged key id": (json.dumps({**json.loads(build_snapshot(V2, "estate", 20, other_key)),
                                      "key_id": key_id(key.public_key())}).encode(), "bad signature"),
        "tampered": (_tamper(good), "bad signature"),
        "bad base64": (json.dumps({**env, "sig": "***"}).encode(), "not base64"),
        "not json": (b"{nope", "not valid JSON"),
        "not utf8": (b"\xff\xfe", "not UTF-8"),
        "oversized": (b" " * (1 << 20 + 1), "exceeds the limit"),
        "stale": (build_snapshot(V2, "estate", 5, key), "stale snapshot"),
        "other site": (build_snapshot(V2, "elsewhere", 20, key), "for site 'elsewhere'"),
        "wrong hash": (_resign(good, key, lambda p: p.update(hash="0" * 64)), "content hash mismatch"),
        "version as text": (_resign(good, key, lambda p: p.update(version="20")), "version"),
        "bad entry": (_resign(good, key, lambda p: p["entries"].append({"plate": "X1", "kind": "maybe"})), "entries.2.kind"),
        "bad window": (_resign(good, key, lambda p: p["entries"].append({"plate": "X1", "windows": ["Mon 9-5"]})), "entries[2]: windows"),
        "extra key": (_resign(good, key, lambda p: p.update(evil=True)), "evil"),
        "payload not object": (json.dumps({**env, "payload": "[1]", "sig": base64.b64encode(key.sign(b"[1]")).decode()}).encode(),
                               "must be a JSON object"),
    }


@pytest.mark.parametrize("case", ["unsigned", "wrong key", "forged key id", "tampered", "bad base64", "not json", "not utf8",
                                  "oversized", "stale", "other site", "wrong hash", "version as text", "bad entry",
                                  "bad window", "extra key", "payload not object"])
def test_bad_snapshots_are_rejected_with_a_reason(setup, key, case, caplog):
    store, sync, _ = setup
    sync.handle_snapshot(build_snapshot(V1, "estate", 10, key))
    before = (store.version, store.content_hash())
    raw, reason = _bad_cases(key, generate_private_key())[case]
    with caplog.at_level(logging.WARNING, logger="plategate.mqtt.sync"):
        assert sync.handle_snapshot(raw) == SyncResult.REJECTED
    assert reason in caplog.text, caplog.text
    assert (store.version, store.content_hash()) == before
    assert reason in (sync.last_error or "")


def test_replayed_and_old_deltas_are_rejected(setup, key, caplog):
    store, sync, _ = setup
    sync.handle_snapshot(build_snapshot(V1, "estate", 10, key))
    delta = build_delta(V1, V2, "estate", 10, key)
    assert sync.handle_delta(delta) == SyncResult.APPLIED
    with caplog.at_level(logging.WARNING):
        assert sync.handle_delta(delta) == SyncResult.REJECTED
    assert "stale or replayed delta" in caplog.text
    assert store.version == 11 and store.content_hash() == content_hash(V2)
    bad_version = _resign(build_delta(V2, V3, "estate", 11, key), key, lambda p: p.update(version=14))
    assert sync.handle_delta(bad_version) == SyncResult.REJECTED
    assert "from_version + 1" in caplog.text


def test_request_rate_limit(tmp_path, key):
    store = AllowlistStore(tmp_path / "a.db")
    requests = []
    sync = AllowlistSync(store, "estate", {}, 1000, requests.append, min_request_interval_s=60)
    assert sync.request_snapshot("first") and not sync.request_snapshot("second")
    assert sync.request_snapshot("forced", force=True)
    assert [r["reason"] for r in requests] == ["first", "forced"]
    store.close()


def test_repeated_retained_snapshot_is_cheap_but_restores_local_edits(setup, key, monkeypatch):
    store, sync, _ = setup
    raw = build_snapshot(V1, "estate", 10, key)
    assert sync.handle_snapshot(raw) == SyncResult.APPLIED
    import plategate.mqtt.sync as sync_mod

    calls = []
    real = sync_mod.open_envelope
    monkeypatch.setattr(sync_mod, "open_envelope", lambda *a: calls.append(1) or real(*a))
    assert sync.handle_snapshot(raw) == SyncResult.UNCHANGED
    assert calls == []  # not verified and parsed again
    store.add(make_entry("LOCAL1"))
    assert sync.handle_snapshot(raw) == SyncResult.APPLIED  # state changed: full path again
    assert calls == [1] and store.content_hash() == content_hash(V1)
