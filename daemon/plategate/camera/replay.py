"""Replay camera: a folder of images or a video file, paced at a frame rate.

Used by the demo, by tests and on a bench to re-run recorded footage through the
whole pipeline. Frames of the wrong size are scaled to the configured size with a
warning, so that a recording from another camera still drives the pipeline.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import cv2
import numpy as np

from ..errors import CameraError
from .base import Camera, FramePair, to_lores

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm"}


class ReplayCamera(Camera):
    """Replays an image folder (sorted by name) or a video file.

    Args:
        source: folder of images or a video file.
        width, height: size of the main frames delivered.
        lores_width, lores_height: size of the grayscale lores frames.
        fps: pace of delivery when *realtime* is true.
        loop: start again at the end instead of ending.
        realtime: sleep so that frames come at *fps*; otherwise as fast as read.
    """

    name = "replay"

    def __init__(self, source: str | Path, width: int, height: int, lores_width: int, lores_height: int,
                 fps: float = 10.0, loop: bool = False, realtime: bool = True) -> None:
        super().__init__()
        self.source = Path(source)
        self.size = (width, height)
        self.lores_size = (lores_width, lores_height)
        self.fps = fps
        self.loop = loop
        self.realtime = realtime
        self._files: list[Path] = []
        self._video: cv2.VideoCapture | None = None
        self._pos = 0
        self._next_due = 0.0
        self._warned_size = False

    def _open(self) -> None:
        if self.source.is_dir():
            self._files = sorted(p for p in self.source.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not self._files:
                raise CameraError(f"replay source {self.source}: folder has no images")
        elif self.source.is_file():
            cap = cv2.VideoCapture(str(self.source))
            if not cap.isOpened():
                raise CameraError(f"replay source {self.source}: cannot open as a video")
            self._video = cap
        else:
            raise CameraError(f"replay source {self.source}: no such file or folder")
        self._pos = 0
        self._next_due = time.monotonic()

    def _close(self) -> None:
        if self._video is not None:
            self._video.release()
            self._video = None

    def _raw_frame(self) -> np.ndarray | None:
        if self._video is not None:
            ok, frame = self._video.read()
            if not ok:
                if not self.loop:
                    return None
                self._video.set(cv2.CAP_PROP_POS_FRAMES, 0)
                ok, frame = self._video.read()
                if not ok:
                    raise CameraError(f"replay source {self.source}: video has no frames")
            return frame
        if self._pos >= len(self._files):
            if not self.loop:
                return None
            self._pos = 0
        path = self._files[self._pos]
        self._pos += 1
        frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if frame is None:
            raise CameraError(f"replay source {path}: cannot decode image")
        return frame

    def _read(self, timeout: float) -> FramePair | None:
        if not self.opened:
            raise CameraError("replay camera is not started")
        if self.realtime:
            delay = self._next_due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self._next_due = max(self._next_due + 1.0 / self.fps, time.monotonic() - 1.0)
        frame = self._raw_frame()
        if frame is None:
            return None
        if (frame.shape[1], frame.shape[0]) != self.size:
            if not self._warned_size:
                logger.warning("replay frames are %dx%d, not the configured %dx%d: scaling",
                               frame.shape[1], frame.shape[0], *self.size)
                self._warned_size = True
            frame = cv2.resize(frame, self.size, interpolation=cv2.INTER_AREA)
        lores = to_lores(frame, *self.lores_size)
        return FramePair(self._next_index(), time.monotonic(), lores, lambda f=frame: f)
