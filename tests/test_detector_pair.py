"""Two detectors joined (plategate.vision.detector_pair), and the [recognition] keys that switch the second on."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from plategate.config import RecognitionConfig, parse_config
from plategate.errors import ModelError
from plategate.vision.detector import PlateDetector
from plategate.vision.detector_pair import DetectorPair
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
    pair = DetectorPair(first, PlateDetector(MODELS / "detector.tflite", threads=1, close_up=False))
    for scene in frames:
        alone, joined = first.detect(scene.image), pair.detect(scene.image)
        assert len(joined) == len(alone)  # the same detector twice: every plate overlaps its twin
        scores = [d.score for d in joined]
        assert scores == sorted(scores, reverse=True)
    assert pair.model is first.model and pair.min_score == first.min_score


def test_the_shipped_pair_finds_the_rendered_plates(frames):
    rec = Recognizer.from_config(RecognitionConfig(threads=1))
    assert isinstance(rec.detector, DetectorPair)
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


def test_second_detector_off_and_a_missing_model(tmp_path):
    rec = Recognizer.from_config(RecognitionConfig(threads=1, second_detector=False))
    assert isinstance(rec.detector, PlateDetector)
    keys = [k for k, _ in RecognitionConfig(second_detector=False).model_paths()]
    assert keys == ["recognition.detector_model", "recognition.reader_model"]
    shutil.copy(MODELS / "detector-street.json", tmp_path / "street.json")  # the card without its model file
    cfg = RecognitionConfig(threads=1, second_detector_model=tmp_path / "street.tflite")
    with pytest.raises(ModelError, match="street.tflite"):
        Recognizer.from_config(cfg)


def test_config_keys_are_checked():
    cfg = parse_config({"recognition": {"second_detector": False, "second_detector_min_score": 0.7}})
    assert cfg.recognition.second_detector is False and cfg.recognition.second_detector_min_score == 0.7
    with pytest.raises(Exception, match="recognition.second_detector_min_score"):
        parse_config({"recognition": {"second_detector_min_score": 1.5}})
    with pytest.raises(Exception, match="recognition.second_detector"):
        parse_config({"recognition": {"second_detector": "yes"}})
