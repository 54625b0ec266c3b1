"""Cameras on real files: replay folder and video, OpenCV video file, failure and reopen."""

from __future__ import annotations

import logging
import shutil
import time

import cv2
import numpy as np
import pytest

from plategate.camera import CameraSupervisor, create_camera
from plategate.camera.opencv import OpenCVCamera
from plategate.camera.picam import cap_exposure
from plategate.camera.replay import ReplayCamera
from plategate.config import parse_config
from plategate.errors import CameraError


def write_frames(folder, n, size=(640, 360)):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        img = np.full((size[1], size[0], 3), 40 + 20 * i, np.uint8)
        cv2.putText(img, str(i), (50, 200), cv2.FONT_HERSHEY_SIMPLEX, 4, (255, 255, 255), 8)
        cv2.imwrite(str(folder / f"f{i:03d}.jpg"), img)
    return folder


def test_replay_folder_delivers_lores_and_lazy_main(tmp_path):
    cam = ReplayCamera(write_frames(tmp_path / "f", 4), 640, 360, 160, 90, fps=100, realtime=False)
    cam.start()
    pairs = [cam.grab() for _ in range(4)]
    assert cam.grab() is None  # end of footage
    assert [p.index for p in pairs] == [1, 2, 3, 4]
    assert pairs[0].lores.shape == (90, 160) and pairs[0].lores.dtype == np.uint8
    assert pairs[2].main().shape == (360, 640, 3)
    assert pairs[3].lores.mean() > pairs[0].lores.mean()
    cam.stop()


def test_replay_scales_frames_of_the_wrong_size(tmp_path, caplog):
    cam = ReplayCamera(write_frames(tmp_path / "f", 2, size=(320, 240)), 640, 360, 160, 90, realtime=False)
    cam.start()
    assert cam.grab().main().shape == (360, 640, 3)
    assert "not the configured 640x360" in caplog.text


def test_replay_paces_at_fps(tmp_path):
    cam = ReplayCamera(write_frames(tmp_path / "f", 6), 640, 360, 160, 90, fps=20, realtime=True)
    cam.start()
    t0 = time.monotonic()
    for _ in range(6):
        cam.grab()
    assert time.monotonic() - t0 >= 0.2  # 5 intervals of 50 ms


@pytest.mark.parametrize("source", ["missing-folder", "empty"])
def test_replay_bad_sources_raise_camera_error(tmp_path, source):
    (tmp_path / "empty").mkdir()
    cam = ReplayCamera(tmp_path / source, 640, 360, 160, 90)
    with pytest.raises(CameraError, match=source):
        cam.start()


def test_opencv_camera_reads_a_video_file(tmp_path):
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (320, 240))
    assert writer.isOpened()
    for i in range(10):
        writer.write(np.full((240, 320, 3), i * 20, np.uint8))
    writer.release()
    cfg = parse_config({"camera": {"backend": "opencv", "source": str(path), "width": 640, "height": 480,
                                   "fps": 200}}).camera
    cam = create_camera(cfg)
    assert isinstance(cam, OpenCVCamera)
    cam.start()
    frames = []
    while (pair := cam.grab(timeout=2.0)) is not None:
        frames.append(pair)
    cam.stop()
    assert 5 <= len(frames) <= 10
    assert frames[0].main().shape == (480, 640, 3)  # scaled to the configured size
    assert frames[0].lores.shape == (240, 320)


def test_opencv_camera_that_cannot_open(tmp_path):
    cam = OpenCVCamera(str(tmp_path / "nope.avi"), 640, 480, 10, 320, 240)
    with pytest.raises(CameraError, match="cannot open"):
        cam.start()


