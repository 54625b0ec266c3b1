"""Several plate detectors run on the same frame, their plates joined into one list.

The daemon runs the detector and its coarse pass (the same network on the whole frame at
half the size, for plates too large for the full-size pass), and, if configured, a second
detector (``recognition.second_detector``). Where their boxes overlap they saw the same
plate; its box and corners become the score-weighted mean of theirs. That places a plate
better than keeping the best-scored box: a loose box from one pass often outscores a tight
one from another.
"""

from __future__ import annotations

import numpy as np

from plategate.vision.detector import Detection, PlateDetector, box_iou, to_gray

#: Boxes that overlap more than this (intersection over union) are one plate.
SAME_PLATE_IOU = 0.4


def fuse(detections: list[Detection], same_plate_iou: float = SAME_PLATE_IOU) -> list[Detection]:
    """Join detections of several detectors: one per plate, best first.

    Greedily from the highest score, every detection not yet used that overlaps the best
    one by more than *same_plate_iou* joins it. The joined plate keeps the best score; its
    box (and corners, where every member has them) is the mean of the members' weighted by
    their scores. A plate seen by one detector only is returned as it is.
    """
    if len(detections) < 2:
        return list(detections)
    boxes = np.array([d.box for d in detections], np.float64)
    scores = np.array([d.score for d in detections], np.float64)
    used = np.zeros(len(detections), bool)
    out: list[Detection] = []
    for i in np.argsort(-scores, kind="stable"):
        if used[i]:
            continue
        members = np.nonzero((box_iou(boxes[i], boxes) > same_plate_iou) & ~used)[0]
        members = np.union1d(members, [i])
        used[members] = True
        if len(members) == 1:
            out.append(detections[i])
            continue
        w = scores[members] / scores[members].sum()
        box = tuple(int(round(v)) for v in (boxes[members] * w[:, None]).sum(0))
        corners = [detections[k].corners for k in members]
        joined = None if any(c is None for c in corners) else np.einsum("k,kij->ij", w, np.stack(corners)).astype(np.float32)
        out.append(Detection(box=box, score=float(scores[i]), corners=joined))
    return out


class DetectorSet:
    """Runs each detector on every frame and returns their plates joined by :func:`fuse`.

    Each detector keeps its own score threshold. ``model``, ``min_score`` and ``input_size``
    are the first detector's (what the status report and the tools read).
    """

    def __init__(self, *detectors: PlateDetector) -> None:
        if not detectors:
            raise ValueError("a detector set needs at least one detector")
        self.detectors = detectors

    @property
    def first(self) -> PlateDetector:
        return self.detectors[0]

    @property
    def model(self):
        return self.first.model

    @property
    def min_score(self) -> float:
        return self.first.min_score

    @property
    def input_size(self) -> tuple[int, int]:
        return self.first.input_size

    def detect(self, frame: np.ndarray, roi: tuple[float, float, float, float] | None = None) -> list[Detection]:
        """The plates of all detectors in *frame*, best first.

        Raises:
            ValueError: the frame is not an image array or the ROI is invalid.
        """
        gray = to_gray(frame)  # once for all of them
        return fuse([d for detector in self.detectors for d in detector.detect(gray, roi)])
