"""tools.train.average_readers averages the weights of readers of one network and records where they came from."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tools.train import average_readers


def test_mix_is_parsed_normalised_and_bad_ones_named():
    assert average_readers.parse_mix("1,3", 2) == [0.25, 0.75]
    for bad in ("0.5", "a,b", "-1,2", "0,0", "nan,1"):
        with pytest.raises(average_readers.AverageError, match="--mix"):
            average_readers.parse_mix(bad, 2)


def test_weights_of_different_networks_are_refused():
    a = [np.zeros((3, 3)), np.zeros(3)]
    with pytest.raises(average_readers.AverageError, match="not the same network"):
        average_readers.average_weights([a, [np.zeros((3, 3))]], [0.5, 0.5])
    with pytest.raises(average_readers.AverageError, match=r"weight array 1: shape \(4,\)"):
        average_readers.average_weights([a, [np.zeros((3, 3)), np.zeros(4)]], [0.5, 0.5])


def test_weighted_average_keeps_each_arrays_dtype():
    a = [np.full((2, 2), 1.0, np.float32), np.array([10], np.int64)]
    b = [np.full((2, 2), 3.0, np.float32), np.array([20], np.int64)]
    out = average_readers.average_weights([a, b], [0.25, 0.75])
    assert out[0].dtype == np.float32 and np.allclose(out[0], 2.5)
    assert out[1].dtype == np.int64 and out[1][0] == 17


def _reader(seed: int, channels=(4, 4, 8, 8, 8)):
    import tensorflow as tf

    from tools.train.reader_model import build_model

    tf.keras.utils.set_random_seed(seed)
    return build_model(37, channels=channels)


def test_two_saved_readers_are_averaged_into_a_loadable_model(tmp_path, capsys):
    tf = pytest.importorskip("tensorflow")
    first, second = _reader(1), _reader(2)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first.save(tmp_path / "a" / "reader.keras")
    second.save(tmp_path / "b" / "reader.keras")
    (tmp_path / "a" / "training.json").write_text(json.dumps({"epochs": 3}))
    out = tmp_path / "soup" / "reader.keras"
    assert average_readers.main([str(tmp_path / "a" / "reader.keras"), str(tmp_path / "b" / "reader.keras"),
                                 "--out", str(out), "--mix", "3,1"]) == 0
    assert "averaged 2 models (0.75, 0.25)" in capsys.readouterr().out
    soup = tf.keras.models.load_model(out, compile=False)
    for got, w1, w2 in zip(soup.get_weights(), first.get_weights(), second.get_weights(), strict=True):
        np.testing.assert_allclose(got, 0.75 * w1 + 0.25 * w2, rtol=1e-6, atol=1e-7)
    record = json.loads((out.parent / "training.json").read_text())
    parts = record["averaged_from"]
    assert [p["mix"] for p in parts] == [0.75, 0.25]
    assert parts[0]["training"] == {"epochs": 3} and "training" not in parts[1]
    assert all(len(p["sha256"]) == 64 for p in parts)


def test_missing_or_mismatched_models_are_clear_errors(tmp_path, capsys):
    pytest.importorskip("tensorflow")
    _reader(1).save(tmp_path / "small.keras")
    _reader(1, channels=(4, 4, 8, 8, 16)).save(tmp_path / "wide.keras")
    out = tmp_path / "out.keras"
    assert average_readers.main([str(tmp_path / "small.keras"), "--out", str(out)]) == 2
    assert "at least two models" in capsys.readouterr().err
    assert average_readers.main([str(tmp_path / "small.keras"), str(tmp_path / "none.keras"), "--out", str(out)]) == 2
    assert "none.keras not found" in capsys.readouterr().err
    assert average_readers.main([str(tmp_path / "small.keras"), str(tmp_path / "wide.keras"), "--out", str(out)]) == 2
    assert "not the same network" in capsys.readouterr().err
    assert not out.exists()


def _average_start_and_tuned(tmp_path, start, tuned, mix: str):
    """Save *start* and *tuned*, average them (start first) and return the soup and its training record."""
    import tensorflow as tf

    start.save(tmp_path / "start.keras")
    tuned.save(tmp_path / "tuned.keras")
    out = tmp_path / "soup" / "reader.keras"
    assert average_readers.main([str(tmp_path / "start.keras"), str(tmp_path / "tuned.keras"),
                                 "--out", str(out), "--mix", mix]) == 0
    return tf.keras.models.load_model(out, compile=False), json.loads((out.parent / "training.json").read_text())


@pytest.mark.parametrize(("height", "width"), [(48, 128), (32, 176)])
def test_a_start_of_another_size_is_carried_over_to_the_fine_tunes_network(tmp_path, height, width):
    tf = pytest.importorskip("tensorflow")
    from tools.train.reader_model import build_model, transfer_weights

    tf.keras.utils.set_random_seed(3)
    start = build_model(37, channels=(4, 4, 8, 8, 8))
    tuned = build_model(37, height=height, width=width, channels=(4, 4, 8, 8, 8))
    soup, record = _average_start_and_tuned(tmp_path, start, tuned, "1,3")
    assert tuple(soup.input_shape) == (None, height, width, 1)
    assert tuple(soup.output_shape) == (None, width // 4, 37)
    carried = tf.keras.models.clone_model(tuned)
    assert transfer_weights(start, carried) == []
    if height == 32:  # only the width differs: the start's weights are taken as they are
        for w0, w1 in zip(start.get_weights(), carried.get_weights(), strict=True):
            np.testing.assert_array_equal(w0, w1)
    for got, w1, w2 in zip(soup.get_weights(), carried.get_weights(), tuned.get_weights(), strict=True):
        np.testing.assert_allclose(got, 0.25 * w1 + 0.75 * w2, rtol=1e-6, atol=1e-7)
    assert record["carried_over"] == [f"{tmp_path / 'start.keras'}: input 32x128 carried over to {height}x{width} "
                                      "(tools.train.reader_model.transfer_weights)"]


def test_a_reader_that_differs_in_more_than_its_height_is_not_carried_over(tmp_path, capsys):
    pytest.importorskip("tensorflow")
    from tools.train.reader_model import build_model

    build_model(37, channels=(4, 4, 8, 8, 8)).save(tmp_path / "narrow.keras")
    build_model(37, height=48, channels=(4, 4, 8, 8, 16)).save(tmp_path / "wide.keras")
    out = tmp_path / "out.keras"
    assert average_readers.main([str(tmp_path / "narrow.keras"), str(tmp_path / "wide.keras"), "--out", str(out)]) == 2
    assert "narrow.keras" in capsys.readouterr().err
    assert not out.exists()


def test_a_start_without_context_blocks_is_carried_over_with_them_as_the_identity(tmp_path, capsys):
    tf = pytest.importorskip("tensorflow")
    from tools.train.reader_model import build_model

    tf.keras.utils.set_random_seed(4)
    start = build_model(37, channels=(4, 4, 8, 8, 8))
    tuned = build_model(37, width=176, channels=(4, 4, 8, 8, 8), context=2)
    trained = tuned.get_layer("context1_bn0")
    trained.set_weights([np.ones_like(w) for w in trained.get_weights()])  # as if trained away from the identity
    soup, record = _average_start_and_tuned(tmp_path, start, tuned, "1,1")
    scale = soup.get_layer("context1_bn0").get_weights()[0]  # the start's identity block has scale 0
    np.testing.assert_allclose(scale, 0.5, atol=1e-7)
    np.testing.assert_allclose(soup.get_layer("logits").get_weights()[0],
                               0.5 * (start.get_layer("logits").get_weights()[0] + tuned.get_layer("logits").get_weights()[0]),
                               rtol=1e-6, atol=1e-7)
    (note,) = record["carried_over"]
    assert "32x128 carried over to 32x176, its 8 missing context-block layers as the identity" in note
    assert average_readers.main([str(tmp_path / "tuned.keras"), str(tmp_path / "start.keras"),
                                 "--out", str(tmp_path / "reverse.keras")]) == 2
    assert "context-block layers" in capsys.readouterr().err and not (tmp_path / "reverse.keras").exists()
