"""MqttBridge against a real mosquitto: events through the outbox, broker outages, kill -9,
status and last will, allowlist sync and commands over the broker, Home Assistant discovery."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time

import pytest

from plategate.access.entry import content_hash, make_entry
from plategate.access.store import AllowlistStore
from plategate.mqtt.bridge import MqttBridge
from plategate.mqtt.outbox import Outbox
from tests.brokers import Mosquitto, find_mosquitto
from tests.mqtt_helpers import Recorder, make_config, publish, site_key, wait_until
from tools.allowlist_publish import build_command, build_delta, build_snapshot

pytestmark = pytest.mark.mosquitto
EVENT = "plategate/estate/north/event"
STATUS = "plategate/estate/north/status"


@pytest.fixture
def key():
    return site_key()


@pytest.fixture
def bridge_factory(tmp_path, key):
    made = []

    def make(port, **mqtt):
        cfg = make_config(tmp_path, port, key, **mqtt)
        store = AllowlistStore(cfg.access_db())
        bridge = MqttBridge(cfg, store)
        made.append((bridge, store))
        return bridge, store

    yield make
    for bridge, store in made:
        bridge.stop()
        store.close()


def event_ids(rec: Recorder) -> list[str]:
    return [e["id"] for e in rec.json_on(EVENT)]


def dedup(ids: list[str]) -> list[str]:
    seen, out = set(), []
    for i in ids:
        if i not in seen:
            seen.add(i)
            out.append(i)
    return out


def test_events_and_snapshots_are_delivered_in_order(mosquitto, bridge_factory):
    host, port = mosquitto
    rec = Recorder(host, port, ["plategate/estate/north/#"])
    bridge, _ = bridge_factory(port)
    bridge.start()
    assert bridge.wait_connected(10)
    jpeg = b"\xff\xd8fakejpeg\xff\xd9"
    ids = [bridge.publish_event({"plate": f"AB{i}", "decision": "granted"}, snapshot=jpeg if i % 2 else None) for i in range(20)]
    assert rec.wait_for(lambda m: len([t for t, _ in m if t.startswith(EVENT)]) >= 30)
    assert event_ids(rec) == ids
    snaps = [t for t, p in rec.messages if t.endswith("/snapshot")]
    assert snaps == [f"{EVENT}/{i}/snapshot" for n, i in enumerate(ids) if n % 2]
    assert wait_until(lambda: bridge.outbox_depth() == 0)
    ev = rec.json_on(EVENT)[0]
    assert ev["site"] == "estate" and ev["gate"] == "north" and ev["time"].endswith("Z")
    rec.close()


def test_broker_outage_during_100_events_loses_nothing(mosquitto_broker, bridge_factory):
    broker = mosquitto_broker
    rec = Recorder(broker.host, broker.port, [EVENT], client_id="consumer-1", clean_session=False)
    bridge, _ = bridge_factory(broker.port)
    bridge.start()
    assert bridge.wait_connected(10)
    sent = []
    for i in range(30):
        sent.append(bridge.publish_event({"id": f"ev-{i:03d}", "n": i}))
    broker.stop()
    assert wait_until(lambda: not bridge.connected, 5)
    for i in range(30, 70):  # the daemon keeps deciding: publish_event returns at once
        t0 = time.monotonic()
        sent.append(bridge.publish_event({"id": f"ev-{i:03d}", "n": i}))
        assert time.monotonic() - t0 < 1.0
    assert bridge.outbox_depth() >= 40
    time.sleep(1.0)
    broker.start()
    for i in range(70, 100):
        sent.append(bridge.publish_event({"id": f"ev-{i:03d}", "n": i}))
    assert rec.wait_for(lambda m: len({json.loads(p)["id"] for _, p in m}) >= 100, 30), len(rec.messages)
    assert dedup(event_ids(rec)) == sent
    assert wait_until(lambda: bridge.outbox_depth() == 0, 10)
    rec.close()


def _write_toml(path, port, state_dir, key_b64):
    path.write_text(f"""
