"""Reading a plate from several views (as given, padded, trimmed) and pooling the candidates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from plategate.config import MAX_READER_VIEWS, ConfigError, load_config
from plategate.vision.reader import VIEW_MARGINS, VIEW_SURE, PlateReader, combine_views, crop_view
from tools.synth.augment import camera_crop
from tools.synth.plates import render_plate

MODEL = Path(__file__).resolve().parent.parent / "models" / "reader.tflite"


@pytest.fixture(scope="module")
def reader3():
    return PlateReader(MODEL, threads=1, views=3)


@pytest.fixture()
def counted(reader3):
    """The three-view reader with the shapes of the crops its model runs on recorded."""
    shapes: list[tuple[int, int]] = []
    original = reader3.logits

    def logits(crop):
        shapes.append(crop.shape[:2])
        return original(crop)

    reader3.logits = logits
    yield shapes
    del reader3.logits


def test_crop_view_pads_with_edge_pixels_and_trims_each_side():
    crop = np.arange(50 * 100, dtype=np.uint8).reshape(50, 100)
    padded = crop_view(crop, 0.04, 0.08)
    assert padded.shape == (58, 108)
    np.testing.assert_array_equal(padded[4:54, 4:104], crop)
    assert (padded[:4, 4:104] == crop[0]).all() and (padded[:, :4] == padded[:, 4:5]).all()
    trimmed = crop_view(crop, -0.03, -0.06)
    np.testing.assert_array_equal(trimmed, crop[3:47, 3:97])
    assert crop_view(crop, 0.0, 0.0) is crop
    colour = np.zeros((20, 60, 3), np.uint8)
    assert crop_view(colour, 0.05, 0.1).shape == (24, 66, 3)


def test_crop_view_never_trims_an_axis_below_eight_pixels():
    tiny = np.zeros((9, 9), np.uint8)
    assert crop_view(tiny, -0.2, -0.2).shape == (9, 9)


def test_combine_views_scores_each_text_by_its_mean_probability_over_the_views():
    views = [[("ABC123", 0.6), ("ABC128", 0.3)], [("ABC128", 0.9)], [("ABC128", 0.5), ("A8C123", 0.2)]]
    pooled = combine_views(views, top_k=2)
    assert [t for t, _ in pooled] == ["ABC128", "ABC123"]
    assert pooled[0][1] == pytest.approx((0.3 + 0.9 + 0.5) / 3)
    assert pooled[1][1] == pytest.approx(0.6 / 3)  # missing from two views: counted as 0 there
    assert combine_views([[], []], top_k=3) == []


def test_views_out_of_range_are_refused():
    for views in (0, 4):
        with pytest.raises(ValueError, match="views must be 1 to 3"):
            PlateReader(MODEL, threads=1, views=views)


def test_a_sure_read_is_kept_and_an_unsure_one_is_read_again_padded_and_trimmed(reader3, counted):
    img, text = render_plate("ABC1234", "br", np.random.default_rng(1), height=48)
    read = reader3.read(img)
    assert read.text == text and read.confidence >= VIEW_SURE
    assert counted == [(img.shape[0], img.shape[1])]  # one model run: the crop as given was sure

    rng = np.random.default_rng(5)
    for _ in range(40):  # degraded renders until one is unsure
        plate, _ = render_plate(style="eu", rng=rng, height=48)
        crop = camera_crop(plate, rng, out_height=24, strength=1.0)
        if crop.shape[1] >= 1.6 * crop.shape[0]:
            counted.clear()
            single = PlateReader(MODEL, threads=1).read(crop)
            if single.confidence < VIEW_SURE:
                break
    else:
        pytest.fail("no unsure crop among 40 degraded renders")
    pooled = reader3.read(crop)
    h, w = crop.shape[:2]
    assert counted == [(h, w), crop_view(crop, 0.04, 0.08).shape[:2], crop_view(crop, -0.03, -0.06).shape[:2]]
    assert len(pooled.candidates) <= 3
    assert pooled.candidates == tuple(sorted(pooled.candidates, key=lambda c: -c[1]))
    assert 0.0 <= pooled.confidence <= 1.0


@pytest.mark.parametrize(("style", "text", "seed"), [("br", "BRA2E19", 2), ("ar", "KMH306", 5), ("uk", "BD51SMR", 8)])
def test_three_views_read_clean_renders(reader3, style, text, seed):
    img, _ = render_plate(text, style, np.random.default_rng(seed), height=48)
    assert reader3.read(img).text == text


def test_reader_views_is_validated_in_the_config(tmp_path):
    cfg = tmp_path / "plategate.toml"
    cfg.write_text("[recognition]\nreader_views = 4\n")
    with pytest.raises(ConfigError, match="recognition.reader_views"):
        load_config(cfg)
    cfg.write_text("[recognition]\nreader_views = 2\n")
    assert load_config(cfg).recognition.reader_views == 2


def test_the_config_bound_on_views_is_the_number_of_views_the_reader_has():
    # config.py cannot import the reader (OpenCV); the CLIs' --views choices use its constant
    assert MAX_READER_VIEWS == len(VIEW_MARGINS)
    assert VIEW_MARGINS[0] == (0.0, 0.0)  # view 1 is the crop as given
