"""plategate-site against a real mosquitto: the master list CLI, signed snapshots and deltas applied
by a real gate bridge, answers to allowlist/request, events and status collected through a
persistent session (nothing lost while the site service is down), and the fleet report."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from plategate.access.store import AllowlistStore
from plategate.mqtt.bridge import MqttBridge
from plategate.site.cli import main as site_cli
from plategate.site.config import load_site_config
from plategate.site.service import SiteService
from tests.brokers import Mosquitto, find_mosquitto
from tests.mqtt_helpers import Recorder, make_config, publish, wait_until

needs_broker = pytest.mark.skipif(find_mosquitto() is None, reason="mosquitto not installed (tools/test.sh installs it)")

CSV = """plate,label,kind,valid_from,valid_until,windows
AB123CD,Flat 4,allow,,,
XY999ZZ,Barrier damage,block,,,
CL34NER,Cleaner,allow,,,Mon-Fri 07:00-12:00
"""


@pytest.fixture
def site(tmp_path, capsys):
    """A site config (key made with plategate-site keygen) for site 'estate'; yields (path, run-CLI)."""
    assert site_cli(["keygen", "--out", str(tmp_path / "site")]) == 0
    capsys.readouterr()
    conf = tmp_path / "site.toml"
    conf.write_text('site_id = "estate"\nkey_file = "site.key"\ndatabase = "state/site.db"\npublish_check_s = 0.2\n'
                    'request_min_interval_s = 0.5\n[mqtt]\nhost = "127.0.0.1"\nport = 1\nreconnect_min_s = 0.1\n'
                    'reconnect_max_s = 0.5\n')

    def cli(*args: str) -> tuple[int, str, str]:
        code = site_cli(["--config", str(conf), *args])
        out = capsys.readouterr()
        return code, out.out, out.err

    yield conf, cli


def set_port(conf: Path, port: int) -> None:
    conf.write_text(conf.read_text().replace("port = 1\n", f"port = {port}\n"))


def test_master_list_cli(tmp_path, site):
    conf, cli = site
    csv = tmp_path / "residents.csv"
    csv.write_text(CSV)
    code, out, _ = cli("import", str(csv))
    assert code == 0 and "3 added, 0 updated, 0 removed" in out
    assert cli("add", "ab-77 kl", "--label", "Visitor", "--until", "2030-12-31")[0] == 0
    code, _, err = cli("add", "AB77KL")
    assert code == 1 and err.strip() == "plategate-site: error: AB77KL is already on the list (edit it instead)"
    assert cli("edit", "AB77KL", "--label", "Visitor (Flat 2)", "--window", "Sat,Sun 09:00-18:00")[0] == 0
    code, _, err = cli("edit", "NOPE1")
    assert code == 1 and "nothing to change" in err
    code, _, err = cli("edit", "NOPE1", "--label", "x")
    assert code == 1 and "NOPE1 is not on the list" in err
    code, _, err = cli("add", "ZZ1", "--window", "Someday 25:00-26:00")
    assert code == 1 and "windows:" in err
    assert cli("remove", "CL34NER")[0] == 0
    code, _, err = cli("remove", "CL34NER")
    assert code == 1 and "CL34NER is not on the list" in err
    code, out, _ = cli("list", "--json")
    listed = json.loads(out)
    assert listed["published_version"] == 0 and listed["unpublished_changes"] is True
    assert {e["plate"]: (e["label"], e["kind"]) for e in listed["entries"]} == {
        "AB123CD": ("Flat 4", "allow"), "XY999ZZ": ("Barrier damage", "block"), "AB77KL": ("Visitor (Flat 2)", "allow")}
    assert next(e for e in listed["entries"] if e["plate"] == "AB77KL")["windows"] == ["Sat,Sun 09:00-18:00"]
    code, out, _ = cli("list")
    assert "AB77KL" in out and "3 entries; published version 0 (unpublished changes)" in out
    # A CSV with a bad line is refused whole, naming the file and line.
    bad = tmp_path / "bad.csv"
    bad.write_text("plate,label\nGOOD1,ok\n,no plate\n")
    code, _, err = cli("import", str(bad), "--replace")
    assert code == 1 and "bad.csv:3: plate:" in err
    code, out, _ = cli("import", str(csv), "--replace")
    assert "1 added, 2 updated, 1 removed" in out  # CL34NER back, AB77KL gone
    # Config errors name the key path.
    conf.write_text(conf.read_text() + "frobnicate = 1\n")
    code, _, err = cli("list")
    assert code == 1 and "frobnicate: unknown key" in err


@pytest.fixture
def broker(tmp_path):
    b = Mosquitto(tmp_path / "broker")
    b.start()
    yield b
    b.stop()


@pytest.fixture
def gates(tmp_path):
    """Real gate bridges for site 'estate' trusting the site's key."""
    made = []

    def make(name: str, port: int, key_file: Path) -> tuple[MqttBridge, AllowlistStore]:
        cfg = make_config(tmp_path / name, port, status_interval_s=0)
        pub = key_file.with_suffix(".pub").read_text().strip()
        cfg = cfg.model_copy(update={"gate_id": name, "mqtt": cfg.mqtt.model_copy(update={"site_public_keys": [pub]})})
        store = AllowlistStore(cfg.access_db())
        bridge = MqttBridge(cfg, store)
        made.append((bridge, store))
        bridge.start()
        assert bridge.wait_connected(10)
        return bridge, store

    yield make
    for bridge, store in made:
        bridge.stop()
        store.close()


