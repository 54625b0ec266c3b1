"""The project's constant-stroke plate face family (tools/synth/strokefont.py)."""

from __future__ import annotations

import numpy as np
import pytest

from tools.synth import text
from tools.synth.strokefont import CHARSET, StrokeStyle, argentine_style, random_style, stroke_mask, style_named


@pytest.mark.parametrize("style", [StrokeStyle(), StrokeStyle(width=0.42, weight=0.17, square=5.0, open_four=True,
                                                             flat_three=True, one_foot=True, crossed_seven=True)])
def test_every_character_fills_the_cap_height(style):
    for ch in CHARSET:
        mask = stroke_mask(ch, style, 0.1)
        rows = np.flatnonzero(mask.max(axis=1) > 0.5)
        assert mask.dtype == np.float32 and 0.0 <= mask.min() and mask.max() <= 1.0
        # ink from the cap line to the baseline (Q's tail may not go lower)
        assert rows[0] <= 1 and rows[-1] >= mask.shape[0] - 2, ch


def test_characters_that_readers_confuse_are_drawn_differently():
    style = StrokeStyle(square=3.5)
    masks = {ch: stroke_mask(ch, style, 0.1) for ch in "0OD8B"}
    for a, b in (("O", "D"), ("8", "B")):
        assert masks[a].shape == masks[b].shape
        assert np.abs(masks[a] - masks[b]).mean() > 0.05, (a, b)
    assert masks["0"].shape[1] < masks["O"].shape[1]  # the zero is narrower


