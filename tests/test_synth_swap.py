"""tools.synth.swap: rendered plates painted over the boxed plates of a photo, nothing else touched."""

from __future__ import annotations

import numpy as np

from tools.synth.swap import box_corners, swap_plates


def test_only_the_boxes_change():
    rng = np.random.default_rng(1)
    img = np.full((240, 320, 3), 90, np.uint8)
    img[100:130, 100:200] = 230  # a bright European-shaped plate
    boxes = np.array([[100, 100, 200, 130], [10, 10, 16, 12]], np.float32)  # the second is too small to paint
    out = swap_plates(img, boxes, rng, share=1.0)
    grown = box_corners(boxes[0])
    x0, y0 = np.floor(grown.min(0)).astype(int) - 2
    x1, y1 = np.ceil(grown.max(0)).astype(int) + 2
    changed = np.argwhere((out != img).any(2))
    assert len(changed) > 1000  # the plate was painted over
    assert changed[:, 0].min() >= y0 and changed[:, 0].max() < y1
    assert changed[:, 1].min() >= x0 and changed[:, 1].max() < x1
    assert (out[10:12, 10:16] == img[10:12, 10:16]).all()


def test_share_zero_keeps_the_photo():
    img = np.random.default_rng(2).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    out = swap_plates(img, np.array([[20, 20, 120, 45]], np.float32), np.random.default_rng(3), share=0.0)
    assert (out == img).all() and out is not img
