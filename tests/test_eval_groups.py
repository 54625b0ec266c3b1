"""tools.eval.groups: exact reads of a crop set split by the plate's country."""

from __future__ import annotations

import csv

import pytest

from tools.eval import groups


def test_exact_by_group_counts_each_group_largest_first():
    files = ["a.jpg", "b.jpg", "c.jpg", "d.jpg", "e.jpg"]
    right = [True, False, True, True, False]
    by = groups.exact_by_group(files, right, {"a.jpg": "US", "b.jpg": "US", "c.jpg": "GB", "d.jpg": "US"}, min_n=1)
    assert list(by) == ["US", "?", "GB"]  # largest first, then by name
    assert by["US"] == {"n": 3, "right": 2, "exact": pytest.approx(0.6667)}
    assert by["GB"] == {"n": 1, "right": 1, "exact": 1.0}
    assert by[groups.UNKNOWN] == {"n": 1, "right": 0, "exact": 0.0}  # e.jpg is in no group
    with pytest.raises(ValueError, match="4 files but 5"):
        groups.exact_by_group(files[:4], right, {})


def test_small_groups_are_pooled_last():
    files = [f"{i}.jpg" for i in range(13)]
    names = ["US"] * 6 + ["GB"] * 5 + ["IT", "NL"]
    right = [True, False] * 3 + [True] * 5 + [False, True]
    by = groups.exact_by_group(files, right, dict(zip(files, names, strict=True)), min_n=5)
    assert list(by) == ["US", "GB", groups.OTHER]
    assert by[groups.OTHER] == {"n": 2, "right": 1, "exact": 0.5}
    rows = groups.group_table(by).splitlines()
    assert rows[2:] == ["| US | 6 | 50.0 |", "| GB | 5 | 100.0 |", "| other | 2 | 50.0 |"]


def test_read_groups_names_the_bad_line(tmp_path):
    good = tmp_path / "good.csv"
    good.write_text("file,country,certainty\na.jpg,US,sure\nb.jpg, PK ,guess\n")
    assert groups.read_groups(good) == {"a.jpg": "US", "b.jpg": "PK"}
    bad = tmp_path / "bad.csv"
    bad.write_text("file,country\na.jpg,US\nb.jpg,\n")
    with pytest.raises(ValueError, match=r"bad\.csv:3: empty file or country"):
        groups.read_groups(bad)
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("file,text\na.jpg,ABC123\n")
    with pytest.raises(ValueError, match="no column country"):
        groups.read_groups(wrong)


def test_the_shipped_country_file_names_every_scored_val_crop_once():
    """Every row is well formed; the certainty is sure or guess; no file twice."""
    with groups.COUNTRY_CSV.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    names = [r["file"] for r in rows]
    assert len(names) == len(set(names)) == len(groups.read_groups(groups.COUNTRY_CSV))
    assert {r["certainty"] for r in rows} <= {"sure", "guess"}
    assert all(len(r["country"]) == 2 and r["country"].isupper() for r in rows)
