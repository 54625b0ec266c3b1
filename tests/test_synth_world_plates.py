"""Pakistani, Indian, Gulf and Australian renders, two-line plates split by their text, dressed US plates."""

from __future__ import annotations

import re

import numpy as np
import pytest

from plategate.vision.reader import TWO_LINE_ASPECT
from tools.synth import reader_data, us_dressing
from tools.synth.canvas import new_canvas
from tools.synth.plate_text import MORE_STYLES, TWO_LINE_STYLES, random_text, two_line_split
from tools.synth.plates import render_lines, render_plate
from tools.synth.text import FontSpec

FORMATS = {
    "pk": r"[A-Z]{3}([0-9]{2})?[0-9]{3,4}",
    "pk2": r"[A-Z]{3}([0-9]{2})?[0-9]{3,4}",
    "in": r"[A-Z]{2}[0-9]{2}[A-Z]{1,2}[0-9]{4}",
    "in2": r"[A-Z]{2}[0-9]{2}[A-Z]{1,2}[0-9]{4}",
    "gulf": r"[A-Z]{1,2}[0-9]{3,5}",
    "au": r"[A-Z]{3}[0-9]{3}|[0-9][A-Z]{3}[0-9]{3}|[A-Z]{2}[0-9]{2}[A-Z]{2}|[0-9]{3}[A-Z]{3}|[A-Z]{3}[0-9]{2}[A-Z]",
    "square": r"[A-Z]{2}[0-9]{2}[A-Z]{3}|[A-Z]{3}[0-9]{4}|[A-Z][0-9]{2}[A-Z]{3}|[A-Z]{2}[0-9]{3}[A-Z]{2}|[A-Z]{2}[0-9]{4}",
}
NEW_TWO_LINE = tuple(s for s in TWO_LINE_STYLES if s != "moto")


@pytest.fixture
def fully_dressed(monkeypatch):
    """Every US plate dressed with every dressing; restored afterwards."""
    from tools.synth import plates

    monkeypatch.setattr(plates, "US_DRESSED_SHARE", 1.0)
    monkeypatch.setattr(us_dressing, "SHARES", dict.fromkeys(us_dressing.SHARES, 1.0))
    yield


@pytest.mark.parametrize("style", MORE_STYLES + NEW_TWO_LINE)
def test_random_text_follows_the_format(style):
    rng = np.random.default_rng(1)
    texts = {random_text(style, rng) for _ in range(80)}
    for text in texts:
        assert re.fullmatch(FORMATS[style], text), (style, text)
    assert len(texts) > 40  # random, not a few fixed texts


