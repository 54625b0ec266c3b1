"""The audit trail, event search, run-time overrides (the motion ROI) and the motion detector
following a changed ROI."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from plategate import overrides
from plategate.audit import AuditLog
from plategate.config import JournalConfig, MotionConfig, Roi, parse_config
from plategate.errors import ConfigError
from plategate.journal import Journal, iso_utc, new_event_id
from plategate.motion import MotionDetector


def test_audit_log_records_and_prunes(tmp_path):
    log = AuditLog(tmp_path / "journal.db")
    log.record("web:alice", "open", "AB12CDE", {"reason": "delivery"})
    log.record("", "allowlist_remove", "ZZ1")
    rows = log.recent(10)
    assert [(r["user"], r["action"], r["target"]) for r in rows] == [
        ("unknown", "allowlist_remove", "ZZ1"), ("web:alice", "open", "AB12CDE")]
    assert rows[1]["detail"] == {"reason": "delivery"}
    assert [r["action"] for r in log.recent(10, "open")] == ["open"]
    assert log.prune(time.time() + 1) == 2 and log.recent() == []
    log.close()


def test_journal_search_by_partial_plate_time_and_decision(tmp_path):
    journal = Journal(tmp_path / "j.db", tmp_path / "snaps", JournalConfig())
    start = time.time() - 1000
    for i, (plate, decision) in enumerate([("AB12CDE", "granted"), ("KX934PL", "denied"), ("AB12CDF", "unknown"),
                                           ("AB12CDE", "granted")]):
        ts = start + 100 * i
        journal.record({"id": new_event_id(ts), "ts": ts, "time": iso_utc(ts), "plate": plate, "decision": decision})
    assert [e["plate"] for e in journal.search("12c")] == ["AB12CDE", "AB12CDF", "AB12CDE"]  # newest first
    assert [e["plate"] for e in journal.search("ab-12 cd", decision="unknown")] == ["AB12CDF"]
    assert len(journal.search(since_ts=start + 150)) == 2 and len(journal.search(until_ts=start + 150)) == 2
    assert [e["plate"] for e in journal.search(limit=1, offset=1)] == ["AB12CDF"]
    journal.close()


def test_journal_search_for_reads_to_check(tmp_path):
    """``below`` keeps the unsure reads; ``unchecked`` the events with a crop nobody has read yet,
    also in a file whose audit table does not exist yet."""
    journal = Journal(tmp_path / "j.db", tmp_path / "snaps", JournalConfig(min_free_mb=0))
    crop = np.full((40, 160, 3), 128, np.uint8)
    start = time.time() - 1000
    ids = []
    for i, (plate, confidence, has_crop) in enumerate([("AB12CDE", 0.97, True), ("KX934PL", 0.42, True),
                                                      ("AB12CDF", 0.61, False), ("ZZ99ZZZ", 0.88, True)]):
        ts = start + 100 * i
        ids.append(journal.record({"id": new_event_id(ts), "ts": ts, "plate": plate, "decision": "unknown",
                                   "confidence": confidence}, crop if has_crop else None)["id"])
    assert [e["plate"] for e in journal.search(below=0.9)] == ["ZZ99ZZZ", "AB12CDF", "KX934PL"]
    assert [e["plate"] for e in journal.search(unchecked="plate_text")] == ["ZZ99ZZZ", "KX934PL", "AB12CDE"]
    audit = AuditLog(tmp_path / "j.db")
    audit.record("web:alice", "plate_text", ids[3], {"text": "ZZ99ZZZ"})
    audit.record("web:alice", "allowlist_add", ids[1])  # another action checks nothing
    assert [e["plate"] for e in journal.search(below=0.9, unchecked="plate_text")] == ["KX934PL"]
    assert [e["plate"] for e in journal.search(unchecked="plate_text", until_ts=start + 50)] == ["AB12CDE"]
    audit.close()
    journal.close()


def test_overrides_are_validated_saved_and_applied(tmp_path):
    cfg = parse_config({"state_dir": str(tmp_path), "motion": {"roi": {"x1": 0.2}}})
    assert overrides.apply(cfg) is cfg
    with pytest.raises(ConfigError, match="motion.roi: x2 must be greater than x1"):
        overrides.save(cfg, "motion", "roi", {"x1": 0.9, "y1": 0.0, "x2": 0.5, "y2": 1.0})
    assert not overrides.overrides_path(cfg).exists()  # nothing stored
    with pytest.raises(ConfigError, match="cannot be overridden"):
        overrides.save(cfg, "gate", "relay", {})
    new = overrides.save(cfg, "motion", "roi", {"x1": 0.1, "y1": 0.3, "x2": 0.9, "y2": 0.95})
    assert new.motion.roi == Roi(x1=0.1, y1=0.3, x2=0.9, y2=0.95) and new.motion.threshold == cfg.motion.threshold
    again = overrides.apply(cfg)  # what a restart or a reload does
    assert again.motion.roi == new.motion.roi
    overrides.overrides_path(cfg).write_text(json.dumps({"gate": {"relay": {"pin": 4}}}))
    with pytest.raises(ConfigError, match=r"overrides\.json: gate\.relay: cannot be overridden"):
        overrides.apply(cfg)
    overrides.overrides_path(cfg).write_text("{not json")
    with pytest.raises(ConfigError, match="cannot read overrides"):
        overrides.apply(cfg)


def test_motion_detector_follows_a_changed_roi():
    det = MotionDetector(MotionConfig(roi=Roi(x1=0.0, y1=0.0, x2=0.5, y2=1.0), cooldown_s=0, blur=0))
    still = np.full((120, 160), 50, np.uint8)
    moved = still.copy()
    moved[:, 100:] = 250  # change only in the right half
    det.update(still, 0.0)
    assert not det.update(moved, 1.0).triggered  # outside the ROI
    det.cfg = MotionConfig(roi=Roi(x1=0.5, y1=0.0, x2=1.0, y2=1.0), cooldown_s=0, blur=0)
    det.update(still, 2.0)  # the new ROI resets the background
    assert det.update(moved, 3.0).triggered
