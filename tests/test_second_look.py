"""The second look at unsure boxes (plategate.vision.second_look) and the [recognition] keys that set it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from plategate.config import RecognitionConfig, parse_config
from plategate.errors import ConfigError, ModelError
from plategate.vision.detector import Detection, PlateDetector
from plategate.vision.detector_set import DetectorSet
from plategate.vision.recognizer import Recognizer, detector_from_config
from plategate.vision.second_look import MIN_VIEW, VIEW_HEIGHTS, SecondLook, view_around
from tools.eval.evaluate import iou
from tools.synth import scenes

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"
ASPECT = 320 / 192


@pytest.fixture(scope="module")
def coarse() -> PlateDetector:
    return PlateDetector(MODELS / "detector-street-coarse.tflite", threads=1, min_score=0.6, close_up=False)


@pytest.fixture(scope="module")
def scene() -> scenes.Scene:
    rng = np.random.default_rng(3)
    return scenes.compose_gate_scene(rng, scenes.PlateSource(None), scenes.Backgrounds([]), plate_width=(90, 140))


class Fixed:
    """A detector that reports the boxes it is given (the wrapped detector's side of the contract)."""

    def __init__(self, dets: list[Detection]) -> None:
        self.dets = dets
        self.model, self.input_size = "fixed", (640, 352)

    def detect(self, frame, roi=None) -> list[Detection]:
        return sorted(self.dets, key=lambda d: -d.score)


def test_the_view_is_centred_on_the_plate_at_the_networks_aspect():
    view = view_around((600, 400, 700, 430), (0, 0, 1280, 720), ASPECT)
    x1, y1, x2, y2 = view
    assert x2 - x1 == 300 and abs((x2 - x1) / (y2 - y1) - ASPECT) < 0.02
    assert abs((x1 + x2) / 2 - 650) <= 1 and abs((y1 + y2) / 2 - 415) <= 1


def test_the_view_stays_inside_the_bounds_and_is_never_tiny():
    x1, y1, x2, y2 = view_around((0, 700, 100, 720), (0, 0, 1280, 720), ASPECT)  # bottom-left corner
    assert (x1, y2) == (0, 720) and x2 - x1 == 300
    x1, y1, x2, y2 = view_around((1000, 100, 1100, 130), (800, 50, 1180, 300), ASPECT)  # an ROI
    assert 800 <= x1 and x2 <= 1180 and 50 <= y1 and y2 <= 300
    x1, y1, x2, y2 = view_around((10, 10, 14, 12), (0, 0, 640, 480), ASPECT)
    assert x2 - x1 == MIN_VIEW
    x1, y1, x2, y2 = view_around((0, 0, 1280, 720), (0, 0, 1280, 720), ASPECT)  # larger than the frame: all of it
    assert (x1, y1, x2, y2) == (0, 0, 1280, 720)


def test_a_square_plate_gets_a_taller_view():
    x1, y1, x2, y2 = view_around((600, 300, 660, 360), (0, 0, 1280, 720), ASPECT)
    assert y2 - y1 >= VIEW_HEIGHTS * 60 - 1


def test_a_look_confirms_a_real_plate_and_finds_nothing_on_a_blank(scene, coarse):
    look = SecondLook(Fixed([]), coarse, accept=0.5)
    truth = tuple(int(v) for v in scene.boxes[0])
    x1, y1, x2, y2 = truth
    loose = Detection(box=(x1 - 8, y1 - 6, x2 + 10, y2 + 5), score=0.3)
    seen = look.look(scene.image[:, :, 0].copy(), loose, (0, 0, 1280, 720))
    assert seen is not None and seen.score >= coarse.min_score
    assert iou(np.array([seen.box]), np.array([truth]))[0, 0] >= 0.5
    blank = np.full((720, 1280), 120, np.uint8)
    assert look.look(blank, loose, (0, 0, 1280, 720)) is None
    strict = SecondLook(Fixed([]), coarse, accept=0.5, confirm=0.999)
    assert strict.look(scene.image[:, :, 0].copy(), loose, (0, 0, 1280, 720)) is None  # found, but below confirm
    assert SecondLook(Fixed([]), coarse, accept=0.5, confirm=0.2).confirm == 0.5  # never below accept


def test_unsure_boxes_are_kept_only_where_the_look_confirms_them(scene, coarse):
    truth = tuple(int(v) for v in scene.boxes[0])
    x1, y1, x2, y2 = truth
    w, h = x2 - x1, y2 - y1
    far = (0 if x1 > 640 else 1280 - w, 0 if y1 > 360 else 720 - h)
    sure = Detection(box=(far[0], far[1], far[0] + w, far[1] + h), score=0.9)  # kept unlooked, whatever is there
    unsure_plate = Detection(box=truth, score=0.3)
    frame = scene.image.copy()
    frame[:, :] = frame.mean(axis=(0, 1)).astype(np.uint8)
    frame[y1 - h:y2 + h, x1 - w:x2 + w] = scene.image[y1 - h:y2 + h, x1 - w:x2 + w]  # only the plate's surroundings
    nothing = Detection(box=(40, 40, 40 + w, 40 + h), score=0.35)
    too_low = Detection(box=(600, 20, 600 + w, 20 + h), score=0.2)
    look = SecondLook(Fixed([sure, unsure_plate, nothing, too_low]), coarse, accept=0.5, look_from=0.25, max_looks=3)
    out = look.detect(frame)
    assert look.looks == 2 and len(out) == 2 and sure in out  # the box below look_from is not looked at
    seen = next(d for d in out if d is not sure)
    assert iou(np.array([seen.box]), np.array([truth]))[0, 0] >= 0.5 and seen.score >= 0.6
    assert [d.score for d in out] == sorted((d.score for d in out), reverse=True)
    look = SecondLook(Fixed([sure, nothing, unsure_plate]), coarse, accept=0.5, max_looks=1)
    out = look.detect(frame)
    assert look.looks == 1 and out == [sure]  # the best-scored unsure box (nothing) used the one look


def test_the_config_turns_it_on_by_default_and_checks_its_threshold():
    rec = Recognizer.from_config(RecognitionConfig(threads=1))
    assert isinstance(rec.detector, SecondLook) and rec.detector.min_score == 0.5
    inner = rec.detector.detector
    assert isinstance(inner, DetectorSet) and inner.first.min_score == 0.25 and inner.first.close_up_below == 0.5
    assert rec.detector.looker.model.path.name == "detector-look.tflite" and rec.detector.looker.input_size == (320, 192)
    assert rec.detector.confirm == 0.5 and rec.detector.looker.close_up_fill is None
    assert rec.detector.max_looks == 2 and rec.detector.look_from == 0.25 and rec.detector.model is inner.first.model
    keys = [k for k, _ in RecognitionConfig().model_paths()]
    assert keys == ["recognition.detector_model", "recognition.coarse_model", "recognition.second_look_model",
                    "recognition.reader_model"]
    off = detector_from_config(RecognitionConfig(threads=1, second_look=False))
    assert isinstance(off, DetectorSet) and off.first.min_score == 0.5
    assert "recognition.second_look_model" not in [k for k, _ in RecognitionConfig(second_look=False).model_paths()]
    low = RecognitionConfig(threads=1, second_look=False, min_detection_score=0.2)
    assert detector_from_config(low.model_copy(update={"second_look": True})).first.min_score == 0.2  # nothing to look at


def test_the_coarse_network_can_look_and_is_then_loaded_once(tmp_path):
    coarse = MODELS / "detector-street-coarse.tflite"
    cfg = RecognitionConfig(threads=1, second_look_model=coarse, second_look_min_score=0.6)
    assert [k for k, _ in cfg.model_paths()] == ["recognition.detector_model", "recognition.coarse_model",
                                                 "recognition.reader_model"]
    look = detector_from_config(cfg)
    assert look.looker is look.detector.detectors[1] and look.confirm == 0.6  # the coarse pass's network
    alone = detector_from_config(cfg.model_copy(update={"coarse_pass": False}))
    assert isinstance(alone.detector, PlateDetector) and alone.looker.model.path == coarse
    assert "recognition.second_look_model" in [k for k, _ in cfg.model_copy(update={"coarse_pass": False}).model_paths()]
    assert detector_from_config(RecognitionConfig(threads=1, second_look_min_score=0.45)).confirm == 0.5  # not below 0.5
    cfg = RecognitionConfig(threads=1, second_look_model=tmp_path / "missing.tflite")
    with pytest.raises(ModelError, match="missing"):
        detector_from_config(cfg)


def test_a_look_threshold_at_or_above_the_detection_threshold_is_refused():
    with pytest.raises(ConfigError, match=r"recognition.*second_look_from: 0.45 must be below min_detection_score"):
        parse_config({"recognition": {"min_detection_score": 0.4, "second_look_from": 0.45}})
    cfg = parse_config({"recognition": {"min_detection_score": 0.4, "second_look_from": 0.45, "second_look": False}})
    assert cfg.recognition.second_look is False
    with pytest.raises(ConfigError, match="recognition.second_look_max"):
        parse_config({"recognition": {"second_look_max": 0}})
