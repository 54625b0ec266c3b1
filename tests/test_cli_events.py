"""platectl events: tail / show / export / crops through the daemon and on the journal file (read-only)."""

from __future__ import annotations

import csv
import json
import os
import threading
import time

import cv2
import numpy as np
import pytest
from cli_support import FakeDaemon, add_events, cleanup, short_dir, write_config

from plategate.cli.main import main
from plategate.config import JournalConfig
from plategate.control_client import ControlClient
from plategate.errors import ControlError
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


PLATES = [("AB123CD", "granted"), ("XY987ZT", "denied"), ("KL555MN", "unknown")]


def test_offline_tail_show_export(root, journal, capsys):
    events = add_events(journal, PLATES, start=1_700_000_000.0)
    before = os.stat(root / "state" / "journal.db").st_mtime_ns
    assert main(["events", "tail", "-n", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:4] == ["TIME", "PLATE", "DECISION", "REASON"]
    assert [line.split()[2] for line in out[1:]] == ["XY987ZT", "KL555MN"]  # oldest first, local time 2 words
    assert main(["events", "tail", "--json"]) == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [r["plate"] for r in rows] == ["AB123CD", "XY987ZT", "KL555MN"]
    assert rows[0]["candidates"] == [["AB123CD", 0.9]] and rows[0]["opened"] is True

    assert main(["events", "show", events[1]["id"]]) == 0
    out = capsys.readouterr().out
    assert "XY987ZT" in out and "denied" in out and "not_listed" in out
    assert main(["events", "show", "no-such-id"]) == 1
    assert capsys.readouterr().err.strip() == "platectl: error: no event with id 'no-such-id'"

    target = root / "out.csv"
    assert main(["events", "export", "-o", str(target), "--since", "2023-11-14T22:13:21+00:00"]) == 0
    with target.open() as fh:
        exported = list(csv.DictReader(fh))
    assert [r["plate"] for r in exported] == ["XY987ZT", "KL555MN"]  # the first is one second earlier
    assert json.loads(exported[0]["candidates"]) == [["XY987ZT", 0.9]]
    assert main(["events", "export", "--format", "json"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3
    assert main(["events", "export", "--since", "yesterday"]) == 2
    assert "--since: not an ISO 8601" in capsys.readouterr().err
    # read-only: nothing was written to the journal
    assert os.stat(root / "state" / "journal.db").st_mtime_ns == before


def test_offline_without_journal(root, capsys):
    assert main(["events", "tail"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"platectl: error: no event journal at {root}/state/journal.db")
    assert not (root / "state" / "journal.db").exists()  # not created by reading


def test_tail_follow_prints_new_events(root, journal, capsys):
    add_events(journal, PLATES[:1])

    def later():
        time.sleep(0.3)
        add_events(journal, [("NEW0001", "granted")], start=time.time())

    t = threading.Thread(target=later)
    t.start()
    assert main(["events", "tail", "-f", "--interval", "0.2", "--max-polls", "5"]) == 0
    t.join()
    out = capsys.readouterr().out.splitlines()
    assert "AB123CD" in out[1] and "NEW0001" in out[-1]
    assert sum("NEW0001" in line for line in out) == 1


def test_through_daemon(root, capsys):
    with FakeDaemon(root) as daemon:
        events = add_events(daemon.journal, PLATES)
        assert main(["events", "tail", "--json", "-n", "5"]) == 0
        assert [json.loads(x)["plate"] for x in capsys.readouterr().out.splitlines()] == [p for p, _ in PLATES]
        assert main(["events", "show", "--json", events[0]["id"]]) == 0
        assert json.loads(capsys.readouterr().out)["plate"] == "AB123CD"
        assert main(["events", "show", "nope"]) == 1
        assert "no event with id 'nope'" in capsys.readouterr().err
        assert main(["events", "export", "--format", "json"]) == 0
        assert len(capsys.readouterr().out.splitlines()) == 3


def test_a_long_export_through_the_daemon_goes_in_pages(root, capsys, monkeypatch):
    from plategate.cli import events as events_cli

    monkeypatch.setattr(events_cli, "PAGE", 4)
    with FakeDaemon(root) as daemon:
        added = add_events(daemon.journal, [(f"AB{i:03d}CD", "granted") for i in range(11)], start=1_700_000_000.0)
        assert main(["events", "export", "--format", "json"]) == 0
        assert [json.loads(x)["plate"] for x in capsys.readouterr().out.splitlines()] == [e["plate"] for e in added]
        assert main(["events", "export", "--format", "json", "--limit", "6", "--since",
                     added[3]["time"]]) == 0  # from the fourth, six of them: two pages
        assert [json.loads(x)["plate"] for x in capsys.readouterr().out.splitlines()] == \
            [e["plate"] for e in added[3:9]]
        from plategate.handlers import EVENTS_PAGE

        assert events_cli.DAEMON_MAX == EVENTS_PAGE
        assert main(["events", "tail", "-n", "6000"]) == 2
        assert "-n: at most 5000 events through the daemon" in capsys.readouterr().err
        client = ControlClient(root / "control.sock")
        with pytest.raises(ControlError, match=r"n: 5001 out of range \(1\.\.5000\)"):
            client.call("events", n=5001)
        page = client.call("events", after=daemon.journal.get(added[8]["id"])["seq"], n=5)
        assert [e["plate"] for e in page] == ["AB009CD", "AB010CD"]


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


def test_texts_people_checked_come_with_the_crops(root, journal, capsys):
    from plategate.audit import PLATE_TEXT, AuditLog

    t0 = 1_700_000_000.0
    first, second, third = (record(journal, p, 0.5, t0 + i) for i, p in enumerate(("XY98ZT", "AB123CD", "PQ777RS")))
    audit = AuditLog(root / "state" / "journal.db")
    audit.record("web:bob", PLATE_TEXT, first["id"], {"text": "XY98ZT"})
    audit.record("web:ann", PLATE_TEXT, first["id"], {"text": "XY98ZF"})  # the newest reading counts
    audit.record("web:ann", PLATE_TEXT, second["id"], {"text": ""})  # unreadable
    audit.close()
    assert main(["events", "show", "--json", first["id"]]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["checked_text"] == "XY98ZF" and shown["checked_by"] == "web:ann" and shown["plate"] == "XY98ZT"
    out = root / "checked"
    assert main(["events", "crops", "-o", str(out)]) == 0
    assert [(r["text"], r["read"], r["checked_by"]) for r in labels(out)] == [
        ("XY98ZF", "XY98ZT", "web:ann"), ("", "AB123CD", "web:ann"), ("PQ777RS", "PQ777RS", "")]
    assert third["id"] in (out / "labels.csv").read_text()


def test_formats_counts_each_plate_once_and_suggests_the_fewest_shapes(root, journal, capsys):
    from plategate.audit import PLATE_TEXT, AuditLog

    t0 = 1_700_000_000.0
    uk = [f"AB{n:02d}CDE" for n in range(30)]  # LLDDLLL
    for i, plate in enumerate(uk):
        for k in range(1 + (i == 0) * 20):  # a resident passing 21 times counts once
            record(journal, plate, 0.97, t0 + 100 * i + k, with_crop=False)
    record(journal, "A123BCD", 0.95, t0 + 5000, with_crop=False)  # LDDDLLL, an older plate
    unsure = record(journal, "B8", 0.4, t0 + 5001)  # an unsure read nobody checked: left out
    misread = record(journal, "AB5OCDE", 0.45, t0 + 5002)
    audit = AuditLog(root / "state" / "journal.db")
    audit.record("web:ann", PLATE_TEXT, misread["id"], {"text": "AB50CDE"})  # a person's text counts
    audit.record("web:ann", PLATE_TEXT, record(journal, "ZZ", 0.3, t0 + 5003)["id"], {"text": ""})  # unreadable
    audit.close()
    assert main(["events", "formats", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["plates"] == 32 and result["events"] == 54 and result["unsure"] == 1
    assert [(s["shape"], s["plates"]) for s in result["shapes"]] == [("LLDDLLL", 31), ("LDDDLLL", 1)]
    assert result["suggested"] == ["LLDDLLL"] and abs(result["covered"] - 31 / 32) < 1e-9
    assert result["shapes"][0]["examples"] == ["AB00CDE", "AB01CDE", "AB02CDE"]
    assert unsure["plate"] not in json.dumps(result["shapes"])
    assert main(["events", "formats", "--cover", "1"]) == 0
    out = capsys.readouterr().out
    assert 'plate_formats = ["LLDDLLL", "LDDDLLL"] fits 100.0 %' in out and "LLDDLLL" in out.splitlines()[2]
    assert main(["events", "formats", "--since", "2023-11-14T23:35:00Z"]) == 0  # only the last events
    assert "no suggestion: 2 plates are too few" in capsys.readouterr().out
    assert main(["events", "formats", "--cover", "0"]) == 2
    assert "--cover must be above 0" in capsys.readouterr().err


def test_formats_without_a_short_list_keeps_free_decoding():
    from plategate.cli.event_formats import site_shapes

    shapes = ["LLDDLLL", "LDDDLLL", "LLLDDD", "DDDLLL", "LLDDDD", "LDDLLL"]
    rows = [{"plate": "".join(("A" if c == "L" else "1") for c in shape) + f"{chr(65 + i)}",
             "confidence": 0.99} for i in range(10) for shape in shapes]
    result = site_shapes(rows)
    assert result.plates == 60 and len(result.shapes) == 6 and not result.suggested
    assert "4 shapes fit only 66.7 % of the plates" in result.why_none and "keep free decoding" in result.why_none


def test_accuracy_reads_the_checked_crops_again_free_and_under_formats(root, journal, capsys):
    from plategate.audit import PLATE_TEXT, AuditLog
    from tools.synth.plates import render_plate

    def plate_event(text, style, seed, ts):
        img, truth = render_plate(text, style, np.random.default_rng(seed), height=48)
        event = {"id": new_event_id(ts), "ts": ts, "plate": truth, "confidence": 0.5, "decision": "unknown",
                 "reason": "low_confidence"}
        return journal.record(event, crop=img)

    t0 = 1_700_000_000.0
    uk = plate_event("BD51SMR", "uk", 8, t0)
    br = plate_event("ABC1234", "br", 1, t0 + 1)
    mislabelled = plate_event("PXH4819", "br", 3, t0 + 2)
    unreadable = plate_event("KMH306", "ar", 5, t0 + 3)
    plate_event("AD673AN", "ar", 6, t0 + 4)  # nobody checked it: not counted
    gone = record(journal, "XY98ZT", 0.4, t0 + 5, with_crop=False)
    audit = AuditLog(root / "state" / "journal.db")
    for event, text in ((uk, "BD51SMR"), (br, "ABC-1234"), (mislabelled, "ZZZ9999"), (unreadable, ""),
                        (gone, "XY98ZT")):
        audit.record("web:ann", PLATE_TEXT, event["id"], {"text": text})
    audit.close()
    assert main(["events", "accuracy", "--json", "--formats", "LLLDDDD", "--threads", "1"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["crops"] == 3 and result["without_crop"] == 1 and not result["unreadable"]
    free, fitted = result["modes"]
    assert (free["mode"], free["crops"], free["right"]) == ("free decoding", 3, 2)
    assert [m["checked"] for m in free["misreads"]] == ["ZZZ9999"] and free["misreads"][0]["read"] == "PXH4819"
    # no LLLDDDD text is likely on the UK plate, so it is read freely, as the gate would
    assert (fitted["mode"], fitted["crops"], fitted["right"]) == ("plate_formats LLLDDDD", 3, 2)
    assert [m["checked"] for m in fitted["misreads"]] == ["ZZZ9999"]
    assert main(["events", "accuracy", "--threads", "1"]) == 0  # no formats configured: free decoding only
    out = capsys.readouterr().out
    assert "3 crops whose text a person checked (1 checked events have no crop left)" in out
    assert "free decoding" in out and "plate_formats" not in out and "ZZZ9999 read PXH4819" in out
    assert main(["events", "accuracy", "--formats", "LL1"]) == 2
    assert "--formats: shapes are strings of L" in capsys.readouterr().err
