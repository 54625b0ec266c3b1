"""tools.eval.misses: contact sheets of the plates the suite's sets lose."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest

from tools.eval import misses
from tools.synth import scenes
from tools.synth.plates import render_plate


def _rows(path: Path) -> list[dict]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """A datasets folder with ro-dashcam/valid day frames (one label box on bare road) and ar-crops."""
    root = tmp_path_factory.mktemp("data")
    valid = root / "ro-dashcam" / "valid"
    valid.mkdir(parents=True)
    rng = np.random.default_rng(11)
    source, bgs = scenes.PlateSource(None, real_fraction=0.0), scenes.Backgrounds([])
    rows = []
    for i in range(3):
        s = scenes.compose_gate_scene(rng, source, bgs, size=(960, 540), night=False, plate_width=(120, 180))
        cv2.imwrite(str(valid / f"dayride_{i}.jpg"), s.image)
        rows += [[f"dayride_{i}.jpg", *(round(float(v)) for v in b)] for b in s.boxes]
    rows.append(["dayride_0.jpg", 20, 20, 80, 40])  # a label box where no plate is
    with (valid / "boxes.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "x1", "y1", "x2", "y2"])
        w.writerows(rows)
    crops = root / "ar-crops"
    crops.mkdir()
    labels = []
    for i, text in enumerate(("AB123CD", "AC456DE", "AD789EF")):
        image, _ = render_plate(text=text, style="ar", height=96, rng=np.random.default_rng(i))
        cv2.imwrite(str(crops / f"c{i}.png"), image)
        labels.append((f"c{i}.png", text if i else "ZZ999ZZ"))  # the first crop's label is wrong
    with (crops / "labels.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "text"])
        w.writerows(labels)
    return root


def test_lost_plates_and_misreads_go_on_numbered_sheets(data, tmp_path, capsys):
    out = tmp_path / "misses"
    assert misses.main([str(data), "--set", "ro-dashcam day", "--set", "ar-crops", "--set", "eu test",
                        "--out", str(out), "--threads", "1"]) == 0
    printed = capsys.readouterr()
    assert "ro-dashcam day:" in printed.out and "eu test: not found" in printed.err
    lost = _rows(out / "ro-dashcam-day.csv")
    assert any(r["file"] == "dayride_0.jpg" and r["label"] == "60 px" for r in lost)  # the box on bare road
    assert len(lost) <= 2, lost  # the rendered plates are found
    assert (out / "ro-dashcam-day-reads.csv").is_file()  # no texts read by eye here: an empty list
    read = _rows(out / "ar-crops.csv")
    assert [(r["file"], r["label"]) for r in read] == [("c0.png", "ZZ999ZZ")]
    for name in {r["sheet"] for r in lost + read}:
        img = cv2.imread(str(out / name))
        assert img is not None and img.shape[1] > 300


def test_the_plate_view_keeps_the_plate_and_its_surroundings():
    frame = np.zeros((200, 400), np.uint8)
    view = misses.plate_view(frame, np.array([100.0, 80, 180, 100]), np.array([[90.0, 75, 170, 105]]))
    assert view.shape == (20 + 2 * 80, 80 + 2 * 80, 3)
    assert (view[80, 80] == (0, 200, 0)).all()  # the label's box, green, a plate width in
    assert (view[75, 70] == (0, 0, 255)).all()  # the detector's box, red


def test_a_missing_model_is_named(data, tmp_path, capsys):
    assert misses.main([str(data), "--detector", str(tmp_path / "none.tflite"), "--out", str(tmp_path)]) == 1
    assert "none.tflite" in capsys.readouterr().err


def test_country_keeps_only_that_countrys_scene_crops(tmp_path, monkeypatch, capsys):
    """--country US draws the misread US crops only; a malformed country file is named."""
    root = tmp_path / "data"
    images = root / "scene-crops" / "images"
    images.mkdir(parents=True)
    rows, countries = [], []
    for i, (text, country) in enumerate((("ABC123", "US"), ("XYZ789", "US"), ("AB12CDE", "GB"), ("KLM456", "US"))):
        image, _ = render_plate(text=text, style="eu", height=64, rng=np.random.default_rng(i))
        cv2.imwrite(str(images / f"s{i}.png"), image)
        rows.append([f"s{i}.png", "test", "x.jpg", "val", image.shape[1], "QQQ999" if i < 3 else text, "ok"])
        countries.append([f"s{i}.png", country, "sure"])
    with (root / "scene-crops" / "crops.csv").open("w", newline="") as fh:
        csv.writer(fh).writerows([["file", "source", "scene", "split", "plate_width_px", "text", "status"], *rows])
    country_csv = tmp_path / "country.csv"
    with country_csv.open("w", newline="") as fh:
        csv.writer(fh).writerows([["file", "country", "certainty"], *countries])
    monkeypatch.setattr(misses, "COUNTRY_CSV", country_csv)
    out = tmp_path / "misses"
    assert misses.main([str(root), "--set", "scene-crops val", "--country", "us", "--out", str(out), "--threads", "1"]) == 0
    lost = _rows(out / "scene-crops-val-US.csv")
    assert sorted(r["file"] for r in lost) == ["s0.png", "s1.png"]  # s2 is British; s3 reads right
    assert "2 of 3 lost" in capsys.readouterr().out
    country_csv.write_text("file,country\ns0.png,\n")
    assert misses.main([str(root), "--set", "scene-crops val", "--country", "US", "--out", str(out), "--threads", "1"]) == 1
    assert "country.csv:2: empty file or country" in capsys.readouterr().err
