"""Image preparation shared by the reader at runtime and by its training tools.

Keeping one implementation here guarantees that a crop is turned into model input
exactly the same way when training and when reading at the gate.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import cv2
import numpy as np

from plategate.errors import ImageError

logger = logging.getLogger(__name__)


def to_gray_u8(image: np.ndarray) -> np.ndarray:
    """Convert an image of any common layout to 8-bit grayscale.

    Accepts grayscale (H, W) or (H, W, 1), BGR (H, W, 3) and BGRA (H, W, 4) arrays of
    dtype uint8, uint16 (scaled down by 257), or float in [0, 1].

    Raises:
        ImageError: the array is empty, has an unsupported shape or dtype, or holds
            non-finite values.
    """
    if not isinstance(image, np.ndarray):
        raise ImageError(f"expected a numpy image array, got {type(image).__name__}")
    if image.size == 0 or image.ndim not in (2, 3) or image.shape[0] < 1 or image.shape[1] < 1:
        raise ImageError(f"unsupported image shape {image.shape}")
    if image.dtype == np.uint8:
        img = image
    elif image.dtype == np.uint16:
        img = (image // 257).astype(np.uint8)
    elif np.issubdtype(image.dtype, np.floating):
        if not np.all(np.isfinite(image)):
            raise ImageError("image holds NaN or infinite values")
        img = (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    else:
        raise ImageError(f"unsupported image dtype {image.dtype}")
    if img.ndim == 2:
        return img
    channels = img.shape[2]
    if channels == 1:
        return img[:, :, 0]
    if channels == 3:
        return cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    if channels == 4:
        return cv2.cvtColor(img, cv2.COLOR_BGRA2GRAY)
    raise ImageError(f"unsupported number of channels {channels}")


def _percentiles_u8(values: np.ndarray, p_lo: float, p_hi: float) -> tuple[float, float]:
    """``np.percentile(values, (p_lo, p_hi))`` (linear interpolation) of uint8 *values*, from their histogram.

    The k-th smallest value is the first grey level whose cumulative count exceeds k,
    so the result is exactly numpy's, several times faster than sorting.
    """
    n = values.size
    cum = np.cumsum(np.bincount(values.ravel(), minlength=256))
    pos = [p * (n - 1) / 100.0 for p in (p_lo, p_hi)]
    ranks = [min(n - 1, int(q) + d) for q in pos for d in (0, 1)]
    a_lo, b_lo, a_hi, b_hi = np.searchsorted(cum, ranks, side="right").tolist()
    return (a_lo + (b_lo - a_lo) * (pos[0] - int(pos[0])), a_hi + (b_hi - a_hi) * (pos[1] - int(pos[1])))


_LEVELS = np.arange(256, dtype=np.float32)


def resize_to(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Stretch *image* to ``height`` x ``width``: area averaging when either side shrinks, else bilinear."""
    h, w = image.shape[:2]
    interp = cv2.INTER_AREA if (h > height or w > width) else cv2.INTER_LINEAR
    return cv2.resize(image, (width, height), interpolation=interp)


def _resized_and_stretch(image: np.ndarray, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """The crop as 8-bit gray at the model's size, and the float32 stretch of each of its 256 grey levels."""
    small = resize_to(to_gray_u8(image), height, width)
    lo, hi = _percentiles_u8(small, 2.0, 98.0)
    span = max(float(hi - lo), 16.0)
    # the stretch of every grey level, looked up: the same float32 arithmetic as on the whole image
    return small, np.clip((_LEVELS - lo) / span, 0.0, 1.0)


def prepare_crop(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Turn a plate crop into reader input: grayscale, resized, contrast-stretched.

    The crop is stretched to ``height`` x ``width`` regardless of its aspect ratio
    (plates of all countries fill the model's window the same way), then its grey
    levels are stretched so that the 2nd and 98th percentiles map to 0 and 1; this
    makes low-contrast night crops and bright day crops look alike.

    Args:
        image: the crop (see :func:`to_gray_u8` for the accepted layouts).
        height: model input height.
        width: model input width.

    Returns:
        A float32 array of shape (height, width) with values in [0, 1].

    Raises:
        ImageError: the image cannot be converted (see :func:`to_gray_u8`).
    """
    small, lut = _resized_and_stretch(image, height, width)
    return cv2.LUT(small, lut)


def prepare_crop_quantised(image: np.ndarray, height: int, width: int,
                           quantise: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """:func:`prepare_crop` followed by the model's input quantisation, in one lookup.

    *quantise* (e.g. :meth:`plategate.vision.runtime.LoadedModel.quantise_input`) is
    applied to the 256 stretched grey levels instead of to every pixel. It works
    element by element, so the result equals ``quantise(prepare_crop(...))`` exactly,
    without the float image in between.

    Returns:
        An array of shape (height, width) of *quantise*'s dtype.

    Raises:
        ImageError: the image cannot be converted (see :func:`to_gray_u8`).
    """
    small, lut = _resized_and_stretch(image, height, width)
    return cv2.LUT(small, quantise(lut))