def test_open_four_leaves_the_top_right_empty():
    def top_right_ink(open_four: bool) -> float:
        mask = stroke_mask("4", StrokeStyle(open_four=open_four), 0.1)
        h, w = mask.shape
        return float(mask[: h // 8, w // 2 :].sum())

    assert top_right_ink(True) == 0.0
    assert top_right_ink(False) > 10.0


def test_a_flat_topped_four_has_ink_across_its_top_left():
    def top_left_ink(four_top: float) -> float:
        mask = stroke_mask("4", StrokeStyle(four_top=four_top), 0.1)
        h, w = mask.shape
        return float(mask[: h // 8, w // 6 : w // 2].sum())

    assert top_left_ink(0.0) < 1.0  # the usual diagonal leaves the stem's top at once
    assert top_left_ink(0.6) > 10.0  # the Argentine box-like 4 runs its top leftwards first
    faces = [argentine_style(np.random.default_rng(seed)) for seed in range(40)]
    assert sum(f.four_top >= 0.45 for f in faces) > len(faces) / 2 and all(0.0 <= f.four_top <= 0.7 for f in faces)


def test_an_upright_w_reaches_its_bottom_corners():
    def bottom_left_ink(w_straight: float) -> float:
        mask = stroke_mask("W", StrokeStyle(w_straight=w_straight), 0.1)
        h, w = mask.shape
        return float(mask[-h // 6 :, : w // 8].sum())

    assert bottom_left_ink(0.0) < 1.0  # the usual W meets the baseline a quarter in
    assert bottom_left_ink(1.0) > 50.0
    faces = [argentine_style(np.random.default_rng(seed)) for seed in range(40)]
    assert sum(f.w_straight >= 0.6 for f in faces) > len(faces) / 2


def test_a_serifed_i_has_bars_and_the_bare_one_does_not():
    def widths(i_serif: float) -> tuple[int, int, int]:
        mask = stroke_mask("I", StrokeStyle(i_serif=i_serif), 0.1) > 0.5
        h = mask.shape[0]
        return tuple(int(mask[y].sum()) for y in (h // 20, h // 2, h - 1 - h // 20))

    top, middle, bottom = widths(0.0)
    assert abs(top - middle) <= 1 and abs(bottom - middle) <= 1  # a bare stem
    top, middle, bottom = widths(0.7)
    assert top > 2 * middle and bottom > 2 * middle  # bars across the top and the foot
    faces = [argentine_style(np.random.default_rng(seed)) for seed in range(40)]
    assert sum(f.i_serif > 0 for f in faces) > len(faces) / 2
    assert all(random_style(np.random.default_rng(seed)).i_serif == 0.0 for seed in range(10))


def test_a_ticked_q_has_ink_inside_the_bottom_of_its_bowl_and_the_usual_q_does_not():
    def inner_bottom_ink(q_tail: float) -> float:
        style = StrokeStyle(square=4.0, width=0.45, q_tail=q_tail)
        mask, o = stroke_mask("Q", style, 0.1), stroke_mask("O", style, 0.1)
        h, w = mask.shape
        # left of the middle of the bowl's lower part, inside the ring of an O
        return float((mask - o)[int(h * 0.74) : int(h * 0.88), int(w * 0.3) : int(w * 0.5)].clip(0).sum())

    assert inner_bottom_ink(0.0) < 20.0  # the usual tail runs through the bottom right corner
    assert inner_bottom_ink(0.25) > 60.0
    faces = [argentine_style(np.random.default_rng(seed)) for seed in range(40)]
    assert sum(f.q_tail > 0 for f in faces) > len(faces) / 2
    assert all(random_style(np.random.default_rng(seed)).q_tail == 0.0 for seed in range(10))


def test_squareness_fills_the_corners_of_the_o():
    def corner_ink(square: float) -> float:
        mask = stroke_mask("O", StrokeStyle(square=square), 0.1)
        h, w = mask.shape
        return float(mask[: h // 6, : w // 6].sum())

    assert corner_ink(5.0) > 2 * corner_ink(2.0)


def test_separators_and_spaces_and_unknown_characters():
    style = StrokeStyle()
    assert stroke_mask("AB 12", style, 0.1).shape[1] > stroke_mask("AB12", style, 0.1).shape[1]
    dash = stroke_mask("-", style, 0.1)
    assert dash[: dash.shape[0] // 3].max() == 0.0 and dash.max() == 1.0  # a bar in the middle only
    with pytest.raises(ValueError, match="'%'"):
        stroke_mask("AB%1", style, 0.1)


def test_faces_are_drawn_at_random_and_fixed_by_their_seed():
    rng = np.random.default_rng(0)
    styles = {random_style(rng) for _ in range(20)}
    assert len(styles) == 20
    assert any(s.open_four for s in styles) and not all(s.open_four for s in styles)
    a = text.text_mask("AB123", text.FontSpec("stroke", "42"), 30, np.random.default_rng(1))
    b = text.text_mask("AB123", text.FontSpec("stroke", "42"), 30, np.random.default_rng(2))
    assert a.shape[0] == 30 and np.array_equal(a, b)


def test_plates_are_sometimes_drawn_in_the_stroke_family():
    rng = np.random.default_rng(3)
    kinds = [text.choose_font(rng, None, "ABC123").kind for _ in range(400)]
    share = kinds.count("stroke") / len(kinds)
    assert abs(share - text.STROKE_SHARE) < 0.07


def test_the_argentine_face_is_narrow_with_a_closed_four():
    rng = np.random.default_rng(5)
    faces = [argentine_style(rng) for _ in range(30)]
    assert not any(f.open_four for f in faces)
    footed = sum(f.one_foot for f in faces)  # about half the 1s stand on a foot, as on real plates
    assert 0.25 * len(faces) < footed < 0.75 * len(faces)
    assert max(f.width for f in faces) <= 0.5 and min(f.weight for f in faces) >= 0.11
    assert min(f.square for f in faces) >= 3.0  # squarish bowls: O and 0 nearly rectangular
    assert style_named("ar:17") == argentine_style(np.random.default_rng(17))
    assert style_named("17") == random_style(np.random.default_rng(17))
    with pytest.raises(ValueError):
        style_named("ar:x")
    narrow = text.text_mask("448", text.FontSpec("stroke", "ar:3"), 40, rng, spacing=0.1)
    assert narrow.shape == (40, narrow.shape[1]) and narrow.shape[1] < 3 * 0.62 * 40
