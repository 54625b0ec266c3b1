"""A second, closer look at the boxes a detector was unsure of.

The detector scores many real plates below its threshold: small ones, plates seen at an
angle, plates of styles it knows little. Each such box (from ``recognition.second_look_from``
up to ``min_detection_score``) is looked at again: a view a few plate widths wide around it
is cut from the frame and run through a 320x192 network (``second_look_model``: by default
the detector trained further on such views), so the plate fills about a third of the view's
width instead of a few percent of the frame. Where that look finds the plate from
``second_look_min_score`` on (never below ``min_detection_score``), the plate is kept, with
the look's (usually tighter) box and score. A box the look does not confirm is dropped.
"""

from __future__ import annotations

import logging

import numpy as np

from .detector import Detection, PlateDetector, box_iou, roi_pixels, to_gray
from .detector_set import fuse

logger = logging.getLogger(__name__)

#: the view is this many plate widths wide
VIEW_WIDTHS = 3.0
#: and at least this many plate heights tall (square and two-line plates)
VIEW_HEIGHTS = 2.5
#: the narrowest view, in frame pixels
MIN_VIEW = 48
#: a plate found in the view is the box looked at when they overlap by this much (IoU)
SAME_BOX_IOU = 0.3


def view_around(box: tuple[int, int, int, int], bounds: tuple[int, int, int, int], aspect: float,
                widths: float = VIEW_WIDTHS) -> tuple[int, int, int, int]:
    """The part of the frame a second look at *box* sees, in frame pixels.

    Args:
        box: the plate's ``(x1, y1, x2, y2)``.
        bounds: the part of the frame that may be seen (the ROI), ``(x1, y1, x2, y2)``.
        aspect: the looking network's input width / height.
        widths: the view's width in plate widths.

    Returns:
        ``(x1, y1, x2, y2)``: centred on the box where the bounds allow, *widths* plate widths
        wide (at least :data:`VIEW_HEIGHTS` plate heights tall), at the network's aspect,
        shifted (and if need be cut) to lie inside *bounds*.
    """
    bx1, by1, bx2, by2 = bounds
    x1, y1, x2, y2 = box
    vw = max((x2 - x1) * widths, (y2 - y1) * VIEW_HEIGHTS * aspect, MIN_VIEW)
    vw, vh = min(vw, bx2 - bx1), min(vw / aspect, by2 - by1)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    vx = int(round(min(max(cx - vw / 2, bx1), bx2 - vw)))
    vy = int(round(min(max(cy - vh / 2, by1), by2 - vh)))
    return vx, vy, min(bx2, vx + int(round(vw))), min(by2, vy + int(round(vh)))


class SecondLook:
    """Wraps a detector (a :class:`PlateDetector` or a detector set) that decodes down to
    *look_from* or lower: its boxes from *accept* on are plates; up to *max_looks* of those
    from *look_from* on, best first, are looked at again by *looker* and kept where it
    confirms them.

    Args:
        detector: the detector whose boxes are checked; it must report boxes from *look_from*.
        looker: the network that looks again (``second_look_model``).
        accept: the score from which a box is a plate (``min_detection_score``).
        look_from: the score from which a box gets a second look (``second_look_from``).
        max_looks: the most second looks per frame.
        confirm: the score from which the looker's plate is kept (``second_look_min_score``;
            default: the looker's own ``min_score``); never below *accept*.

    ``model``, ``min_score`` (= *accept*) and ``input_size`` are the wrapped detector's view
    (what the status report and the tools read); ``looks`` counts the second looks made.
    """

    def __init__(self, detector, looker: PlateDetector, accept: float, look_from: float = 0.0,
                 max_looks: int = 2, confirm: float | None = None) -> None:
        self.detector = detector
        self.looker = looker
        self.accept = float(accept)
        self.confirm = max(self.accept, looker.min_score if confirm is None else float(confirm))
        self.look_from = float(look_from)
        self.max_looks = int(max_looks)
        self.looks = 0

    @property
    def model(self):
        return self.detector.model

    @property
    def min_score(self) -> float:
        return self.accept

    @property
    def input_size(self) -> tuple[int, int]:
        return self.detector.input_size

    def detect(self, frame: np.ndarray, roi: tuple[float, float, float, float] | None = None) -> list[Detection]:
        """The plates in *frame*, best first: the detector's from *accept* on, and those of its
        less sure boxes that a second look confirms.

        Raises:
            ValueError: the frame is not an image array or the ROI is invalid.
        """
        gray = to_gray(frame)
        bounds = roi_pixels(gray.shape, roi)
        found = self.detector.detect(gray, roi)
        plates = [d for d in found if d.score >= self.accept]
        unsure = [d for d in found if self.look_from <= d.score < self.accept][: self.max_looks]
        for det in unsure:
            seen = self.look(gray, det, bounds)
            if seen is not None:
                plates.append(seen)
        return fuse(plates)

    def look(self, gray: np.ndarray, det: Detection, bounds: tuple[int, int, int, int]) -> Detection | None:
        """The plate the looker finds at *det* (from *confirm* on), or ``None``."""
        w, h = self.looker.input_size
        view = view_around(det.box, bounds, w / h)
        self.looks += 1
        seen = self.looker.detect_at(gray, view, 1.0, self.confirm)
        if not seen:
            return None
        overlap = box_iou(np.array(det.box, np.float64), np.array([s.box for s in seen], np.float64))
        near = [s for s, o in zip(seen, overlap, strict=True) if o >= SAME_BOX_IOU]
        if not near:
            logger.debug("second look at %s (score %.2f): nothing there", det.box, det.score)
            return None
        return max(near, key=lambda s: s.score)
