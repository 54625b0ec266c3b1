"""tools.train.real_crops: labelled crops laid out as folders, with corrections applied."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest

from tools.train import real_crops


def _dataset(root: Path) -> Path:
    images = root / "scene-crops" / "images"
    images.mkdir(parents=True)
    rows = [("a.jpg", "train", "AB12 CDE", "ok"), ("b.jpg", "train", "XY99", "unsure"),
            ("c.jpg", "train", "", "unreadable"), ("d.jpg", "train", "ABCDEFGHIJK", "ok"),
            ("e.jpg", "val", "ABCDEFGHIJK", "ok"), ("f.jpg", "val", "Q1", "nonlatin"), ("g.jpg", "train", "K1", "ok")]
    with (root / "scene-crops" / "crops.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "source", "scene", "split", "plate_width_px", "text", "status"])
        for name, split, text, status in rows:
            cv2.imwrite(str(images / name), np.full((20, 60, 3), 128, np.uint8))
            w.writerow([name, "x", "s.jpg", split, 60, text, status])
    return root


def _labels(folder: Path) -> dict[str, str]:
    with (folder / "labels.csv").open(newline="") as fh:
        return {r["file"]: r["text"] for r in csv.DictReader(fh)}


def test_folders_with_fixes(tmp_path):
    data = _dataset(tmp_path / "data")
    fixes = tmp_path / "fixes.csv"
    fixes.write_text("file,text,action\nb.jpg,XY98,fix\ng.jpg,,drop\na.jpg,AB12CDE,keep\n")
    out = tmp_path / "out"
    assert real_crops.main(["--data", str(data), "--out", str(out), "--fixes", str(fixes), "--calib-share", "0"]) == 0
    assert _labels(out / "scene-calib") == {}
    assert _labels(out / "scene-train") == {"a.jpg": "AB12CDE", "b.jpg": "XY98"}  # too long and unreadable left out
    assert _labels(out / "scene-val") == {"e.jpg": "ABCDEFGHIJK"}  # scored whatever its length
    link = out / "scene-train" / "a.jpg"
    assert link.is_symlink() and link.resolve() == (data / "scene-crops" / "images" / "a.jpg").resolve()


@pytest.mark.parametrize("body, message", [
    ("file,text\na.jpg,X\n", "missing column(s) action"),
    ("file,text,action\na.jpg,X,rename\n", ":2: action must be fix, drop or keep"),
    ("file,text,action\na.jpg,,fix\n", ":2: a fix needs a text"),
    ("file,text,action\nzzz.jpg,AB1,fix\n", "corrections name crops not in its train split: zzz.jpg"),
])
def test_bad_fixes_are_named(tmp_path, capsys, body, message):
    data = _dataset(tmp_path / "data")
    fixes = tmp_path / "fixes.csv"
    fixes.write_text(body)
    assert real_crops.main(["--data", str(data), "--out", str(tmp_path / "out"), "--fixes", str(fixes)]) == 2
    assert message in capsys.readouterr().err


def test_the_project_corrections_load():
    fixes = real_crops.load_fixes(real_crops.DEFAULT_FIXES)
    assert fixes and all(f.drop or f.text for f in fixes.values())


def test_calibration_part_is_whole_photos_left_out_of_training(tmp_path):
    images = tmp_path / "data" / "scene-crops" / "images"
    images.mkdir(parents=True)
    with (tmp_path / "data" / "scene-crops" / "crops.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "source", "scene", "split", "plate_width_px", "text", "status"])
        for k in range(200):
            for j in range(2):  # two plates per photo
                name = f"p{k}_{j}.jpg"
                cv2.imwrite(str(images / name), np.full((20, 60, 3), 128, np.uint8))
                w.writerow([name, "x", f"photo{k}.jpg", "train", 60, f"AB{k:03d}{j}", "ok"])
    out = tmp_path / "out"
    assert real_crops.main(["--data", str(tmp_path / "data"), "--out", str(out), "--fixes", str(tmp_path / "none.csv")]) == 0
    train, calib = _labels(out / "scene-train"), _labels(out / "scene-calib")
    assert not set(train) & set(calib) and len(train) + len(calib) == 400
    assert 0.05 < len(calib) / 400 < 0.2
    photos = {name.split("_")[0] for name in calib}
    assert all(f"{p}_0.jpg" in calib and f"{p}_1.jpg" in calib for p in photos)  # a photo is never split
    again = tmp_path / "again"
    real_crops.main(["--data", str(tmp_path / "data"), "--out", str(again), "--fixes", str(tmp_path / "none.csv")])
    assert _labels(again / "scene-calib") == calib


def test_calib_share_out_of_range_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit):
        real_crops.main(["--data", str(tmp_path), "--calib-share", "1.5"])
    assert "--calib-share must be" in capsys.readouterr().err


def test_eu_hand_labels_from_another_file(tmp_path):
    data = _dataset(tmp_path / "data")
    (data / "eu-crops").mkdir()
    cv2.imwrite(str(data / "eu-crops" / "eu1.jpg"), np.full((20, 60, 3), 128, np.uint8))
    older = tmp_path / "older.csv"
    older.write_text("file,text\neu1.jpg,AB 123\nmissing.jpg,ZZ1\n")
    out = tmp_path / "out"
    assert real_crops.main(["--data", str(data), "--out", str(out), "--fixes", str(tmp_path / "none.csv"),
                            "--eu-hand", str(older)]) == 0
    assert _labels(out / "eu-hand") == {"eu1.jpg": "AB123"}  # a file not in the data is left out
