"""Contact sheets for reading plate crops by eye (tools.train.label_sheets)."""

from __future__ import annotations

import csv

import cv2
import numpy as np
import pytest

from tools.eval import sheets
from tools.train import label_sheets


def _plate(path, text: str) -> None:
    img = np.full((50, 200, 3), 235, np.uint8)
    cv2.putText(img, text, (6, 38), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (10, 10, 10), 3, cv2.LINE_AA)
    cv2.imwrite(str(path), img)


def _rows(path) -> list[dict]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture
def crops(tmp_path):
    folder = tmp_path / "crops"
    folder.mkdir()
    for name, text in (("a.jpg", "AB123"), ("b.jpg", "CD456"), ("c.png", "EF789")):
        _plate(folder / name, text)
    (folder / "notes.txt").write_text("not an image")
    return folder


def test_unlabelled_puts_every_crop_not_skipped_on_a_sheet(crops, tmp_path):
    skip = tmp_path / "known.csv"
    skip.write_text("file,text\nb.jpg,CD456\n")
    out = tmp_path / "sheets"
    assert label_sheets.main([str(crops), "--unlabelled", "--skip", str(skip), "--out", str(out), "--threads", "1"]) == 0
    rows = _rows(out / "index.csv")
    assert sorted(r["file"] for r in rows) == ["a.jpg", "c.png"]
    assert {r["label"] for r in rows} == {"?"}
    sheet = cv2.imread(str(out / rows[0]["sheet"]))
    assert sheet is not None and sheet.shape[0] == sheets.TILE_H


def test_unlabelled_order_follows_the_seed(crops):
    first = [s.path.name for s in label_sheets.unlabelled(crops, [], 1)]
    assert sorted(first) == ["a.jpg", "b.jpg", "c.png"]
    assert first == [s.path.name for s in label_sheets.unlabelled(crops, [], 1)]


def test_labelled_folder_lists_the_crops_asked_for(crops, tmp_path):
    (crops / "labels.csv").write_text("file,text\na.jpg,AB123\nb.jpg,CD456\n")
    status = tmp_path / "crops.csv"
    status.write_text("file,status\nb.jpg,unsure\na.jpg,ok\n")
    out = tmp_path / "sheets"
    assert label_sheets.main([str(crops), "--min-confidence", "1.1", "--also-status", f"{status}:unsure",
                              "--out", str(out), "--threads", "1"]) == 0
    assert [(r["file"], r["label"]) for r in _rows(out / "index.csv")] == [("b.jpg", "CD456")]
    assert label_sheets.main([str(crops), "--min-confidence", "1.1", "--all", "--out", str(out), "--threads", "1"]) == 0
    assert [(r["file"], r["label"]) for r in _rows(out / "index.csv")] == [("a.jpg", "AB123"), ("b.jpg", "CD456")]


def test_missing_labels_is_an_error(crops, tmp_path, capsys):
    assert label_sheets.main([str(crops), "--out", str(tmp_path / "s"), "--threads", "1"]) == 2
    assert "label_sheets: error" in capsys.readouterr().err
