"""Cameras: one small interface (:class:`Camera`) with picamera2, OpenCV and replay backends."""

from __future__ import annotations

from ..config import CameraConfig
from .base import Camera, FpsMeter, FramePair, to_lores
from .supervisor import CameraSupervisor

__all__ = ["Camera", "CameraSupervisor", "FpsMeter", "FramePair", "create_camera", "to_lores"]


def create_camera(cfg: CameraConfig) -> Camera:
    """Build (but do not start) the camera the config names."""
    if cfg.backend == "replay":
        from .replay import ReplayCamera

        return ReplayCamera(cfg.source, cfg.width, cfg.height, cfg.lores_width, cfg.lores_height,
                            fps=cfg.fps, loop=cfg.loop, realtime=cfg.realtime)
    if cfg.backend == "opencv":
        from .opencv import OpenCVCamera

        return OpenCVCamera(cfg.source, cfg.width, cfg.height, cfg.fps, cfg.lores_width, cfg.lores_height)
    from .picam import PiCamera

    return PiCamera(cfg.width, cfg.height, cfg.fps, cfg.lores_width, cfg.lores_height,
                    cfg.exposure_max_us, cfg.analogue_gain_max, camera_num=cfg.index, rotation=cfg.rotation,
                    hflip=cfg.hflip, vflip=cfg.vflip, focus=cfg.focus, lens_position=cfg.lens_position)


def create_supervised_camera(cfg: CameraConfig) -> CameraSupervisor:
    """Build the configured camera wrapped in a reopening :class:`CameraSupervisor`."""
    return CameraSupervisor(create_camera(cfg), cfg.reopen_min_s, cfg.reopen_max_s, cfg.frame_timeout_s)
