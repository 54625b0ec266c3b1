"""Lanes: direction of travel, the lane's rules in the policy, presence shared by the lanes,
named instances (plategated -i / platectl -i) and the plategate@.service template."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import pytest
from gpiozero.pins.mock import MockFactory

from plategate import instance
from plategate.access.entry import make_entry
from plategate.access.lane import LanePolicy, PresenceStore, build_lane_policy
from plategate.access.policy import AccessPolicy
from plategate.access.store import AllowlistStore
from plategate.config import parse_config
from plategate.direction import Direction, size_change, travel_direction, vertical_shift
from plategate.errors import ConfigError
from plategate.service import Service
from plategate.service import main as plategated
from plategate.types import PlateRead
from tools import make_demo

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "systemd" / "plategate@.service"
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def reads(*sizes: float, text: str = "AB123CD") -> list[PlateRead]:
    """Reads whose plate boxes have these widths (height = width / 4), centred."""
    return [PlateRead(text, 0.95, box=(640 - w / 2, 400, 640 + w / 2, 400 + w / 4)) for w in sizes]


# Direction ------------------------------------------------------------------------------
def test_direction_from_plate_size_over_the_burst():
    assert travel_direction(reads(100, 110, 121)) is Direction.APPROACHING
    assert travel_direction(reads(121, 110, 100)) is Direction.LEAVING
    assert travel_direction(reads(100, 101, 100)) is Direction.UNKNOWN  # parked at the barrier
    assert travel_direction(reads(100)) is Direction.UNKNOWN  # one frame: nothing to compare
    assert travel_direction([PlateRead("AB1", 0.9), PlateRead("AB1", 0.9)]) is Direction.UNKNOWN  # no boxes
    assert size_change([100.0, 0.0, 400.0]) == pytest.approx(4.0)
    # A noisy middle frame does not flip the fitted trend.
    assert travel_direction(reads(100, 140, 118, 125)) is Direction.APPROACHING
    # Another car's plate in the picture is left out when the voted plate has two reads of its own.
    mixed = reads(100, 120, text="AB123CD") + reads(300, text="ZZ999ZZ")
    assert travel_direction(mixed, "AB123CD") is Direction.APPROACHING
    assert travel_direction(reads(100, 112), min_change=0.3) is Direction.UNKNOWN


def test_direction_from_vertical_movement_when_the_size_barely_changes():
    """Near the barrier a slow car's plate keeps its size; it moves down the picture approaching
    (camera above the lane), up leaving."""
    def at(*ys: float) -> list[PlateRead]:
        return [PlateRead("AB123CD", 0.9, box=(600, y, 760, y + 40)) for y in ys]

    assert vertical_shift([r.box for r in at(500, 480, 460)]) == pytest.approx(-1.0)
    assert travel_direction(at(500, 480, 460)) is Direction.LEAVING
    assert travel_direction(at(460, 480, 500)) is Direction.APPROACHING
    assert travel_direction(at(460, 480, 500), approach_moves="up") is Direction.LEAVING
    assert travel_direction(at(460, 480, 500), approach_moves="none") is Direction.UNKNOWN
    assert travel_direction(at(500, 495, 490)) is Direction.UNKNOWN  # a quarter plate height: not enough
    # Cues that contradict each other (growing while moving up under a camera above the lane) give no answer.
    growing_up = [PlateRead("AB1", 0.9, box=(600, 500 - 30 * i, 700 + 30 * i, 540 - 30 * i)) for i in range(3)]
    assert travel_direction(growing_up) is Direction.UNKNOWN
    assert travel_direction(growing_up, approach_moves="none") is Direction.APPROACHING
    assert travel_direction(growing_up, approach_moves="up") is Direction.APPROACHING


# The lane's rules -------------------------------------------------------------------------
@pytest.fixture
def store(tmp_path):
    s = AllowlistStore(tmp_path / "access.db")
    s.replace_all([make_entry("AB123CD", "resident"), make_entry("ZZ999ZZ", "banned", kind="block")])
    yield s
    s.close()


def lane(store, tmp_path, name="lane", **lane_cfg) -> LanePolicy:
    cfg = parse_config({"access": {"holdoff_s": 30}, "lane": lane_cfg})
    return build_lane_policy(AccessPolicy(store, cfg.access), cfg.lane, name)


def read(text: str, conf: float = 0.97) -> PlateRead:
    return PlateRead(text, conf)


def test_listed_is_the_plain_allowlist_in_every_direction(store, tmp_path):
    policy = lane(store, tmp_path)
    assert not policy.needs_direction
    for d in Direction:
        granted = policy.decide(read("AB123CD"), d, NOW)
        assert granted.reason in ("exact_match", "holdoff") and granted.detail["direction"] == d.value
        assert policy.decide(read("XY999AA"), d, NOW).reason == "not_listed"


def test_none_refuses_a_direction_and_any_opens_for_all_but_the_blocklist(store, tmp_path):
    policy = lane(store, tmp_path, approaching="none", leaving="any")
    assert policy.needs_direction
    refused = policy.decide(read("AB123CD"), Direction.APPROACHING, NOW)
    assert (refused.kind, refused.reason, refused.open_gate) == ("denied", "direction_not_allowed", False)
    assert refused.detail["allowlist_reason"] == "exact_match" and refused.detail["lane_rule"] == "none"
    visitor = policy.decide(read("XY999AA"), Direction.LEAVING, NOW)
    assert (visitor.kind, visitor.reason, visitor.open_gate) == ("granted", "lane_any", True)
    again = policy.decide(read("XY999AA"), Direction.LEAVING, NOW)
    assert (again.reason, again.open_gate) == ("holdoff", False)
    banned = policy.decide(read("ZZ999ZZ"), Direction.LEAVING, NOW)
    assert (banned.kind, banned.reason, banned.open_gate) == ("denied", "blocklisted", False)
    unsure = policy.decide(read("QQ111QQ", 0.3), Direction.LEAVING, NOW)
    assert unsure.kind == "unknown" and not unsure.open_gate
    assert policy.decide(read("XY999AA"), Direction.UNKNOWN, NOW).reason == "not_listed"


def test_exit_opens_for_cars_seen_entering(store, tmp_path):
    """Two lanes of a box share the presence file: the entry lets visitors in and records them,
    the exit lets out what came in (and listed cars), once."""
    shared = tmp_path / "shared" / "presence.db"
    entry = lane(store, tmp_path, "entry", approaching="any", leaving="none", presence="enter", presence_db=str(shared))
    exit_ = lane(store, tmp_path, "exit", approaching="none", leaving="seen", unknown="seen", presence="exit",
                 presence_db=str(shared))
    try:
        never_came_in = exit_.decide(read("VIS1T0R"), Direction.LEAVING, NOW)
        assert (never_came_in.kind, never_came_in.reason) == ("denied", "not_seen_entering")
        assert entry.decide(read("VIS1T0R"), Direction.APPROACHING, NOW).open_gate
        assert [p["plate"] for p in entry.presence.inside()] == ["VIS1T0R"]
        out = exit_.decide(read("VIS1T0R"), Direction.LEAVING, NOW)
        assert (out.kind, out.reason, out.open_gate) == ("granted", "seen_entering", True)
        assert out.detail["seen"]["lane"] == "entry"
        assert entry.presence.inside() == []  # recorded gone
        assert exit_.decide(read("VIS1T0R"), Direction.LEAVING, NOW).reason == "not_seen_entering"
        assert exit_.decide(read("AB123CD"), Direction.LEAVING, NOW).reason == "exact_match"
        assert exit_.decide(read("ZZ999ZZ"), Direction.LEAVING, NOW).reason == "blocklisted"
    finally:
        entry.close()
        exit_.close()


def test_presence_expires(tmp_path):
    store = PresenceStore(tmp_path / "p.db")
    try:
        store.enter("AB1", "entry", now=1000.0)
        assert store.seen("AB1", 3600, now=2000.0) == {"lane": "entry", "since": 1000.0}
        assert store.seen("AB1", 3600, now=1000.0 + 3601) is None
        assert store.leave("AB1") and not store.leave("AB1")
    finally:
        store.close()


def test_lane_config_errors():
    with pytest.raises(ConfigError, match=r"lane\.presence_db: required when presence is set"):
        parse_config({"lane": {"leaving": "seen"}})
    with pytest.raises(ConfigError, match=r"lane\.approaching: must be 'listed', 'any', 'seen' or 'none'"):
        parse_config({"lane": {"approaching": "always"}})


# Instances --------------------------------------------------------------------------------
@pytest.fixture
def lanes_root(tmp_path, monkeypatch):
    """/etc/plategate, /var/lib/plategate and /run/plategate moved below tmp_path."""
    etc = tmp_path / "etc"
    etc.mkdir()
    monkeypatch.setenv(instance.CONFIG_DIR_ENV, str(etc))
    monkeypatch.setattr(instance, "STATE_ROOT", tmp_path / "var")
    monkeypatch.setattr(instance, "RUN_ROOT", tmp_path / "run")
    return tmp_path


def test_instance_defaults_and_overrides(lanes_root):
    etc = lanes_root / "etc"
    (etc / "entry.toml").write_text('site_id = "oak"\n')
    (etc / "exit.toml").write_text('site_id = "oak"\ngate_id = "out-1"\nstate_dir = "/srv/exit"\n'
                                   '[control]\nsocket = "/srv/exit.sock"\n')
    entry = instance.load_instance("entry")
    assert (entry.gate_id, entry.state_dir) == ("entry", lanes_root / "var" / "entry")
    assert entry.control.socket == lanes_root / "run" / "entry" / "control.sock"
    assert entry.outbox_db() == lanes_root / "var" / "entry" / "outbox.db"
    exit_ = instance.load_instance("exit")  # what the file says wins
    assert (exit_.gate_id, str(exit_.state_dir), str(exit_.control.socket)) == ("out-1", "/srv/exit", "/srv/exit.sock")
    for bad in ("../etc/passwd", "", "a b", "x.toml"):
        with pytest.raises(ConfigError, match="instance name"):
            instance.instance_config_path(bad)
    with pytest.raises(ConfigError, match=r"missing\.toml: cannot read config file"):
        instance.load_instance("missing")


def test_plategated_check_config_for_an_instance(lanes_root, capsys):
    (lanes_root / "etc" / "entry.toml").write_text("[camera]\nfps = 0\n")
    assert plategated(["--instance", "entry", "--check-config"]) == 2
    err = capsys.readouterr().err
    assert "entry.toml: invalid configuration" in err and "camera.fps: must be greater than 0" in err
    assert plategated(["-i", "../x", "--check-config"]) == 2
    assert "instance name '../x'" in capsys.readouterr().err


def approach_footage(out: Path, vehicle: make_demo.Vehicle, reverse: bool = False) -> Path:
    """Empty scene, then the vehicle driving up to the barrier (or, reversed, driving away)."""
    rng = np.random.default_rng(11)
    out.mkdir(parents=True)
    plate_img, _ = make_demo.render_plate(vehicle.plate, vehicle.style, rng, height=96)
    bg = make_demo.background(vehicle.night, rng)
    frames = make_demo.vehicle_frames(vehicle, plate_img, bg, 10.0, rng)[:25]
    frames = [bg] * 10 + (frames[::-1] if reverse else frames) + [bg] * 5
    for i, frame in enumerate(frames):
        cv2.imwrite(str(out / f"frame_{i:05d}.jpg"), frame, [cv2.IMWRITE_JPEG_QUALITY, 90])
    return out


LANE_TOML = """site_id = "oak"
[camera]
backend = "replay"
source = "{footage}"
fps = 20
[motion]
roi = {{ x1 = 0.15, y1 = 0.2, x2 = 0.85, y2 = 1.0 }}
burst_frames = 5
burst_interval_ms = 40
[access]
allowlist_file = "{allowlist}"
[gate]
pin_factory = "mock"
relay = {{ pin = {pin}, pulse_ms = 200 }}
[control]
group = ""
[lane]
{lane}
presence_db = "{shared}"
"""


def test_a_lane_reloads_with_its_own_paths_and_refuses_a_lane_change(lanes_root):
    """A reload re-reads the lane's file as the lane's (state folder, socket, gate id stay its own):
    [access] is applied, a change of [lane] needs a restart."""
    visitor = next(v for v in make_demo.VEHICLES if v.plate == "KX934PL")
    path = lanes_root / "etc" / "entry.toml"
    path.write_text(LANE_TOML.format(footage=approach_footage(lanes_root / "in", visitor), pin=17,
                                     allowlist=make_demo.ALLOWLIST, lane='approaching = "any"',
                                     shared=lanes_root / "var" / "shared" / "presence.db"))
    service = Service(instance.load_instance("entry"), path, pin_factory=MockFactory(), instance="entry")
    service.start()
    try:
        path.write_text(path.read_text().replace("[access]\n", "[access]\nholdoff_s = 5.0\n"))
        report = service.reload()
        assert (report.refused, report.applied) == ([], ["access"]), report.errors
        assert service.cfg.access.holdoff_s == 5.0
        assert (service.cfg.gate_id, service.cfg.state_dir) == ("entry", lanes_root / "var" / "entry")
        path.write_text(path.read_text().replace('approaching = "any"', 'approaching = "none"'))
        report = service.reload()
        assert report.refused == ["lane"] and service.cfg.lane.approaching == "any"
    finally:
        service.stop()


@pytest.mark.slow
def test_two_lanes_on_rendered_footage(lanes_root, capsys):
    """An entry lane lets a visitor in (approaching) and records it; the exit lane, seeing the car drive
    away, lets it out because it was seen entering; events carry the direction; platectl -i picks the lane."""
    from plategate.cli.main import main as platectl

    visitor = next(v for v in make_demo.VEHICLES if v.plate == "KX934PL")  # not on the demo allowlist
    etc, shared = lanes_root / "etc", lanes_root / "var" / "shared" / "presence.db"
    lanes = {
        "entry": ('approaching = "any"\nleaving = "none"\npresence = "enter"',
                  approach_footage(lanes_root / "in", visitor), 17),
        "exit": ('approaching = "none"\nleaving = "seen"\nunknown = "seen"\npresence = "exit"',
                 approach_footage(lanes_root / "out", visitor, reverse=True), 18),
    }
    events = {}
    for name, (rules, footage, pin) in lanes.items():
        (etc / f"{name}.toml").write_text(LANE_TOML.format(footage=footage, allowlist=make_demo.ALLOWLIST, pin=pin,
                                                           lane=rules, shared=shared))
        cfg = instance.load_instance(name)
        factory = MockFactory()
        service = Service(cfg, etc / f"{name}.toml", pin_factory=factory, instance=name)
        service.start()
        try:
            assert platectl(["-i", name, "status", "--json"]) == 0
            status = json.loads(capsys.readouterr().out)
            assert status["gate_id"] == name and status["state"] == "running"
            assert service.run(duration=60) == 0
            time.sleep(0.3)
            assert platectl(["-i", name, "events", "tail", "--json"]) == 0
            events[name] = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
            rows = service.journal.recent(50)
            opened_high = [st for st in factory.pin(pin).states if st.state]
        finally:
            service.stop()
        assert (lanes_root / "var" / name / "journal.db").exists()
        read_rows = [r for r in rows if r["plate"] == "KX934PL"]
        assert read_rows, [(r["plate"], r["reason"]) for r in rows]
        directions = {r["extra"]["direction"] for r in read_rows}
        assert {e["direction"] for e in events[name] if e["plate"] == "KX934PL"} == directions  # platectl shows it
        opened = [r for r in read_rows if r["opened"]]
        if name == "entry":
            assert "approaching" in directions, directions
            assert opened and opened[0]["reason"] == "lane_any"
        else:
            assert "leaving" in directions, directions
            assert opened and opened[0]["reason"] == "seen_entering"
        assert opened_high  # the lane's own relay pin went high
    assert [p["plate"] for p in PresenceStore(shared).inside()] == []


def test_template_unit_matches_the_single_unit():
    """plategate@.service is plategate.service with per-instance paths: the hardening cannot drift apart."""
    single = (ROOT / "systemd" / "plategate.service").read_text().splitlines()
    template = TEMPLATE.read_text().splitlines()
    body = [line for line in template if not line.startswith("#")]
    expected = [line for line in single if not line.startswith("#")]
    swaps = {
        "Description=plategate ANPR gate controller": "Description=plategate ANPR gate controller, lane %i",
        "ExecStart=/opt/plategate/venv/bin/plategated --config /etc/plategate/plategate.toml":
            "ExecStart=/opt/plategate/venv/bin/plategated --instance %i",
        "ExecStopPost=-/opt/plategate/venv/bin/plategated --config /etc/plategate/plategate.toml --relay-off":
            "ExecStopPost=-/opt/plategate/venv/bin/plategated --instance %i --relay-off",
        "StateDirectory=plategate": "StateDirectory=plategate/%i plategate/shared",
        "RuntimeDirectory=plategate": "RuntimeDirectory=plategate/%i",
    }
    assert body == [swaps.get(line, line) for line in expected]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_template_instance_verifies_and_is_hardened(tmp_path):
    fake = tmp_path / "venv" / "bin" / "plategated"
    fake.parent.mkdir(parents=True)
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    text = TEMPLATE.read_text().replace("/opt/plategate/venv", str(tmp_path / "venv"))
    (tmp_path / "plategate@.service").write_text(text)
    unit = tmp_path / "plategate@entry.service"
    unit.write_text(text)
    proc = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    out = (proc.stdout + proc.stderr).strip()
    if "Failed to connect to bus" in out or "Failed to initialize manager" in out:
        pytest.skip(f"systemd-analyze verify cannot run here: {out.splitlines()[0]}")
    assert proc.returncode == 0 and out == "", out
    proc = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--threshold=25", str(unit)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "Overall exposure level for plategate@entry.service: 1." in proc.stdout, \
        proc.stdout[-1500:]


def test_an_early_decision_takes_the_direction_from_the_plates_previous_burst(tmp_path, store):
    """A burst decided after one frame has one box; the same plate's burst a second before supplies
    the movement. A burst too long ago does not."""
    from plategate.config import JournalConfig, RelayConfig
    from plategate.gate import GateController, create_relay
    from plategate.gatekeeper import GateKeeper
    from plategate.journal import Journal
    from plategate.pipeline import BurstResult

    factory = MockFactory()
    relay = create_relay(RelayConfig(pin=17, pulse_ms=50), factory)
    gate = GateController(relay, RelayConfig(pin=17, pulse_ms=50))
    journal = Journal(tmp_path / "j.db", tmp_path / "snaps", JournalConfig(snapshots=False))
    keeper = GateKeeper(lane(store, tmp_path), gate, journal)

    def burst(n: int, t: float, *ys: float, text: str = "XY999AA") -> dict:
        reads = [PlateRead(text, 0.97, box=(600, y, 700, y + 25)) for y in ys]
        return keeper.handle(BurstResult(n, "motion", reads[-1], reads, len(reads), t, t + 0.1))

    try:
        assert burst(1, 100.0, 300)["direction"] == "unknown"  # one box, no history
        assert burst(2, 101.0, 330)["direction"] == "approaching"  # 300 -> 330: moved down
        assert burst(3, 102.0, 310)["direction"] == "leaving"
        assert burst(4, 110.0, 400)["direction"] == "unknown"  # the last burst is 8 s old
        assert burst(5, 111.0, 430, text="OTHER1")["direction"] == "unknown"  # another plate's history is not used
        stored = journal.recent(10)
        assert [e["direction"] for e in reversed(stored)] == ["unknown", "approaching", "leaving", "unknown",
                                                              "unknown"]
    finally:
        gate.close()
        journal.close()
