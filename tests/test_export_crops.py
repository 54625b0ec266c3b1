"""tools.eval.export_crops: labelled scenes -> a crops folder cut as the daemon cuts them."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import pytest

from plategate.vision.reader import PlateReader
from tools.eval import export_crops
from tools.synth import scenes

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def labelled(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("export")
    boxes = scenes.write_scene_folder(base / "scenes", 6, seed=44, data_dir=None)
    with open(boxes, newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["text"]]
    texts = base / "texts.csv"
    with open(texts, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "x1", "y1", "x2", "y2", "text"])
        for r in rows:
            w.writerow([r[k] for k in ("file", "x1", "y1", "x2", "y2", "text")])
    # boxes.csv gets a second, empty plate in the first frame, labelled too: the detector cannot find it
    with open(boxes, "a", newline="") as fh:
        csv.writer(fh).writerow([rows[0]["file"], "2.0", "2.0", "40.0", "12.0", ""])
    with open(texts, "a", newline="") as fh:
        csv.writer(fh).writerow([rows[0]["file"], "2.0", "2.0", "40.0", "12.0", "GHOST1"])
    return {"scenes": base / "scenes", "texts": texts, "truth": rows, "out": base / "crops"}


def test_export_writes_the_detected_plates_with_their_texts(labelled, capsys):
    code = export_crops.main(["--scenes", str(labelled["scenes"]), "--texts", str(labelled["texts"]),
                              "--out", str(labelled["out"]), "--detector", str(ROOT / "models/detector.tflite")])
    captured = capsys.readouterr()
    assert code == 0
    with open(labelled["out"] / "labels.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    truth = {r["text"] for r in labelled["truth"]}
    assert len(rows) >= len(labelled["truth"]) - 1  # the detector finds (nearly) every rendered plate
    assert {r["text"] for r in rows} <= truth and "GHOST1" not in {r["text"] for r in rows}
    assert "GHOST1): not detected" in captured.err and f"{len(rows)} crops written" in captured.out
    reader = PlateReader(ROOT / "models/reader.tflite", threads=1)
    right = 0
    for r in rows:
        crop = cv2.imread(str(labelled["out"] / r["file"]))
        assert crop is not None and crop.shape[1] > 1.5 * crop.shape[0]  # a plate-shaped cut, not the frame
        right += reader.read(crop).text == r["text"]
    assert right >= len(rows) // 2  # the crops are the plates they are labelled with


def test_export_refuses_missing_inputs(labelled, tmp_path, capsys):
    code = export_crops.main(["--scenes", str(labelled["scenes"]), "--texts", str(tmp_path / "none.csv"),
                              "--out", str(tmp_path / "o")])
    assert code == 1 and "none.csv not found" in capsys.readouterr().err
    code = export_crops.main(["--scenes", str(labelled["scenes"]), "--texts", str(labelled["texts"]),
                              "--out", str(tmp_path / "o"), "--detector", str(tmp_path / "none.tflite")])
    assert code == 1 and "none.tflite" in capsys.readouterr().err


def test_export_reports_an_unwritable_output(labelled, tmp_path, capsys):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    code = export_crops.main(["--scenes", str(labelled["scenes"]), "--texts", str(labelled["texts"]),
                              "--out", str(blocked), "--detector", str(ROOT / "models/detector.tflite")])
    assert code == 1 and "export_crops: error:" in capsys.readouterr().err and blocked.read_text() == "not a folder"
