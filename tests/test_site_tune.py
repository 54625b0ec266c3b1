"""tools.train.site_tune: a site's crops split, a reader fine-tuned on them, converted and judged."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from tools.train import site_tune


def _labelled(folder: Path, n: int, seed: int, style: str) -> list[tuple[str, str]]:
    from tools.synth.plates import render_plate

    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        img, text = render_plate(style=style, rng=rng, height=40)
        cv2.imwrite(str(folder / f"c{i}.png"), img)
        rows.append((f"c{i}.png", text))
    with (folder / "labels.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "text", "read"])
        w.writerows((f, t, "") for f, t in rows)
    return rows


def test_every_plate_goes_to_one_part_and_the_split_does_not_change():
    texts = [f"AB{i:03d}CD" for i in range(2000)]
    parts = [site_tune.part_of(t) for t in texts]
    assert parts == [site_tune.part_of(t) for t in texts]
    shares = {p: parts.count(p) / len(parts) for p in ("tune", "calib", "check")}
    assert abs(shares["tune"] - 0.60) < 0.04 and abs(shares["calib"] - 0.15) < 0.03 and abs(shares["check"] - 0.25) < 0.04
    rows = [(f"{i}.jpg", texts[i % 300]) for i in range(900)]  # each plate seen three times
    split = site_tune.split(rows)
    for name, part in split.items():
        assert {site_tune.part_of(t) for _, t in part} == {name}
    assert sum(len(p) for p in split.values()) == 900


def test_site_crops_are_checked_before_any_work(tmp_path):
    with pytest.raises(site_tune.SiteTuneError, match="labels.csv: not found"):
        site_tune.site_rows(tmp_path)
    (tmp_path / "labels.csv").write_text("name,plate\na.jpg,AB1\n")
    with pytest.raises(site_tune.SiteTuneError, match="needs the columns file and text"):
        site_tune.site_rows(tmp_path)
    rows = [(f"c{i}.jpg", f"AB{i}" if i % 2 else "") for i in range(60)]
    for f, _ in rows[:50]:
        (tmp_path / f).write_bytes(b"x")
    with (tmp_path / "labels.csv").open("w", newline="") as fh:
        csv.writer(fh).writerows([("file", "text"), *rows])
    # 30 have a text, 25 of them an image: too few
    with pytest.raises(site_tune.SiteTuneError, match="25 crops with a text; a fine-tune needs at least 40"):
        site_tune.site_rows(tmp_path)
    with pytest.raises(site_tune.SiteTuneError, match="record more plates"):
        site_tune.split([(f"{i}.jpg", "SAME1") for i in range(100)])


def test_bad_arguments_are_refused_before_any_work(tmp_path, capsys):
    work = tmp_path / "work"
    assert site_tune.main([str(tmp_path), "--data", str(tmp_path), "--work", str(work), "--formats", "LLLDDDD,LL1"]) == 2
    assert "--formats: shapes are strings of L (letter) and D (digit)" in capsys.readouterr().err
    assert site_tune.main([str(tmp_path), "--data", str(tmp_path), "--work", str(work)]) == 2
    assert "no br-crops/labels.csv" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        site_tune.main([str(tmp_path), "--data", str(tmp_path), "--mix", "0"])
    assert "--mix must be above 0" in capsys.readouterr().err
    assert not work.exists()


def test_the_verdict_wants_the_site_better_no_new_sure_mistakes_and_the_rest_kept():
    def fig(exact, wrong=0):
        return {"n": 100, "exact": exact, "sure_right": 50, "sure_wrong": wrong}

    before = {"site check": fig(80.0), "ar-crops": fig(92.0)}
    assert site_tune.verdict(before, {"site check": fig(90.0), "ar-crops": fig(90.5)}) == (True, [])
    ok, reasons = site_tune.verdict(before, {"site check": fig(80.0, 1), "ar-crops": fig(89.0)})
    assert not ok and len(reasons) == 3
    assert "does not rise" in reasons[0] and "wrong reads at >= 0.9" in reasons[1] and "ar-crops: 92.0 -> 89.0" in reasons[2]
    assert "| site check | 100 | 80.0 | 90.0 |" in site_tune.table(before, {"site check": fig(90.0), "ar-crops": fig(90.5)})


def test_a_tiny_site_tune_runs_every_stage_and_continues_where_it_stopped(tmp_path, capsys):
    pytest.importorskip("tensorflow")
    from tools import quantize
    from tools.train import train_reader

    data, site, work = tmp_path / "data", tmp_path / "site", tmp_path / "work"
    _labelled(data / "br-crops", 12, 1, "br")
    _labelled(data / "ar-crops", 6, 3, "ar")
    rows = _labelled(site, 48, 2, "uk")
    assert train_reader.main(["--data", str(data), "--work", str(tmp_path / "base"), "--shards", "1", "--first-shards", "1",
                              "--shard-size", "32", "--val-size", "8", "--steps", "2", "--batch", "8", "--real-copies", "1",
                              "--channels", "8,8,8,8,8", "--epochs", "1"]) == 0
    installed = tmp_path / "installed" / "reader.tflite"
    assert quantize.main([str(tmp_path / "base" / "reader.keras"), "--task", "reader", "--out", str(installed),
                          "--rep-dir", str(data / "br-crops"), "--rep-count", "8", "--task-arg", "temperature=1.0"]) == 0
    capsys.readouterr()
    argv = [str(site), "--data", str(data), "--work", str(work), "--reader", str(installed), "--steps", "2",
            "--copies", "2", "--shards", "1", "--shard-size", "32", "--replay-copies", "1", "--batch", "8", "--threads", "1",
            "--min-agreement", "0"]
    status = site_tune.main(argv)
    out = capsys.readouterr().out
    assert status in (0, 1), out
    for stage in ("start", "train", "convert"):
        assert f"site_tune: {stage}:" in out
    parts = {p: len(site_tune.text_rows_of(work / "site" / p)) for p in ("tune", "calib", "check")}
    assert sum(parts.values()) == len(rows)
    verdict = json.loads((work / "verdict.json").read_text())
    assert verdict["better"] is (status == 0)
    assert set(verdict["figures"]["tuned"]) == {"site check", "br-crops val", "ar-crops"}
    assert verdict["figures"]["tuned"]["site check"]["n"] == parts["check"]
    tuned = Path(verdict["tuned"])
    assert tuned == work / "mix-0.5" / "reader.tflite" and "site_tune: average:" in out
    card = json.loads(tuned.with_suffix(".json").read_text())
    assert card["task"] == "reader" and any("focus crops" in d for part in card["training"]["averaged_from"]
                                            for d in part.get("training", {}).get("data", []))
    made = tuned.stat().st_mtime_ns
    # run again: every stage's result is there, so only the judge runs
    assert site_tune.main(argv) == status
    out = capsys.readouterr().out
    assert "site_tune: train:" not in out and "site_tune: convert:" not in out and "| site check |" in out
    assert "the installed reader's figures from" in out and f"judged {installed}" not in out  # kept, not re-read
    assert json.loads((work / "verdict.json").read_text())["figures"] == verdict["figures"]
    assert tuned.stat().st_mtime_ns == made
    assert site_tune.main([*argv, "--formats", "DDDDLLL"]) in (0, 1)  # the check part read under the site's shapes
    assert f"judged {installed}" in capsys.readouterr().out  # other formats: the installed reader read again
