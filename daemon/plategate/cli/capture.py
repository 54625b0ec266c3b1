"""platectl capture: save one frame, or a burst, optionally waiting for motion.

With the daemon running the camera is busy, so the frame comes from the daemon's
``snapshot`` handler; otherwise the configured camera is opened here. The saved picture
shows the motion ROI (green) and the recognition ROI (orange) as the config sets them,
unless ``--no-roi``.
"""

from __future__ import annotations

import argparse
import base64
import time
from datetime import datetime
from pathlib import Path

from ..errors import CameraError
from . import common
from .common import UsageError
from .output import emit


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("capture", help="save a camera frame or a motion-triggered burst",
                              description="Save full-resolution frames as JPEG to check framing, focus and "
                                          "IR exposure.")
    p.add_argument("-o", "--output", metavar="PATH", default=".",
                   help="a .jpg file (single frame) or a folder (default: current folder)")
    p.add_argument("--burst", type=int, default=1, metavar="N", help="frames to save (default 1)")
    p.add_argument("--motion", action="store_true", help="wait for motion in the ROI, then capture")
    p.add_argument("--timeout", type=float, default=60.0, metavar="S", help="give up waiting after S seconds")
    p.add_argument("--no-roi", action="store_true", help="save the picture as the camera gives it (no ROI drawn)")
    p.add_argument("--offline", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(func=run)


MOTION_COLOUR = (0, 200, 0)  # BGR
RECOGNITION_COLOUR = (0, 140, 255)


def draw_rois(frame, cfg):
    """A copy of *frame* with the motion ROI and the recognition ROI drawn (each only when it is not
    the whole frame), labelled."""
    import cv2

    out = frame.copy()
    h, w = out.shape[:2]
    thick = max(2, round(min(w, h) / 300))
    for roi, colour, name in ((cfg.motion.roi, MOTION_COLOUR, "motion ROI"),
                              (cfg.recognition.roi, RECOGNITION_COLOUR, "recognition ROI")):
        if (roi.x1, roi.y1, roi.x2, roi.y2) == (0.0, 0.0, 1.0, 1.0):
            continue
        x1, y1 = round(roi.x1 * (w - 1)), round(roi.y1 * (h - 1))
        x2, y2 = round(roi.x2 * (w - 1)), round(roi.y2 * (h - 1))
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, thick)
        cv2.putText(out, name, (x1 + 2 * thick, max(y1 - 2 * thick, 12 * thick)), cv2.FONT_HERSHEY_SIMPLEX,
                    0.25 * thick, colour, max(1, thick // 2), cv2.LINE_AA)
    return out


def _targets(output: str, n: int) -> list[Path]:
    """The files to write; no folder is created (a typo in -o must not leave folders behind).

    Raises:
        UsageError: the folder to write in does not exist.
    """
    out = Path(output)
    if out.suffix.lower() in (".jpg", ".jpeg", ".png"):
        folder = out.parent
        if not folder.is_dir():
            raise UsageError(f"-o {output}: folder {folder} does not exist (create it first)")
        if n == 1:
            return [out]
        return [out.with_name(f"{out.stem}-{i + 1}{out.suffix}") for i in range(n)]
    if not out.is_dir():
        raise UsageError(f"-o {output}: no such folder (create it first, or name a .jpg file)")
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    return [out / f"capture-{stamp}-{i + 1}.jpg" for i in range(n)]


def run(args: argparse.Namespace) -> int:
    if not 1 <= args.burst <= 100:
        raise UsageError(f"--burst {args.burst}: must be between 1 and 100")
    targets = _targets(args.output, args.burst)
    daemon = common.daemon(args)
    if daemon is not None:
        if args.motion:
            raise UsageError("--motion needs the camera: stop plategated first, or use 'platectl watch'")
        saved = [_daemon_snapshot(daemon, path) for path in targets]
        if not args.no_roi:
            for path in saved:
                _annotate_file(path, common.load(args))
    else:
        saved = capture_direct(common.load(args), targets, args.motion, args.timeout, roi=not args.no_roi)
    emit(args.json, {"saved": [str(p) for p in saved]}, lambda d: "\n".join(f"saved {p}" for p in d["saved"]))
    return 0


def _daemon_snapshot(daemon, path: Path) -> Path:
    result = daemon.call("snapshot")
    data = None
    if isinstance(result, dict):
        for key in ("jpeg_b64", "jpeg", "image"):
            if isinstance(result.get(key), str):
                data = base64.b64decode(result[key])
                break
        if data is None and result.get("path"):
            data = Path(result["path"]).read_bytes()
    if data is None:
        raise CameraError("the daemon's snapshot reply held no image")
    path.write_bytes(data)
    return path


def _annotate_file(path: Path, cfg) -> None:
    import cv2

    frame = cv2.imread(str(path))
    if frame is None:
        raise CameraError(f"{path}: the saved picture cannot be read back")
    if not cv2.imwrite(str(path), draw_rois(frame, cfg)):
        raise CameraError(f"{path}: could not write the image")


def capture_direct(cfg, targets: list[Path], motion: bool, timeout: float, roi: bool = False) -> list[Path]:
    """Open the configured camera here and save ``len(targets)`` frames (with the ROIs drawn if *roi*).

    Raises:
        CameraError: the camera cannot be opened, delivers nothing, or no motion came in time.
    """
    import cv2

    from ..camera import create_camera
    from ..motion import MotionDetector

    camera = create_camera(cfg.camera)
    camera.start()
    try:
        deadline = time.monotonic() + timeout
        if motion:
            detector = MotionDetector(cfg.motion)
            while True:
                pair = _grab(camera, deadline)
                if detector.update(pair.lores, pair.time).triggered:
                    break
        else:
            for _ in range(2):  # let auto exposure settle
                _grab(camera, deadline)
        saved = []
        interval = cfg.motion.burst_interval_ms / 1000.0
        for i, path in enumerate(targets):
            if i:
                time.sleep(interval)
            frame = _grab(camera, deadline).main()
            if roi:
                frame = draw_rois(frame, cfg)
            if not cv2.imwrite(str(path), frame):
                raise CameraError(f"{path}: could not write the image")
            saved.append(path)
        return saved
    finally:
        camera.stop()


def _grab(camera, deadline: float):
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise CameraError("timed out waiting for the camera (or for motion)")
    pair = camera.grab(timeout=min(remaining, 5.0))
    if pair is None:
        raise CameraError("the camera source ended (replay at its end; set camera.loop = true)")
    return pair
