"""The plate detector: whole frames in, plate boxes (with corners) out.

The model is a small single-class CenterNet-style network (see ``models/detector.json``):
a grayscale letterboxed frame goes in; a heat map of plate centres and, per cell, the
centre offset, log box size and four corner offsets come out at stride 4. Decoding
(peak picking, boxes, non-maximum suppression) is plain numpy here.

Frames of any size are letterboxed into the model input; a region of interest (as
fractions of the frame) is cropped first, so a camera that sees the lane in one part
of a wide frame gets more pixels per plate.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import ModelError

logger = logging.getLogger(__name__)

PAD_VALUE = 114
STRIDE = 4
#: When a frame gives no plate, it is searched again shrunk into this fraction of the model input:
#: the detector was trained on plates up to about 30 % of the frame's width, so a close-up (a plate
#: filling half the frame or more, or a photo of the plate alone) is found only at a smaller scale.
CLOSE_UP_FILL = 0.4
#: ... and a detection of that pass must score at least this (or ``min_score`` if higher): on the 201
#: held-out ``negatives`` frames the pass adds 0.020 false positives per frame at 0.55, 0.005 at 0.6.
CLOSE_UP_MIN_SCORE = 0.6
#: The close-up pass also runs when a plate at least this share of the frame's (ROI's) width is
#: found: at full size such a plate is often found in parts (each half of it a box of its own), and
#: cut from those parts it is read without its first or last characters. Chosen on the training
#: crops of ``scene-crops`` given whole as frames: reads end to end 60.6 -> 75.8 %.
CLOSE_UP_WIDTH = 0.25
#: A detection lying at least this share inside a close-up plate at least :data:`PART_WIDER` times
#: as wide is a part of that plate, and dropped.
PART_INSIDE = 0.7
PART_WIDER = 1.3
REG_CHANNELS = 12  # dx, dy, log w, log h, 4 x (corner dx / w, corner dy / h)


@dataclass(frozen=True)
class Detection:
    """One detected plate.

    Attributes:
        box: ``(x1, y1, x2, y2)`` in pixels of the frame given to :meth:`PlateDetector.detect`.
        score: detector confidence in [0, 1].
        corners: ``(4, 2)`` float32 corners TL, TR, BR, BL in frame pixels, or ``None``.
    """

    box: tuple[int, int, int, int]
    score: float
    corners: np.ndarray | None = None


@dataclass(frozen=True)
class Letterbox:
    """How a frame (or ROI of it) was placed into the model input: ``input = (frame - offset) * scale + pad``."""

    scale: float
    pad_x: int
    pad_y: int
    offset_x: int = 0
    offset_y: int = 0

    def to_frame(self, xy: np.ndarray) -> np.ndarray:
        """Map ``(..., 2)`` model-input coordinates back to frame pixels."""
        out = np.asarray(xy, np.float32).copy()
        out[..., 0] = (out[..., 0] - self.pad_x) / self.scale + self.offset_x
        out[..., 1] = (out[..., 1] - self.pad_y) / self.scale + self.offset_y
        return out


def to_gray(frame: np.ndarray) -> np.ndarray:
    """A uint8 single-channel view of a BGR, BGRA or gray frame.

    Raises:
        ValueError: the array is not an image (wrong rank or channel count).
    """
    if frame.ndim == 2:
        gray = frame
    elif frame.ndim == 3 and frame.shape[2] == 1:
        gray = frame[..., 0]
    elif frame.ndim == 3 and frame.shape[2] == 3:
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    elif frame.ndim == 3 and frame.shape[2] == 4:
        gray = cv2.cvtColor(frame, cv2.COLOR_BGRA2GRAY)
    else:
        raise ValueError(f"not an image array: shape {frame.shape}")
    if gray.dtype != np.uint8:
        if gray.dtype == np.uint16:
            gray = (gray >> 8).astype(np.uint8)
        else:
            gray = np.clip(gray, 0, 255).astype(np.uint8)
    return gray


def roi_pixels(shape: tuple[int, ...], roi: tuple[float, float, float, float] | None) -> tuple[int, int, int, int]:
    """Turn a fractional ROI into integer pixel bounds ``x1, y1, x2, y2`` (whole frame for ``None``).

    Raises:
        ValueError: the ROI is empty or outside 0..1.
    """
    h, w = shape[:2]
    if roi is None:
        return 0, 0, w, h
    fx1, fy1, fx2, fy2 = roi
    if not (0 <= fx1 < fx2 <= 1 and 0 <= fy1 < fy2 <= 1):
        raise ValueError(f"roi must be fractions 0 <= x1 < x2 <= 1 and 0 <= y1 < y2 <= 1, got {roi}")
    x1, y1 = int(fx1 * w), int(fy1 * h)
    x2, y2 = max(x1 + 1, int(round(fx2 * w))), max(y1 + 1, int(round(fy2 * h)))
    return x1, y1, x2, y2


def letterbox(gray: np.ndarray, size: tuple[int, int], roi_px: tuple[int, int, int, int] | None = None,
              fill: float = 1.0) -> tuple[np.ndarray, Letterbox]:
    """Scale *gray* (or its ROI) to fit ``size = (width, height)`` keeping aspect, pad the rest.

    Args:
        gray: the uint8 image.
        size: the model input ``(width, height)``.
        roi_px: the part of *gray* to use, in pixels (all of it for ``None``).
        fill: the image fits into this fraction of *size* and sits in its centre
            (``< 1`` shrinks close-up plates to the sizes the detector knows).

    Returns:
        The ``(height, width)`` uint8 model input and the :class:`Letterbox` geometry.
    """
    tw, th = size
    x1, y1, x2, y2 = roi_px or (0, 0, gray.shape[1], gray.shape[0])
    src = gray[y1:y2, x1:x2]
    h, w = src.shape[:2]
    scale = fill * min(tw / w, th / h)
    nw, nh = max(1, min(tw, int(round(w * scale)))), max(1, min(th, int(round(h * scale))))
    while src.shape[1] >= 2 * nw and src.shape[0] >= 2 * nh:  # fast anti-aliased halving (INTER_AREA is slow)
        src = cv2.pyrDown(src)
    resized = cv2.resize(src, (nw, nh), interpolation=cv2.INTER_LINEAR)
    out = np.full((th, tw), PAD_VALUE, np.uint8)
    px, py = (tw - nw) // 2, (th - nh) // 2
    out[py:py + nh, px:px + nw] = resized
    return out, Letterbox(scale=nw / w, pad_x=px, pad_y=py, offset_x=x1, offset_y=y1)


def box_intersection(box, boxes: np.ndarray) -> np.ndarray:
    """Area of the intersection of one ``(x1, y1, x2, y2)`` box with each of ``boxes (n, 4)``."""
    return (np.maximum(0, np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]))
            * np.maximum(0, np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1])))


def box_iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Intersection over union of one ``(x1, y1, x2, y2)`` box with each of ``boxes (n, 4)``."""
    inter = box_intersection(box, boxes)
    area = max(0, box[2] - box[0]) * max(0, box[3] - box[1])
    areas = np.maximum(0, boxes[:, 2] - boxes[:, 0]) * np.maximum(0, boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-6)


