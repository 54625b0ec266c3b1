"""tools.train.pseudo_label: confident reads of unlabelled crops become a labels.csv for training."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np

from tools.synth.plates import render_plate
from tools.train import pseudo_label

MODEL = Path(__file__).resolve().parent.parent / "models" / "reader.tflite"


def _write_crops(folder: Path, n: int) -> dict[str, str]:
    folder.mkdir()
    rng = np.random.default_rng(12)
    truth = {}
    for i in range(n):
        img, text = render_plate(style=("br", "ar", "eu")[i % 3], rng=rng, height=48)
        name = f"crop{i:02d}.png"
        cv2.imwrite(str(folder / name), img)
        truth[name] = text
    (folder / "broken.jpg").write_bytes(b"not an image")
    return truth


def test_confident_reads_are_written_with_links(tmp_path, capsys):
    truth = _write_crops(tmp_path / "crops", 12)
    out = tmp_path / "pseudo"
    rc = pseudo_label.main(["--model", str(MODEL), "--images", str(tmp_path / "crops"), "--out", str(out),
                            "--min-confidence", "0.5", "--threads", "1"])
    assert rc == 0
    with (out / "labels.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert rows, capsys.readouterr().out
    right = sum(truth[r["file"]] == r["text"] for r in rows)
    assert right >= 0.8 * len(rows)  # confident reads are mostly right
    for r in rows:
        assert float(r["confidence"]) >= 0.5
        assert (out / r["file"]).is_symlink() and (out / r["file"]).resolve().is_file()
    assert "1 unreadable" in capsys.readouterr().out


def test_evaluation_sets_are_refused(tmp_path, capsys):
    (tmp_path / "ar-crops").mkdir()
    rc = pseudo_label.main(["--model", str(MODEL), "--images", str(tmp_path / "ar-crops"), "--out", str(tmp_path / "o")])
    assert rc == 2
    assert "never pseudo-labelled" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_nothing_confident_exits_1(tmp_path):
    (tmp_path / "blank").mkdir()
    for i in range(3):
        cv2.imwrite(str(tmp_path / "blank" / f"b{i}.png"), np.full((40, 120), 128, np.uint8))
    rc = pseudo_label.main(["--model", str(MODEL), "--images", str(tmp_path / "blank"), "--out", str(tmp_path / "o"),
                            "--threads", "1"])
    assert rc == 1
    assert (tmp_path / "o" / "labels.csv").read_text().strip() == "file,text,confidence"


def test_excluded_files_are_never_labelled(tmp_path, capsys):
    truth = _write_crops(tmp_path / "crops", 6)
    held_out = sorted(truth)[:3]
    exclude = tmp_path / "test-text.csv"
    exclude.write_text("file,text\n" + "".join(f"{name},{truth[name]}\n" for name in held_out))
    out = tmp_path / "pseudo"
    rc = pseudo_label.main(["--model", str(MODEL), "--images", str(tmp_path / "crops"), "--out", str(out),
                            "--min-confidence", "0.01", "--threads", "1", "--exclude", str(exclude)])
    assert rc == 0
    with (out / "labels.csv").open() as fh:
        files = {r["file"] for r in csv.DictReader(fh)}
    assert files and not files & set(held_out)
    assert "3 files of 1 --exclude file(s) left out" in capsys.readouterr().out


def test_a_missing_exclude_file_is_a_usage_error(tmp_path, capsys):
    (tmp_path / "crops").mkdir()
    rc = pseudo_label.main(["--model", str(MODEL), "--images", str(tmp_path / "crops"), "--out", str(tmp_path / "o"),
                            "--exclude", str(tmp_path / "nope.csv")])
    assert rc == 2
    assert "--exclude" in capsys.readouterr().err
