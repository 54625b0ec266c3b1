"""Model loading: cards, sha256 checks, refusing missing / truncated / tampered models."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from plategate.errors import ModelError
from plategate.vision.runtime import ModelCard, card_path, load_model, sha256_of, verify

MODELS = Path(__file__).resolve().parent.parent / "models"
SHIPPED = sorted(p for p in MODELS.glob("*.tflite"))


@pytest.fixture
def model_copy(tmp_path):
    """A copy of the shipped reader and its card in a temporary folder."""
    src = MODELS / "reader.tflite"
    dst = tmp_path / "reader.tflite"
    shutil.copy(src, dst)
    shutil.copy(card_path(src), card_path(dst))
    yield dst


def test_every_shipped_model_has_a_valid_card_and_loads():
    assert SHIPPED, "no models shipped in models/"
    for path in SHIPPED:
        card = verify(path)
        assert card.file == path.name
        assert card.sha256 == sha256_of(path)
        assert card.license and card.training and card.metrics
        model = load_model(path, threads=1)
        assert list(model.input_shape) == card.input.shape


def test_run_quantises_and_returns_float_outputs(model_copy):
    model = load_model(model_copy, threads=1)
    x = np.random.default_rng(0).random(model.input_shape, dtype=np.float32)
    outs = model.run(x)
    assert outs and outs[0].dtype == np.float32 and np.all(np.isfinite(outs[0]))
    with pytest.raises(ModelError, match="input shape"):
        model.run(np.zeros((1, 2, 3, 1), np.float32))


def test_missing_model_is_refused(tmp_path):
    with pytest.raises(ModelError, match=r"model file .*nothere\.tflite is missing"):
        load_model(tmp_path / "nothere.tflite")


def test_missing_card_is_refused(model_copy):
    card_path(model_copy).unlink()
    with pytest.raises(ModelError, match=r"model card .*reader\.json is missing"):
        load_model(model_copy)


def test_truncated_model_is_refused(model_copy):
    data = model_copy.read_bytes()
    model_copy.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError, match=r"reader\.tflite is truncated"):
        load_model(model_copy)


def test_empty_model_is_refused(model_copy):
    model_copy.write_bytes(b"")
    with pytest.raises(ModelError, match=r"reader\.tflite is empty"):
        load_model(model_copy)


def test_tampered_model_is_refused(model_copy):
    data = bytearray(model_copy.read_bytes())
    data[len(data) // 2] ^= 0x5A  # same size, one byte changed
    model_copy.write_bytes(bytes(data))
    with pytest.raises(ModelError, match=r"reader\.tflite was modified or corrupted: sha256"):
        load_model(model_copy)


def test_bad_cards_are_refused_with_the_problem(model_copy):
    cp = card_path(model_copy)
    good = json.loads(cp.read_text())
    cp.write_text("{not json")
    with pytest.raises(ModelError, match=r"reader\.json cannot be read"):
        load_model(model_copy)
    bad = dict(good)
    del bad["sha256"]
    cp.write_text(json.dumps(bad))
    with pytest.raises(ModelError, match=r"reader\.json is invalid: sha256"):
        load_model(model_copy)
    bad = dict(good, input=dict(good["input"], shape=[1, 8, 8, 1]))
    cp.write_text(json.dumps(bad))
    with pytest.raises(ModelError, match=r"input shape"):
        load_model(model_copy)


def test_garbage_with_a_matching_card_is_refused_by_the_runtime(model_copy):
    model_copy.write_bytes(b"\x00" * 4096)
    card = json.loads(card_path(model_copy).read_text())
    card.update(sha256=sha256_of(model_copy), size_bytes=4096)
    card_path(model_copy).write_text(json.dumps(card))
    with pytest.raises(ModelError, match=r"reader\.tflite cannot be loaded by LiteRT"):
        load_model(model_copy)


def test_card_model_round_trip():
    card = ModelCard.load(MODELS / "reader.json")
    again = ModelCard.model_validate(json.loads(card.model_dump_json()))
    assert again == card
