"""tools.eval.evaluate: the metric functions, and a whole run on folders our own tools write."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from tools.eval import close_ups, evaluate
from tools.synth import scenes
from tools.synth.plates import render_plate

ROOT = Path(__file__).resolve().parent.parent


def test_iou_and_greedy_match():
    truth = np.array([[0, 0, 10, 10], [20, 20, 30, 30]], float)
    pred = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60], [20, 20, 30, 26]], float)
    m = evaluate.iou(pred, truth)
    assert m[0, 0] == pytest.approx(1.0) and m[3, 1] == pytest.approx(0.6)
    tp, owner = evaluate.match(pred, np.array([0.9, 0.95, 0.5, 0.6]), truth)
    assert tp.tolist() == [False, True, False, True]  # the higher-scored duplicate wins, the other is a false positive
    assert owner.tolist() == [1, 3]
    tp, owner = evaluate.match(np.zeros((0, 4)), np.zeros(0), truth)
    assert owner.tolist() == [-1, -1]


def test_text_metrics_and_confidence_table():
    assert evaluate.edit_distance("AB123CD", "AB123CD") == 0
    assert evaluate.edit_distance("AB12CD", "AB123CD") == 1
    assert evaluate.char_accuracy(["AB123CD", "XY"], ["AB123CD", "XYZ"]) == pytest.approx(1 - 1 / 10)
    rows = evaluate.confidence_table([0.1, 0.95, 0.99, 0.99], [False, True, True, False])
    assert rows == [{"confidence": "0.00-0.50", "n": 1, "accuracy": 0.0},
                    {"confidence": "0.90-0.97", "n": 1, "accuracy": 1.0},
                    {"confidence": "0.97-1.00", "n": 2, "accuracy": 0.5}]
    assert evaluate.percentiles([1.0, 2.0, 3.0])["p50"] == 2.0


def test_scene_metrics_counts_misses_and_false_positives():
    truth = evaluate.SceneTruth(boxes=[[0, 0, 10, 10], [20, 20, 30, 30]], texts=["AB1", ""])
    rec = {"file": "a.jpg", "truth": truth, "boxes": np.array([[0, 0, 10, 10], [50, 50, 60, 60]], float),
           "scores": np.array([0.9, 0.3]), "detect_ms": 1.0, "texts": ["AB1", "ZZ"], "conf": [0.9, 0.1]}
    empty = {"file": "b.jpg", "truth": evaluate.SceneTruth(), "boxes": np.zeros((0, 4)), "scores": np.zeros(0),
             "detect_ms": 1.0, "texts": [], "conf": []}
    m = evaluate.scene_metrics([rec, empty], 0.2)
    assert (m["recall"], m["precision"], m["fp_per_image"]) == (0.5, 0.5, 0.5)
    assert m["end_to_end_exact"] == 1.0 and m["end_to_end_plates"] == 1
    assert evaluate.scene_metrics([rec, empty], 0.5)["fp_per_image"] == 0.0


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("eval")
    scenes.write_scene_folder(base / "scenes", 6, seed=31, data_dir=None)
    crops = base / "crops"
    crops.mkdir()
    rng = np.random.default_rng(8)
    with open(crops / "labels.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "text"])
        for i in range(6):
            img, text = render_plate(style=("eu", "br", "ar")[i % 3], rng=rng)
            cv2.imwrite(str(crops / f"p{i}.png"), img)
            w.writerow([f"p{i}.png", text])
            if i == 0:
                w.writerow([f"p{i}.png", text])  # a duplicate row (ar-crops has one) counts once
        w.writerow(["broken.png", "AB123"])
    (crops / "broken.png").write_bytes(b"")
    negs = base / "negs"
    negs.mkdir()
    for i in range(3):
        cv2.imwrite(str(negs / f"n{i}.jpg"), scenes._clutter(rng, 640, 480))
    return {"scenes": base / "scenes", "crops": crops, "negs": negs, "out": base / "figures.json"}


def test_evaluate_main_prints_and_saves_figures(folders, capsys):
    code = evaluate.main(["--scenes", str(folders["scenes"]), "--crops", str(folders["crops"]), "--negatives", str(folders["negs"]),
                          "--group", "gate=gate", "--detector", str(ROOT / "models/detector.tflite"),
                          "--reader", str(ROOT / "models/reader.tflite"), "--json-out", str(folders["out"])])
    out = capsys.readouterr().out
    assert code == 0
    for words in ("== scenes:scenes", "recall", "precision", "fp_per_image", "== crops:crops", "exact_match", "char_accuracy",
                  "confidence_vs_accuracy", "p50", "threshold sweep", "== negatives:negs"):
        assert words in out
    data = json.loads(folders["out"].read_text())
    sc = data["scenes:scenes"]
    assert sc["all"]["plates"] == 6 and sc["all"]["images"] == 6 and sc["gate"]["plates"] == 6
    assert sc["all"]["recall"] >= 0.8
    assert "end_to_end_exact" in sc["all"]
    assert data["crops:crops"]["n"] == 6 and data["crops:crops"]["unreadable"] == 1
    assert data["negatives:negs"]["images"] == 3


def test_close_up_view_puts_the_plate_at_the_asked_share_of_the_width():
    img = np.zeros((720, 1280, 3), np.uint8)
    for fill in (0.3, 0.6, 0.9):
        crop, box = close_ups.close_up_view(img, [600, 400, 700, 430], fill)
        assert crop.shape[1] == 640 and box.shape == (1, 4)
        assert (box[0, 2] - box[0, 0]) / crop.shape[1] == pytest.approx(fill, abs=0.01)
        assert 0 <= box[0, 0] < box[0, 2] <= 640 and 0 <= box[0, 1] < box[0, 3] <= crop.shape[0]


def test_close_ups_are_measured_per_fill(folders, capsys):
    code = evaluate.main(["--scenes", str(folders["scenes"]), "--no-reader", "--close-ups", "0.3,0.7",
                          "--detector", str(ROOT / "models/detector.tflite"), "--json-out", str(folders["out"])])
    assert code == 0 and "== close-ups:scenes" in capsys.readouterr().out
    rows = json.loads(folders["out"].read_text())["close-ups:scenes"]["by_fill"]
    assert [r["fill"] for r in rows] == [0.3, 0.7] and all(r["plates"] == 6 for r in rows)
    assert rows[0]["recall"] >= 0.5 and "end_to_end_exact" not in rows[0]


def test_close_ups_with_the_coarse_pass_find_at_least_as_many(folders, capsys):
    """Over close-ups of every size: on six scenes one plate more or less at one size is noise
    (the joined boxes of a plate that fills the frame can land a little off, at IoU 0.5 with
    the rendered box), so the sum counts, give or take that one plate."""
    base = ["--scenes", str(folders["scenes"]), "--no-reader", "--close-ups", "0.3,0.5,0.7,0.9",
            "--json-out", str(folders["out"])]
    assert evaluate.main(base) == 0
    alone = json.loads(folders["out"].read_text())["close-ups:scenes"]["by_fill"]
    assert evaluate.main([*base, "--with-passes"]) == 0
    joined = json.loads(folders["out"].read_text())["close-ups:scenes"]["by_fill"]
    assert [r["fill"] for r in joined] == [0.3, 0.5, 0.7, 0.9]
    assert sum(r["recall"] for r in joined) >= sum(r["recall"] for r in alone) - 1 / 6 - 1e-3  # recalls are rounded to 4 places
    assert min(r["recall"] for r in joined) >= 0.5


def test_close_ups_refuse_shares_outside_0_1(folders, capsys):
    for bad in ("0", "1.5", "0.3,x"):
        with pytest.raises(SystemExit):
            evaluate.main(["--scenes", str(folders["scenes"]), "--no-reader", "--close-ups", bad])
        assert "--close-ups" in capsys.readouterr().err


def test_evaluate_refuses_missing_model(folders, tmp_path, capsys):
    code = evaluate.main(["--scenes", str(folders["scenes"]), "--no-reader", "--detector", str(tmp_path / "none.tflite")])
    assert code == 1 and "none.tflite is missing" in capsys.readouterr().err