@pytest.fixture
def services():
    made = []

    def make(conf: Path) -> SiteService:
        service = SiteService(load_site_config(conf))
        made.append(service)
        assert service.start(10)
        return service

    yield made, make
    for service in made:
        service.request_stop()
        try:
            service.stop()
        except Exception:
            pass


@pytest.mark.mosquitto
@needs_broker
def test_publish_sync_and_fleet_report(tmp_path, site, broker, gates, services):
    conf, cli = site
    set_port(conf, broker.port)
    csv = tmp_path / "residents.csv"
    csv.write_text(CSV)
    assert cli("import", str(csv))[0] == 0
    north, north_store = gates("north", broker.port, tmp_path / "site.key")
    _, make = services
    service = make(conf)
    runner = threading.Thread(target=service.run, kwargs={"duration": 30}, daemon=True)
    runner.start()
    # The service publishes version 1 by itself; the gate verifies and applies it.
    assert wait_until(lambda: north_store.version == 1, 10)
    assert {e.plate for e in north_store.entries()} == {"AB123CD", "XY999ZZ", "CL34NER"}
    # A change goes out as a signed delta (version 2) and the gate applies it.
    assert cli("add", "NEW1CAR", "--label", "Flat 9")[0] == 0
    assert wait_until(lambda: north_store.version == 2, 10)
    assert ("delta", 2) in service.published and north_store.get("NEW1CAR").label == "Flat 9"
    # The gate's state and events reach the site.
    north.publish_event({"id": "ev-1", "time": "2026-03-02T08:00:00Z", "plate": "NEW1CAR", "decision": "granted",
                         "reason": "exact_match", "direction": "approaching", "opened": True})
    assert wait_until(lambda: service.fleet.count() == 1, 10)
    assert wait_until(lambda: service.fleet.report(2, None, 60)[0]["allowlist_version"] == 2, 10)
    code, out, _ = cli("gates", "--json")
    report = json.loads(out)
    assert report["published_version"] == 2
    (row,) = report["gates"]
    assert row["gate"] == "north" and row["online"] and row["allowlist_current"]
    assert row["last_event"] == {"time": "2026-03-02T08:00:00Z", "plate": "NEW1CAR", "decision": "granted"}
    code, out, _ = cli("gates")
    assert "north" in out and "1/1 gates online; site list version 2; 0 behind" in out
    code, out, _ = cli("events", "--json")
    (event,) = [json.loads(line) for line in out.splitlines()]
    assert event["id"] == "ev-1" and event["gate"] == "north" and event["direction"] == "approaching"
    # The gate goes away: its last will marks it offline in the report.
    north.stop()
    assert wait_until(lambda: not service.fleet.report(2, None, 60)[0]["online"], 10)
    service.request_stop()
    runner.join(5)


@pytest.mark.mosquitto
@needs_broker
def test_answers_allowlist_requests(tmp_path, site, broker, services):
    conf, cli = site
    set_port(conf, broker.port)
    assert cli("add", "AB123CD")[0] == 0
    assert cli("publish")[0] == 0
    publish(broker.host, broker.port, "plategate/estate/allowlist", b"", retain=True)  # the retained copy is gone
    _, make = services
    service = make(conf)
    watcher = Recorder(broker.host, broker.port, ["plategate/estate/allowlist"])
    try:
        publish(broker.host, broker.port, "plategate/estate/south/allowlist/request",
                json.dumps({"reason": "gap: have 0", "have_version": 0}).encode())
        assert watcher.wait_for(lambda m: any(p for _, p in m), 10)
        payload = json.loads(next(p for _, p in watcher.messages if p))
        assert json.loads(payload["payload"])["version"] == 1 and payload["alg"] == "ed25519"
        assert wait_until(lambda: service.fleet.report(1, None, 60)[0]["requests"] == 1, 5)
    finally:
        watcher.close()


