"""tools.train.train_detector's data stage on real-photo kinds: shards with boxes, commands recorded."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tools.train import detector_data, train_detector


@pytest.fixture
def data(boxed_photos) -> Path:
    return boxed_photos


def test_real_and_swap_patches_keep_their_boxes(data, tmp_path, monkeypatch):
    monkeypatch.setattr(detector_data, "SHARD_SIZE", 40)
    work = tmp_path / "work"
    argv = ["data", "--data", str(data), "--work", str(work), "--shards", "1", "--mix", "openimages=0.5,swap=0.5"]
    assert train_detector.main(argv) == 0
    assert train_detector.main(argv) == 0  # the shard exists: kept, and the command is recorded once
    with np.load(work / "data" / "shard_0000.npz") as z:
        images, ann = z["images"], json.loads(str(z["ann"]))
    assert images.shape == (40, train_detector.PATCH, train_detector.PATCH)
    with_box = [a for a in ann if a["boxes"]]
    assert len(with_box) >= 20  # most patches are cut around the plate
    w = np.array([b[2] - b[0] for a in with_box for b in a["boxes"]])
    assert (w > 20).all() and (w < 400).all()
    commands = json.loads((work / "commands.json").read_text())
    assert len(commands) == 1 and commands[0]["mix"] == {"openimages": 0.5, "swap": 0.5}


def test_unknown_kind_is_refused(data, tmp_path, capsys):
    with pytest.raises(SystemExit):
        train_detector.main(["data", "--data", str(data), "--work", str(tmp_path / "w"), "--mix", "lorries=1"])
    assert "--mix: kinds are" in capsys.readouterr().err


def test_larger_patches_keep_large_plates_whole(data, tmp_path, monkeypatch):
    monkeypatch.setattr(detector_data, "SHARD_SIZE", 30)
    work = tmp_path / "work"
    argv = ["data", "--data", str(data), "--work", str(work), "--shards", "1", "--mix", "openimages=1",
            "--patch", "320", "--zoom", "1.2,1.2"]
    assert train_detector.main(argv) == 0
    with np.load(work / "data" / "shard_0000.npz") as z:
        images, ann = z["images"], json.loads(str(z["ann"]))
    assert images.shape == (30, 320, 320)
    # the 150 px plate of a 640x480 photo is 150 * min(640/640, 352/480) * 1.2 = 132 px wide at zoom 1.2
    boxes = np.array([b for a in ann for b in a["boxes"]])
    assert len(boxes) >= 20 and np.allclose(boxes[:, 2] - boxes[:, 0], 150 * 352 / 480 * 1.2, atol=1.5)
    assert ((boxes[:, 0] >= 0) & (boxes[:, 2] <= 320)).mean() > 0.7  # most are whole in the patch


@pytest.mark.parametrize("zoom", ["0.5", "1.5,0.5", "0,1", "a,b"])
def test_bad_zoom_is_refused(data, tmp_path, capsys, zoom):
    with pytest.raises(SystemExit):
        train_detector.main(["data", "--data", str(data), "--work", str(tmp_path / "w"), "--zoom", zoom])
    assert "--zoom" in capsys.readouterr().err
    assert not (tmp_path / "w" / "commands.json").exists()  # a refused command is not recorded


def test_network_widths_are_recorded_once_and_kept(tmp_path, capsys):
    work = tmp_path / "work"
    assert train_detector.network_widths(work) == train_detector.WIDTHS  # nothing recorded: the default
    assert not (work / "network.json").exists()
    assert train_detector.network_widths(work, (24, 48, 96, 144, 192)) == (24, 48, 96, 144, 192)
    assert train_detector.network_widths(work) == (24, 48, 96, 144, 192)  # what export and resume build
    with pytest.raises(SystemExit):
        train_detector.main(["train", "--work", str(work), "--widths", "16,32,64,96,128", "--steps", "1"])
    assert "holds a network of widths 24,48,96,144,192" in capsys.readouterr().err
    assert not (work / "commands.json").exists()  # the refused training is not recorded
    with pytest.raises(SystemExit):
        train_detector.main(["train", "--work", str(work), "--widths", "16,32"])
    assert "needs five positive stage widths" in capsys.readouterr().err


def test_plates_are_inverted_where_they_stand_and_nowhere_else():
    img = np.full((64, 64), 200, np.uint8)
    img[20:30, 10:40] = 30  # dark characters on a light plate
    boxes = np.array([[8, 18, 42, 32], [50, 50, 60, 60]], np.float32)
    rng = np.random.default_rng(0)
    assert detector_data.invert_plates(img, boxes, rng, 0.0) is img  # nothing drawn: the same array
    out = detector_data.invert_plates(img, boxes, rng, 1.0)
    assert out is not img and img[25, 20] == 30  # the sample in the pool is left as it was
    assert out[25, 20] == 225 and out[19, 9] == 55  # light characters on a dark plate
    assert out[55, 55] == 55 and out[5, 5] == 200 and out[40, 20] == 200  # outside the boxes: unchanged


def test_batches_show_inverted_plates_at_the_asked_share():
    img = np.full((64, 64), 220, np.uint8)
    ann = {"boxes": [[16, 24, 48, 40]], "corners": [[[16, 24], [48, 24], [48, 40], [16, 40]]], "corner_ok": [True]}
    pool = [(img, ann)]
    for share, want in ((0.0, 0), (0.5, 32), (1.0, 64)):
        x, heat, _ = detector_data.make_batch(pool, np.random.default_rng(1), 64, 64, invert=share)
        dark = int((x[:, 32, 32, 0] < x[:, 2, 2, 0]).sum())  # the plate's centre darker than the frame
        assert abs(dark - want) <= 12, (share, dark)
        assert heat.max() > 0.9  # the plate is still a target
