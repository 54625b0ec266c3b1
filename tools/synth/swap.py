"""Rendered plates painted over the real plates of real photos: a real street around a plate of another style.

The real photo sets box every plate (``openimages-plates``) or one per photo
(``openlpr-scenes``); their plates are mostly European and British. Covering a boxed plate
with a rendered one of another style (US plates with their state backgrounds and dressing,
Brazilian, Argentine, European, British, Pakistani, Indian, Gulf, Australian, two-line), matched to the box's size, tilt and lighting, teaches the
detector what those plates look like on real cars and in real streets, where the renderer's
own scenes only have generated clutter around them.
"""

from __future__ import annotations

import cv2
import numpy as np

from tools.synth import plates
from tools.synth.scenes import paste_plate

#: plate styles painted over real plates, and their shares (US plates are the ones the
#: real photos have least of)
SWAP_STYLES = {"us": 0.35, "br": 0.1, "ar": 0.07, "eu": 0.1, "uk": 0.1, "pk": 0.06, "in": 0.06, "gulf": 0.04, "au": 0.04,
               "square": 0.04, "pk2": 0.02, "in2": 0.02}
#: boxes narrower than this (pixels) keep their real plate: too small to paint convincingly
MIN_WIDTH = 14
#: the most a plate's aspect ratio may be changed to fit a box (log ratio; 0.35 is about 40 %)
MAX_SHAPE_CHANGE = 0.35


def box_corners(box: np.ndarray, grow: float = 0.04) -> np.ndarray:
    """Corners TL, TR, BR, BL of an axis-aligned *box*, grown by *grow* of its size on each side."""
    x1, y1, x2, y2 = (float(v) for v in box)
    dx, dy = (x2 - x1) * grow, (y2 - y1) * grow
    return np.array([[x1 - dx, y1 - dy], [x2 + dx, y1 - dy], [x2 + dx, y2 + dy], [x1 - dx, y2 + dy]], np.float32)


def match_light(plate: np.ndarray, patch: np.ndarray) -> np.ndarray:
    """Scale *plate*'s brightness and contrast towards the real *patch* it covers."""
    p = plate.astype(np.float32)
    ref = patch.astype(np.float32)
    gain = (ref.std() + 8.0) / (p.std() + 8.0)
    out = (p - p.mean()) * np.clip(gain, 0.35, 1.3) + np.clip(ref.mean(), 40, 220)
    return out.clip(0, 255).astype(np.uint8)


def swap_plates(img: np.ndarray, boxes: np.ndarray, rng: np.random.Generator, data_dir=None,
                share: float = 0.7) -> np.ndarray:
    """A copy of BGR *img* in which about *share* of the boxed plates are painted over.

    The boxes stay valid: each painted plate covers its box (grown by a few percent, so
    that the real plate's rim does not show around it).
    """
    out = img.copy()
    styles, weights = list(SWAP_STYLES), np.array(list(SWAP_STYLES.values()))
    for box in np.asarray(boxes, np.float32).reshape(-1, 4):
        w, h = box[2] - box[0], box[3] - box[1]
        if w < MIN_WIDTH or h < 4 or rng.random() >= share:
            continue
        plate = None
        for _ in range(4):  # a style whose shape fits the box (a US plate is 2:1, a European one 4.5:1)
            style = styles[rng.choice(len(styles), p=weights / weights.sum())]
            cand, _text = plates.render_plate(style=style, rng=rng, height=int(np.clip(h * 2, 48, 128)), data_dir=data_dir)
            if abs(np.log((cand.shape[1] / cand.shape[0]) / (w / h))) < MAX_SHAPE_CHANGE:
                plate = cand
                break
        if plate is None:
            continue
        corners = box_corners(box)
        x1, y1, x2, y2 = (int(v) for v in (max(0, box[0]), max(0, box[1]), box[2], box[3]))
        real = out[y1:y2, x1:x2]
        if real.size:
            plate = match_light(plate, real)
        if rng.random() < 0.5:
            k = int(rng.integers(1, 3)) * 2 + 1
            plate = cv2.GaussianBlur(plate, (k, k), 0)
        paste_plate(out, plate, corners)
    return out
