"""OpenCV camera: a V4L2 device, an RTSP/HTTP stream or a video file.

A grabber thread reads continuously and keeps only the newest frame, so that a
network stream never lags behind real time while recognition is busy.
"""

from __future__ import annotations

import logging
import threading
import time

import cv2
import numpy as np

from ..errors import CameraError
from .base import Camera, FramePair, to_lores

logger = logging.getLogger(__name__)


def parse_source(source: str) -> int | str:
    """Turn ``"0"`` into device index 0; leave paths and URLs alone."""
    return int(source) if source.isdigit() else source


class OpenCVCamera(Camera):
    """A camera read through ``cv2.VideoCapture``.

    Args:
        source: device index ("0"), device path ("/dev/video0"), URL ("rtsp://...") or file.
        width, height, fps: requested capture format (devices may ignore it; frames of
            another size are scaled).
        lores_width, lores_height: size of the grayscale motion frames.
    """

    name = "opencv"

    def __init__(self, source: str, width: int, height: int, fps: float, lores_width: int, lores_height: int) -> None:
        super().__init__()
        self.source = source
        self.size = (width, height)
        self.fps = fps
        self.lores_size = (lores_width, lores_height)
        self._cap: cv2.VideoCapture | None = None
        self._thread: threading.Thread | None = None
        self._running = False
        self._cond = threading.Condition()
        self._latest: tuple[int, np.ndarray] | None = None
        self._seq = 0
        self._taken = 0
        self._failure: str | None = None
        self._ended = False
        self._is_file = not source.isdigit() and "://" not in source and not source.startswith("/dev/")

    def _open(self) -> None:
        cap = cv2.VideoCapture(parse_source(self.source))
        if not cap.isOpened():
            raise CameraError(f"opencv camera {self.source!r}: cannot open")
        if not self._is_file:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.size[0])
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.size[1])
            cap.set(cv2.CAP_PROP_FPS, self.fps)
            cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        self._cap = cap
        self._failure = None
        self._ended = False
        self._running = True
        self._thread = threading.Thread(target=self._grabber, name="camera-grabber", daemon=True)
        self._thread.start()

    def _grabber(self) -> None:
        period = 1.0 / self.fps
        next_due = time.monotonic()
        while self._running and self._cap is not None:
            if self._is_file:  # pace files at fps; live sources pace themselves
                delay = next_due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                next_due += period
            ok, frame = self._cap.read()
            with self._cond:
                if not ok or frame is None:
                    if self._is_file:
                        self._ended = True
                    else:
                        self._failure = f"opencv camera {self.source!r}: read failed (disconnected?)"
                    self._cond.notify_all()
                    return
                self._seq += 1
                self._latest = (self._seq, frame)
                self._cond.notify_all()

    def _close(self) -> None:
        self._running = False
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def _read(self, timeout: float) -> FramePair | None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._latest is None or self._latest[0] == self._taken:
                if self._failure:
                    raise CameraError(self._failure)
                if self._ended:
                    return None
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise CameraError(f"opencv camera {self.source!r}: no frame for {timeout:.1f} s")
                self._cond.wait(remaining)
            self._taken, frame = self._latest
        if (frame.shape[1], frame.shape[0]) != self.size:
            frame = cv2.resize(frame, self.size, interpolation=cv2.INTER_AREA)
        return FramePair(self._next_index(), time.monotonic(), to_lores(frame, *self.lores_size), lambda f=frame: f)
