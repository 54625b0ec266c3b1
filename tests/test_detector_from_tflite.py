"""tools.train.detector_from_tflite: a shipped int8 detector rebuilt as trainable float weights."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from tools.synth import scenes

tf = pytest.importorskip("tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

MODELS = Path(__file__).resolve().parent.parent / "models"


@pytest.fixture(scope="module")
def frames(tmp_path_factory) -> Path:
    """Rendered gate scenes with plates, and one file that is not an image."""
    folder = tmp_path_factory.mktemp("frames")
    rng = np.random.default_rng(5)
    source, bgs = scenes.PlateSource(None, real_fraction=0.0), scenes.Backgrounds([])
    for i in range(10):
        s = scenes.compose_gate_scene(rng, source, bgs, night=bool(i % 3 == 2), plate_width=(90, 200))
        cv2.imwrite(str(folder / f"f{i:02d}.jpg"), s.image)
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    return folder


@pytest.fixture(scope="module")
def rebuilt(frames, tmp_path_factory):
    from tools.train import detector_from_tflite

    out = tmp_path_factory.mktemp("rebuilt") / "start"
    rc = detector_from_tflite.main([str(MODELS / "detector-look.tflite"), str(out), "--images", str(frames),
                                    "--threads", "1", "--min-agreement", "0.75"])
    assert rc == 0
    return out


def test_the_rebuilt_detector_finds_what_the_int8_one_finds(rebuilt, frames):
    from plategate.vision.detector import PlateDetector, box_iou, decode, split_outputs
    from tools.train.detector_from_tflite import MIN_SCORE, load_frames
    from tools.train.train_detector import load_inference_model, weights_file

    widths = tuple(json.loads((rebuilt / "network.json").read_text())["widths"])
    model = load_inference_model(weights_file(rebuilt), widths, (320, 192))
    int8 = PlateDetector(MODELS / "detector-look.tflite", threads=1, close_up=False)
    found = total = 0
    for frame in load_frames(frames, 100, (320, 192)):
        theirs = decode(*int8._infer(frame), MIN_SCORE)[0]
        ours = decode(*split_outputs([np.asarray(o) for o in model(frame[None, ..., None] / 255.0)]), MIN_SCORE)[0]
        total += len(theirs)
        found += sum(len(ours) > 0 and box_iou(b, np.asarray(ours)).max() >= 0.5 for b in theirs)
    assert total >= 5 and found >= 0.8 * total


def test_training_starts_from_the_rebuilt_weights(rebuilt):
    """What train_detector --grow-from does: the weights load into the training network at patch size."""
    from tools.train.detector_model import build_model
    from tools.train.grow import grow_weights
    from tools.train.train_detector import network_widths, weights_file

    widths = network_widths(rebuilt)
    assert widths == tuple(json.loads((MODELS / "detector-look.json").read_text())["training"]["architecture"]["widths"])
    narrow = build_model(256, 256, widths)
    narrow.load_weights(str(weights_file(rebuilt)))
    wide = build_model(256, 256, widths)
    grow_weights(narrow, wide)
    x = np.random.default_rng(0).random((1, 256, 256, 1), np.float32)
    assert np.allclose(narrow(x)[0], wide(x)[0], atol=1e-5)


def test_the_card_training_record_goes_beside_the_weights(rebuilt):
    record = json.loads((rebuilt / "training.json").read_text())
    card = json.loads((MODELS / "detector-look.json").read_text())
    assert record["training"] == card["training"] and record["widths"] == card["training"]["architecture"]["widths"]
    assert record["commands"][0].startswith("python -m tools.train.detector_from_tflite ")


def test_the_convolutions_pair_up_by_place_not_by_order():
    """Two 1x1 convolutions of the pyramid have the same shape and successor; their resolutions tell them apart."""
    from tools.train.detector_model import build_model
    from tools.train.tflite_weights import conv_ops, keras_conv_pairs, match

    path = MODELS / "detector-look.tflite"
    model = build_model(192, 320, (24, 48, 96, 144, 192))
    pairs = keras_conv_pairs(model)
    paired = match(path, conv_ops(path), model, pairs)
    assert [c["kernel"].shape for c in paired] == [tuple(layer.kernel.shape) for layer, _ in pairs]
    heads = {layer.name: c["kernel"].shape[3] for (layer, _), c in zip(pairs, paired, strict=True)
             if layer.name in ("box", "corners")}
    assert heads == {"box": 4, "corners": 8}


def test_a_reader_is_refused(frames, tmp_path, capsys):
    from tools.train import detector_from_tflite

    out = tmp_path / "start"
    assert detector_from_tflite.main([str(MODELS / "reader.tflite"), str(out), "--images", str(frames)]) == 2
    assert "is not a detector" in capsys.readouterr().err
    assert not out.exists()


def test_a_card_without_widths_is_refused():
    from tools.train.detector_from_tflite import card_widths
    from tools.train.tflite_weights import RebuildError

    with pytest.raises(RebuildError, match=re.escape("training.architecture.widths")):
        card_widths({"training": {"architecture": {"widths": [16, 32]}}}, Path("x.tflite"))


def test_a_run_grown_from_the_rebuilt_weights_carries_their_record(rebuilt):
    from tools.train.train_detector import start_record

    commands = [{"stage": "data", "command": "nice -n 10 python -m tools.train.train_detector data --work w", "mix": None},
                {"stage": "train", "command": f"nice -n 10 python -m tools.train.train_detector train --work w "
                                              f"--grow-from {rebuilt} --steps 10", "mix": None}]
    record = start_record(commands)
    card = json.loads((MODELS / "detector-look.json").read_text())
    assert record["training"] == card["training"] and record["commands"][0].startswith("python -m tools.train.detector_from_tflite")
    assert start_record(commands[:1]) == {}  # trained from scratch: nothing before it
