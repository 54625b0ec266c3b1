"""Keeps a camera running: reopens it with exponential backoff when it fails."""

from __future__ import annotations

import logging
import threading
import time

from ..errors import CameraError
from .base import Camera, FramePair

logger = logging.getLogger(__name__)


class CameraSupervisor:
    """Wraps a :class:`Camera` so that failures become reopen attempts, never crashes.

    :meth:`grab` returns a frame, ``None`` when the source has really ended (replay
    without loop), or raises nothing: while the camera is down it waits out the
    backoff (interruptible by :meth:`interrupt`) and returns ``None`` with
    :attr:`ended` false so the caller can loop and keep its heartbeat going.

    Args:
        camera: the camera to supervise.
        min_backoff_s, max_backoff_s: first and longest wait between reopen attempts.
        frame_timeout_s: a grab that sees no frame for this long counts as a failure.
    """

    def __init__(self, camera: Camera, min_backoff_s: float = 1.0, max_backoff_s: float = 30.0,
                 frame_timeout_s: float = 5.0) -> None:
        self.camera = camera
        self.min_backoff_s = min_backoff_s
        self.max_backoff_s = max_backoff_s
        self.frame_timeout_s = frame_timeout_s
        self.ended = False
        self.failures = 0
        self._backoff = min_backoff_s
        self._retry_at = 0.0
        self._wake = threading.Event()

    @property
    def healthy(self) -> bool:
        return self.camera.opened and self.camera.last_error is None

    @property
    def health(self) -> dict:
        h = self.camera.health
        h["failures"] = self.failures
        h["state"] = "ended" if self.ended else ("ok" if self.healthy else "reconnecting")
        return h

    def wait_up(self, timeout: float, stop: threading.Event, tick=None, tick_every: float | None = None) -> bool:
        """Wait until the camera delivers (or its source has ended), at most *timeout* seconds
        or until *stop* is set; calls *tick()* every *tick_every* seconds meanwhile. Returns
        whether it is up (or ended)."""
        deadline = time.monotonic() + timeout
        ticked = time.monotonic()
        while not (self.healthy or self.ended) and time.monotonic() < deadline:
            if stop.wait(0.05):
                break
            if tick is not None and tick_every and time.monotonic() - ticked >= tick_every:
                tick()
                ticked = time.monotonic()
        return self.healthy or self.ended

    def interrupt(self) -> None:
        """Wake a grab that is waiting out a backoff (used at shutdown)."""
        self._wake.set()

    def _fail(self, message: str) -> None:
        self.failures += 1
        self.camera.last_error = message
        logger.error("camera failed: %s; reopening in %.1f s", message, self._backoff)
        try:
            self.camera.stop()
        except Exception as exc:  # a broken device may fail to close too
            logger.debug("camera close after failure: %s", exc)
        self._retry_at = time.monotonic() + self._backoff
        self._backoff = min(self._backoff * 2, self.max_backoff_s)

    def grab(self, max_wait: float = 1.0) -> FramePair | None:
        """Return the next frame, or ``None`` (ended, or camera down: check :attr:`ended`)."""
        if self.ended:
            return None
        if not self.camera.opened:
            wait = self._retry_at - time.monotonic()
            if wait > 0:
                self._wake.wait(min(wait, max_wait))
                self._wake.clear()
                return None
            try:
                self.camera.start()
                if self.failures:
                    self.camera.reopen_count += 1
                    logger.info("camera reopened after %d failure(s)", self.failures)
            except CameraError as exc:
                self._fail(str(exc))
                return None
        try:
            pair = self.camera.grab(self.frame_timeout_s)
        except CameraError as exc:
            self._fail(str(exc))
            return None
        if pair is None:
            self.ended = True
            logger.info("camera source ended")
            return None
        self._backoff = self.min_backoff_s
        self.camera.last_error = None
        return pair

    def stop(self) -> None:
        self.interrupt()
        self.camera.stop()