site_id = "estate"
gate_id = "north"
state_dir = "{state_dir}"
[mqtt]
enabled = true
host = "127.0.0.1"
port = {port}
keepalive = 5
reconnect_min_s = 0.1
reconnect_max_s = 0.5
site_public_keys = ["{key_b64}"]
""")


def test_kill_9_with_events_in_outbox_delivers_after_restart(tmp_path):
    if find_mosquitto() is None:
        pytest.skip("mosquitto not installed")
    from plategate.mqtt.signing import generate_private_key, public_key_b64

    broker = Mosquitto(tmp_path / "broker")  # port reserved, broker not running yet
    cfg = tmp_path / "gate.toml"
    _write_toml(cfg, broker.port, tmp_path / "state", public_key_b64(generate_private_key().public_key()))
    cmd = [sys.executable, "-m", "plategate.mqtt", "--config", str(cfg)]
    proc = subprocess.Popen(cmd + ["--events", "50", "--id-prefix", "k9"], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "queued 50"
        time.sleep(0.3)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        proc.stdout.close()
    box = Outbox(tmp_path / "state" / "outbox.db")
    assert box.depth() == 50
    box.close()
    broker.start()
    try:
        rec = Recorder(broker.host, broker.port, [EVENT])
        done = subprocess.run(cmd + ["--drain", "--timeout", "30"], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr[-2000:]
        assert rec.wait_for(lambda m: len(m) >= 50, 10)
        assert dedup(event_ids(rec)) == [f"k9-{i}" for i in range(50)]
        rec.close()
    finally:
        broker.stop()


def test_status_is_retained_and_last_will_marks_offline(tmp_path, mosquitto):
    host, port = mosquitto
    cfg = tmp_path / "gate.toml"
    from plategate.mqtt.signing import generate_private_key, public_key_b64

    _write_toml(cfg, port, tmp_path / "state", public_key_b64(generate_private_key().public_key()))
    proc = subprocess.Popen([sys.executable, "-m", "plategate.mqtt", "--config", str(cfg)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        rec = Recorder(host, port, [STATUS])
        assert rec.wait_for(lambda m: any(json.loads(p)["state"] == "online" for _, p in m), 10)
        os.kill(proc.pid, signal.SIGKILL)
        assert rec.wait_for(lambda m: json.loads(m[-1][1])["state"] == "offline", 10)
        rec.close()
    finally:
        proc.kill()
        proc.wait()
    late = Recorder(host, port, [STATUS])  # retained: a late subscriber sees "offline" at once
    assert late.wait_for(lambda m: m and json.loads(m[-1][1])["state"] == "offline", 5)
    late.close()


def test_set_status_publishes_retained_status(mosquitto, bridge_factory):
    host, port = mosquitto
    bridge, _ = bridge_factory(port)
    bridge.start()
    assert bridge.wait_connected(10)
    bridge.set_status({"health": {"camera": "ok"}, "version": "0.1.0"})
    rec = Recorder(host, port, [STATUS])
    assert rec.wait_for(lambda m: any(json.loads(p).get("health") == {"camera": "ok"} for _, p in m), 5)
    status = rec.json_on(STATUS)[-1]
    assert status["state"] == "online" and status["allowlist_version"] == 0 and "outbox_depth" in status
    rec.close()


def test_allowlist_sync_and_commands_over_the_broker(mosquitto, bridge_factory, key, caplog):
    host, port = mosquitto
    rec = Recorder(host, port, ["plategate/estate/north/#"])
    bridge, store = bridge_factory(port)
    applied = []
    bridge.on_allowlist_applied(applied.append)
    opened = []
    bridge.set_command_handler(lambda name, args, origin: opened.append(name) or {"opened": True})
    bridge.start()
    assert bridge.wait_connected(10)
    v1 = [make_entry("AB123CD", "Unit 1"), make_entry("XY99", "Unit 2")]
    v2 = v1[:1] + [make_entry("NEW1", "Unit 3")]
    publish(host, port, "plategate/estate/allowlist", build_snapshot(v1, "estate", 3, key), retain=True)
    assert wait_until(lambda: store.version == 3)
    publish(host, port, "plategate/estate/allowlist/delta", build_delta(v1, v2, "estate", 3, key))
    # the store moves to 4 a moment before the bridge's thread reports it: wait for both
    assert wait_until(lambda: store.version == 4 and len(applied) == 2)
    assert store.content_hash() == content_hash(v2) and [a["version"] for a in applied] == [3, 4]
    state_topic = "plategate/estate/north/allowlist/state"
    assert rec.wait_for(lambda m: any(t == state_topic and json.loads(p)["version"] == 4 for t, p in m))
    # A gap: delta 5->6 while at 4 -> the gate asks for a snapshot.
    publish(host, port, "plategate/estate/allowlist/delta", build_delta(v2, v1, "estate", 5, key))
    assert rec.wait_for(lambda m: any(t.endswith("allowlist/request") for t, _ in m))
    request = rec.json_on("plategate/estate/north/allowlist/request")[-1]
    assert request["have_version"] == 4 and request["have_hash"] == content_hash(v2)
    # Bad input on every inbound topic: refused, logged, daemon keeps running.
    with caplog.at_level(logging.WARNING):
        publish(host, port, "plategate/estate/allowlist/delta", b"{not json")
        publish(host, port, "plategate/estate/allowlist", build_snapshot(v1, "estate", 1, key), retain=True)
        publish(host, port, "plategate/estate/north/cmd", json.dumps({"cmd": "open"}).encode())
        assert wait_until(lambda: "stale snapshot" in caplog.text and "unsigned" in caplog.text, 5), caplog.text
    assert "not valid JSON" in caplog.text
    assert store.version == 4 and opened == []
    publish(host, port, "plategate/estate/north/cmd", build_command("open", "estate", "north", key))
    assert rec.wait_for(lambda m: any(t.endswith("cmd/result") and json.loads(p)["ok"] for t, p in m))
    assert opened == ["open"]
    results = rec.json_on("plategate/estate/north/cmd/result")
    assert not results[0]["ok"] and "unsigned" in results[0]["error"]
    bridge.publish_event({"id": "still-alive"})
    assert rec.wait_for(lambda m: any(t == EVENT and json.loads(p)["id"] == "still-alive" for t, p in m))
    rec.close()


def test_home_assistant_discovery(mosquitto, bridge_factory):
    host, port = mosquitto
    rec = Recorder(host, port, ["homeassistant/#"])
    bridge, _ = bridge_factory(port, homeassistant=True)
    bridge.start()
    assert rec.wait_for(lambda m: len(m) >= 5, 10)
    configs = {t: p for t, p in rec.messages}
    node = "plategate_estate_north"
    plate = json.loads(configs[f"homeassistant/sensor/{node}/last_plate/config"])
    assert plate["state_topic"] == EVENT and "plate" in plate["value_template"]
    assert plate["availability_topic"] == STATUS
    assert json.loads(configs[f"homeassistant/sensor/{node}/last_decision/config"])["unique_id"] == f"{node}_last_decision"
    assert configs[f"homeassistant/button/{node}/open/config"] == b""  # signed commands required: no button
    rec.close()


def test_home_assistant_open_button_on_trusted_broker(mosquitto, bridge_factory):
    host, port = mosquitto
    rec = Recorder(host, port, ["homeassistant/#", "plategate/estate/north/cmd/result"])
    bridge, _ = bridge_factory(port, homeassistant=True, allow_unsigned_commands=True)
    opened = []
    bridge.set_command_handler(lambda name, args, origin: opened.append((name, args)) or {})
    bridge.start()
    button_topic = "homeassistant/button/plategate_estate_north/open/config"
    assert rec.wait_for(lambda m: any(t == button_topic and p for t, p in m), 10)
    button = json.loads(dict(rec.messages)[button_topic])
    publish(host, port, button["command_topic"], button["payload_press"].encode())  # what HA sends on a press
    assert wait_until(lambda: opened, 5)
    assert opened == [("open", {"source": "homeassistant"})]
    rec.close()


def test_status_is_refreshed_periodically(mosquitto, bridge_factory):
    host, port = mosquitto
    bridge, _ = bridge_factory(port, status_interval_s=0.2)
    bridge.start()
    assert bridge.wait_connected(10)
    rec = Recorder(host, port, [STATUS])
    assert rec.wait_for(lambda m: len(m) >= 3, 5)  # retained copy + refreshes
    times = [s["time"] for s in rec.json_on(STATUS)]
    assert len(set(times)) >= 2
    rec.close()
