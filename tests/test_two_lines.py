"""tools.train.two_lines: real two-line crops split into their lines where the halves' reads fit the text."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest

from plategate.vision.reader import is_two_line
from tools.synth.plates import render_lines
from tools.train import two_lines


def write_folder(folder: Path, rows: list[tuple[str, np.ndarray | bytes, str]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, image, _ in rows:
        if isinstance(image, bytes):
            (folder / name).write_bytes(image)
        else:
            cv2.imwrite(str(folder / name), image)
    with (folder / "labels.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "text"])
        w.writerows((name, text) for name, _, text in rows)
    return folder


def read_labels(folder: Path) -> dict[str, str]:
    with (folder / "labels.csv").open(newline="") as fh:
        return {r["file"]: r["text"] for r in csv.DictReader(fh)}


@pytest.fixture(scope="module")
def plates(tmp_path_factory) -> tuple[Path, dict[str, int]]:
    """Six rendered square two-line plates, one one-line plate and one file that is not an image."""
    rng = np.random.default_rng(3)
    rows, splits = [], {}
    for i in range(6):
        p = render_lines(style="square", rng=rng, height=96)
        rows.append((f"sq{i}.png", p.image, p.text))
        splits[f"sq{i}"] = p.split
    one = render_lines(style="uk", rng=rng, height=48)
    rows.append(("one.png", one.image, one.text))
    rows.append(("broken.png", b"not a png", "AB12CDE"))
    return write_folder(tmp_path_factory.mktemp("plates"), rows), splits


def test_the_text_splits_where_both_reads_fit():
    assert two_lines.split_text("LEA077952", "LEA07", "7952") == two_lines.Split(at=5, edits=0)
    assert two_lines.split_text("MC51OFW", "MC5I", "OFW") == two_lines.Split(at=4, edits=1)  # one misread
    assert two_lines.split_text("AB", "A", "B") == two_lines.Split(at=1, edits=0)


def test_no_split_when_two_points_fit_alike_or_the_text_is_too_short():
    assert two_lines.split_text("AB12", "", "") is None  # every point costs 4 edits
    assert two_lines.split_text("A", "A", "") is None


def test_narrow_crops_are_the_ones_the_reader_reads_as_two_lines():
    assert is_two_line((100, 120, 3))
    assert not is_two_line((100, 400, 3))
    assert not is_two_line((6, 5))  # too small to halve


@pytest.mark.parametrize("rule", two_lines.RULES)
def test_two_line_plates_are_split_at_their_rendered_line_break(plates, tmp_path, capsys, rule):
    folder, splits = plates
    out = tmp_path / "lines"
    assert two_lines.main([str(folder), "--out", str(out), "--threads", "1", "--rule", rule]) == 0
    assert "two-line crops split into" in capsys.readouterr().out
    labels = read_labels(out)
    tops = {f[: -len("_top.png")]: t for f, t in labels.items() if f.endswith("_top.png")}
    assert len(tops) >= 3, f"only {len(tops)} of 6 clean renders split: {labels}"
    texts = read_labels(folder)
    for stem, top in tops.items():
        text = texts[f"{stem}.png"]
        assert top == text[: splits[stem]] and labels[f"{stem}_bottom.png"] == text[splits[stem]:]
        for tag in ("top", "bottom"):
            half = cv2.imread(str(out / f"{stem}_{tag}.png"))
            assert half is not None and half.shape[1] >= 3 * half.shape[0] - 1  # widened to a one-line shape
    assert not any(f.startswith(("one", "broken")) for f in labels)  # one-line and unreadable: not written


def test_known_splits_are_taken_without_reading(plates, tmp_path):
    folder, splits = plates
    known = write_folder(tmp_path / "known", [(f"{stem}_top.png", np.zeros((8, 24), np.uint8), "X" * at)
                                              for stem, at in splits.items()])
    assert two_lines.known_splits(known) == splits
    written, left = two_lines.split_folder(None, folder, tmp_path / "out", known=two_lines.known_splits(known),
                                           progress=lambda _: None)
    assert written == 6 and left == []
    assert len(read_labels(tmp_path / "out")) == 12


def test_the_likeliest_split_is_taken_only_when_clearly_likely(plates):
    from plategate.vision.reader import PlateReader, two_line_halves

    folder, splits = plates
    reader = PlateReader(Path("models/reader.tflite"), threads=1)
    texts = read_labels(folder)
    halves = two_line_halves(cv2.imread(str(folder / "sq0.png")))
    split = two_lines.likely_split(reader, halves, texts["sq0.png"])
    assert split is not None and split.at == splits["sq0"] and split.log_prob > two_lines.MIN_LOG_PROB
    assert two_lines.likely_split(reader, halves, texts["sq0.png"], min_log_prob=0.1) is None  # no probability above 1
    assert two_lines.likely_split(reader, halves, "7") is None
    one = cv2.imread(str(folder / "one.png"))
    assert two_lines.likely_split(reader, two_line_halves(one), texts["one.png"]) is None  # one line cut in halves


def test_an_unknown_rule_is_refused(plates, tmp_path):
    with pytest.raises(ValueError, match="rule must be one of"):
        two_lines.split_folder(None, plates[0], tmp_path / "o", rule="guess")


def test_a_missing_labels_file_is_named(tmp_path, capsys):
    assert two_lines.main([str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "labels.csv not found" in capsys.readouterr().err

