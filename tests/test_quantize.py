"""tools/quantize.py on a tiny reader trained for a few steps inside the test."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from plategate.vision.runtime import load_model, sha256_of

tf = pytest.importorskip("tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="module")
def tiny_keras(tmp_path_factory):
    """A very small reader network trained for a few CTC steps on rendered crops."""
    from plategate.vision.ctc import ALPHABET
    from tools.synth.reader_data import synth_sample
    from tools.train.reader_model import build_model
    from tools.train.train_reader import encode_labels

    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        pass  # already initialised by another test module
    tf.keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    samples = [synth_sample(rng, 32, 128, None) for _ in range(32)]
    x = np.stack([s[0] for s in samples]).astype(np.float32)[..., None] / 255.0
    labels, lengths = encode_labels([s[1] for s in samples])
    model = build_model(len(ALPHABET) + 1, 32, 128, channels=(8, 8, 8, 8, 8))
    opt = tf.keras.optimizers.Adam(1e-3)
    for _ in range(3):
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            loss = tf.reduce_mean(tf.nn.ctc_loss(labels, logits, lengths, tf.fill([len(x)], 32),
                                                 logits_time_major=False, blank_index=0))
        opt.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables, strict=True))
    path = tmp_path_factory.mktemp("keras") / "tiny.keras"
    model.save(path)
    return path


def test_quantize_writes_an_int8_builtin_model_and_its_card(tiny_keras, tmp_path, capsys):
    from tools import quantize

    out = tmp_path / "tiny_reader.tflite"
    training = tmp_path / "training.json"
    training.write_text(json.dumps({"data": ["synthetic"], "seed": 0}))
    rc = quantize.main([str(tiny_keras), "--task", "reader", "--out", str(out), "--rep-count", "8",
                        "--val", "synth:6:3", "--calibrate", "synth:6:4", "--license", "Apache-2.0",
                        "--training", str(training)])
    printed = capsys.readouterr().out
    assert rc == 0, printed
    assert "float accuracy" in printed and "int8 accuracy" in printed and "difference" in printed
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["sha256"] == sha256_of(out) and card["size_bytes"] == out.stat().st_size
    assert card["task"] == "reader" and card["input"]["dtype"] == "int8" and card["output"]["dtype"] == "int8"
    assert card["output"]["decoding"] == "ctc" and "temperature" in card["output"]
    assert card["calibration"] == {"sets": ["synth:6:4"], "samples": 6}
    assert card["training"]["seed"] == 0 and "tools.quantize" in card["training"]["quantize_command"]
    assert set(card["metrics"]["synth:6:3"]) == {"float", "int8"}
    assert not any(op.startswith(("CUSTOM", "Flex")) for op in card["ops"])
    assert set(quantize.model_ops(out.read_bytes())) == set(card["ops"])
    model = load_model(out, threads=1)
    assert model.input_details["dtype"] == np.int8
    assert model.output_details[0]["dtype"] == np.int8


def test_a_model_needing_non_builtin_ops_is_refused(tmp_path, capsys):
    from tools import quantize

    class Odd(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([1, 32, 128, 1], tf.float32)])
        def __call__(self, x):
            return {"y": tf.math.erf(tf.reshape(x, [1, 32 * 128]))}  # erf has no TFLite builtin

    saved = tmp_path / "odd"
    module = Odd()
    tf.saved_model.save(module, str(saved), signatures={"serving_default": module.__call__})
    out = tmp_path / "odd.tflite"
    rc = quantize.main([str(saved), "--task", "reader", "--out", str(out), "--rep-count", "4"])
    assert rc == 1
    assert "conversion to int8 failed" in capsys.readouterr().err
    assert not out.exists() and not out.with_suffix(".json").exists()

    # the same model converted with TF "select" ops holds a Flex op: the check names it
    conv = tf.lite.TFLiteConverter.from_saved_model(str(saved))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
    flex = conv.convert()
    problems = quantize.check_builtin_int8(flex)
    assert any("FlexErf" in p for p in problems), problems


def test_help_and_unknown_task(capsys):
    from tools import quantize

    with pytest.raises(SystemExit) as exc:
        quantize.main(["--help"])
    assert exc.value.code == 0
    assert "representative" in capsys.readouterr().out
    assert quantize.main(["x.keras", "--task", "nosuchtask", "--out", "y.tflite"]) == 2
    assert "unknown task" in capsys.readouterr().err


def test_reader_task_options_are_checked():
    from tools.quant_tasks.reader import ReaderTask

    task = ReaderTask()
    task.configure({"data": "/tmp/x", "precision": "0.999"})
    assert task.precision == 0.999 and str(task.data_dir) == "/tmp/x"
    for bad in ("abc", "1.5", "0.2"):
        with pytest.raises(ValueError, match="precision must be"):
            task.configure({"precision": bad})
    with pytest.raises(ValueError, match="not 'colour'"):
        task.configure({"colour": "red"})
    for bad in ("warm", "0", "11"):
        with pytest.raises(ValueError, match="temperature must be"):
            task.configure({"temperature": bad})


def test_reader_task_fixed_temperature_replaces_the_calibrated_one():
    from plategate.vision.ctc import encode
    from tools.quant_tasks.reader import ReaderTask

    def logits(text: str) -> np.ndarray:
        out = np.zeros((1, 32, 37), np.float32)
        out[0, :, 0] = 6.0  # blank everywhere but at the characters
        for i, cls in enumerate(encode(text)):
            out[0, 3 + 4 * i, cls] = 12.0
        return out

    texts = ["AB12", "XY98", "KMH306", "Q1"] * 5
    outputs = [[logits(t)] for t in texts]
    task = ReaderTask()
    calibrated = task.calibrate(outputs, texts, {})
    task.configure({"temperature": "1.4"})
    fixed = task.calibrate(outputs, texts, {})
    assert fixed == {"temperature": 1.4, "calibrated_temperature": calibrated["temperature"]}
