"""Augmentations of real plate crops (cut from photographs, with a margin) for reader training.

``light`` moves the margins a little and rotates by a few degrees. ``strong`` also tilts the
crop in perspective, rotates further, stretches it sideways and sometimes takes it down to
a few pixels per character and back, JPEG-compresses it or smears it: the way plates of
street and phone photos differ from one another, which the light kind leaves the reader to
memorise.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from tools.synth import augment


def _margins(img: np.ndarray, rng: np.random.Generator, sx: float, sy: tuple[float, float], degrees: float) -> np.ndarray:
    """Shift each margin by up to *sx* of the width / *sy* of the height and rotate by up to *degrees*."""
    h, w = img.shape[:2]
    dx0, dx1 = (rng.uniform(-sx, sx, 2) * w).astype(int)
    dy0, dy1 = (rng.uniform(*sy, 2) * h).astype(int)
    pad = max(abs(int(v)) for v in (dx0, dx1, dy0, dy1)) + 1
    big = cv2.copyMakeBorder(img, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    rot = cv2.getRotationMatrix2D((big.shape[1] / 2, big.shape[0] / 2), float(rng.uniform(-degrees, degrees)), 1.0)
    big = cv2.warpAffine(big, rot, (big.shape[1], big.shape[0]), borderMode=cv2.BORDER_REPLICATE)
    crop = big[pad + dy0 : pad + h - dy1, pad + dx0 : pad + w - dx1]
    return crop if crop.size else img


def _photometric(crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if rng.random() < 0.3:
        crop = augment.ir_look(crop, rng)
    crop = augment.contrast(crop, rng, low=rng.random() < 0.2)
    if rng.random() < 0.4:
        crop = augment.blur(crop, rng, 0.6)
    if rng.random() < 0.5:
        crop = augment.noise(crop, rng, float(rng.uniform(1, 8)))
    if rng.random() < 0.05:
        crop = 255 - crop
    return crop


def light_augment(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Mild augmentation: shifted margins, rotation within 4 degrees, lighting, blur, noise."""
    return _photometric(_margins(img, rng, 0.06, (-0.08, 0.1), 4.0), rng)


def tilt(img: np.ndarray, rng: np.random.Generator, skew: float = 0.08) -> np.ndarray:
    """Move each corner of *img* by up to *skew* of its width / height (a perspective tilt);
    the uncovered border repeats the edge pixels."""
    h, w = img.shape[:2]
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = src + (rng.uniform(-skew, skew, (4, 2)) * np.float32([w, h])).astype(np.float32)
    m = cv2.getPerspectiveTransform(src, dst)
    return cv2.warpPerspective(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def low_resolution(img: np.ndarray, rng: np.random.Generator, smallest: float = 0.3, min_width: int = 64) -> np.ndarray:
    """Shrink *img* to a random share (*smallest* to 0.8, never under *min_width* pixels wide)
    of its size and enlarge it back; a crop already that narrow is returned as it is."""
    h, w = img.shape[:2]
    low = max(smallest, min_width / w)
    if low >= 0.8:
        return img
    f = float(rng.uniform(low, 0.8))
    small = cv2.resize(img, (max(4, int(w * f)), max(4, int(h * f))), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def strong_augment(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The light augmentation's margins and lighting, and also: a perspective tilt (0.6 of the
    copies), rotation within 10 degrees, a sideways stretch of 0.8-1.25, a low-resolution
    round trip (0.3), JPEG (0.3) and motion-like smear (0.15)."""
    crop = tilt(img, rng) if rng.random() < 0.6 else img
    crop = _margins(crop, rng, 0.1, (-0.1, 0.15), 10.0)
    h, w = crop.shape[:2]
    crop = cv2.resize(crop, (max(4, int(round(w * rng.uniform(0.8, 1.25)))), h), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.3:
        crop = low_resolution(crop, rng)
    if rng.random() < 0.15:
        k = int(rng.integers(3, 7))
        kernel = np.zeros((k, k), np.float32)
        kernel[k // 2, :] = 1.0 / k
        crop = cv2.filter2D(crop, -1, kernel)
    if rng.random() < 0.3:
        crop = augment.jpeg(crop, rng)
    return _photometric(crop, rng)


#: the augmentations by name (``train_reader --real-augment``)
AUGMENTERS: dict[str, Callable[[np.ndarray, np.random.Generator], np.ndarray]] = {
    "light": light_augment, "strong": strong_augment}
#: the kinds of augmentation :func:`augmenter` knows
KINDS = tuple(AUGMENTERS)


def augmenter(kind: str) -> Callable[[np.ndarray, np.random.Generator], np.ndarray]:
    """The augmentation named *kind* (one of :data:`KINDS`).

    Raises:
        ValueError: *kind* is not one of :data:`KINDS`.
    """
    try:
        return AUGMENTERS[kind]
    except KeyError:
        raise ValueError(f"real-crop augmentation must be one of {', '.join(KINDS)}, got {kind!r}") from None
