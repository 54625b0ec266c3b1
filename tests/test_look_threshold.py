"""tools.eval.look_threshold: the second look's threshold, chosen on the training photos held out of its views."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tools.eval import look_threshold
from tools.train.look_data import held_out

ROOT = Path(__file__).resolve().parent.parent


def test_the_best_mean_wins_and_a_tie_goes_to_the_higher_threshold():
    results = {0.4: {"mean": 0.90}, 0.5: {"mean": 0.93}, 0.6: {"mean": 0.93}, 0.3: {"mean": 0.70}}
    assert look_threshold.choose(results) == 0.6
    results[0.45] = {"mean": 0.95}
    assert look_threshold.choose(results) == 0.45


def test_only_the_held_out_photos_are_read(boxed_photos, capsys):
    photos = boxed_photos / "openimages-plates" / "train"
    rows = (photos / "boxes.csv").read_text().splitlines()
    for name in ("q3.jpg", "q4.jpg"):  # held out of the look views; p0-p2 are not
        shutil.copy(photos / "p0.jpg", photos / name)
        rows.append(f"{name},250,300,400,340")
    (photos / "boxes.csv").write_text("\n".join(rows) + "\n")
    assert held_out("q3.jpg") and not held_out("p0.jpg")
    argv = [str(boxed_photos), "--look", str(ROOT / "models" / "detector-street-coarse.tflite"),
            "--thresholds", "0.6,0.5", "--threads", "1"]
    assert look_threshold.main(argv) == 0
    out = capsys.readouterr().out
    assert "held out: openimages 2 photos, 3 negatives" in out
    assert "threshold 0.50:" in out and "threshold 0.60:" in out and "fp_per_negative" in out
    assert out.rstrip().splitlines()[-1].startswith("chosen: 0.")


def test_a_missing_model_and_bad_thresholds_are_refused(boxed_photos, tmp_path, capsys):
    assert look_threshold.main([str(boxed_photos), "--look", str(tmp_path / "none.tflite")]) == 1
    assert "none.tflite" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        look_threshold.main([str(boxed_photos), "--look", "x.tflite", "--thresholds", "0.5,high"])
    assert exc.value.code == 2
    assert "--thresholds" in capsys.readouterr().err
