"""tools.train.reader_from_tflite: the shipped int8 reader rebuilt as a trainable float Keras reader."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from plategate.vision.ctc import greedy, softmax
from plategate.vision.runtime import load_model
from tools.synth.plates import render_plate

tf = pytest.importorskip("tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

MODELS = Path(__file__).resolve().parent.parent / "models"


@pytest.fixture(scope="module")
def crops(tmp_path_factory) -> Path:
    """A folder of rendered plates of three styles, and one file that is not an image."""
    folder = tmp_path_factory.mktemp("crops")
    rng = np.random.default_rng(21)
    for i in range(48):
        img, _ = render_plate(style=("br", "eu", "ar")[i % 3], rng=rng, height=int(rng.integers(40, 90)))
        cv2.imwrite(str(folder / f"plate{i:02d}.png"), img)
    (folder / "broken.png").write_bytes(b"not an image")
    return folder


@pytest.fixture(scope="module")
def rebuilt(crops, tmp_path_factory):
    from tools.train import reader_from_tflite

    out = tmp_path_factory.mktemp("rebuilt") / "reader.keras"
    rc = reader_from_tflite.main([str(MODELS / "reader.tflite"), str(out), "--images", str(crops), "--threads", "1"])
    assert rc == 0
    return out


def test_the_rebuilt_reader_computes_what_the_int8_one_does(rebuilt, crops):
    from tools.train.reader_from_tflite import load_crops

    model = tf.keras.models.load_model(rebuilt, compile=False)
    int8 = load_model(MODELS / "reader.tflite", threads=1)
    x = load_crops(crops, 100, *model.input_shape[1:3])
    assert len(x) == 48  # the broken file is skipped
    ours = model.predict(x, verbose=0)
    theirs = np.stack([int8.run(xi[None])[0][0] for xi in x])
    spread = float(np.abs(theirs).mean())
    assert float(np.abs(ours - theirs).mean()) < 0.1 * spread
    same = sum(greedy(softmax(a))[0] == greedy(softmax(b))[0] for a, b in zip(ours, theirs, strict=True))
    assert same >= 45


def test_the_card_training_record_goes_beside_the_rebuilt_model(rebuilt):
    import hashlib
    import json

    record = json.loads(rebuilt.with_name("training.json").read_text())
    card = json.loads((MODELS / "reader.json").read_text())
    assert record["training"] == card["training"]
    assert record["sha256"] == hashlib.sha256((MODELS / "reader.tflite").read_bytes()).hexdigest()
    assert record["commands"][0].startswith("python -m tools.train.reader_from_tflite ")


def test_training_mode_starts_where_inference_is(rebuilt, crops):
    """The normalisation layers hold the measured statistics: batch statistics change little."""
    from tools.train.reader_from_tflite import load_crops

    model = tf.keras.models.load_model(rebuilt, compile=False)
    x = load_crops(crops, 100, *model.input_shape[1:3])
    infer = model(x, training=False).numpy()
    train = model(x, training=True).numpy()  # dropout too, so only a loose bound
    changed = sum(greedy(softmax(a))[0] != greedy(softmax(b))[0] for a, b in zip(infer, train, strict=True))
    assert changed <= 12
    bns = [layer for layer in model.layers if isinstance(layer, tf.keras.layers.BatchNormalization)]
    assert bns and all(float(np.abs(bn.get_weights()[2]).max()) > 0 for bn in bns)  # measured, not zero


def test_a_detector_is_refused(crops, tmp_path, capsys):
    from tools.train import reader_from_tflite

    out = tmp_path / "det.keras"
    rc = reader_from_tflite.main([str(MODELS / "detector.tflite"), str(out), "--images", str(crops)])
    assert rc == 2
    assert "not a 0-9A-Z reader" in capsys.readouterr().err
    assert not out.exists()


def test_an_unknown_layout_is_refused():
    from tools.train.reader_from_tflite import stage_widths
    from tools.train.tflite_weights import RebuildError

    convs = [{"kind": "Conv2D", "kernel": np.zeros((3, 3, 1, 8))}] * 3
    with pytest.raises(RebuildError, match="not a plategate reader"):
        stage_widths(convs)


@pytest.mark.parametrize("args, message", [(["--count", "0"], "--count"), (["--min-agreement", "2"], "--min-agreement")])
def test_bad_arguments_are_usage_errors(crops, tmp_path, capsys, args, message):
    from tools.train import reader_from_tflite

    with pytest.raises(SystemExit) as exc:
        reader_from_tflite.main([str(MODELS / "reader.tflite"), str(tmp_path / "r.keras"), "--images", str(crops), *args])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(("light", "context"), [(False, 0), (True, 0), (False, 2)])
def test_the_layout_read_off_the_convolutions_is_the_one_built(light, context):
    from tools.train.reader_from_tflite import stage_widths
    from tools.train.reader_model import build_model
    from tools.train.tflite_weights import keras_conv_pairs

    channels = (8, 12, 16, 20, 24)
    model = build_model(37, channels=channels, light_stem=light, context=context)
    convs = [{"kind": type(layer).__name__, "kernel": layer.kernel.numpy()} for layer, _ in keras_conv_pairs(model)]
    assert stage_widths(convs) == (channels, light, context)
