"""tools.train.look_data: the second look's training views, mined from the detector's unsure boxes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tools.train import detector_data, look_data, train_detector


@pytest.fixture
def data(boxed_photos) -> Path:
    return boxed_photos


def test_a_view_scales_the_plate_as_the_second_look_does(monkeypatch):
    monkeypatch.setattr(look_data, "VIEW_WIDTHS", (3.0, 3.0))
    gray = np.full((480, 640), 60, np.uint8)
    gray[300:330, 250:340] = 235
    plate = np.array([250.0, 300, 340, 330])
    rng = np.random.default_rng(1)
    for _ in range(10):
        out = look_data.view_patch(gray, plate, plate[None], rng, 256)
        assert out["image"].shape == (256, 256) and out["image"].dtype == np.uint8
        (x1, y1, x2, y2), = out["boxes"]
        assert abs((x2 - x1) - look_data.LOOK_INPUT_W / 3) < 0.5  # the view, 3 plate widths, spans 320 px
        inside = out["image"][int(y1) + 3:int(y2) - 3, int(x1) + 3:int(x2) - 3]
        assert inside.size and inside.mean() > 200  # the box sits on the plate's pixels
    far = look_data.view_patch(gray, np.array([10.0, 10, 40, 20]), plate[None], rng, 256)
    assert len(far["boxes"]) == 0  # the plate is outside a view of another box


def test_mined_boxes_are_labelled_where_the_labels_can_be_trusted():
    plates = np.array([[100.0, 100, 200, 140]])
    assert look_data.label_of(np.array([105.0, 102, 198, 141]), plates, "openimages") == "plate"
    assert look_data.label_of(np.array([400.0, 100, 500, 140]), plates, "openimages") == "none"
    assert look_data.label_of(np.array([150.0, 100, 250, 140]), plates, "openimages") is None  # half on the plate
    assert look_data.label_of(np.array([400.0, 100, 500, 140]), plates, "openlpr") is None  # may be an unboxed plate
    assert look_data.label_of(np.array([400.0, 100, 500, 140]), np.zeros((0, 4)), "negative") == "none"


def test_look_views_need_mining_first(data, tmp_path):
    with pytest.raises(FileNotFoundError, match="train_detector mine"):
        train_detector.main(["data", "--data", str(data), "--work", str(tmp_path / "w"), "--shards", "1", "--mix", "look=1"])


def test_mine_then_cut_look_views(data, tmp_path, monkeypatch):
    monkeypatch.setattr(detector_data, "SHARD_SIZE", 20)
    work = tmp_path / "work"
    assert train_detector.main(["mine", "--data", str(data), "--work", str(work), "--threads", "1"]) == 0
    header = (work / look_data.CANDIDATES).read_text().splitlines()[0]
    assert header == "source,file,x1,y1,x2,y2,score,label"
    for row in look_data.read_candidates(work):
        assert 0.2 <= row["score"] < 0.6 and row["label"] in ("plate", "none")
    assert train_detector.main(["data", "--data", str(data), "--work", str(work), "--shards", "1", "--mix", "look=1"]) == 0
    with np.load(work / "data" / "shard_0000.npz") as z:
        images, ann = z["images"], json.loads(str(z["ann"]))
    assert images.shape == (20, train_detector.PATCH, train_detector.PATCH)
    widths = np.array([b[2] - b[0] for a in ann for b in a["boxes"]])
    lo, hi = (look_data.LOOK_INPUT_W / w for w in look_data.VIEW_WIDTHS[::-1])  # the plate's width in a view
    assert len(widths) >= 8 and (widths > 0.6 * lo).all() and (widths < 1.6 * hi).all()
    stages = [c["stage"] for c in json.loads((work / "commands.json").read_text())]
    assert stages == ["mine", "data"]
