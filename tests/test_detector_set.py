"""Detectors joined (plategate.vision.detector_set), and the [recognition] keys that add the coarse pass and a second detector."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from plategate.config import RecognitionConfig, parse_config
from plategate.errors import ModelError
from plategate.vision.detector import Detection, PlateDetector
from plategate.vision.detector_set import DetectorSet, fuse
from plategate.vision.recognizer import Recognizer
from tools.eval.evaluate import iou
from tools.synth import scenes

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"


@pytest.fixture(scope="module")
def frames() -> list[scenes.Scene]:
    rng = np.random.default_rng(11)
    source, bgs = scenes.PlateSource(None), scenes.Backgrounds([])
    return [scenes.compose_gate_scene(rng, source, bgs) for _ in range(6)]


def test_a_plate_both_find_is_kept_once(frames):
    first = PlateDetector(MODELS / "detector.tflite", threads=1)
    pair = DetectorSet(first, PlateDetector(MODELS / "detector.tflite", threads=1, close_up=False))
    for scene in frames:
        alone, joined = first.detect(scene.image), pair.detect(scene.image)
        assert len(joined) == len(alone)  # the same detector twice: every plate overlaps its twin
        scores = [d.score for d in joined]
        assert scores == sorted(scores, reverse=True)
    assert pair.model is first.model and pair.min_score == first.min_score


def test_the_shipped_detector_and_its_coarse_pass_find_the_rendered_plates(frames):
    rec = Recognizer.from_config(RecognitionConfig(threads=1, second_look=False))
    assert isinstance(rec.detector, DetectorSet)
    first, coarse = rec.detector.detectors
    assert first.model.path.name == "detector-street.tflite" and first.input_size == (640, 352)
    assert coarse.input_size == (320, 192) and coarse.model.path.name == "detector-street-coarse.tflite"
    assert coarse.min_score == 0.6 and coarse.close_up_fill is None  # the close-up pass's threshold, no close-up of its own
    found = total = 0
    for scene in frames:
        boxes = np.array([d.box for d in rec.detector.detect(scene.image)], np.float64).reshape(-1, 4)
        total += len(scene.boxes)
        if len(boxes):
            found += int((iou(np.asarray(scene.boxes), boxes).max(1) >= 0.5).sum())
    assert found >= total - 1
    joined = rec.detector.detect(frames[0].image)
    ious = iou(np.array([d.box for d in joined]), np.array([d.box for d in joined]))
    assert (ious[np.triu_indices(len(joined), 1)] < 0.4).all()  # no plate twice


def test_coarse_pass_and_second_detector_switch_and_a_missing_model(tmp_path):
    keys = [k for k, _ in RecognitionConfig(second_look=False).model_paths()]
    assert keys == ["recognition.detector_model", "recognition.coarse_model", "recognition.reader_model"]
    rec = Recognizer.from_config(RecognitionConfig(threads=1, coarse_pass=False, second_look=False))
    assert isinstance(rec.detector, PlateDetector) and rec.detector.model.path.name == "detector-street.tflite"
    assert [k for k, _ in RecognitionConfig(coarse_pass=False, second_look=False).model_paths()] == [
        "recognition.detector_model", "recognition.reader_model"]
    rec = Recognizer.from_config(RecognitionConfig(threads=1, second_detector=True, second_detector_min_score=0.7,
                                                   second_look=False))
    assert [d.model.path.name for d in rec.detector.detectors] == ["detector-street.tflite", "detector-street-coarse.tflite",
                                                                   "detector.tflite"]
    assert rec.detector.detectors[2].min_score == 0.7
    assert "recognition.second_detector_model" in [k for k, _ in RecognitionConfig(second_detector=True).model_paths()]
    shutil.copy(MODELS / "detector.json", tmp_path / "lane.json")  # the card without its model file
    cfg = RecognitionConfig(threads=1, second_detector=True, second_detector_model=tmp_path / "lane.tflite")
    with pytest.raises(ModelError, match="lane.tflite"):
        Recognizer.from_config(cfg)
    Recognizer.from_config(RecognitionConfig(threads=1, second_detector_model=tmp_path / "lane.tflite"))  # off: not loaded
    (tmp_path / "coarse.tflite").write_bytes((MODELS / "detector-street-coarse.tflite").read_bytes()[:-100])
    shutil.copy(MODELS / "detector-street-coarse.json", tmp_path / "coarse.json")
    cfg = RecognitionConfig(threads=1, coarse_model=tmp_path / "coarse.tflite")
    with pytest.raises(ModelError, match="coarse.tflite is truncated"):
        Recognizer.from_config(cfg)


def test_config_keys_are_checked():
    cfg = parse_config({"recognition": {"second_detector": True, "second_detector_min_score": 0.7, "coarse_pass": False}})
    assert cfg.recognition.second_detector is True and cfg.recognition.second_detector_min_score == 0.7
    assert cfg.recognition.coarse_pass is False
    with pytest.raises(Exception, match="recognition.second_detector_min_score"):
        parse_config({"recognition": {"second_detector_min_score": 1.5}})
    with pytest.raises(Exception, match="recognition.second_detector"):
        parse_config({"recognition": {"second_detector": "yes"}})
    with pytest.raises(Exception, match="recognition.coarse_pass"):
        parse_config({"recognition": {"coarse_pass": "often"}})
    with pytest.raises(Exception, match="recognition.second_detector_coarse"):  # no such key
        parse_config({"recognition": {"second_detector_coarse": True}})


def _det(box, score, corners=None):
    return Detection(box=box, score=score, corners=None if corners is None else np.asarray(corners, np.float32))


def test_overlapping_boxes_become_their_score_weighted_mean():
    sq = [[0, 0], [10, 0], [10, 10], [0, 10]]
    a = _det((100, 100, 200, 140), 0.9, np.array(sq) + 100)
    b = _det((110, 104, 210, 144), 0.6, np.array(sq) + 110)  # IoU ~0.76 with a: the same plate
    far = _det((400, 100, 480, 130), 0.7)
    out = fuse([b, far, a])
    assert [d.score for d in out] == [0.9, 0.7]
    w = 0.9 / 1.5
    assert out[0].box == tuple(int(round(w * x + (1 - w) * y)) for x, y in zip(a.box, b.box, strict=True))
    np.testing.assert_allclose(out[0].corners, np.array(sq) + 100 * w + 110 * (1 - w), atol=1e-4)
    assert out[1] is far  # seen by one detector: as it was


def test_boxes_that_barely_overlap_stay_two_plates_and_missing_corners_stay_missing():
    a, b = _det((0, 0, 100, 40), 0.8), _det((70, 0, 170, 40), 0.7)  # IoU 30/170
    assert fuse([a, b]) == [a, b]
    c = _det((2, 0, 102, 40), 0.5, [[2, 0], [102, 0], [102, 40], [2, 40]])
    joined = fuse([a, c])
    assert len(joined) == 1 and joined[0].corners is None and joined[0].score == 0.8
    assert fuse([]) == [] and fuse([a]) == [a]
    with pytest.raises(ValueError, match="at least one detector"):
        DetectorSet()
