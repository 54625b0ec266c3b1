"""tools.train.daemon_cut: labelled crops with a margin, cut again by the daemon's detector and crop_plate."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest

from plategate.config import RecognitionConfig
from plategate.vision.reader import PlateReader
from plategate.vision.recognizer import detector_from_config
from tools.synth import scenes
from tools.train import daemon_cut


def margin_crop(scene: scenes.Scene, margins=daemon_cut.SCENE_MARGINS) -> np.ndarray:
    """The scene's first plate cut the way scene-crops are: its box widened by *margins*."""
    x1, y1, x2, y2 = scene.boxes[0]
    mx, my = (x2 - x1) * margins[0], (y2 - y1) * margins[1]
    return scene.image[int(round(y1 - my)):int(round(y2 + my)), int(round(x1 - mx)):int(round(x2 + mx))].copy()


@pytest.fixture(scope="module")
def crops(tmp_path_factory) -> tuple[Path, list[str]]:
    """Eight rendered plates cut with the scene-crops margins, plus one file that is not an image."""
    folder = tmp_path_factory.mktemp("crops")
    rng = np.random.default_rng(11)
    source, bgs = scenes.PlateSource(None, real_fraction=0.0), scenes.Backgrounds([])
    rows = []
    for i in range(8):
        s = scenes.compose_gate_scene(rng, source, bgs, night=False, plate_width=(160, 260))
        cv2.imwrite(str(folder / f"c{i}.jpg"), margin_crop(s))
        rows.append((f"c{i}.jpg", s.texts[0]))
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    rows.append(("broken.jpg", "AB123"))
    with (folder / "labels.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "text"])
        w.writerows(rows)
    return folder, [t for _, t in rows]


def test_plate_box_removes_the_margins():
    # a 100x20 plate with 12 % / 25 % margins is a 124x30 crop
    assert daemon_cut.plate_box((30, 124, 3)) == pytest.approx([12, 5, 112, 25])
    assert daemon_cut.plate_box((40, 100), (0.0, 0.0)) == pytest.approx([0, 0, 100, 40])


def test_crops_are_cut_again_tighter_with_their_texts(crops, tmp_path, capsys):
    folder, texts = crops
    assert daemon_cut.main(["--crops", str(folder), "--out", str(tmp_path / "cut"), "--threads", "1"]) == 0
    assert "crops cut into" in capsys.readouterr().out
    with (tmp_path / "cut" / "labels.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) >= 6, f"only {len(rows)} of 8 plates found"
    assert "broken.png" not in {r["file"] for r in rows}  # unreadable: left out, not fatal
    reader = PlateReader(RecognitionConfig().reader_path(), threads=1)
    right = 0
    for r in rows:
        cut = cv2.imread(str(tmp_path / "cut" / r["file"]))
        assert r["text"] in texts and cut is not None and cut.shape[0] >= 16
        right += reader.read(cut).text == r["text"]
    assert right >= len(rows) // 2, f"only {right} of {len(rows)} cut plates read right"


def test_a_crop_whose_plate_is_not_found_is_left_out():
    detector = detector_from_config(RecognitionConfig(threads=1))
    assert daemon_cut.cut(detector, np.full((60, 200, 3), 128, np.uint8)) is None


def test_bad_arguments_are_refused(tmp_path, capsys):
    assert daemon_cut.main(["--crops", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "labels.csv not found" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        daemon_cut.main(["--crops", str(tmp_path), "--out", str(tmp_path / "o"), "--margins", "0.1"])
    assert "--margins must be two shares" in capsys.readouterr().err


def test_photos_are_cut_where_their_boxes_have_scene_crops_texts(tmp_path, capsys):
    photos = tmp_path / "photos"
    scenes.write_scene_folder(photos, 6, seed=21, data_dir=None)
    with (photos / "boxes.csv").open() as fh:
        rows = [r for r in csv.DictReader(fh) if r["x1"]]
    crops = tmp_path / "scene-crops"
    crops.mkdir()
    with (crops / "crops.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "source", "scene", "split", "plate_width_px", "text", "status"])
        for r in rows[:5]:
            w.writerow([f"{Path(r['file']).stem}_p0.jpg", "photos", r["file"], "train", 80, r["text"], "ok"])
        r = rows[5]  # a validation crop and an unreadable one are never cut for training
        w.writerow([f"{Path(r['file']).stem}_p0.jpg", "photos", r["file"], "val", 80, r["text"], "ok"])
        w.writerow([f"{Path(r['file']).stem}_p1.jpg", "photos", r["file"], "train", 80, "", "unreadable"])
    out = tmp_path / "cut"
    assert daemon_cut.main(["--photos", str(photos), "--source", "photos", "--scene-crops", str(crops),
                            "--fixes", str(tmp_path / "none.csv"), "--out", str(out), "--threads", "1"]) == 0
    with (out / "labels.csv").open() as fh:
        cut = {r["file"]: r["text"] for r in csv.DictReader(fh)}
    want = {f"{Path(r['file']).stem}_p0.png": r["text"] for r in rows[:5]}
    assert len(cut) >= 4 and all(want[f] == t for f, t in cut.items())
    assert all((out / f).is_file() for f in cut)


def test_photos_need_their_source_and_crops(tmp_path, capsys):
    with pytest.raises(SystemExit):
        daemon_cut.main(["--photos", str(tmp_path), "--out", str(tmp_path / "o")])
    assert "--photos needs --source and --scene-crops" in capsys.readouterr().err
    assert daemon_cut.main(["--photos", str(tmp_path), "--source", "x", "--scene-crops", str(tmp_path),
                            "--out", str(tmp_path / "o")]) == 2
    assert "boxes.csv not found" in capsys.readouterr().err