@pytest.mark.mosquitto
@needs_broker
def test_nothing_lost_while_the_site_is_down(tmp_path, site, broker, gates, services):
    """The broker keeps the gates' events for the site's persistent session while it is stopped."""
    conf, cli = site
    set_port(conf, broker.port)
    made, make = services
    first = make(conf)
    gate, _ = gates("west", broker.port, tmp_path / "site.key")
    gate.publish_event({"id": "before", "plate": "AA1"})
    assert wait_until(lambda: first.fleet.count() == 1, 10)
    first.stop()
    made.remove(first)
    for i in range(5):
        gate.publish_event({"id": f"while-down-{i}", "plate": f"BB{i}"})
    assert gate.wait_drained(10)  # the broker has them (acknowledged to the gate)
    broker.restart()  # and keeps them across its own restart (persistence)
    second = make(conf)
    assert wait_until(lambda: second.fleet.count() == 6, 15), second.fleet.count()
    ids = {e["id"] for e in second.fleet.events(20)}
    assert ids == {"before", *(f"while-down-{i}" for i in range(5))}
    code, out, _ = cli("events", "--gate", "west")
    assert code == 0 and "while-down-4" in out



def test_example_site_config_is_valid():
    cfg = load_site_config(Path(__file__).resolve().parent.parent / "config" / "site.toml")
    assert cfg.site_id == "oakfield" and cfg.mqtt.tls is not None and cfg.client_id() == "plategate-site-oakfield"


@pytest.mark.mosquitto
@needs_broker
def test_documented_per_gate_acl(tmp_path):
    """The ACL docs/site.md gives: a gate writes only below its own name and reads the site's list;
    the site reads every gate."""
    from tests.brokers import make_password_file

    doc = (Path(__file__).resolve().parent.parent / "docs" / "site.md").read_text()
    block = doc.split("`/etc/mosquitto/acl`", 1)[1].split("```", 2)[1]
    acl = tmp_path / "acl"
    acl.write_text(block.strip() + "\n")
    pw = make_password_file(tmp_path / "passwd", {"site": "s1", "entry": "e1", "exit": "x1"})
    broker = Mosquitto(tmp_path / "b", password_file=pw, acl_file=acl)
    broker.start()
    site = Recorder(broker.host, broker.port, ["plategate/oakfield/#"], username="site", password="s1")
    entry = Recorder(broker.host, broker.port, ["plategate/oakfield/#"], username="entry", password="e1")
    try:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        def send(user: str, password: str, topic: str, payload: bytes, retain: bool = False) -> None:
            c = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
            c.username_pw_set(user, password)
            c.connect(broker.host, broker.port)
            c.loop_start()
            c.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)
            c.disconnect()
            c.loop_stop()

        send("entry", "e1", "plategate/oakfield/entry/event", b'{"id": "own"}')
        send("entry", "e1", "plategate/oakfield/exit/event", b'{"id": "forged"}')  # not its topic: dropped
        send("entry", "e1", "plategate/oakfield/allowlist", b"forged list", retain=True)  # read only: dropped
        send("site", "s1", "plategate/oakfield/allowlist", b"signed list", retain=True)
        send("exit", "x1", "plategate/oakfield/exit/event", b'{"id": "exit-own"}')
        assert site.wait_for(lambda m: len(m) >= 3, 10)
        seen = {(t, p) for t, p in site.messages}
        assert ("plategate/oakfield/entry/event", b'{"id": "own"}') in seen
        assert ("plategate/oakfield/exit/event", b'{"id": "exit-own"}') in seen
        assert ("plategate/oakfield/allowlist", b"signed list") in seen
        assert not any(p in (b'{"id": "forged"}', b"forged list") for _, p in site.messages)
        # The entry gate reads the site's list and its own topics, not another gate's events.
        assert entry.wait_for(lambda m: any(t == "plategate/oakfield/allowlist" for t, _ in m), 10)
        assert not any(t.startswith("plategate/oakfield/exit/") for t, _ in entry.messages)
    finally:
        site.close()
        entry.close()
        broker.stop()
