"""tools.train.grow.grow_weights and train_detector train --grow-from: a widened detector starts as the trained one."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tools.train import train_detector

NARROW, WIDE = (8, 16, 24, 32, 40), (12, 20, 32, 40, 48)


def _randomised(model, rng):
    """Give every weight, and every BatchNorm statistic, a value far from its initial one."""
    for layer in model.layers:
        weights = layer.get_weights()
        if weights:
            layer.set_weights([(np.abs(rng.normal(0, 0.3, w.shape)) + 0.5 if "batch" in layer.name and i == 3
                                else rng.normal(0, 0.3, w.shape)).astype(np.float32) for i, w in enumerate(weights)])
    return model


def test_grown_network_computes_the_narrow_ones_outputs():
    pytest.importorskip("tensorflow")
    from tools.train.detector_model import build_model
    from tools.train.grow import grow_weights

    rng = np.random.default_rng(0)
    narrow = _randomised(build_model(64, 96, NARROW), rng)
    wide = build_model(64, 96, WIDE)
    x = rng.random((2, 64, 96, 1)).astype(np.float32)
    before = [t.numpy() for t in wide(x, training=False)]
    grow_weights(narrow, wide)
    for want, got, fresh in zip(narrow(x, training=False), wide(x, training=False), before, strict=True):
        np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-5)
        assert np.abs(fresh - want.numpy()).max() > 1e-2  # the wide network did differ before
    kernels = [w for w in wide.trainable_weights if w.shape[-1] == WIDE[4] and len(w.shape) == 4]
    assert kernels and any(np.abs(k.numpy()[..., NARROW[4]:]).max() > 0 for k in kernels)  # new channels are live


def test_grow_refuses_a_narrower_or_other_network():
    pytest.importorskip("tensorflow")
    from tools.train.detector_model import build_model
    from tools.train.grow import grow_weights

    with pytest.raises(ValueError, match="cannot hold"):
        grow_weights(build_model(64, 64, WIDE), build_model(64, 64, NARROW))


def test_train_grow_from_starts_from_the_source_weights(tmp_path, caplog):
    tf = pytest.importorskip("tensorflow")
    from tools.train.detector_model import build_model

    source, work = tmp_path / "narrow", tmp_path / "wide"
    (source / "export").mkdir(parents=True)
    (source / "network.json").write_text(json.dumps({"widths": list(NARROW)}))
    tf.keras.utils.set_random_seed(3)
    narrow = _randomised(build_model(64, 64, NARROW), np.random.default_rng(1))
    narrow.save_weights(str(source / "export" / "detector.weights.h5"))
    (work / "data").mkdir(parents=True)
    images = np.random.default_rng(2).integers(0, 256, (4, 64, 64), dtype=np.uint8)
    np.savez(work / "data" / "shard_0000.npz", images=images,
             ann=json.dumps([{"boxes": [], "corners": [], "corner_ok": []}] * 4))

    with caplog.at_level("INFO"):
        out = train_detector.train(work, steps=1, batch=2, lr=0.0, seed=0, resume=False, ckpt_every=10, size=64,
                                   widths=WIDE, grow_from=source)
    assert "widened from 8,16,24,32,40" in caplog.text
    wide = build_model(64, 64, WIDE)
    wide.load_weights(str(out))
    x = np.random.default_rng(4).random((1, 64, 64, 1)).astype(np.float32)
    # lr 0: only the BatchNorm statistics moved (one training-mode batch), so compare in training mode
    for want, got in zip(narrow(x, training=True), wide(x, training=True), strict=True):
        np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-4)


def test_grow_from_a_folder_without_weights_is_refused(tmp_path):
    pytest.importorskip("tensorflow")
    (tmp_path / "wide" / "data").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="no trained weights"):
        train_detector.train(tmp_path / "wide", steps=1, batch=2, lr=0.0, seed=0, resume=False, ckpt_every=10,
                             size=64, widths=WIDE, grow_from=tmp_path / "missing")
