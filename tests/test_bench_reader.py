"""tools.eval.bench_reader scores labelled crop folders, and a label audit changes only the rows it marks wrong."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from plategate.errors import PlategateError
from tools.eval import bench_reader
from tools.synth.plates import render_plate

# clean renders the shipped reader reads exactly (tests/test_reader.py asserts it)
PLATES = [("br", "ABC1234", 1), ("br", "BRA2E19", 2), ("ar", "KMH306", 5), ("uk", "BD51SMR", 8)]


@pytest.fixture
def crops(tmp_path):
    """A labelled folder of four renders; the second is labelled wrongly on purpose (BRA2E18)."""
    folder = tmp_path / "crops"
    folder.mkdir()
    rows = ["file,text"]
    for i, (style, text, seed) in enumerate(PLATES):
        img, _ = render_plate(text, style, np.random.default_rng(seed), height=48)
        cv2.imwrite(str(folder / f"p{i}.png"), img)
        rows.append(f"p{i}.png,{'BRA2E18' if i == 1 else text}")
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")
    yield folder


def write_audit(path: Path, rows: list[str]) -> Path:
    path.write_text("file,label,verdict,looks_like\n" + "".join(r + "\n" for r in rows))
    return path


def run_json(capsys, argv: list[str]) -> dict:
    assert bench_reader.main(argv + ["--json"]) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_audit_rescores_only_rows_marked_wrong(crops, tmp_path, capsys):
    audit = write_audit(tmp_path / "audit.csv", [
        "p1.png,BRA2E18,wrong,BRA2E19",
        "p0.png,ABC1234,ambiguous,ABC1284",  # not "wrong": keeps its label
        "p2.png,XXX000,wrong,KMH306",  # the dataset's label is not the one audited: untouched
    ])
    res = run_json(capsys, ["--eval", str(crops), "--audit", str(audit), "--threads", "1"])["eval"][0]
    assert res["count"] == 4
    assert res["exact_match"] == 0.75  # against the dataset's labels, p1 is wrong
    assert res["audited"]["replaced"] == ["p1.png BRA2E18->BRA2E19"]
    assert res["audited"]["exact_match"] == 1.0
    assert res["audited"]["confident_right_0.9"] == res["confident_0.9"]


def test_misreads_are_summed_up_as_character_substitutions(crops, capsys):
    # p1 is labelled BRA2E18 and reads BRA2E19: one 8 read as 9
    res = run_json(capsys, ["--eval", str(crops), "--threads", "1"])["eval"][0]
    assert res["confusions"] == {"8>9": 1}
    swaps = bench_reader.confusions([("LYB428", "LYB028"), ("NKH496", "NKH096"), ("HZK036", "HZK36"), ("AB", "AB")])
    assert swaps == {"4>0": 2}  # a dropped character is not aligned, a right read adds nothing


def test_exact_matches_are_broken_down_by_plate_shape(crops, capsys):
    # ABC1234 is LLLDDDD, the mislabelled BRA2E18 LLLDLDD (read BRA2E19), KMH306 LLLDDD, BD51SMR LLDDLLL
    res = run_json(capsys, ["--eval", str(crops), "--threads", "1"])["eval"][0]
    assert res["by_shape"] == {"LLDDLLL": [1, 1], "LLLDDD": [1, 1], "LLLDDDD": [1, 1], "LLLDLDD": [0, 1]}
    assert bench_reader.by_shape([("LYB428", False), ("AD363CA", True), ("NKB292", True), ("AB", True)]) == {
        "LLLDDD": [1, 2], "LL": [1, 1], "LLDDDLL": [1, 1]}  # commonest first, then by name
    many = [(t, k % 2 == 0) for k, t in enumerate(["AB1", "AB2", "A1", "1A", "1", "A", "AA", "11"])]
    assert bench_reader.by_shape(many, top=2) == {"LLD": [1, 2], "D": [1, 1], "other": [2, 5]}


def test_without_a_wrong_row_there_is_no_audited_entry(crops, tmp_path, capsys):
    audit = write_audit(tmp_path / "audit.csv", ["p0.png,ABC1234,ambiguous,ABC1284"])
    res = run_json(capsys, ["--eval", str(crops), "--audit", str(audit), "--threads", "1"])["eval"][0]
    assert "audited" not in res
    assert res["exact_match"] == 0.75


@pytest.mark.parametrize(("text", "message"), [
    ("file,label\np1.png,BRA2E18\n", "needs columns"),
    ("file,label,verdict,looks_like\np0.png,A,ambiguous,B\np1.png,BRA2E18,wrong,\n", "line 3: p1.png is marked wrong"),
])
def test_malformed_audit_is_refused_with_its_place(crops, tmp_path, capsys, text, message):
    audit = tmp_path / "audit.csv"
    audit.write_text(text)
    with pytest.raises(PlategateError, match=message):
        bench_reader.load_label_fixes(audit)
    assert bench_reader.main(["--eval", str(crops), "--audit", str(audit)]) == 1
    assert message in capsys.readouterr().err


def test_missing_audit_file_is_an_error(crops, tmp_path, capsys):
    assert bench_reader.main(["--eval", str(crops), "--audit", str(tmp_path / "none.csv")]) == 1
    assert "none.csv" in capsys.readouterr().err


def test_update_card_merges_figures_and_names_each_command_once(tmp_path):
    model = tmp_path / "reader.tflite"
    (tmp_path / "reader.json").write_text(json.dumps({"sha256": "abc", "metrics": {"other": 1}}))
    run = {"set": "crops", "count": 4, "exact_match": 0.75}
    latency = {"crops": 10, "threads": 2, "read_ms_median": 0.5}
    bench_reader.update_card(model, {"formats": None, "eval": [run], "latency": latency}, ["--latency", "10"])
    bench_reader.update_card(model, {"formats": None, "eval": [dict(run, exact_match=1.0)]}, ["--latency", "10"])
    bench_reader.update_card(model, {"formats": "LLLDDD", "eval": [run]}, ["--formats", "LLLDDD"])
    card = json.loads((tmp_path / "reader.json").read_text())
    assert card["sha256"] == "abc" and card["metrics"]["other"] == 1
    bench = card["metrics"]["bench_reader"]
    assert bench["free"]["crops"] == {"count": 4, "exact_match": 1.0}  # the re-run's figures
    assert bench["formats=LLLDDD"]["crops"]["exact_match"] == 0.75
    assert bench["latency_threads_2"] == latency
    assert bench["commands"] == ["python -m tools.eval.bench_reader --latency 10",
                                 "python -m tools.eval.bench_reader --formats LLLDDD"]


def test_several_sets_are_also_timed_together(crops, capsys):
    out = run_json(capsys, ["--eval", str(crops), "--eval", str(crops)])
    together = out["read_ms_all_sets"]
    assert together["crops"] == 2 * len(PLATES)
    assert 0.0 < together["median"] <= together["p95"]
    assert "read_ms_all_sets" not in run_json(capsys, ["--eval", str(crops)])  # one set: its own figures suffice
