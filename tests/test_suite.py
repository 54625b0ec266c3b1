"""tools.eval.suite: the validation suite on a small data folder our own tools write, and the shipping rule."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from tools.eval import suite
from tools.synth import scenes
from tools.synth.plates import render_plate


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """A datasets folder shaped like the shared one: rendered scenes, crops and blank negatives."""
    root = tmp_path_factory.mktemp("datasets")
    scenes.write_scene_folder(root / "openimages-plates" / "val", 6, seed=3, data_dir=None)
    rng = np.random.default_rng(5)
    crops = root / "scene-crops"
    (crops / "images").mkdir(parents=True)
    with (crops / "crops.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "source", "scene", "split", "plate_width_px", "text", "status"])
        for i in range(8):
            img, text = render_plate(style="eu", rng=rng, height=48)
            cv2.imwrite(str(crops / "images" / f"c{i}.jpg"), img)
            w.writerow([f"c{i}.jpg", "test", "s.jpg", "val" if i < 6 else "train", img.shape[1], text,
                        ("ok", "unsure", "unreadable")[i % 3]])
    neg = root / "negatives"
    neg.mkdir()
    for i in range(12):
        cv2.imwrite(str(neg / f"n{i:03d}.jpg"), np.full((360, 640, 3), 40 + 10 * i, np.uint8))
    return root


def test_the_suite_scores_every_set_present(data):
    result = suite.run_suite(data, threads=1, progress=lambda _m: None)
    sets = result["sets"]
    assert set(sets) == {"openimages val", "negatives held out", "scene-crops val"}
    scene = sets["openimages val"]
    assert scene["images"] == 6 and scene["plates"] > 0
    assert 0.0 <= scene["score"] <= 1.0 and scene["score"] == scene["recall_40px"]
    crops = sets["scene-crops val"]
    assert crops["n"] == 4  # the val split's ok and unsure crops; unreadable ones are not scored
    assert crops["score"] == crops["exact"]
    assert 0.0 <= crops["end_to_end_exact"] <= 1.0  # read again given whole as a frame; not in the score
    assert sum(g["n"] for g in crops["by_group"].values()) == 4  # by country; these renders are in no group
    assert sum(g["right"] for g in crops["by_group"].values()) == round(crops["exact"] * 4)
    assert sets["negatives held out"]["score"] == pytest.approx(max(0.0, 1 - sets["negatives held out"]["fp_per_image"]))
    assert result["macro"] == pytest.approx(np.mean([v["score"] for v in sets.values()]), abs=1e-4)
    assert result["settings"]["reader_views"] == 3 and result["settings"]["plate_formats"] == []
    text = suite.table(result)
    assert text.count("\n") == len(sets) + 2 and "macro average" in text


def test_shipping_rule():
    base = {"macro": 0.80, "sets": {"a": {"score": 0.90}, "b": {"score": 0.70}}}
    better = {"macro": 0.85, "sets": {"a": {"score": 0.89}, "b": {"score": 0.81}}}
    assert suite.shipping_verdict(better, base)[0]
    falls = {"macro": 0.86, "sets": {"a": {"score": 0.87}, "b": {"score": 0.85}}}
    ok, reasons = suite.shipping_verdict(falls, base)
    assert not ok and any(r.startswith("a falls") for r in reasons)
    flat = {"macro": 0.80, "sets": base["sets"]}
    assert not suite.shipping_verdict(flat, base)[0]


def test_command_line_writes_json_and_verdict(data, tmp_path, capsys):
    out = tmp_path / "suite.json"
    assert suite.main([str(data), "--threads", "1", "--json-out", str(out)]) == 0
    first = json.loads(out.read_text())
    assert suite.main([str(data), "--threads", "1", "--baseline", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| **macro average** |" in printed
    assert "shipping rule: KEEP THE SHIPPED MODEL" in printed  # the same models do not raise the macro average
    assert first["macro"] is not None


def test_bad_folder_and_empty_folder(tmp_path, capsys):
    assert suite.main([str(tmp_path / "missing")]) == 2
    assert suite.main([str(tmp_path)]) == 2
    assert "holds none of the suite's sets" in capsys.readouterr().err


def test_a_second_detector_candidate_is_run_and_named(data, tmp_path, capsys):
    shipped = Path(suite.__file__).resolve().parents[2] / "models"
    candidate = tmp_path / "candidate.tflite"
    shutil.copy(shipped / "detector.tflite", candidate)
    card = json.loads((shipped / "detector.json").read_text())
    (tmp_path / "candidate.json").write_text(json.dumps({**card, "file": candidate.name}))
    out = tmp_path / "suite.json"
    assert suite.main([str(data), "--threads", "1", "--second-detector", str(candidate), "--json-out", str(out)]) == 0
    models = json.loads(out.read_text())["models"]
    assert models["second_detector_model"] == str(candidate)
    assert models["reader_model"] == "models/reader.tflite"  # shipped models are named alike on every machine
    missing = tmp_path / "nowhere.tflite"
    assert suite.main([str(data), "--threads", "1", "--second-detector", str(missing)]) == 1
    assert "nowhere.tflite" in capsys.readouterr().err


def test_photo_plates_take_the_texts_of_their_scene_crops(tmp_path):
    from tools.eval.evaluate import SceneTruth

    truth = {"a.jpg": SceneTruth(boxes=[[0, 0, 10, 5], [20, 0, 40, 8]], texts=["", ""]),
             "b.jpg": SceneTruth(boxes=[[0, 0, 10, 5]], texts=[""])}
    csv_path = tmp_path / "crops.csv"
    with csv_path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "source", "scene", "split", "plate_width_px", "text", "status"])
        w.writerow(["a_p1.jpg", "photos", "a.jpg", "val", 60, "ab 123", "ok"])
        w.writerow(["a_p0.jpg", "photos", "a.jpg", "val", 60, "XY9", "unreadable"])  # not read: no text
        w.writerow(["b_p0.jpg", "photos", "b.jpg", "train", 60, "CD456", "ok"])  # a training crop
        w.writerow(["b_p3.jpg", "photos", "b.jpg", "val", 60, "EF789", "ok"])  # no such box
        w.writerow(["c_p0.jpg", "other", "b.jpg", "val", 60, "GH012", "unsure"])  # another set's photo
    assert suite.add_crop_texts(truth, csv_path, "photos") == 1
    assert truth["a.jpg"].texts == ["", "AB123"] and truth["b.jpg"].texts == [""]
    assert suite.add_crop_texts(truth, tmp_path / "absent.csv", "photos") == 0
