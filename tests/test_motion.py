"""Motion detection on lores frames: ROI, threshold, minimum area, cooldown."""

from __future__ import annotations

import numpy as np
import pytest

from plategate.config import MotionConfig, Roi
from plategate.motion import MotionDetector, changed_fraction, downsample, roi_slices


def scene(rng, car_x=None, w=320, h=240):
    frame = np.full((h, w), 90, np.uint8)
    frame[:80] = 160
    frame = np.clip(frame.astype(np.int16) + rng.integers(-3, 4, frame.shape), 0, 255).astype(np.uint8)
    if car_x is not None:
        frame[150:210, car_x:car_x + 80] = 30
    return frame


@pytest.fixture
def rng():
    return np.random.default_rng(1)


def run(detector, frames, fps=10.0):
    return [detector.update(f, i / fps) for i, f in enumerate(frames)]


def test_static_scene_with_noise_never_triggers(rng):
    det = MotionDetector(MotionConfig())
    results = run(det, [scene(rng) for _ in range(50)])
    assert not any(r.triggered for r in results)
    assert max(r.changed for r in results) < 0.001


def test_vehicle_entering_the_roi_triggers_once_per_cooldown(rng):
    det = MotionDetector(MotionConfig(cooldown_s=2.0))
    frames = [scene(rng) for _ in range(5)] + [scene(rng, car_x=x) for x in range(0, 240, 12)]
    results = run(det, frames)
    triggers = [i for i, r in enumerate(results) if r.triggered]
    assert triggers and triggers[0] == 5
    assert all(b - a >= 20 for a, b in zip(triggers, triggers[1:], strict=False))  # 2 s at 10 fps


def test_motion_outside_the_roi_is_ignored(rng):
    cfg = MotionConfig(roi=Roi(x1=0.0, y1=0.0, x2=1.0, y2=0.5))  # car moves in the lower half only
    det = MotionDetector(cfg)
    results = run(det, [scene(rng) for _ in range(5)] + [scene(rng, car_x=x) for x in range(0, 240, 12)])
    assert not any(r.triggered for r in results)


def test_small_changes_below_min_area_do_not_trigger(rng):
    det = MotionDetector(MotionConfig(min_area=0.2))
    frames = [scene(rng) for _ in range(5)] + [scene(rng, car_x=100)] * 3  # car = ~6% of frame
    assert not any(r.triggered for r in run(det, frames))


def test_frame_size_change_resets_instead_of_failing(rng):
    det = MotionDetector(MotionConfig())
    det.update(scene(rng), 0.0)
    result = det.update(scene(rng, w=160, h=120), 0.1)
    assert not result.triggered
    assert det.update(scene(rng, w=160, h=120), 0.2).changed < 0.01


def test_pure_helpers():
    frame = np.arange(16, dtype=np.uint8).reshape(4, 4)
    assert downsample(frame, 2).tolist() == [[2.5, 4.5], [10.5, 12.5]]
    assert changed_fraction(np.zeros((2, 2), np.float32), np.array([[0, 0], [0, 50]], np.float32), 25) == 0.25
    rows, cols = roi_slices((240, 320), Roi(x1=0.5, y1=0.25, x2=1.0, y2=0.75))
    assert (rows.start, rows.stop, cols.start, cols.stop) == (60, 180, 160, 320)
