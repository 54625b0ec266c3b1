"""tools.train.train_detector export: every batch weighs the same in the new BatchNorm statistics; other input sizes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tools.train import detector_data, train_detector


def test_recalibrated_statistics_are_the_mean_over_all_batches(tmp_path):
    tf = pytest.importorskip("tensorflow")
    from tools.train.detector_model import build_model

    size, batches = 64, 5
    work = tmp_path / "work"
    (work / "data").mkdir(parents=True)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (12, 96, 96), dtype=np.uint8)
    images[:6] //= 4  # dark and bright patches: a short memory would see only some of them
    ann = [{"boxes": [], "corners": [], "corner_ok": []}] * len(images)
    np.savez(work / "data" / "shard_0000.npz", images=images, ann=json.dumps(ann))
    tf.keras.utils.set_random_seed(1)
    weights = tmp_path / "start.weights.h5"
    build_model(size, size).save_weights(str(weights))
    out = train_detector.recalibrate_batchnorm(weights, work, tmp_path / "bn.weights.h5", batches=batches, size=size,
                                               seed=7, batch=4)

    # the batches the recalibration saw, drawn again with its seed
    pool = [(img, a) for img, a in zip(images, ann, strict=True)]
    draw = np.random.default_rng(7)
    xs = [detector_data.make_batch(pool, draw, 4, size)[0] for _ in range(batches)]
    start = build_model(size, size)
    start.load_weights(str(weights))
    conv = next(layer for layer in start.layers if isinstance(layer, tf.keras.layers.Conv2D))
    first_conv = tf.keras.Model(start.input, conv.output)
    want = np.mean([first_conv(x).numpy().mean(axis=(0, 1, 2)) for x in xs], axis=0)

    calibrated = build_model(size, size)
    calibrated.load_weights(str(out))
    norm = next(layer for layer in calibrated.layers if hasattr(layer, "moving_mean"))
    assert np.allclose(norm.moving_mean.numpy(), want, rtol=1e-4, atol=1e-5)


def test_another_input_size_builds_the_same_weights(tmp_path):
    tf = pytest.importorskip("tensorflow")
    from tools.train.detector_model import build_model

    tf.keras.utils.set_random_seed(2)
    weights = tmp_path / "w.weights.h5"
    build_model(64, 64).save_weights(str(weights))
    full = train_detector.load_inference_model(weights)
    coarse = train_detector.load_inference_model(weights, size=(320, 192))
    assert tuple(full.input.shape[1:3]) == (train_detector.INPUT_H, train_detector.INPUT_W)
    assert tuple(coarse.input.shape[1:3]) == (192, 320)
    assert all(np.array_equal(a.numpy(), b.numpy()) for a, b in zip(full.weights, coarse.weights, strict=True))


@pytest.mark.parametrize("size", ["320x180", "320", "0x192", "axb"])
def test_an_export_size_the_network_cannot_take_is_refused(tmp_path, capsys, size):
    with pytest.raises(SystemExit):
        train_detector.main(["export", "--work", str(tmp_path), "--input", size])
    err = capsys.readouterr().err
    assert "--input" in err and "multiples of 32" in err


def test_one_export_writes_every_input_size_from_one_batchnorm_estimate(tmp_path, monkeypatch):
    tf = pytest.importorskip("tensorflow")
    from tools.train.detector_model import build_model

    tf.keras.utils.set_random_seed(3)
    weights = tmp_path / "w.weights.h5"
    build_model(64, 64).save_weights(str(weights))
    calls = []

    def recalibrate(w, *args, **kwargs):
        calls.append(w)
        return w

    monkeypatch.setattr(train_detector, "recalibrate_batchnorm", recalibrate)
    work = tmp_path / "work"
    argv = ["export", "--work", str(work), "--weights", str(weights), "--input", "640x352", "--input", "320x192"]
    assert train_detector.main(argv) == 0
    assert calls == [weights]
    assert (work / "export" / "savedmodel").is_dir() and (work / "export" / "savedmodel-320x192").is_dir()
    full = json.loads((work / "export" / "training.json").read_text())
    coarse = json.loads((work / "export" / "training-320x192.json").read_text())
    assert full["architecture"]["input"] == [1, 352, 640, 1] and coarse["architecture"]["input"] == [1, 192, 320, 1]
    assert coarse["commands"][-1].endswith("--input 640x352 --input 320x192")
