"""Two plate detectors run on the same frame, their plates joined: one made for the lane's own
camera, one for street and phone photos from many countries."""

from __future__ import annotations

import numpy as np

from plategate.vision.detector import Detection, PlateDetector, nms


class DetectorPair:
    """Runs *first* and *second* on each frame and returns their plates joined.

    A plate both find is kept once (the higher-scored box, non-maximum suppression at
    IoU 0.4). Each detector keeps its own score threshold. ``model``, ``min_score`` and
    ``input_size`` are the first detector's (what the status report and the tools read).
    """

    def __init__(self, first: PlateDetector, second: PlateDetector) -> None:
        self.first = first
        self.second = second

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
        """The plates of both detectors in *frame*, best first.

        Raises:
            ValueError: the frame is not an image array or the ROI is invalid.
        """
        both = self.first.detect(frame, roi) + self.second.detect(frame, roi)
        if len(both) < 2:
            return both
        keep = nms(np.array([d.box for d in both], np.float32), np.array([d.score for d in both]))
        return sorted((both[i] for i in keep), key=lambda d: -d.score)