def test_supervisor_reopens_a_camera_that_fails_mid_run(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    folder = write_frames(tmp_path / "f", 5)
    cam = ReplayCamera(folder, 640, 360, 160, 90, loop=True, realtime=False)
    sup = CameraSupervisor(cam, min_backoff_s=0.05, max_backoff_s=0.2)
    assert sup.grab() is not None
    # The "device" breaks: a frame becomes unreadable and then the folder disappears.
    (folder / "f001.jpg").write_bytes(b"not a jpeg")
    saved = tmp_path / "saved"
    assert sup.grab() is None and not sup.ended
    assert sup.health["state"] == "reconnecting" and "cannot decode" in sup.health["error"]
    shutil.move(folder, saved)
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        assert sup.grab(max_wait=0.05) is None  # reopen attempts fail, nothing raises
    assert sup.failures >= 3
    write_frames(folder, 3)  # the device comes back
    deadline = time.monotonic() + 2.0
    pair = None
    while pair is None and time.monotonic() < deadline:
        pair = sup.grab(max_wait=0.05)
    assert pair is not None
    assert sup.health["state"] == "ok" and sup.health["reopens"] >= 1
    assert "camera reopened" in caplog.text


def test_supervisor_reports_end_of_footage(tmp_path):
    sup = CameraSupervisor(ReplayCamera(write_frames(tmp_path / "f", 2), 640, 360, 160, 90, realtime=False))
    assert sup.grab() is not None and sup.grab() is not None
    assert sup.grab() is None and sup.ended


def test_exposure_cap_on_both_tuning_layouts():
    v1 = {"exposure_modes": {"normal": {"shutter": [100, 10000, 30000, 66666], "gain": [1.0, 2.0, 8.0, 12.0]}}}
    assert cap_exposure({}, v1, 2000, 8.0) == 1
    assert v1["exposure_modes"]["normal"]["shutter"] == [100, 2000, 2000, 2000]
    assert v1["exposure_modes"]["normal"]["gain"] == [1.0, 2.0, 8.0, 8.0]
    v2 = {"channels": [{"exposure_modes": {"short": {"shutter": [100, 5000], "gain": [1.0, 16.0]}}}] * 2}
    assert cap_exposure({}, v2, 1000, 4.0) == 2
    assert cap_exposure({}, None, 1000, 4.0) == 0


def test_picamera2_orientation_and_focus_settings():
    """What the picamera2 backend hands to libcamera for the [camera] controls."""
    from plategate.camera.controls import describe, focus_controls, transform_flags
    from plategate.config import parse_config

    assert transform_flags(0, False, False) == {"hflip": False, "vflip": False}
    assert transform_flags(180, False, False) == {"hflip": True, "vflip": True}
    assert transform_flags(180, True, False) == {"hflip": False, "vflip": True}  # a flip undoes half the turn
    assert transform_flags(0, False, True) == {"hflip": False, "vflip": True}
    with pytest.raises(ValueError, match="cannot rotate by 90"):
        transform_flags(90, False, False)
    assert focus_controls("default", None) == {}
    assert focus_controls("continuous", None) == {"AfMode": 2}
    assert focus_controls("auto", None) == {"AfMode": 1, "AfTrigger": 0}
    assert focus_controls("manual", 0.5) == {"AfMode": 0, "LensPosition": 0.5}
    cfg = parse_config({"camera": {"index": 1, "rotation": 180, "focus": "manual", "lens_position": 0.25}}).camera
    assert describe(cfg) == "camera 1, hflip+vflip, focus manual at 0.25 dioptres"


@pytest.mark.parametrize("camera, message", [
    ({"focus": "manual"}, 'camera.lens_position: set it exactly when focus = "manual"'),
    ({"lens_position": 2.0}, 'camera.lens_position: set it exactly when focus = "manual"'),
    ({"rotation": 90}, "camera.rotation: must be 0 or 180"),
    ({"index": -1}, "camera.index: must be greater than or equal to 0"),
    ({"focus": "macro"}, "camera.focus: must be 'default', 'continuous', 'auto' or 'manual'"),
    ({"focus": "manual", "lens_position": 40}, "camera.lens_position: must be less than or equal to 32"),
    ({"backend": "opencv", "source": "0", "rotation": 180},
     "camera.rotation: applies to the picamera2 backend only (backend is 'opencv')"),
])
def test_camera_control_errors_name_the_key(camera, message, tmp_path, capsys):
    """plategated --check-config refuses them, naming the key."""
    from plategate.service import main as plategated

    lines = ["[camera]"] + [f"{k} = {v!r}".replace("'", '"') if isinstance(v, str) else f"{k} = {v}"
                            for k, v in camera.items()]
    path = tmp_path / "cam.toml"
    path.write_text("\n".join(lines) + "\n")
    assert plategated(["--check-config", str(path)]) == 2
    assert message in capsys.readouterr().err
