"""The decision policy: reasons, blocklist precedence, tolerant match, validity, hold-off."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from plategate.access.entry import make_entry
from plategate.access.policy import AccessPolicy, Reason
from plategate.access.store import AllowlistStore
from plategate.config import AccessConfig
from plategate.types import DecisionKind, PlateRead

NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)  # a Wednesday, 13:00 in Berlin


@pytest.fixture
def store(tmp_path):
    s = AllowlistStore(tmp_path / "access.db")
    s.replace_all([
        make_entry("AB123CD", "Unit 1"),
        make_entry("STOLEN1", "police report", "block"),
        make_entry("WKEND1", "weekend", windows="Sat,Sun 00:00-24:00"),
        make_entry("OLD1", "moved out", valid_until="2026-01-31"),
        make_entry("NEW1", "moving in", valid_from="2026-12-01"),
        make_entry("KO1", "twin a"), make_entry("K0I", "twin b"),  # "K01" is one substitution from both
        make_entry("GATE6", "lookalike", "block"),
    ], version=3)
    yield s
    s.close()


def policy(store, **kw):
    cfg = AccessConfig(timezone="Europe/Berlin", **kw)
    return AccessPolicy(store, cfg)


def decide(p, text, conf=0.95, now=NOW):
    return p.decide(PlateRead(text, conf), now)


@pytest.mark.parametrize("text,conf,kind,reason,matched", [
    ("AB-123 cd", 0.95, DecisionKind.GRANTED, Reason.EXACT_MATCH, "AB123CD"),
    ("STOLEN1", 0.1, DecisionKind.DENIED, Reason.BLOCKLISTED, "STOLEN1"),
    ("", 0.99, DecisionKind.UNKNOWN, Reason.NO_PLATE, None),
    ("AB123CD", 0.3, DecisionKind.UNKNOWN, Reason.LOW_CONFIDENCE, None),
    ("ZZ999", 0.99, DecisionKind.DENIED, Reason.NOT_LISTED, None),
    ("WKEND1", 0.99, DecisionKind.DENIED, Reason.OUTSIDE_WINDOW, "WKEND1"),
    ("OLD1", 0.99, DecisionKind.DENIED, Reason.EXPIRED, "OLD1"),
    ("NEW1", 0.99, DecisionKind.DENIED, Reason.NOT_YET_VALID, "NEW1"),
    ("A8123CD", 0.95, DecisionKind.GRANTED, Reason.TOLERANT_MATCH, "AB123CD"),
    ("A8123CD", 0.7, DecisionKind.UNKNOWN, Reason.TOLERANT_LOW_CONFIDENCE, "AB123CD"),
    ("A8I23CD", 0.99, DecisionKind.DENIED, Reason.NOT_LISTED, None),  # two substitutions
    ("AX123CD", 0.99, DecisionKind.DENIED, Reason.NOT_LISTED, None),  # not a confusable pair
    ("KQ1", 0.99, DecisionKind.DENIED, Reason.NOT_LISTED, None),  # Q/O is no pair; K0I needs two
    ("K01", 0.99, DecisionKind.UNKNOWN, Reason.AMBIGUOUS_MATCH, None),
    ("KOI", 0.99, DecisionKind.UNKNOWN, Reason.AMBIGUOUS_MATCH, None),
    ("KD1", 0.99, DecisionKind.DENIED, Reason.NOT_LISTED, None),  # D/O is not a listed pair
    ("6ATE6", 0.99, DecisionKind.DENIED, Reason.BLOCKLISTED_SIMILAR, "GATE6"),
])
def test_reasons(store, text, conf, kind, reason, matched):
    d = decide(policy(store), text, conf)
    assert (d.kind, d.reason, d.matched) == (kind, reason, matched)
    assert d.open_gate == (kind is DecisionKind.GRANTED)
    assert d.allowlist_version == 3


def test_tolerant_match_can_be_disabled(store):
    d = decide(policy(store, tolerant_match=False), "A8123CD", 0.99)
    assert (d.kind, d.reason) == (DecisionKind.DENIED, Reason.NOT_LISTED)


def test_weekend_window_grants_on_saturday(store):
    saturday = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
    assert decide(policy(store), "WKEND1", now=saturday).kind is DecisionKind.GRANTED


def test_holdoff_and_vehicle_left(store):
    p = policy(store, holdoff_s=30)
    first = decide(p, "AB123CD")
    assert first.open_gate and first.reason == Reason.EXACT_MATCH
    again = decide(p, "A8123CD", now=NOW + timedelta(seconds=10))  # same entry via tolerant match
    assert (again.kind, again.reason, again.open_gate) == (DecisionKind.GRANTED, Reason.HOLDOFF, False)
    later = decide(p, "AB123CD", now=NOW + timedelta(seconds=31))
    assert later.open_gate and later.reason == Reason.EXACT_MATCH
    p.vehicle_left()
    assert decide(p, "AB123CD", now=NOW + timedelta(seconds=32)).open_gate


def test_decisions_follow_store_changes(store):
    p = policy(store)
    assert decide(p, "NEWCAR1").reason == Reason.NOT_LISTED
    store.add(make_entry("NEWCAR1", "guest"))
    d = decide(p, "NEWCAR1")
    assert d.reason == Reason.EXACT_MATCH and d.label == "guest"
    store.add(make_entry("NEWCAR1", "banned", "block"))
    assert decide(p, "NEWCAR1").reason == Reason.BLOCKLISTED


def test_naive_now_is_read_in_site_time(store):
    d = policy(store).decide(PlateRead("AB123CD", 0.9), datetime(2026, 11, 18, 13, 0))
    assert d.kind is DecisionKind.GRANTED
