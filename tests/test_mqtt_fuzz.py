"""Fuzzing the payload parsers with hypothesis: bad input is refused with a PlategateError or
a REJECTED/ok=False result, never another exception, and nothing is applied."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plategate.access.entry import entry_from_dict, make_entry
from plategate.access.io import parse_csv, parse_json
from plategate.access.schedule import parse_window
from plategate.access.store import AllowlistStore
from plategate.errors import PlategateError
from plategate.mqtt.commands import CommandProcessor, NonceStore
from plategate.mqtt.messages import parse_command, parse_delta, parse_snapshot
from plategate.mqtt.signing import generate_private_key, load_public_keys, open_envelope, public_key_b64, sign_bytes
from plategate.mqtt.sync import AllowlistSync, SyncResult

KEY = generate_private_key()
KEYS = load_public_keys([public_key_b64(KEY.public_key())])
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**64, 2**64) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=20,
)
entry_like = st.fixed_dictionaries({}, optional={
    "plate": st.one_of(st.text(max_size=20), st.integers()), "label": st.one_of(st.text(max_size=5), st.none(), st.integers()),
    "kind": st.sampled_from(["allow", "block", "ALLOW", "maybe", 1]),
    "valid_from": st.one_of(st.none(), st.text(max_size=25), st.just("2026-01-01"), st.just("2026-01-01T10:00:00+01:00")),
    "valid_until": st.one_of(st.none(), st.text(max_size=25), st.just("2027-01-01")),
    "windows": st.one_of(st.lists(st.text(max_size=20), max_size=3), st.just(["Mon-Fri 07:00-19:00"]), st.integers()),
    "extra": st.integers(),
})
snapshot_like = st.fixed_dictionaries({}, optional={
    "type": st.sampled_from(["snapshot", "delta", "x"]), "site": st.sampled_from(["estate", "", "a b", 3]),
    "version": st.one_of(st.integers(-5, 2**60), st.text(max_size=3), st.floats(allow_nan=False, allow_infinity=False)),
    "from_version": st.integers(-5, 50), "issued_at": st.one_of(st.text(max_size=30), st.just("2026-11-21T08:00:00Z")),
    "entries": st.lists(entry_like, max_size=4), "add": st.lists(entry_like, max_size=3),
    "remove": st.lists(st.text(max_size=10), max_size=3), "hash": st.one_of(st.text(max_size=64), st.just("0" * 64)),
})


def _only_plategate_errors(fn, *args):
    try:
        fn(*args)
    except PlategateError:
        pass


@FUZZ
@given(st.binary(max_size=300))
def test_open_envelope_on_random_bytes(raw):
    _only_plategate_errors(open_envelope, raw, KEYS, 10_000, "fuzz")


@FUZZ
@given(json_values)
def test_open_envelope_on_random_json(value):
    _only_plategate_errors(open_envelope, json.dumps(value).encode(), KEYS, 10_000, "fuzz")


@FUZZ
@given(st.one_of(json_values, snapshot_like))
def test_message_parsers_on_random_structures(value):
    for parser in (parse_snapshot, parse_delta, parse_command):
        _only_plategate_errors(parser, value)


@FUZZ
@given(entry_like)
def test_entry_parser(value):
    _only_plategate_errors(entry_from_dict, value)


@FUZZ
@given(st.text(max_size=40))
def test_window_parser(text):
    _only_plategate_errors(parse_window, text)


@FUZZ
@given(st.text(max_size=200))
def test_csv_and_json_parsers(text):
    _only_plategate_errors(parse_csv, text)
    _only_plategate_errors(parse_json, text)


@pytest.fixture(scope="module")
def sync(tmp_path_factory):
    store = AllowlistStore(tmp_path_factory.mktemp("fuzz") / "access.db")
    store.replace_all([make_entry("AB123CD", "Unit 1")], version=5, origin="site")
    s = AllowlistSync(store, "estate", KEYS, 100_000, lambda _p: None, 0)
    yield s
    store.close()


@FUZZ
@given(st.one_of(st.binary(max_size=200), snapshot_like.map(lambda d: sign_bytes(d, KEY))))
def test_sync_never_applies_garbage(sync, raw):
    before = (sync.store.version, sync.store.content_hash())
    assert sync.handle_snapshot(raw) in (SyncResult.REJECTED, SyncResult.UNCHANGED)
    assert sync.handle_delta(raw) in (SyncResult.REJECTED, SyncResult.PENDING)
    assert (sync.store.version, sync.store.content_hash()) == before


@pytest.fixture(scope="module")
def commands(tmp_path_factory):
    nonces = NonceStore(tmp_path_factory.mktemp("fuzzcmd") / "outbox.db", 180)
    proc = CommandProcessor("estate", "north", KEYS, nonces, 60, 4096, allow_unsigned=False)
    calls = []
    proc.handler = lambda name, args, origin: calls.append(name) or {}
    yield proc, calls
    nonces.close()


command_like = st.fixed_dictionaries({}, optional={
    "type": st.sampled_from(["command", "x"]), "cmd": st.sampled_from(["open", "reload", "nuke", 1]),
    "site": st.sampled_from(["estate", "x"]), "gate": st.sampled_from(["north", "south"]),
    "nonce": st.text(max_size=70), "issued_at": st.sampled_from(["2026-11-21T08:00:00Z", "2000-01-01T00:00:00Z", "x"]),
    "args": json_values,
})


@FUZZ
@given(st.one_of(st.binary(max_size=200), json_values.map(lambda v: json.dumps(v).encode()),
                 command_like.map(lambda d: sign_bytes(d, KEY))))
def test_commands_never_run_garbage(commands, raw):
    proc, calls = commands
    n = len(calls)
    result = proc.handle(raw, datetime(2026, 11, 21, 8, 0, 30, tzinfo=UTC))
    assert set(result) == {"cmd", "nonce", "ok", "result", "error", "time"}
    if result["ok"]:  # only a fully valid, fresh, signed command for this gate may run
        doc = json.loads(json.loads(raw)["payload"])
        assert doc["site"] == "estate" and doc["gate"] == "north" and doc["cmd"] in ("open", "reload")
        assert len(calls) == n + 1
    else:
        assert len(calls) == n
