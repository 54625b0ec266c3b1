"""Augmentations of real crops for reader training (tools.synth.real_augment)."""

from __future__ import annotations

import csv

import cv2
import numpy as np
import pytest

from tools.synth import real_augment
from tools.synth.reader_data import load_labelled, real_augmented


def _crop(w: int = 200, h: int = 60) -> np.ndarray:
    img = np.full((h, w, 3), 230, np.uint8)
    cv2.putText(img, "AB12CDE", (8, h - 15), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (20, 20, 20), 3, cv2.LINE_AA)
    return img


@pytest.mark.parametrize("kind", real_augment.KINDS)
def test_augmenter_is_seeded_and_keeps_a_plate_sized_crop(kind):
    f = real_augment.augmenter(kind)
    a = f(_crop(), np.random.default_rng(3))
    b = f(_crop(), np.random.default_rng(3))
    assert np.array_equal(a, b)
    assert a.dtype == np.uint8
    assert 40 <= a.shape[0] <= 80 and 140 <= a.shape[1] <= 270


def test_strong_differs_from_light():
    img = _crop()
    light = [real_augment.light_augment(img, np.random.default_rng(s)) for s in range(20)]
    strong = [real_augment.strong_augment(img, np.random.default_rng(s)) for s in range(20)]
    widths_light = {x.shape[1] for x in light}
    widths_strong = {x.shape[1] for x in strong}
    assert max(widths_strong) - min(widths_strong) > max(widths_light) - min(widths_light)


def test_unknown_kind_is_named():
    with pytest.raises(ValueError, match="'wild'"):
        real_augment.augmenter("wild")


def test_low_resolution_keeps_size_and_spares_narrow_crops():
    img = _crop()
    out = real_augment.low_resolution(img, np.random.default_rng(0))
    assert out.shape == img.shape
    assert not np.array_equal(out, img)
    narrow = _crop(w=70, h=24)
    assert real_augment.low_resolution(narrow, np.random.default_rng(0)) is narrow


def test_tilt_keeps_shape():
    img = _crop()
    out = real_augment.tilt(img, np.random.default_rng(1))
    assert out.shape == img.shape and not np.array_equal(out, img)


def test_real_augmented_uses_the_kind(tmp_path):
    cv2.imwrite(str(tmp_path / "a.png"), _crop())
    with (tmp_path / "labels.csv").open("w", newline="") as fh:
        csv.writer(fh).writerows([["file", "text"], ["a.png", "AB12CDE"]])
    samples = load_labelled(tmp_path)
    xl, yl = real_augmented(samples, 4, 0, 32, 128)
    xs, ys = real_augmented(samples, 4, 0, 32, 128, "strong")
    assert xl.shape == xs.shape == (4, 32, 128) and yl == ys == ["AB12CDE"] * 4
    assert np.array_equal(xl[0], xs[0])  # copy 0 is the crop as it is
    assert not np.array_equal(xl[1:], xs[1:])
    with pytest.raises(ValueError):
        real_augmented(samples, 2, 0, 32, 128, "wild")
