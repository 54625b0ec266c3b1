"""Every opening is journaled and published with who asked and why: control-socket opens,
platectl test-relay (through the daemon or directly), remote commands; a refused command's
result names it, and the site tool's --wait exits non-zero on a refusal."""

from __future__ import annotations

import json
import os
import pwd
import shutil

import pytest

from plategate.cli.main import main as platectl
from plategate.config import load_config
from plategate.journal import Journal
from plategate.mqtt.signing import generate_private_key, private_key_pem, public_key_b64
from tests.cli_support import short_dir, write_frames
from tests.daemon_process import DaemonProcess, daemon_config
from tests.mqtt_helpers import Recorder
from tools import allowlist_publish

BASE = "plategate/estate/north"
ME = pwd.getpwuid(os.getuid()).pw_name


@pytest.fixture
def root():
    path = short_dir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.mosquitto
def test_openings_on_request_are_journaled_and_published(root, mosquitto, capsys):
    host, port = mosquitto
    key = generate_private_key()
    (root / "site.key").write_bytes(private_key_pem(key))
    frames = write_frames(root / "frames", moving=False)
    cfg = root / "p.toml"
    cfg.write_text(daemon_config(root, frames, f'enabled = true\nhost = "{host}"\nport = {port}\n'
                                               f'reconnect_min_s = 0.1\nreconnect_max_s = 0.5\n'
                                               f'site_public_keys = ["{public_key_b64(key.public_key())}"]\n'))
    sock = root / "control.sock"
    rec = Recorder(host, port, [f"{BASE}/event", f"{BASE}/cmd/result"])
    daemon = DaemonProcess(cfg)
    try:
        daemon.wait_ready(sock)
        client = daemon.client(sock)
        # a manual open through the control socket (the web console passes its user's name)
        reply = client.call("open", user="alice", reason="delivery van at the gate")
        assert reply["opened"] and reply["event"]
        # platectl test-relay through the daemon
        assert platectl(["--config", str(cfg), "test-relay", "--pulse", "60", "--confirm"]) == 0
        out = capsys.readouterr().out
        assert "by plategated on MOCK pins" in out and "relay_test" in out
        assert rec.wait_for(lambda m: len(rec.json_on(f"{BASE}/event")) >= 2, 10)
        manual, test = rec.json_on(f"{BASE}/event")[:2]
        assert manual["id"] == reply["event"] and manual["reason"] == "manual_open" and manual["opened"]
        assert manual["decision"] == "granted" and manual["note"] == "delivery van at the gate"
        assert manual["requested_by"].startswith(f"alice via control socket, {ME} (uid {os.getuid()}")
        assert test["reason"] == "relay_test" and test["note"] == "test pulse of 60 ms"
        assert test["requested_by"].startswith(f"control socket, {ME}")
        journal = {e["id"]: e for e in client.call("events")}
        assert journal[manual["id"]]["extra"]["requested_by"] == manual["requested_by"]
        # the site tool: a command the gate refuses exits 1, an accepted one 0
        net = ["--host", host, "--port", str(port), "--publish", "--wait", "10"]
        other = generate_private_key()
        (root / "other.key").write_bytes(private_key_pem(other))
        common = ["--site", "estate", "--gate", "north"]
        assert allowlist_publish.main(["command", "--key", str(root / "other.key"), *common, "open", *net]) == 1
        refused = json.loads(capsys.readouterr().out)
        assert refused["ok"] is False and refused["cmd"] == "open" and refused["nonce"]
        assert allowlist_publish.main(["command", "--key", str(root / "site.key"), *common, "open",
                                       "--arg", "reason=night shift", *net]) == 0
        assert json.loads(capsys.readouterr().out)["ok"] is True
        assert rec.wait_for(lambda m: len(rec.json_on(f"{BASE}/event")) >= 3, 10)
        remote = rec.json_on(f"{BASE}/event")[2]
        assert remote["reason"] == "remote_command" and remote["note"] == "night shift"
        assert "signed by key" in remote["requested_by"]
    finally:
        assert daemon.stop() == 0
    # with the daemon stopped, test-relay pulses directly and journals it; the daemon publishes it later
    assert platectl(["--config", str(cfg), "test-relay", "--pulse", "60", "--confirm", "--json"]) == 0
    direct = json.loads(capsys.readouterr().out)
    assert direct["via"] == "direct" and direct["mock"] is True and direct["event"]
    conf = load_config(cfg)
    journal = Journal(conf.journal_db(), conf.snapshot_dir(), conf.journal)
    try:
        row = journal.get(direct["event"])
    finally:
        journal.close()
    assert row["reason"] == "relay_test" and row["extra"]["requested_by"].startswith("platectl test-relay")
    daemon = DaemonProcess(cfg)
    try:
        daemon.wait_ready(sock)
        assert rec.wait_for(lambda m: any(e["id"] == direct["event"] for e in rec.json_on(f"{BASE}/event")), 10)
    finally:
        assert daemon.stop() == 0
        rec.close()
