"""A full state disk: decisions and relay opens go on, the journal keeps the events, and
every journaled event reaches the broker once there is room again, restart or not.

The state lives on a small tmpfs mounted for the test (root only; skipped otherwise)."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from gpiozero.pins.mock import MockFactory

from plategate.access.entry import make_entry
from plategate.config import parse_config
from plategate.pipeline import BurstResult
from plategate.service import Service
from plategate.types import PlateRead
from tests.cli_support import write_frames
from tests.mqtt_helpers import Recorder

EVENT_TOPIC = "plategate/estate/north/event"


@pytest.fixture
def small_disk(tmp_path):
    """A 3 MB tmpfs; yields its path and unmounts it."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(disk: Path) -> Path:
    """Fill *disk* to the last byte; returns the filler file."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as fh:  # unbuffered: nothing is left to write when it closes
        chunk = b"\0" * 65536
        try:
            while True:
                fh.write(chunk)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    with contextlib.suppress(OSError), (disk / "filler2").open("wb", buffering=0) as fh:
        while True:
            fh.write(b"\0" * 512)
            fh.flush()
    return filler


def make_service(tmp: Path, disk: Path, port: int, **paths) -> Service:
    frames = write_frames(tmp / "frames", moving=False)
    data = {
        "site_id": "estate", "gate_id": "north", "state_dir": str(disk / "state"),
        "camera": {"backend": "replay", "source": str(frames), "width": 320, "height": 240, "lores_width": 160,
                   "lores_height": 120, "fps": 5, "loop": True},
        "motion": {"enabled": False},
        "access": {"holdoff_s": 0},
        "gate": {"pin_factory": "mock", "relay": {"pulse_ms": 50}},
        "journal": {"min_free_mb": 0, **paths.get("journal", {})},
        "control": {"socket": str(tmp / "c.sock"), "group": ""},
        "mqtt": {"enabled": True, "host": "127.0.0.1", "port": port, "reconnect_min_s": 0.1, "reconnect_max_s": 0.5,
                 **paths.get("mqtt", {})},
    }
    return Service(parse_config(data), pin_factory=MockFactory(), ready_wait_s=5)


def decide(service: Service, plate: str) -> dict:
    """One voted read through the real gatekeeper: policy, relay, journal, outbox."""
    read = PlateRead(plate, 0.97, ((plate, 0.97),), (10, 10, 60, 30))
    crop = np.full((20, 50, 3), 200, np.uint8)
    now = time.monotonic()
    return service.keeper.handle(BurstResult(1, "test", read, [read], 1, now, now, crop, None))


def published_plates(rec: Recorder) -> list[str]:
    return [e["plate"] for e in rec.json_on(EVENT_TOPIC)]


@pytest.mark.mosquitto
def test_events_decided_on_a_full_disk_are_published_when_room_returns(tmp_path, small_disk, mosquitto):
    host, port = mosquitto
    rec = Recorder(host, port, [EVENT_TOPIC])
    service = make_service(tmp_path, small_disk, port)
    service.start()
    try:
        service.store.add(make_entry("GOOD001", "resident"))
        assert service.bridge.wait_connected(10)
        filler = fill(small_disk)
        plates = ["GOOD001" if i % 2 == 0 else f"FULL{i:03d}" for i in range(19)]
        events = [decide(service, p) for p in plates]
        # decisions and relay opens went on
        assert sum(e["opened"] for e in events) == 10 and service.gate.opens == 10
        time.sleep(1.0)
        assert len(published_plates(rec)) < len(plates)  # the outbox could not take them all
        assert service.journal.flush() + len(service.journal.unqueued(100)) > 0
        filler.unlink()
        (small_disk / "filler2").unlink(missing_ok=True)
        service.run(duration=6)  # the supervisor retries the journal and refills the outbox
        assert rec.wait_for(lambda m: len({e["id"] for e in rec.json_on(EVENT_TOPIC)}) >= len(plates), 20)
    finally:
        service.stop()
        rec.close()
    ids = {e["id"] for e in rec.json_on(EVENT_TOPIC)}
    assert ids == {e["id"] for e in events}


@pytest.mark.mosquitto
def test_events_the_full_outbox_missed_are_published_after_a_restart(tmp_path, small_disk, mosquitto):
    host, port = mosquitto
    rec = Recorder(host, port, [EVENT_TOPIC])
    journal_dir = tmp_path / "journal"  # the journal on another disk, the outbox on the full one
    paths = {"journal": {"database": str(journal_dir / "journal.db"), "snapshot_dir": str(journal_dir / "snaps")}}
    service = make_service(tmp_path, small_disk, port, **paths)
    service.start()
    try:
        assert service.bridge.wait_connected(10)
        filler = fill(small_disk)
        events = [decide(service, f"LOST{i:03d}") for i in range(19)]
        assert len(service.journal.unqueued(100)) == 19
        time.sleep(1.0)
        assert published_plates(rec) == []
    finally:
        service.stop()
    filler.unlink()
    (small_disk / "filler2").unlink(missing_ok=True)
    service = make_service(tmp_path, small_disk, port, **paths)
    service.start()
    try:
        assert rec.wait_for(lambda m: len(rec.json_on(EVENT_TOPIC)) >= 19, 20)
        assert service.journal.unqueued(100) == []
    finally:
        service.stop()
        rec.close()
    got = rec.json_on(EVENT_TOPIC)
    assert {e["id"] for e in got} == {e["id"] for e in events}
    assert all(e["decision"] == "denied" for e in got)
