"""Voting over the reads of one burst."""

from __future__ import annotations

from plategate.types import PlateRead
from plategate.vision.voting import vote


def r(text, conf, box=(0, 0, 10, 5)):
    return PlateRead(text, conf, ((text, conf),), box)


def test_agreeing_reads_reinforce():
    v = vote([r("AB12CDE", 0.9), r("AB12CDE", 0.92), r("AB12CDE", 0.88)])
    assert v.text == "AB12CDE" and v.confidence > 0.99
    assert v.candidates[0][0] == "AB12CDE"


def test_single_read_keeps_its_confidence():
    v = vote([r("AB12CDE", 0.93)])
    assert v.text == "AB12CDE" and abs(v.confidence - 0.93) < 1e-6


def test_disagreement_lowers_confidence_and_majority_wins():
    v = vote([r("AB12CDE", 0.9), r("AB12C0E", 0.85), r("AB12CDE", 0.8)])
    assert v.text == "AB12CDE"
    assert v.confidence < 0.9
    assert any(c == "AB12C0E" for c, _ in v.candidates)


def test_length_with_most_weight_wins_first():
    v = vote([r("AB12CD", 0.4), r("AB12CDE", 0.8), r("AB12CDE", 0.7)])
    assert v.text == "AB12CDE"


def test_character_composite_is_trusted_less():
    v = vote([r("AB12CDX", 0.9), r("XB12CDE", 0.9), r("AB12XDE", 0.9)])
    assert v.text == "AB12CDE" and v.confidence < 0.6


def test_empty():
    assert vote([]) is None
    assert vote([r("", 0.5)]) is None
