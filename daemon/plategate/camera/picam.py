"""Raspberry Pi camera through picamera2: a full-resolution ``main`` stream and a
small YUV ``lores`` stream whose Y plane feeds motion detection.

The automatic exposure is kept from choosing long shutter times (which smear a
moving plate at night under IR light) by capping the AGC's exposure modes in the
sensor's tuning file at ``exposure_max_us`` and the gain at ``analogue_gain_max``.
picamera2 comes from Raspberry Pi OS (``python3-picamera2``); it is imported only
when this backend is used.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from ..errors import CameraError
from .base import Camera, FramePair
from .controls import focus_controls, transform_flags

logger = logging.getLogger(__name__)


def cap_exposure(tuning: dict, algo: dict | None, max_us: int, max_gain: float) -> int:
    """Cap every AGC exposure mode of a tuning dict in place; returns how many were changed.

    Works with both tuning file layouts (v1: ``exposure_modes`` on the algorithm,
    v2: a list of ``channels`` each with ``exposure_modes``).
    """
    if algo is None:
        return 0
    channels = algo.get("channels") if isinstance(algo.get("channels"), list) else [algo]
    changed = 0
    for channel in channels:
        for mode in channel.get("exposure_modes", {}).values():
            mode["shutter"] = [min(int(s), max_us) for s in mode.get("shutter", [])] or [100, max_us]
            mode["gain"] = [min(float(g), max_gain) for g in mode.get("gain", [])] or [1.0, max_gain]
            changed += 1
    return changed


class PiCamera(Camera):
    """Camera Module (IR or not) on a Raspberry Pi through picamera2."""

    name = "picamera2"

    def __init__(self, width: int, height: int, fps: float, lores_width: int, lores_height: int,
                 exposure_max_us: int, analogue_gain_max: float, camera_num: int = 0, rotation: int = 0,
                 hflip: bool = False, vflip: bool = False, focus: str = "default",
                 lens_position: float | None = None) -> None:
        super().__init__()
        self.transform = transform_flags(rotation, hflip, vflip)
        self.focus = focus
        self.focus_controls = focus_controls(focus, lens_position)
        self.size = (width, height)
        self.lores_size = (lores_width, lores_height)
        self.fps = fps
        self.exposure_max_us = exposure_max_us
        self.analogue_gain_max = analogue_gain_max
        self.camera_num = camera_num
        self._cam = None
        self._held = None

    def _open(self) -> None:
        try:
            from picamera2 import Picamera2
        except ImportError as exc:
            raise CameraError("picamera2 is not installed (apt install python3-picamera2; "
                              "the venv needs --system-site-packages)") from exc
        try:
            info = Picamera2.global_camera_info()
            if not info or self.camera_num >= len(info):
                raise CameraError(f"picamera2: no camera {self.camera_num} attached (found {len(info or [])})")
            tuning = None
            try:
                tuning = Picamera2.load_tuning_file(f"{info[self.camera_num]['Model']}.json")
                n = cap_exposure(tuning, Picamera2.find_tuning_algo(tuning, "rpi.agc"),
                                 self.exposure_max_us, self.analogue_gain_max)
                logger.info("capped %d AGC exposure modes at %d us, gain %.1f", n,
                            self.exposure_max_us, self.analogue_gain_max)
            except (OSError, RuntimeError, KeyError) as exc:
                logger.warning("cannot load the sensor tuning file (%s): exposure not capped", exc)
                tuning = None
            cam = Picamera2(self.camera_num, tuning=tuning)
            from libcamera import Transform

            frame_us = int(1_000_000 / self.fps)
            controls = {"FrameDurationLimits": (frame_us, frame_us)}
            if self.focus_controls:
                if "AfMode" in cam.camera_controls:
                    controls.update(self.focus_controls)
                else:
                    logger.warning("camera.focus = %r ignored: camera %d has no autofocus lens (Camera Module 3 has)",
                                   self.focus, self.camera_num)
            config = cam.create_video_configuration(
                main={"size": self.size, "format": "RGB888"},  # RGB888 is BGR byte order, as OpenCV wants
                lores={"size": self.lores_size, "format": "YUV420"},
                controls=controls,
                transform=Transform(**self.transform),
                buffer_count=4,
            )
            cam.configure(config)
            cam.start()
        except CameraError:
            raise
        except Exception as exc:  # picamera2/libcamera raise many kinds
            raise CameraError(f"picamera2: cannot start camera {self.camera_num}: {exc}") from exc
        self._cam = cam

    def _release_held(self) -> None:
        if self._held is not None:
            try:
                self._held.release()
            finally:
                self._held = None

    def _read(self, timeout: float) -> FramePair | None:
        if self._cam is None:
            raise CameraError("picamera2 camera is not started")
        self._release_held()
        try:
            job = self._cam.capture_request(wait=False)
            request = self._cam.wait(job, timeout=timeout)
        except TimeoutError as exc:
            raise CameraError(f"picamera2: no frame for {timeout:.1f} s") from exc
        except Exception as exc:
            raise CameraError(f"picamera2: capture failed: {exc}") from exc
        w, h = self.lores_size
        lores = np.ascontiguousarray(request.make_array("lores")[:h, :w])
        self._held = request

        def main(req=request) -> np.ndarray:
            return np.ascontiguousarray(req.make_array("main"))

        return FramePair(self._next_index(), time.monotonic(), lores, main)

    def _close(self) -> None:
        self._release_held()
        if self._cam is not None:
            try:
                self._cam.stop()
                self._cam.close()
            finally:
                self._cam = None