def without_parts(detections: list[Detection], wholes: list[Detection]) -> list[Detection]:
    """*detections* less those that lie at least :data:`PART_INSIDE` inside one of *wholes* at
    least :data:`PART_WIDER` times as wide (a part of a large plate found whole at a smaller scale)."""
    if not wholes:
        return detections
    big = np.array([w.box for w in wholes], np.float64)

    def is_part(d: Detection) -> bool:
        x1, y1, x2, y2 = d.box
        area = max(0, x2 - x1) * max(0, y2 - y1)
        wider = big[:, 2] - big[:, 0] >= PART_WIDER * (x2 - x1)
        return area > 0 and bool(np.any(wider & (box_intersection(d.box, big) >= PART_INSIDE * area)))

    return [d for d in detections if not is_part(d)]


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float = 0.4) -> list[int]:
    """Greedy non-maximum suppression; returns kept indices, best first."""
    order = np.argsort(-scores)
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        order = rest[box_iou(boxes[i], boxes[rest]) <= iou_threshold]
    return keep


def decode(heat: np.ndarray, reg: np.ndarray, min_score: float, max_candidates: int = 50,
           stride: int = STRIDE) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode the heat map ``(H, W)`` and regression ``(H, W, 12)`` into model-input geometry.

    Returns:
        ``boxes (n, 4)``, ``scores (n,)`` and ``corners (n, 4, 2)`` in model-input pixels,
        after NMS, best first.
    """
    padded = np.pad(heat, 1, mode="constant", constant_values=0)
    h, w = heat.shape
    local_max = heat.copy()
    for dy in range(3):
        for dx in range(3):
            np.maximum(local_max, padded[dy:dy + h, dx:dx + w], out=local_max)
    peaks = (heat >= local_max) & (heat >= min_score)
    ys, xs = np.nonzero(peaks)
    if ys.size == 0:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0, 4, 2), np.float32)
    scores = heat[ys, xs]
    if scores.size > max_candidates:
        top = np.argsort(-scores)[:max_candidates]
        ys, xs, scores = ys[top], xs[top], scores[top]
    r = reg[ys, xs].astype(np.float32)
    cx = (xs + 0.5 + r[:, 0]) * stride
    cy = (ys + 0.5 + r[:, 1]) * stride
    bw = np.exp(np.clip(r[:, 2], -2, 6)) * stride
    bh = np.exp(np.clip(r[:, 3], -2, 6)) * stride
    boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1)
    corners = np.empty((len(cx), 4, 2), np.float32)
    corners[:, :, 0] = cx[:, None] + r[:, 4:12:2] * bw[:, None]
    corners[:, :, 1] = cy[:, None] + r[:, 5:12:2] * bh[:, None]
    keep = nms(boxes, scores)
    return boxes[keep].astype(np.float32), scores[keep].astype(np.float32), corners[keep]


class PlateDetector:
    """Runs the int8 detector model on whole frames.

    Args:
        model_path: the ``.tflite`` file; its JSON card must sit beside it.
        threads: interpreter threads.
        min_score: heat-map threshold for a detection.
        close_up: when the frame gives no detection scoring *close_up_below*, or one at least
            :data:`CLOSE_UP_WIDTH` of its width, search it again shrunk to :data:`CLOSE_UP_FILL` of
            the input (plates too large for the detector); parts of a plate found whole there are
            dropped (:func:`without_parts`).
        close_up_below: that score (default: *min_score*); an evaluation that decodes at a lower
            *min_score* to sweep thresholds sets it to the daemon's threshold.

    Raises:
        ModelError: the model or its card is missing, truncated, tampered with, or not a detector.
    """

    def __init__(self, model_path: Path | str, threads: int = 2, min_score: float = 0.55,
                 close_up: bool = True, close_up_below: float | None = None) -> None:
        from .runtime import load_model  # LiteRT is imported only when a model is actually run

        self.model = load_model(Path(model_path), threads)
        self.min_score = float(min_score)
        self.close_up_fill = CLOSE_UP_FILL if close_up else None
        self.close_up_below = self.min_score if close_up_below is None else float(close_up_below)
        if self.model.card.task != "detector":
            raise ModelError(f"{model_path}: the card says task {self.model.card.task!r}, not a detector")
        shape = self.model.input_shape
        if len(shape) != 4 or shape[3] != 1:
            raise ModelError(f"{model_path}: detector card input shape {shape} is not (1, H, W, 1)")
        self.input_size = (int(shape[2]), int(shape[1]))  # (width, height)
        self._table = _quantise_table(self.model)

    def _infer(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self._table is not None:  # an 8-bit input tensor: one table look-up per pixel
            x = cv2.LUT(image, self._table).view(self.model.input_details["dtype"])[None, :, :, None]
        else:
            x = image[None, :, :, None].astype(np.float32) * (1.0 / 255.0)
        return split_outputs(self.model.run(x))

    def detect(self, frame: np.ndarray, roi: tuple[float, float, float, float] | None = None) -> list[Detection]:
        """Find plates in *frame* (BGR, BGRA or gray, any size).

        Args:
            frame: the image.
            roi: optional ``(x1, y1, x2, y2)`` fractions of the frame to search.

        Returns:
            Detections in frame pixels, best first.

        Raises:
            ValueError: the frame is not an image array or the ROI is invalid.
        """
        gray = to_gray(frame)
        roi_px = roi_pixels(gray.shape, roi)
        out = self.detect_at(gray, roi_px, 1.0, self.min_score)
        if self.close_up_fill is None:
            return out
        large = CLOSE_UP_WIDTH * (roi_px[2] - roi_px[0])
        if not any(d.score >= self.close_up_below for d in out) or any(d.box[2] - d.box[0] >= large for d in out):
            near = self.detect_at(gray, roi_px, self.close_up_fill, max(self.min_score, CLOSE_UP_MIN_SCORE))
            if near:
                both = near + out
                keep = nms(np.array([d.box for d in both], np.float32), np.array([d.score for d in both]))
                out = without_parts([both[i] for i in keep], near)
        return out

    def detect_at(self, gray: np.ndarray, roi_px: tuple[int, int, int, int], fill: float,
                   min_score: float) -> list[Detection]:
        """One model run on the *roi_px* part of *gray*, letterboxed at *fill*: its detections from
        *min_score* on, in frame pixels, best first (no close-up pass)."""
        image, geo = letterbox(gray, self.input_size, roi_px, fill)
        heat, reg = self._infer(image)
        boxes, scores, corners = decode(heat, reg, min_score)
        h, w = gray.shape[:2]
        out: list[Detection] = []
        for box, score, corner in zip(boxes, scores, corners, strict=True):
            b = geo.to_frame(box.reshape(2, 2)).reshape(4)
            x1, y1 = max(0, int(round(b[0]))), max(0, int(round(b[1])))
            x2, y2 = min(w, int(round(b[2]))), min(h, int(round(b[3])))
            if x2 - x1 < 2 or y2 - y1 < 2:
                continue
            c = geo.to_frame(corner)
            c[:, 0] = c[:, 0].clip(0, w - 1)
            c[:, 1] = c[:, 1].clip(0, h - 1)
            out.append(Detection(box=(x1, y1, x2, y2), score=float(score), corners=c))
        return out


def _quantise_table(model) -> np.ndarray | None:
    """For a model with an int8 or uint8 input: the 256-entry uint8 table that maps a grey level to
    its quantised input value (the bytes of ``model.quantise_input(level / 255)``); else ``None``."""
    if np.dtype(model.input_details["dtype"]) not in (np.dtype(np.int8), np.dtype(np.uint8)):
        return None
    levels = np.arange(256, dtype=np.float32) * np.float32(1.0 / 255.0)
    return np.ascontiguousarray(model.quantise_input(levels)).view(np.uint8)


def split_outputs(outputs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Pick the heat map (1 channel), box (4) and corners (8) outputs; returns heat ``(H, W)`` and regression ``(H, W, 12)``."""
    by_channels = {a.shape[-1]: a for a in outputs}
    if set(by_channels) != {1, 4, REG_CHANNELS - 4}:
        raise ModelError(f"detector outputs have shapes {[a.shape for a in outputs]}, expected (..., 1), (..., 4) and (..., 8)")
    heat, box, corners = by_channels[1], by_channels[4], by_channels[REG_CHANNELS - 4]
    h, w = heat.shape[-3], heat.shape[-2]
    return heat.reshape(h, w), np.concatenate([box.reshape(h, w, 4), corners.reshape(h, w, REG_CHANNELS - 4)], axis=-1)
