"""Motion detection on the grayscale lores stream.

The work is done by small pure numpy functions (crop, downsample, difference
against a running-average background, changed fraction); :class:`MotionDetector`
only holds the background and the cool-down between triggers. A 320x240 frame
costs well under a millisecond (see ``tools/eval/bench_daemon.py``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from .config import MotionConfig, Roi

logger = logging.getLogger(__name__)


def roi_slices(shape: tuple[int, ...], roi: Roi) -> tuple[slice, slice]:
    """Row and column slices of a frame of *shape* for a fractional *roi*."""
    h, w = shape[:2]
    y1, y2 = int(roi.y1 * h), max(int(roi.y1 * h) + 1, int(round(roi.y2 * h)))
    x1, x2 = int(roi.x1 * w), max(int(roi.x1 * w) + 1, int(round(roi.x2 * w)))
    return slice(y1, y2), slice(x1, x2)


def downsample(gray: np.ndarray, factor: int) -> np.ndarray:
    """Average non-overlapping ``factor`` x ``factor`` blocks (a cheap blur); returns float32."""
    if factor <= 1:
        return gray.astype(np.float32)
    if factor == 2:  # the common case, four strided adds instead of a reshape-mean
        h, w = gray.shape[0] // 2 * 2, gray.shape[1] // 2 * 2
        g = gray[:h, :w].astype(np.uint16)
        total = g[0::2, 0::2] + g[1::2, 0::2] + g[0::2, 1::2] + g[1::2, 1::2]
        return total.astype(np.float32) * np.float32(0.25)
    h = gray.shape[0] - gray.shape[0] % factor
    w = gray.shape[1] - gray.shape[1] % factor
    blocks = gray[:h, :w].reshape(h // factor, factor, w // factor, factor)
    return blocks.mean(axis=(1, 3), dtype=np.float32)


def changed_fraction(frame: np.ndarray, background: np.ndarray, threshold: float) -> float:
    """Fraction of pixels whose absolute difference from *background* exceeds *threshold*."""
    return float(np.count_nonzero(np.abs(frame - background) > threshold)) / frame.size


def update_background(background: np.ndarray, frame: np.ndarray, alpha: float) -> None:
    """Blend *frame* into *background* in place with weight *alpha*."""
    background *= 1.0 - alpha
    background += alpha * frame


@dataclass(frozen=True)
class MotionResult:
    """What one lores frame showed."""

    changed: float
    motion: bool
    triggered: bool


class MotionDetector:
    """Decides from lores frames when a vehicle has moved into the region of interest.

    Args:
        cfg: the ``[motion]`` section.

    A frame triggers when the changed fraction inside the ROI reaches ``min_area``
    and the last trigger is at least ``cooldown_s`` old. A frame whose size differs
    from the previous one resets the background instead of raising.
    """

    def __init__(self, cfg: MotionConfig) -> None:
        self.cfg = cfg
        self.factor = 1 + cfg.blur
        self._background: np.ndarray | None = None
        self._shape: tuple[int, ...] | None = None
        self._last_trigger = float("-inf")
        self.frames = 0
        self.triggers = 0

    def reset(self) -> None:
        self._background = None
        self._shape = None

    def update(self, lores: np.ndarray, now: float) -> MotionResult:
        """Feed one grayscale lores frame taken at monotonic time *now*."""
        if lores.ndim != 2:
            lores = lores[..., 0] if lores.ndim == 3 else lores.reshape(lores.shape[0], -1)
        self.frames += 1
        if lores.shape != self._shape:
            if self._shape is not None:
                logger.warning("lores frame size changed from %s to %s: motion background reset",
                               self._shape, lores.shape)
            self._shape = lores.shape
            rows, cols = roi_slices(lores.shape, self.cfg.roi)
            self._slices = (rows, cols)
            self._background = downsample(lores[rows, cols], self.factor)
            return MotionResult(0.0, False, False)
        rows, cols = self._slices
        small = downsample(lores[rows, cols], self.factor)
        changed = changed_fraction(small, self._background, self.cfg.threshold)
        update_background(self._background, small, self.cfg.background_alpha)
        motion = changed >= self.cfg.min_area
        triggered = motion and (now - self._last_trigger) >= self.cfg.cooldown_s
        if triggered:
            self._last_trigger = now
            self.triggers += 1
        return MotionResult(changed, motion, triggered)
