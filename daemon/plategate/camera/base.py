"""The camera interface shared by every backend.

A camera delivers :class:`FramePair` objects: a small grayscale ``lores`` frame for
motion detection (always computed) and the full-resolution ``main`` frame, fetched
only when :meth:`FramePair.main` is called — picamera2 style, so that the expensive
full frame is touched only when motion has triggered a capture.
"""

from __future__ import annotations

import abc
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

logger = logging.getLogger(__name__)


@dataclass
class FramePair:
    """One frame from a camera.

    Attributes:
        index: running frame number since the camera was started.
        time: ``time.monotonic()`` when the frame was taken.
        lores: grayscale uint8 array of the configured lores size.
    """

    index: int
    time: float
    lores: np.ndarray
    _main: Callable[[], np.ndarray] = field(repr=False, default=lambda: np.zeros((1, 1, 3), np.uint8))

    def main(self) -> np.ndarray:
        """Return the full-resolution BGR uint8 frame (fetched on first call)."""
        value = self._main()
        self._main = lambda: value
        return value


def to_lores(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """Downscale a BGR or gray frame to a grayscale lores frame of ``width`` x ``height``."""
    import cv2

    if frame.ndim == 3:
        frame = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    if frame.shape[1] != width or frame.shape[0] != height:
        frame = cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
    return frame


class FpsMeter:
    """Frame rate over a sliding window of the last frames."""

    def __init__(self, window: int = 30) -> None:
        self._times: deque[float] = deque(maxlen=window)

    def tick(self, when: float | None = None) -> None:
        self._times.append(time.monotonic() if when is None else when)

    @property
    def fps(self) -> float:
        if len(self._times) < 2:
            return 0.0
        span = self._times[-1] - self._times[0]
        return (len(self._times) - 1) / span if span > 0 else 0.0


class Camera(abc.ABC):
    """A source of :class:`FramePair` frames.

    Subclasses implement :meth:`_open`, :meth:`_read` and :meth:`_close`; this class
    keeps the frame counter, the frame-rate meter and the health record.
    """

    name = "camera"

    def __init__(self) -> None:
        self._index = 0
        self._lock = threading.Lock()
        self.fps_meter = FpsMeter()
        self.opened = False
        self.last_error: str | None = None
        self.last_frame_time: float | None = None
        self.reopen_count = 0

    def start(self) -> None:
        """Open the device.

        Raises:
            CameraError: the device cannot be opened.
        """
        self._open()
        self.opened = True
        self.last_error = None

    def stop(self) -> None:
        """Release the device; safe to call twice."""
        if self.opened:
            try:
                self._close()
            finally:
                self.opened = False

    def grab(self, timeout: float = 1.0) -> FramePair | None:
        """Return the next frame, or ``None`` when the source has ended (replay).

        Raises:
            CameraError: the device failed or no frame arrived within *timeout*.
        """
        pair = self._read(timeout)
        if pair is None:
            return None
        self.fps_meter.tick(pair.time)
        self.last_frame_time = pair.time
        return pair

    def _next_index(self) -> int:
        with self._lock:
            self._index += 1
            return self._index

    @property
    def health(self) -> dict:
        """A JSON-able health record for status and diagnostics."""
        age = None if self.last_frame_time is None else round(time.monotonic() - self.last_frame_time, 3)
        return {
            "backend": self.name,
            "opened": self.opened,
            "fps": round(self.fps_meter.fps, 2),
            "last_frame_age_s": age,
            "reopens": self.reopen_count,
            "error": self.last_error,
        }

    @abc.abstractmethod
    def _open(self) -> None: ...

    @abc.abstractmethod
    def _read(self, timeout: float) -> FramePair | None: ...

    @abc.abstractmethod
    def _close(self) -> None: ...
