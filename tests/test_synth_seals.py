"""Seals, coats of arms and side badges drawn on synthetic plates (tools.synth.seals)."""

from __future__ import annotations

import numpy as np
import pytest

from tools.synth import plate_text, plates, seals


def _text_mask_with_gap(h: int = 40) -> np.ndarray:
    """A fake text mask: ink blocks (characters) with one wide gap at columns 60-90."""
    mask = np.zeros((h, 160), np.float32)
    for x0 in (4, 24, 44, 92, 112, 132):
        mask[:, x0 : x0 + 14] = 1.0
    return mask


def test_widest_gap_finds_the_run_between_characters():
    mask = _text_mask_with_gap()
    assert seals.widest_gap(mask, interior=True) == (34, 58)
    # the margins are not gaps between characters
    mask[:, 58:92] = 1.0
    assert seals.widest_gap(mask, interior=True) == (6, 126)
    assert seals.widest_gap(np.zeros((4, 50), np.float32), interior=True) == (0, 0)
    assert seals.widest_gap(np.ones((4, 50), np.float32)) == (0, 0)


@pytest.mark.parametrize("kind", seals.KINDS)
def test_a_mark_is_painted_inside_the_gap_only(kind):
    mask = _text_mask_with_gap()
    img = np.full((60, 200, 3), 245, np.uint8)
    x, y = 20, 10
    assert seals.draw_in_gap(img, mask, x, y, kind, np.random.default_rng(1))
    changed = np.flatnonzero((img != 245).any(axis=2).any(axis=0))
    assert changed.size > 0
    assert x + 58 <= changed[0] and changed[-1] < x + 92, (kind, changed[0], changed[-1])


def test_no_gap_no_mark_and_unknown_kinds_are_refused():
    img = np.full((60, 200, 3), 245, np.uint8)
    solid = np.ones((40, 160), np.float32)
    assert not seals.draw_in_gap(img, solid, 20, 10, "de", np.random.default_rng(0))
    assert (img == 245).all()
    with pytest.raises(ValueError, match="unknown seal kind 'star'"):
        seals.draw_in_gap(img, _text_mask_with_gap(), 20, 10, "star", np.random.default_rng(0))


def test_every_seal_slot_has_a_mark_and_slots_leave_a_gap():
    with_slot = {country for country, pattern, *_ in plate_text.EU_FORMATS if seals.SEAL_SLOT in pattern}
    assert with_slot == set(plates._SEAL_KIND) and {"D", "A"} <= with_slot
    assert seals.gap_text("M@ID 2044") == "M   ID 2044"


def test_german_plates_carry_a_seal_between_the_groups():
    """Rendered with seal layouts, German plates show non-text colour between the groups."""
    rng = np.random.default_rng(4)
    coloured = 0
    for _ in range(40):
        img, text = plates.render_plate("MID2044", "eu", rng, height=64)
        body = img[8:-8, 60:]
        spread = body.max(axis=2).astype(int) - body.min(axis=2).astype(int)
        coloured += bool((spread > 60).sum() > 20)  # the text is grey; seals and arms are coloured
        assert text == "MID2044"
    assert coloured >= 8


def test_some_random_texts_get_an_i_and_uk_texts_never():
    rng = np.random.default_rng(0)
    eu = [plates.random_text("eu", rng) for _ in range(2000)]
    share = sum("I" in t for t in eu) / len(eu)
    assert plate_text.I_SHARE * 0.8 < share < plate_text.I_SHARE + 0.2
    assert not any("I" in plates.random_text("uk", rng) for _ in range(500))
