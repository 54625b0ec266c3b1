"""platectl events crops: the events' saved plate crops gathered into a labelled folder."""

from __future__ import annotations

import csv
import json

import cv2
import numpy as np
import pytest
from cli_support import FakeDaemon, cleanup, short_dir, write_config

from plategate.cli.main import main
from plategate.config import JournalConfig
from plategate.journal import Journal, iso_utc, new_event_id


@pytest.fixture
def root(monkeypatch):
    path = short_dir()
    monkeypatch.setenv("PLATEGATE_CONFIG", str(write_config(path)))
    yield path
    cleanup(path)


@pytest.fixture
def journal(root):
    state = root / "state"
    j = Journal(state / "journal.db", state / "snapshots", JournalConfig())
    yield j
    j.close()


def crop(shade: int) -> np.ndarray:
    img = np.full((40, 160, 3), shade, np.uint8)
    cv2.putText(img, "AB12", (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (0, 0, 0), 2)
    return img


def record(journal, plate, conf, ts, with_crop=True):
    event = {"id": new_event_id(ts), "ts": ts, "time": iso_utc(ts), "plate": plate, "confidence": conf,
             "candidates": [[plate, conf]], "decision": "granted" if conf >= 0.9 else "unknown", "reason": "x",
             "latency_ms": 100.0, "opened": conf >= 0.9}
    return journal.record(event, crop=crop(200 + int(ts) % 40) if with_crop else None)


def labels(folder):
    with (folder / "labels.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_crops_are_copied_listed_and_corrections_survive_a_second_export(root, journal, capsys):
    t0 = 1_700_000_000.0
    first = [record(journal, "AB123CD", 0.97, t0), record(journal, "XY98ZT", 0.41, t0 + 1),
             record(journal, "KL555MN", 0.6, t0 + 2, with_crop=False)]
    out = root / "site-crops"
    assert main(["events", "crops", "-o", str(out)]) == 0
    said = capsys.readouterr().out
    assert "2 crops added" in said and "1 events have no saved crop" in said and "tools.train.site_tune" in said
    rows = labels(out)
    assert [(r["text"], r["read"], r["event"]) for r in rows] == [("AB123CD", "AB123CD", first[0]["id"]),
                                                                   ("XY98ZT", "XY98ZT", first[1]["id"])]
    image = cv2.imread(str(out / rows[1]["file"]))
    assert image is not None and image.shape[:2] == (40, 160)  # the saved JPEG, decodable

    # a person corrects one text and empties another; a later export adds only the new event
    rows[1]["text"], rows[0]["text"] = "XY98ZF", ""
    with (out / "labels.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    new = record(journal, "PQ777RS", 0.3, t0 + 3)
    assert main(["--json", "events", "crops", "-o", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["added"] == 1 and summary["kept"] == 2 and summary["without_crop"] == 1
    again = labels(out)
    assert [(r["text"], r["event"]) for r in again] == [("", first[0]["id"]), ("XY98ZF", first[1]["id"]),
                                                        ("PQ777RS", new["id"])]


def test_below_and_since_choose_the_events(root, journal, capsys):
    t0 = 1_700_000_000.0
    record(journal, "AB123CD", 0.97, t0)
    record(journal, "XY98ZT", 0.41, t0 + 10)
    record(journal, "PQ777RS", 0.5, t0 + 20)
    out = root / "unsure"
    assert main(["events", "crops", "-o", str(out), "--below", "0.9", "--since", iso_utc(t0 + 15)]) == 0
    assert [r["text"] for r in labels(out)] == ["PQ777RS"]
    assert main(["events", "crops", "-o", str(root / "x"), "--below", "1.5"]) == 2
    assert "--below must be above 0" in capsys.readouterr().err
    assert main(["events", "crops", "-o", str(root / "no" / "such")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_a_folder_with_another_labels_file_is_refused_and_left_alone(root, journal, capsys):
    record(journal, "AB123CD", 0.97, 1_700_000_000.0)
    out = root / "other"
    out.mkdir()
    (out / "labels.csv").write_text("name,plate\nx.jpg,AB1\n")
    assert main(["events", "crops", "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "not a crops list" in err and "labels.csv" in err
    assert (out / "labels.csv").read_text() == "name,plate\nx.jpg,AB1\n"
    assert not list(out.glob("*.jpg"))


def test_through_the_daemon(root, capsys):
    with FakeDaemon(root) as daemon:
        record(daemon.journal, "AB123CD", 0.97, 1_700_000_000.0)
        out = root / "live"
        assert main(["events", "crops", "-o", str(out)]) == 0
        assert [r["text"] for r in labels(out)] == ["AB123CD"]