@pytest.mark.parametrize("style", MORE_STYLES)
def test_one_line_styles_render_wide_plates_with_their_text(style):
    rng = np.random.default_rng(7)
    for height in (24, 48, 96):
        for _ in range(4):
            img, text, split = render_lines(style=style, rng=rng, height=height)
            assert split is None
            assert img.dtype == np.uint8 and img.shape[0] == height and img.shape[2] == 3
            assert img.shape[1] > TWO_LINE_ASPECT * height  # read as one line
            assert re.fullmatch(FORMATS[style], text), text
            band = img[height // 4: 3 * height // 4].astype(np.float32).mean(axis=2)
            assert band.std() > 20  # characters, not a flat colour


@pytest.mark.parametrize("style", NEW_TWO_LINE)
def test_two_line_styles_render_narrow_plates_with_ink_on_both_lines(style):
    rng = np.random.default_rng(8)
    for height in (32, 64, 120):
        for _ in range(4):
            img, text, split = render_lines(style=style, rng=rng, height=height)
            assert re.fullmatch(FORMATS[style], text), text
            assert split == two_line_split(style, text) and 0 < split < len(text)
            assert img.shape[0] == height and img.shape[1] < TWO_LINE_ASPECT * height  # read line by line
            gray = img.astype(np.float32).mean(axis=2)
            right = gray[:, img.shape[1] // 3:]  # right of the Pakistani band and the Indian hologram
            assert right[height // 8: height // 2].std() > 20 and right[height // 2: 7 * height // 8].std() > 20


@pytest.mark.parametrize("style", MORE_STYLES + NEW_TWO_LINE + ("us",))
def test_a_seed_gives_the_same_plate(style):
    a = render_lines(style=style, rng=np.random.default_rng(5), height=48)
    b = render_lines(style=style, rng=np.random.default_rng(5), height=48)
    assert a.text == b.text and a.split == b.split and np.array_equal(a.image, b.image)
    img, text = render_plate(style=style, rng=np.random.default_rng(5), height=48)  # the old API: same plate
    assert text == a.text and np.array_equal(img, a.image)


def test_two_line_splits_follow_the_text():
    assert two_line_split("pk2", "LEA077952") == 5  # LEA 07 / 7952: the year stays on the top line
    assert two_line_split("pk2", "RLG174") == 3
    assert two_line_split("in2", "HR26DV8992") == 4
    assert two_line_split("square", "MC51OFW") == 4
    assert two_line_split("square", "LOR9807") == 3
    assert two_line_split("square", "CD51") == 2  # no known layout: the larger half above
    assert two_line_split("moto", "ABC123") == 3
    with pytest.raises(ValueError, match="'pk' is not a two-line plate style"):
        two_line_split("pk", "LEA7952")


def test_given_texts_are_kept_and_split():
    plate = render_lines("LEA 07 7952", "pk2", np.random.default_rng(0), height=64)
    assert (plate.text, plate.text[:plate.split], plate.text[plate.split:]) == ("LEA077952", "LEA07", "7952")
    plate = render_lines("HR 26 DV 8992", "in2", np.random.default_rng(0), height=64)
    assert (plate.text[:plate.split], plate.text[plate.split:]) == ("HR26", "DV8992")
    assert render_lines("LEA077952", "pk", np.random.default_rng(0)).split is None


@pytest.mark.parametrize("style", TWO_LINE_STYLES)
def test_two_line_samples_are_labelled_with_their_own_line(style, monkeypatch):
    rendered = []

    def spy(*args, **kwargs):
        rendered.append(render_lines(*args, **kwargs))
        return rendered[-1]

    monkeypatch.setattr(reader_data, "render_lines", spy)
    rng = np.random.default_rng(3)
    halves = set()
    for _ in range(16):
        x, label = reader_data.synth_sample(rng, 32, 128, None, style_weights={style: 1.0})
        plate = rendered.pop()
        assert x.shape == (32, 128) and x.dtype == np.uint8
        top, bottom = plate.text[:plate.split], plate.text[plate.split:]
        assert label in (top, bottom), (plate.text, plate.split, label)
        halves.add("top" if label == top else "bottom")
    assert halves == {"top", "bottom"}


@pytest.mark.parametrize("style", list(reader_data.STYLE_WEIGHTS))
def test_reader_data_renders_samples_of_every_style(style):
    rng = np.random.default_rng(4)
    for _ in range(3):
        x, label = reader_data.synth_sample(rng, 32, 128, None, style_weights={style: 1.0})
        assert x.shape == (32, 128) and x.dtype == np.uint8 and x.std() > 10
        assert re.fullmatch(r"[0-9A-Z]{1,10}", label), label


def test_new_styles_take_a_quarter_and_br_ar_keep_the_largest_shares():
    weights = reader_data.STYLE_WEIGHTS
    assert set(MORE_STYLES + TWO_LINE_STYLES) <= set(weights)
    new = sum(weights[s] for s in MORE_STYLES + NEW_TWO_LINE)
    assert new / sum(weights.values()) == pytest.approx(0.25, abs=0.02)
    assert sorted(weights, key=weights.get, reverse=True)[:2] == ["br", "ar"]


def test_recent_styles_accept_the_new_names_and_refuse_unknown_ones(capsys):
    from tools.train import train_reader

    a = train_reader.parse_args(["--recent-from", "3", "--recent-styles", "pk=0.2,in2=0.1,gulf=0,square=0.05"])
    assert a.recent_styles["pk"] == 0.2 and a.recent_styles["in2"] == 0.1 and a.recent_styles["gulf"] == 0.0
    assert a.recent_styles["br"] == reader_data.STYLE_WEIGHTS["br"]
    with pytest.raises(SystemExit):
        train_reader.parse_args(["--recent-from", "3", "--recent-styles", "pk=0.2,xx=0.1"])
    err = capsys.readouterr().err
    assert "unknown plate style 'xx'" in err and "pk2" in err and "square" in err
    with pytest.raises(ValueError, match="unknown plate style 'zz'.*gulf"):
        render_plate(style="zz", rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="unknown plate style 'zz'"):
        random_text("zz", np.random.default_rng(0))


def test_us_dressing_never_changes_the_text(fully_dressed):
    rng = np.random.default_rng(2)
    for text in ("ONEFISH2", "7XYZ123", "LAFIAT", "1396", "ABC1234"):
        assert render_plate(text, "us", rng, height=64)[1] == text
    for _ in range(40):
        img, text = render_plate(style="us", rng=rng, height=48)
        assert re.fullmatch(r"[0-9A-Z]{5,8}", text), text


def test_us_dressing_draws_around_the_characters_but_never_over_them(fully_dressed):
    for seed in range(12):
        rng = np.random.default_rng(seed)
        c = new_canvas(305, 152, 76, (240, 240, 240), rng)
        ink = (20, 20, 120)
        shown, symbol = us_dressing.symbol_gap("AB1", rng)  # narrow: room for bolts beside the characters
        assert symbol and shown.replace(" ", "") == "AB1"
        mask, x, y = c.text(shown, (14, 34, 291, 124), 50, ink, FontSpec("ttf", "DejaVuSans-Bold.ttf"), rng)
        bare = c.img.copy()
        us_dressing.dress(c, mask, x, y, ink, rng, symbol=True)
        changed = np.abs(c.img.astype(int) - bare.astype(int)).max(axis=2) > 30
        on_ink = np.zeros(changed.shape, bool)
        on_ink[y:y + mask.shape[0], x:x + mask.shape[1]] = mask > 0.5
        assert not (changed & on_ink).any()  # the characters stay as they were
        assert changed.mean() > 0.05  # frame, stickers, bolts, slogan and symbol were drawn
        gap = seals_gap_changed(changed, mask, x, y)
        assert gap  # the symbol sits between the characters


def seals_gap_changed(changed: np.ndarray, mask: np.ndarray, x: int, y: int) -> bool:
    from tools.synth.seals import widest_gap

    width, start = widest_gap(mask, interior=True)
    return bool(changed[y:y + mask.shape[0], x + start: x + start + width].any())


def test_vanity_texts_are_letters_with_at_most_one_digit():
    from tools.synth.plate_text import vanity_text

    rng = np.random.default_rng(0)
    for _ in range(50):
        text = vanity_text(rng)
        assert re.fullmatch(r"[0-9A-Z]{5,7}", text) and sum(ch.isdigit() for ch in text) <= 1


def test_new_styles_render_with_the_dataset_glyphs_and_backgrounds(datasets):
    rng = np.random.default_rng(6)
    for style in MORE_STYLES + NEW_TWO_LINE + ("us",):
        for _ in range(6):
            img, text, split = render_lines(style=style, rng=rng, height=48, data_dir=datasets)
            assert img.shape[0] == 48 and re.fullmatch(FORMATS.get(style, r"[0-9A-Z]{5,8}"), text), (style, text)
            assert (split is None) == (style in MORE_STYLES + ("us",))
