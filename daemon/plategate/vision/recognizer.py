"""Detector + reader on one frame: find plates, rectify each crop, read it.

A detection's corners (when the detector gives them) are used to warp the plate to an
upright rectangle before reading; otherwise the box, padded a little, is cropped.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import cv2
import numpy as np

from ..types import PlateRead
from .detector import Detection, PlateDetector

if TYPE_CHECKING:
    from ..config import RecognitionConfig

logger = logging.getLogger(__name__)

CROP_HEIGHT = 64
#: extra margin around a plate crop, as fractions of its width and height. The reader is trained
#: on crops cut close to the plate: on the 269 hand-read ro-dashcam/train plates (the reader never
#: trains on them) it read 211 at PAD_Y 0.06 against 206 at 0.12 (208-216 for PAD_Y 0.04-0.08 at
#: any PAD_X from 0 to 0.09, 199-210 at 0.12-0.18), and more of them confidently (87 against 71,
#: all right). On the 56 hand-read ro-dashcam/valid plates: 49 against 48 right.
PAD_X, PAD_Y = 0.06, 0.06


class Reader(Protocol):
    """What the recognizer needs from the OCR reader."""

    def read(self, crop: np.ndarray) -> PlateRead: ...  # noqa: D102

    def read_batch(self, crops: list[np.ndarray]) -> list[PlateRead]: ...  # noqa: D102


@dataclass
class RecognitionResult:
    """Plates found in one frame.

    Attributes:
        plates: reads with their frame boxes, best confidence first.
        crops: the rectified plate crops, in the same order as *plates*.
        timing_ms: ``detect``, ``read`` and ``total`` milliseconds.
    """

    plates: list[PlateRead] = field(default_factory=list)
    crops: list[np.ndarray] = field(default_factory=list)
    timing_ms: dict[str, float] = field(default_factory=dict)


def _quad_ok(corners: np.ndarray, box: tuple[int, int, int, int]) -> bool:
    """Whether the predicted corners form a sane convex quad that agrees with the box."""
    if corners is None or not np.isfinite(corners).all():
        return False
    if not cv2.isContourConvex(corners.astype(np.float32).reshape(-1, 1, 2)):
        return False
    x1, y1, x2, y2 = box
    area = cv2.contourArea(corners.astype(np.float32))
    return 0.4 * (x2 - x1) * (y2 - y1) <= area <= 1.3 * (x2 - x1) * (y2 - y1)


def crop_plate(frame: np.ndarray, det: Detection, height: int = CROP_HEIGHT) -> np.ndarray:
    """Cut the plate of *det* out of *frame*, perspective-rectified when corners are usable."""
    x1, y1, x2, y2 = det.box
    bw, bh = x2 - x1, y2 - y1
    fh, fw = frame.shape[:2]
    if det.corners is not None and _quad_ok(det.corners, det.box):
        c = det.corners.astype(np.float32)
        top, bottom = np.linalg.norm(c[1] - c[0]), np.linalg.norm(c[2] - c[3])
        left, right = np.linalg.norm(c[3] - c[0]), np.linalg.norm(c[2] - c[1])
        aspect = max(1.0, (top + bottom) / max(left + right, 1e-3))
        h = height
        w = int(round(h * aspect))
        mx, my = PAD_X * w, PAD_Y * h
        dst = np.array([[mx, my], [w + mx, my], [w + mx, h + my], [mx, h + my]], np.float32)
        mat = cv2.getPerspectiveTransform(c, dst)
        return cv2.warpPerspective(frame, mat, (int(w + 2 * mx), int(h + 2 * my)), flags=cv2.INTER_LINEAR,
                                   borderMode=cv2.BORDER_REPLICATE)
    px, py = int(round(bw * PAD_X)), int(round(bh * PAD_Y))
    return frame[max(0, y1 - py):min(fh, y2 + py), max(0, x1 - px):min(fw, x2 + px)].copy()


def coarse_detector(cfg: RecognitionConfig, path: Path | None = None) -> PlateDetector:
    """The coarse pass's detector (``coarse_model``, or *path*), its plates from the close-up
    pass's score on.

    Raises:
        ModelError: the model is missing, truncated or tampered with.
    """
    from .detector import CLOSE_UP_MIN_SCORE

    return PlateDetector(path or cfg.coarse_path(), threads=cfg.threads, close_up=False,
                         min_score=max(cfg.min_detection_score, CLOSE_UP_MIN_SCORE))


def with_more_passes(first: PlateDetector, cfg: RecognitionConfig):
    """*first* joined with what ``[recognition]`` runs beside the detector: the coarse pass
    (``coarse_pass``: :func:`coarse_detector` on the whole frame) and the second detector
    (``second_detector``, no close-up pass of its own). With neither, *first* itself.

    Raises:
        ModelError: the coarse pass's or the second detector's model is missing, truncated or tampered with.
    """
    from .detector_set import DetectorSet

    more = []
    if cfg.coarse_pass:
        more.append(coarse_detector(cfg))
    if cfg.second_detector:
        more.append(PlateDetector(cfg.second_detector_path(), threads=cfg.threads, close_up=False,
                                  min_score=cfg.second_detector_min_score))
    return DetectorSet(first, *more) if more else first


def with_second_look(detector, cfg: RecognitionConfig):
    """*detector* (built by :func:`with_more_passes`, decoding from ``second_look_from`` or lower)
    with its boxes below ``min_detection_score`` given a second look
    (:class:`~plategate.vision.second_look.SecondLook`) by ``second_look_model`` when the
    config :meth:`~plategate.config.RecognitionConfig.looks_again`; else itself. A looking
    network that is the coarse pass's is loaded once, shared with that pass.

    Raises:
        ModelError: the looking model is missing, truncated or tampered with.
    """
    if not cfg.looks_again():
        return detector
    from .detector_set import DetectorSet
    from .second_look import SecondLook

    shared = cfg.coarse_pass and isinstance(detector, DetectorSet) and cfg.second_look_path() == cfg.coarse_path()
    looker = detector.detectors[1] if shared else coarse_detector(cfg, cfg.second_look_path())
    return SecondLook(detector, looker, accept=cfg.min_detection_score, look_from=cfg.second_look_from,
                      max_looks=cfg.second_look_max, confirm=cfg.second_look_min_score)


def detector_from_config(cfg: RecognitionConfig):
    """The detector ``[recognition]`` describes: ``detector_model`` from ``min_detection_score``
    with its close-up pass, joined by :func:`with_more_passes`, given :func:`with_second_look`.

    Raises:
        ModelError: a detector model is missing, truncated or tampered with.
    """
    first = PlateDetector(cfg.detector_path(), threads=cfg.threads,
                          min_score=cfg.second_look_from if cfg.looks_again() else cfg.min_detection_score,
                          close_up=cfg.close_up, close_up_below=cfg.min_detection_score)
    return with_second_look(with_more_passes(first, cfg), cfg)


class Recognizer:
    """Runs a :class:`PlateDetector` and a reader on whole frames.

    Args:
        detector: the plate detector.
        reader: the OCR reader (``read`` / ``read_batch``).
        max_plates: at most this many detections are read per frame.
    """

    def __init__(self, detector: PlateDetector, reader: Reader, max_plates: int = 3) -> None:
        self.detector = detector
        self.reader = reader
        self.max_plates = max_plates
        self.frames = 0
        self.last_timing_ms: dict[str, float] = {}

    @classmethod
    def from_config(cls, cfg: RecognitionConfig) -> Recognizer:
        """Build from the ``[recognition]`` config section (shipped models by default).

        Raises:
            ModelError: a model is missing, truncated or tampered with.
        """
        from .reader import PlateReader

        detector = detector_from_config(cfg)
        reader = PlateReader(cfg.reader_path(), threads=cfg.threads, formats=cfg.plate_formats or None,
                             views=cfg.reader_views)
        return cls(detector, reader, max_plates=cfg.max_plates)

    def health(self) -> dict:
        """The models in use and the latest timings (for the status report)."""

        def model_info(obj) -> dict:
            loaded = getattr(obj, "model", None)
            card = getattr(loaded, "card", None)
            if card is None:
                return {"ok": obj is not None}
            return {"ok": True, "file": str(loaded.path), "name": card.name, "sha256": card.sha256[:12],
                    "input": list(card.input.shape)}

        return {"detector": model_info(self.detector), "reader": model_info(self.reader), "frames": self.frames,
                "last_timing_ms": dict(self.last_timing_ms)}

    def recognize(self, frame: np.ndarray, roi: tuple[float, float, float, float] | None = None) -> RecognitionResult:
        """Detect and read the plates in *frame* (BGR or gray).

        Raises:
            ValueError: the frame is not an image array or the ROI is invalid.
        """
        t0 = time.perf_counter()
        dets = self.detector.detect(frame, roi)[: self.max_plates]
        t1 = time.perf_counter()
        crops = [crop_plate(frame, d) for d in dets]
        keep = [i for i, c in enumerate(crops) if c.size and min(c.shape[:2]) >= 4]
        reads = self.reader.read_batch([crops[i] for i in keep]) if keep else []
        t2 = time.perf_counter()
        plates = [replace(r, box=dets[i].box, detection_score=dets[i].score) for i, r in zip(keep, reads, strict=True)]
        order = sorted(range(len(plates)), key=lambda k: -plates[k].confidence)
        timing = {"detect": round((t1 - t0) * 1e3, 2), "read": round((t2 - t1) * 1e3, 2), "total": round((t2 - t0) * 1e3, 2)}
        self.frames += 1
        self.last_timing_ms = timing
        return RecognitionResult(plates=[plates[k] for k in order], crops=[crops[keep[k]] for k in order], timing_ms=timing)
