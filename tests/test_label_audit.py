"""A label audit of the br-crops training part relabels wrong crops and drops what must not be trained on."""

from __future__ import annotations

from pathlib import Path

import pytest

from plategate.errors import PlategateError
from tools.synth import reader_data
from tools.synth.reader_data import Sample

AUDIT = Path(__file__).resolve().parent.parent / "tools" / "eval_data" / "br-crops-train-audit.csv"


def write_audit(path: Path, rows: list[str]) -> Path:
    path.write_text("file,label,verdict,looks_like\n" + "".join(r + "\n" for r in rows))
    return path


def test_audit_relabels_wrong_crops_and_drops_unreadable_ones_and_validation_plates(tmp_path):
    train = [Sample(Path(f"d/{n}.jpg"), t) for n, t in
             (("a", "AOK3481"), ("b", "AYQ2915"), ("c", "AJW7942"), ("d", "IVD8248"), ("e", "ABC1234"), ("f", "XYZ9999"))]
    val = [Sample(Path("d/v.jpg"), "AVQ2915")]
    audit = reader_data.load_label_audit(write_audit(tmp_path / "audit.csv", [
        "a.jpg,AOK3481,wrong,AQK3481",
        "b.jpg,AYQ2915,wrong,AVQ2915",  # shows a validation plate: dropped, not relabelled
        "c.jpg,AJW7942,unreadable,",
        "d.jpg,IVD8248,ambiguous,IVO8248",  # keeps the dataset's label
        "f.jpg,XYZ0000,wrong,XYZ1111",  # the dataset's label is not the one audited: untouched
    ]))
    out, changes = reader_data.audited_training_part(train, val, audit)
    assert [(s.path.name, s.text) for s in out] == [("a.jpg", "AQK3481"), ("d.jpg", "IVD8248"), ("e.jpg", "ABC1234"),
                                                    ("f.jpg", "XYZ9999")]
    assert changes == ["a.jpg AOK3481->AQK3481", "b.jpg dropped: shows AVQ2915, a validation text",
                       "c.jpg dropped: unreadable"]


@pytest.mark.parametrize(("text", "message"), [
    ("file,label\np1.png,BRA2E18\n", "needs columns"),
    ("file,label\n", "needs columns"),  # no rows: still refused
    ("", "needs columns"),
    ("file,label,verdict,looks_like\np0.png,A,ambiguous,B\np1.png,BRA2E18,wrong,\n", "line 3: p1.png is marked wrong"),
])
def test_malformed_audit_is_refused_with_its_place(tmp_path, text, message):
    path = tmp_path / "audit.csv"
    path.write_text(text)
    with pytest.raises(PlategateError, match=message):
        reader_data.load_label_audit(path)
    with pytest.raises(PlategateError, match="cannot read"):
        reader_data.load_label_audit(tmp_path / "none.csv")


def test_the_shipped_training_audit_only_names_training_crops(datasets):
    samples = reader_data.load_labelled(datasets / "br-crops")
    train, val = reader_data.split_by_text(samples)
    labels = {s.path.name: s.text for s in train}
    audit = reader_data.load_label_audit(AUDIT)
    assert audit and all(labels.get(r.file) == r.label for r in audit)  # each row: a training crop, its label
    out, changes = reader_data.audited_training_part(train, val, audit)
    assert {s.text for s in out}.isdisjoint({s.text for s in val})  # still no validation text in training
    assert len(out) == len(train) - sum("dropped" in c for c in changes)
