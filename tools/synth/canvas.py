"""The plate canvas: drawing in millimetres on a plate render, and the small helpers every plate style uses."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from tools.synth import seals
from tools.synth.text import FontSpec, text_mask

logger = logging.getLogger(__name__)


@dataclass
class Canvas:
    """A plate being drawn, with coordinates in millimetres scaled to pixels."""

    img: np.ndarray
    scale: float  # pixels per millimetre

    def px(self, mm: float) -> int:
        return int(round(mm * self.scale))

    def rect(self, x0: float, y0: float, x1: float, y1: float, colour) -> None:
        cv2.rectangle(self.img, (self.px(x0), self.px(y0)), (self.px(x1) - 1, self.px(y1) - 1), colour, -1)

    def ink(self, mask: np.ndarray, x: int, y: int, colour) -> None:
        h, w = mask.shape
        H, W = self.img.shape[:2]
        x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, W), min(y + h, H)
        if x1 <= x0 or y1 <= y0:
            return
        m = mask[y0 - y : y1 - y, x0 - x : x1 - x, None]
        roi = self.img[y0:y1, x0:x1].astype(np.float32)
        self.img[y0:y1, x0:x1] = (roi * (1 - m) + np.asarray(colour, np.float32) * m).astype(np.uint8)

    def text(self, s: str, box: tuple[float, float, float, float], cap_mm: float, colour, font: FontSpec,
             rng: np.random.Generator, *, spacing: float = 0.12, data_dir: Path | None = None, align: str = "center",
             squeeze: float = 1.0, emblem: bool = False) -> tuple[np.ndarray, int, int]:
        """Draw *s* with cap height *cap_mm*, centred vertically in *box*, squeezed to fit its width.

        *squeeze* scales the text's width first (below 1 gives condensed letters).
        *emblem* draws a small shield in the widest gap between character groups, as
        between the letters and digits of old Argentine plates.

        Returns:
            ``(mask, x, y)``: the text mask as drawn and its top-left corner on the
            canvas (for :func:`tools.synth.seals.draw_in_gap`).
        """
        x0, y0, x1, y1 = (self.px(v) for v in box)
        mask = text_mask(s, font, max(3, self.px(cap_mm)), rng, spacing=spacing, data_dir=data_dir)
        if emblem:
            seals.ink_shield_in_gap(mask, rng)
        if squeeze != 1.0:
            mask = cv2.resize(mask, (max(1, int(mask.shape[1] * squeeze)), mask.shape[0]), interpolation=cv2.INTER_AREA)
        if mask.shape[1] > x1 - x0:
            mask = cv2.resize(mask, (max(1, x1 - x0), mask.shape[0]), interpolation=cv2.INTER_AREA)
        slack = (x1 - x0) - mask.shape[1]
        if align == "center":
            x = x0 + slack // 2 + int(rng.integers(-slack // 8 - 1, slack // 8 + 1)) if slack > 0 else x0
        else:
            x = x0
        y = y0 + ((y1 - y0) - mask.shape[0]) // 2
        self.ink(mask, x, y, colour)
        return mask, x, y


def ink_cols(mask: np.ndarray, x: int) -> tuple[int, int]:
    """Canvas columns of the first and one past the last inked column of a text *mask* drawn at column *x*."""
    cols = np.flatnonzero(mask.max(axis=0) > 0.3)
    return (x + int(cols[0]), x + int(cols[-1]) + 1) if cols.size else (x, x)


def jitter(colour, rng: np.random.Generator, amount: int = 18) -> tuple[int, int, int]:
    """Vary the brightness of *colour* by up to *amount* and its tint by a third of that."""
    shift = int(rng.integers(-amount, amount + 1))
    tint = max(1, amount // 3)
    return tuple(int(np.clip(c + shift + rng.integers(-tint, tint + 1), 0, 255)) for c in colour)


def new_canvas(w_mm: float, h_mm: float, height: int, bg, rng: np.random.Generator) -> Canvas:
    scale = 2.0 * height / h_mm  # draw at twice the size, downsample at the end
    img = np.empty((int(round(h_mm * scale)), int(round(w_mm * scale)), 3), np.uint8)
    img[:] = jitter(bg, rng)
    return Canvas(img, scale)


def border(c: Canvas, inset_mm: float, width_mm: float, colour) -> None:
    h, w = c.img.shape[:2]
    i, t = c.px(inset_mm), max(1, c.px(width_mm))
    cv2.rectangle(c.img, (i, i), (w - 1 - i, h - 1 - i), colour, t, cv2.LINE_AA)


def screws(c: Canvas, rng: np.random.Generator, positions: list[tuple[float, float]]) -> None:
    if rng.random() < 0.5:
        return
    tone = int(rng.integers(90, 200))
    for x, y in positions:
        cv2.circle(c.img, (c.px(x), c.px(y)), max(2, c.px(4)), (tone, tone, tone), -1, cv2.LINE_AA)


def small_font(rng: np.random.Generator) -> FontSpec:
    return FontSpec("ttf", ("DejaVuSans-Bold.ttf", "DejaVuSansCondensed.ttf", "DejaVuSans.ttf")[int(rng.integers(3))])


__all__ = ["Canvas", "border", "jitter", "new_canvas", "screws", "small_font"]
