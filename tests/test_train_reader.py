"""tools.train.train_reader end to end on a tiny run: real + extra crops, checkpoints, resume, training record."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("tensorflow")


def _labelled(folder: Path, n: int, seed: int, style: str) -> None:
    from tools.synth.plates import render_plate

    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    with (folder / "labels.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "text"])
        for i in range(n):
            img, text = render_plate(style=style, rng=rng, height=40)
            cv2.imwrite(str(folder / f"c{i}.png"), img)
            w.writerow([f"c{i}.png", text])


def test_tiny_training_run_resumes_and_records_what_trained_it(tmp_path, capsys):
    from tools.train import train_reader

    data, work = tmp_path / "data", tmp_path / "work"
    _labelled(data / "br-crops", 10, 1, "br")
    _labelled(tmp_path / "extra", 4, 2, "eu")
    common = ["--data", str(data), "--work", str(work), "--shards", "1", "--first-shards", "1", "--shard-size", "32",
              "--val-size", "16", "--steps", "2", "--batch", "8", "--real-copies", "2", "--channels", "8,8,8,8,8",
              "--extra", str(tmp_path / "extra")]
    assert train_reader.main([*common, "--epochs", "1"]) == 0
    out = capsys.readouterr().out
    assert "extra training crops: 4" in out and "epoch 1/1 step 2/2" in out
    assert (work / "reader.keras").is_file() and (work / "ckpt" / "checkpoint").is_file()
    # a second run without --resume refuses to overwrite the checkpoints
    assert train_reader.main([*common, "--epochs", "2"]) == 2
    assert train_reader.main([*common, "--epochs", "2", "--resume"]) == 0
    out = capsys.readouterr().out
    assert "resumed from" in out and "after epoch 1" in out and "epoch 2/2 step 2/2" in out
    record = json.loads((work / "training.json").read_text())
    assert [h["epoch"] for h in record["history"]] == [1, 2]
    assert record["channels"] == [8, 8, 8, 8, 8] and record["light_stem"] is False
    assert any("extra labelled crops" in d for d in record["data"])
    assert "br-crops validation part" in record["never_trained_on"]
    assert len(record["commands"]) == 2


def test_a_label_audit_relabels_the_training_part_and_is_recorded(tmp_path, capsys):
    from tools.synth import reader_data
    from tools.train import train_reader

    data, work = tmp_path / "data", tmp_path / "work"
    _labelled(data / "br-crops", 10, 1, "br")
    first = reader_data.split_by_text(reader_data.load_labelled(data / "br-crops"))[0][0]
    audit = tmp_path / "audit.csv"
    audit.write_text(f"file,label,verdict,looks_like\n{first.path.name},{first.text},wrong,ZZZ9999\n")
    assert train_reader.main(["--data", str(data), "--work", str(work), "--shards", "1", "--first-shards", "1",
                              "--shard-size", "16", "--val-size", "8", "--steps", "1", "--batch", "8", "--real-copies",
                              "1", "--channels", "8,8,8,8,8", "--epochs", "1", "--label-audit", str(audit)]) == 0
    assert f"1 training crops changed: {first.path.name} {first.text}->ZZZ9999" in capsys.readouterr().out
    (cache,) = (work / "data").glob("real_*_a*.npz")  # an audited training part is cached apart
    with np.load(cache) as z:
        assert "ZZZ9999" in [str(t) for t in z["br_train_y"]] and first.text not in [str(t) for t in z["br_train_y"]]
    record = json.loads((work / "training.json").read_text())
    assert any("label audit" in d and str(audit) in d for d in record["data"])
    audit.write_text("file,label\n")
    tiny = ["--shards", "1", "--first-shards", "1", "--shard-size", "8", "--val-size", "8", "--steps", "1", "--epochs", "1"]
    assert train_reader.main(["--data", str(data), "--work", str(tmp_path / "w2"), *tiny, "--label-audit", str(audit)]) == 2
    assert "needs columns" in capsys.readouterr().err
    assert not (tmp_path / "w2").exists()  # refused before any work


def test_light_stem_makes_the_second_convolution_separable():
    import tensorflow as tf

    from tools.train.reader_model import build_model

    def layers(model):
        return [type(layer).__name__ for layer in model.layers]

    full = build_model(37, channels=(8, 16, 16, 16, 16))
    light = build_model(37, channels=(8, 16, 16, 16, 16), light_stem=True)
    assert layers(light).count("DepthwiseConv2D") == layers(full).count("DepthwiseConv2D") + 1
    assert light.count_params() < full.count_params()
    x = tf.zeros((2, 32, 128, 1))
    assert light(x).shape == full(x).shape == (2, 32, 37)


def test_transfer_weights_copies_what_agrees_and_leaves_the_new_stem_fresh():
    import numpy as np

    from tools.train.reader_model import build_model, transfer_weights

    widths = (8, 16, 16, 16, 16)
    full = build_model(37, channels=widths)
    light = build_model(37, channels=widths, light_stem=True)
    fresh = transfer_weights(full, light)
    kinds = {type(light.get_layer(name)).__name__ for name in fresh}
    assert kinds == {"DepthwiseConv2D", "BatchNormalization", "Conv2D"} and len(fresh) == 3
    for i in (0, -1):  # the first convolution and the classifier
        src = [layer for layer in full.layers if layer.weights][i]
        dst = [layer for layer in light.layers if layer.weights][i]
        assert all(np.array_equal(a, b) for a, b in zip(src.get_weights(), dst.get_weights(), strict=True))
    with pytest.raises(ValueError, match="no layer in common"):
        transfer_weights(full, build_model(11, channels=(4, 4, 4, 4, 4)))


def test_resample_rows_keeps_a_kernels_response_to_a_taller_input():
    import numpy as np

    from tools.train.reader_model import resample_rows

    kernel = np.random.default_rng(0).normal(size=(4, 2, 3, 5)).astype(np.float32)
    assert np.array_equal(resample_rows(kernel, 4), kernel)
    taller = resample_rows(kernel, 6)
    assert taller.shape == (6, 2, 3, 5) and taller.dtype == kernel.dtype
    # a feature constant over the height gives the same sum over 6 rows as over 4
    assert np.allclose(taller.sum(axis=0), kernel.sum(axis=0))
    # the first and last rows lie on the source's edge rows (scaled by 4/6)
    assert np.allclose(taller[0], kernel[0] * 4 / 6) and np.allclose(taller[-1], kernel[-1] * 4 / 6)
    with pytest.raises(ValueError, match="4-D kernel"):
        resample_rows(kernel[0], 6)


def test_transfer_weights_to_a_taller_reader_resamples_the_height_collapse(caplog):
    import numpy as np
    import tensorflow as tf

    from tools.train.reader_model import build_model, resample_rows, transfer_weights

    widths = (8, 16, 16, 16, 16)
    small = build_model(37, 32, 128, channels=widths)
    tall = build_model(37, 48, 192, channels=widths)
    with caplog.at_level("INFO", logger="tools.train.reader_model"):
        assert transfer_weights(small, tall) == []
    assert not [r for r in caplog.records if r.levelname == "WARNING"]  # the resampled layer is not lost
    collapse = [(a, b) for a, b in zip(small.layers, tall.layers, strict=True)
                if a.weights and a.weights[0].shape != b.weights[0].shape]
    assert len(collapse) == 1
    a, b = collapse[0]
    assert b.weights[0].shape[0] == 6
    assert np.allclose(b.get_weights()[0], resample_rows(a.get_weights()[0], 6))
    assert tall(tf.zeros((1, 48, 192, 1)), training=False).shape == (1, 48, 37)


def test_training_can_start_from_another_readers_weights(tmp_path, capsys):
    from tools.train import train_reader

    common = ["--shards", "1", "--first-shards", "1", "--shard-size", "16", "--val-size", "8", "--steps", "1",
              "--batch", "4", "--channels", "8,8,8,8,8", "--epochs", "1"]
    assert train_reader.main(["--work", str(tmp_path / "a"), *common]) == 0
    source = tmp_path / "a" / "reader.keras"
    assert train_reader.main(["--work", str(tmp_path / "b"), "--light-stem", "--init-from", str(source), *common]) == 0
    assert "fresh layers: depthwise_conv2d" in capsys.readouterr().out
    record = json.loads((tmp_path / "b" / "training.json").read_text())
    assert record["init_from"] == str(source) and record["light_stem"] is True
    assert len(record["commands"]) == 2  # the source's command, then this one
    source_record = json.loads((tmp_path / "a" / "training.json").read_text())
    assert record["start_training"] == source_record  # the start's whole record, e.g. an average's parts
    resumed = ["--work", str(tmp_path / "b"), "--light-stem", "--resume", *common[:-1], "2"]
    assert train_reader.main(resumed) == 0
    record = json.loads((tmp_path / "b" / "training.json").read_text())
    assert record["init_from"] == str(source) and len(record["commands"]) == 3
    assert record["start_training"] == source_record
    # a first run started with --resume (no checkpoint yet, as a restartable script does) also records the source's commands
    assert train_reader.main(["--work", str(tmp_path / "d"), "--resume", "--init-from", str(source), *common]) == 0
    assert len(json.loads((tmp_path / "d" / "training.json").read_text())["commands"]) == 2
    missing = ["--work", str(tmp_path / "c"), "--init-from", str(tmp_path / "none.keras"), *common]
    assert train_reader.main(missing) == 2
    assert "none.keras" in capsys.readouterr().err


def test_a_wider_reader_grown_from_a_trained_one_starts_reading_as_it_does(tmp_path, capsys):
    import tensorflow as tf

    from tools.train import train_reader

    common = ["--shards", "1", "--first-shards", "1", "--shard-size", "16", "--val-size", "8", "--steps", "1",
              "--batch", "4", "--epochs", "1"]
    assert train_reader.main(["--work", str(tmp_path / "a"), "--channels", "8,8,8,8,8", *common]) == 0
    source = tmp_path / "a" / "reader.keras"
    wide = ["--work", str(tmp_path / "b"), "--channels", "8,12,16,16,24", "--grow-from", str(source), *common]
    assert train_reader.main(wide) == 0
    assert "grown from" in capsys.readouterr().out
    narrow = tf.keras.models.load_model(source, compile=False)
    start = tf.keras.models.load_model(tmp_path / "b" / "grown-start" / "reader.keras", compile=False)
    grown = json.loads((tmp_path / "b" / "grown-start" / "training.json").read_text())
    assert grown["grown_from"] == str(source) and grown["source_training"]["channels"] == [8, 8, 8, 8, 8]
    assert start.get_layer(index=-3).output.shape[-1] == 24  # the last stage is wider ...
    x = np.random.default_rng(0).random((2, 32, 128, 1)).astype(np.float32)
    np.testing.assert_allclose(start(x, training=False).numpy(), narrow(x, training=False).numpy(), atol=1e-4)  # ... and reads alike
    record = json.loads((tmp_path / "b" / "training.json").read_text())
    assert record["grow_from"] == str(source) and record["channels"] == [8, 12, 16, 16, 24]
    assert len(record["commands"]) == 2
    assert train_reader.main(["--work", str(tmp_path / "c"), "--channels", "4,4,4,4,4", "--grow-from", str(source), *common]) == 2
    assert "cannot hold" in capsys.readouterr().err  # a narrower network cannot be grown into
    assert train_reader.main(["--work", str(tmp_path / "d"), "--grow-from", str(source), *common]) == 2
    assert "--grow-from needs --channels" in capsys.readouterr().err
    assert train_reader.main(["--work", str(tmp_path / "e"), "--channels", "8,12,16,16,24", "--context", "1",
                              "--grow-from", str(source), *common]) == 2
    assert "does not go with --init-from, --light-stem or --context" in capsys.readouterr().err
    assert train_reader.main(["--work", str(tmp_path / "f"), "--context", "-1", *common]) == 2
    assert "--context must be 0 or more, got -1" in capsys.readouterr().err


def test_bad_channels_are_a_usage_error(tmp_path):
    from tools.train import train_reader

    with pytest.raises(SystemExit) as exc:
        train_reader.main(["--work", str(tmp_path), "--channels", "8,8"])
    assert exc.value.code == 2


def test_extra_folders_are_checked_before_any_work(tmp_path, capsys):
    from tools.train import train_reader

    work = tmp_path / "work"
    assert train_reader.main(["--work", str(work), "--extra", str(tmp_path)]) == 2
    assert "--extra and --focus need --data" in capsys.readouterr().err
    _labelled(tmp_path / "data" / "br-crops", 2, 1, "br")
    assert train_reader.main(["--data", str(tmp_path / "data"), "--work", str(work), "--extra", str(tmp_path / "nope")]) == 2
    assert "labels.csv not found" in capsys.readouterr().err
    assert train_reader.main(["--data", str(tmp_path / "data"), "--work", str(work), "--focus", str(tmp_path / "nope")]) == 2
    assert "--focus" in capsys.readouterr().err
    assert train_reader.main(["--data", str(tmp_path / "data"), "--work", str(work), "--focus-copies", "0"]) == 2
    assert "--focus-copies must be at least 1" in capsys.readouterr().err
    assert not work.exists()  # refused before rendering or writing anything


def test_epoch_pool_repeats_recent_shards_and_the_real_part_in_order():
    from tools.train import reader_pool, train_reader

    a = train_reader.parse_args(["--shard-size", "3", "--recent-from", "2", "--recent-repeat", "3", "--real-repeat", "2"])
    shards = [np.arange(3 * i, 3 * i + 3, dtype=np.uint8)[:, None] for i in range(4)]  # four shards of three samples
    texts = [f"s{i // 3}" for i in range(12)]
    real = (np.array([[100], [101]], np.uint8), ["r0", "r1"])
    x, y = reader_pool.epoch_pool(shards, texts, a, real)
    assert x.dtype == np.uint8 and len(x) == len(y) == 12 + 2 * 6 + 2 * 2
    assert y.count("s3") == 9 and y.count("s1") == 3 and y.count("r1") == 2
    # the same pool, sample for sample, as the concatenation it replaces
    expected = np.concatenate(shards + shards[2:] * 2 + [real[0]] * 2)
    assert np.array_equal(x, expected)
    assert y == texts + texts[6:] * 2 + real[1] * 2
    # not in use, or the recent shards are not loaded yet (an early epoch): only the shards, no copies
    for args in (["--shard-size", "3"], ["--shard-size", "3", "--recent-from", "4", "--recent-repeat", "3"]):
        same_x, same_y = reader_pool.epoch_pool(shards, texts, train_reader.parse_args(args))
        assert np.array_equal(same_x, np.concatenate(shards)) and same_y == texts


def test_recent_shards_can_be_rendered_with_their_own_style_shares(tmp_path, capsys):
    from plategate.vision.reader import plate_shape
    from tools.synth import reader_data
    from tools.train import train_reader

    work = tmp_path / "work"
    common = ["--work", str(work), "--shards", "2", "--shard-size", "40", "--val-size", "8", "--data-only"]
    assert train_reader.main([*common, "--recent-styles", "ar=1"]) == 2  # nothing says which shards
    assert "--recent-styles needs --recent-from" in capsys.readouterr().err
    only_ar = ",".join(f"{style}={int(style == 'ar')}" for style in reader_data.STYLE_WEIGHTS)
    assert train_reader.main([*common, "--recent-from", "1", "--recent-styles", only_ar]) == 0
    shards = sorted(p.name for p in (work / "data").glob("synth_*_40_*.npz"))
    assert shards[0].endswith("_40_0000.npz")  # shard 0: the usual mix, under its usual name
    assert "br0-ar1" in shards[1] and shards[1].endswith("_0001.npz")
    with np.load(work / "data" / shards[1]) as z:
        texts = [str(t) for t in z["y"]]
    # Argentine texts only: LLLDDD or LLDDDLL
    shapes = {plate_shape(t) for t in texts}
    assert shapes <= {"LLLDDD", "LLDDDLL"}, shapes
    with np.load(work / "data" / shards[0]) as z:
        assert {plate_shape(str(t)) for t in z["y"]} - {"LLLDDD", "LLDDDLL"}
    no_style = ",".join(f"{style}=0" for style in reader_data.STYLE_WEIGHTS)
    for bad in ("xx=1", "ar=-1", "ar", "ar=1,br=0,eu=0,uk=0,us=0,moto=nan", no_style):
        with pytest.raises(ValueError):
            reader_data.parse_style_weights(bad)
    with pytest.raises(SystemExit) as exc:
        train_reader.parse_args(["--recent-styles", "mars=1"])
    assert exc.value.code == 2
    assert reader_data.parse_style_weights("ar=0.6")["ar"] == 0.6 and reader_data.parse_style_weights("ar=0.6")["br"] == reader_data.STYLE_WEIGHTS["br"]


def test_distillation_loss_is_zero_for_agreeing_readers_and_grows_with_disagreement():
    import tensorflow as tf

    from tools.train.reader_model import distillation_loss

    rng = np.random.default_rng(0)
    teacher = tf.constant(rng.normal(size=(2, 32, 37)), tf.float32)
    assert float(distillation_loss(teacher, teacher)) == pytest.approx(0.0, abs=1e-6)
    near = float(distillation_loss(teacher + rng.normal(scale=0.1, size=(2, 32, 37)), teacher))
    far = float(distillation_loss(teacher + rng.normal(scale=2.0, size=(2, 32, 37)), teacher))
    assert 0.0 < near < far
    with pytest.raises(ValueError, match="do not match"):
        distillation_loss(teacher[:, :16], teacher)


def test_training_can_distil_from_a_teacher_reader(tmp_path, capsys):
    from tools.train import train_reader

    common = ["--shards", "1", "--first-shards", "1", "--shard-size", "16", "--val-size", "8", "--steps", "1",
              "--batch", "4", "--channels", "8,8,8,8,8", "--epochs", "1"]
    assert train_reader.main(["--work", str(tmp_path / "t"), *common]) == 0
    teacher = tmp_path / "t" / "reader.keras"
    args = ["--work", str(tmp_path / "s"), "--light-stem", "--teacher", str(teacher), "--distil", "0.5", *common]
    assert train_reader.main(args) == 0
    assert "distilling from" in capsys.readouterr().out
    record = json.loads((tmp_path / "s" / "training.json").read_text())
    assert record["teacher"] == {"model": str(teacher), "weight": 0.5, "temperature": 2.0}
    # a teacher that emits a different number of steps is refused before any training
    assert train_reader.main(["--work", str(tmp_path / "w"), "--width", "64", "--teacher", str(teacher), *common]) == 2
    assert "cannot use teacher" in capsys.readouterr().err
    assert not (tmp_path / "w" / "ckpt").exists()


def test_a_narrower_model_trains_on_shards_cached_for_a_wider_one(tmp_path, capsys):
    import tensorflow as tf

    from tools.synth import reader_data
    from tools.train import train_reader

    work = tmp_path / "work"
    common = ["--work", str(work), "--shards", "1", "--first-shards", "1", "--shard-size", "16", "--val-size", "8"]
    assert train_reader.main([*common, "--data-only", "--render-width", "0"]) == 2
    assert "--render-width must be positive" in capsys.readouterr().err
    assert train_reader.main([*common, "--data-only"]) == 0
    cached = sorted(p.name for p in (work / "data").glob("synth_*.npz"))
    assert cached and all("_h32w128_" in n for n in cached)
    assert train_reader.main([*common, "--width", "96", "--render-width", "128", "--steps", "1", "--batch", "4",
                              "--epochs", "1", "--channels", "8,8,8,8,8"]) == 0
    assert sorted(p.name for p in (work / "data").glob("synth_*.npz")) == cached  # nothing rendered again
    model = tf.keras.models.load_model(work / "reader.keras", compile=False)
    assert tuple(model.input_shape[1:3]) == (32, 96) and model.output_shape[1] == 24
    record = json.loads((work / "training.json").read_text())
    assert record["input"] == [32, 96] and record["render_width"] == 128
    # narrowing averages columns: a plate that is half dark, half light keeps that split
    img = np.zeros((1, 32, 128), np.uint8)
    img[:, :, 64:] = 200
    narrow = reader_data.resize_width(img, 96)
    assert narrow.shape == (1, 32, 96) and narrow[0, :, :47].max() == 0 and narrow[0, :, 49:].min() == 200
    assert reader_data.resize_width(img, 128) is img
    with pytest.raises(ValueError, match="width"):
        reader_data.resize_width(img, 0)


def test_context_blocks_start_as_the_identity_and_convert_to_int8_builtins():
    import numpy as np
    import tensorflow as tf

    from tools.quantize import check_builtin_int8, convert_int8, model_ops
    from tools.train.reader_model import build_model, transfer_weights

    widths = (8, 16, 16, 16, 16)
    tf.keras.utils.set_random_seed(5)
    plain = build_model(37, channels=widths)
    wide = build_model(37, channels=widths, context=2)
    fresh = transfer_weights(plain, wide)
    assert fresh == [f"context{i}_{part}" for i in (1, 2) for part in ("dw", "bn", "pw", "bn0")]
    x = np.random.default_rng(0).random((3, 32, 128, 1)).astype(np.float32)
    np.testing.assert_allclose(wide(x, training=False), plain(x, training=False), atol=1e-5)
    assert wide.get_layer("context2_dw").dilation_rate == (1, 4)
    tflite = convert_int8(tf.lite.TFLiteConverter.from_keras_model(wide), [x[i] for i in range(3)])
    assert "ADD" in model_ops(tflite) and check_builtin_int8(tflite) == []


def test_layers_a_target_has_no_place_for_are_reported(caplog):
    from tools.train.reader_model import build_model, transfer_weights

    widths = (8, 16, 16, 16, 16)
    plain = build_model(37, channels=widths)
    wide = build_model(37, channels=widths, context=1)
    with caplog.at_level("INFO", logger="tools.train.reader_model"):
        assert transfer_weights(wide, plain) == []
    dropped = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(dropped) == 1 and "context1_dw" in dropped[0].getMessage()
    caplog.clear()
    with caplog.at_level("INFO", logger="tools.train.reader_model"):
        transfer_weights(plain, wide)  # the blocks are fresh in the target: nothing lost
    assert not [r for r in caplog.records if r.levelname == "WARNING"]
