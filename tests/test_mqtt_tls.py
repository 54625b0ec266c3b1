"""``[mqtt.tls]`` against a real mosquitto on a TLS port with a throw-away CA.

Server authentication only (no client certificate), a client certificate the broker
requires, a broker certificate from a CA the gate does not trust, a host name the
certificate does not name (and ``insecure``), and the config checks of the table.
"""

from __future__ import annotations

import json
import socket

import pytest

from plategate.access.store import AllowlistStore
from plategate.cli.mqttprobe import mqtt_round_trip
from plategate.config import parse_config
from plategate.errors import ConfigError, MqttError
from plategate.mqtt.bridge import MqttBridge
from plategate.mqtt.client import MqttClient
from tests.brokers import Mosquitto, find_mosquitto
from tests.mqtt_helpers import Recorder, make_config, wait_until
from tests.pki import TestCA

pytestmark = [pytest.mark.mosquitto,
              pytest.mark.skipif(find_mosquitto() is None, reason="mosquitto not installed (tools/test.sh installs it)")]
EVENT = "plategate/estate/north/event"
STATUS = "plategate/estate/north/status"


@pytest.fixture
def ca(tmp_path):
    return TestCA(tmp_path / "pki")


@pytest.fixture
def tls_broker(tmp_path, ca):
    """mosquitto with a TLS listener only; clients need no certificate."""
    broker = Mosquitto(tmp_path / "broker", tls=(ca.ca_file, *ca.issue("broker", ["localhost", "127.0.0.1"])),
                       require_certificate=False)
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def bridges():
    made = []

    def make(cfg):
        store = AllowlistStore(cfg.access_db())
        bridge = MqttBridge(cfg, store)
        made.append((bridge, store))
        return bridge

    yield make
    for bridge, store in made:
        bridge.stop()
        store.close()


def _subscriber(broker, ca, topics, client=None):
    cert = client or (None, None)
    return Recorder(broker.host, broker.port, topics, tls=(str(ca.ca_file), cert[0], cert[1]))


def test_server_authentication_only(tmp_path, ca, tls_broker, bridges):
    """A gate with only ca_file connects, publishes its status and events over TLS."""
    bridge = bridges(make_config(tmp_path / "gate", tls_broker.port, tls={"ca_file": str(ca.ca_file)}))
    site = _subscriber(tls_broker, ca, [EVENT, STATUS])
    try:
        bridge.start()
        assert bridge.wait_connected(10), bridge.client.last_error
        bridge.publish_event({"id": "tls-1", "plate": "AB123CD"})
        assert site.wait_for(lambda m: any(t == EVENT for t, _ in m), 10)
        assert site.json_on(EVENT)[0]["id"] == "tls-1"
        assert bridge.wait_drained(10) and bridge.outbox_depth() == 0
        assert wait_until(lambda: any(s.get("state") == "online" for s in site.json_on(STATUS)), 10)
    finally:
        site.close()
    # The port speaks TLS only: a plain MQTT CONNECT gets no CONNACK.
    with socket.create_connection(tls_broker.address, timeout=5) as raw:
        raw.sendall(bytes([0x10, 12, 0, 4]) + b"MQTT" + bytes([4, 2, 0, 30, 0, 0]))
        raw.settimeout(3)
        try:
            reply = raw.recv(4)
        except (TimeoutError, ConnectionResetError):
            reply = b""
        assert reply[:1] != b"\x20"


def test_untrusted_broker_is_refused_and_events_wait(tmp_path, tls_broker, bridges):
    """A broker certificate from a CA the gate does not trust: no connection, the event stays in the outbox;
    platectl diag's probe says why."""
    other = TestCA(tmp_path / "other", "some other CA")
    cfg = make_config(tmp_path / "gate", tls_broker.port, tls={"ca_file": str(other.ca_file)})
    bridge = bridges(cfg)
    bridge.start()
    bridge.publish_event({"id": "kept"})
    assert not bridge.wait_connected(2)
    assert bridge.client.last_error and "cannot connect" in bridge.client.last_error
    assert bridge.outbox_depth() == 1
    ok, message = mqtt_round_trip(cfg, 5)
    assert not ok and "certificate verify failed" in message, message


def test_host_name_must_match_unless_insecure(tmp_path, ca, bridges):
    """The broker's certificate names only broker.example: 127.0.0.1 fails the check; insecure = true skips it."""
    broker = Mosquitto(tmp_path / "broker", tls=(ca.ca_file, *ca.issue("broker", ["broker.example"])),
                       require_certificate=False)
    broker.start()
    try:
        strict = make_config(tmp_path / "strict", broker.port, tls={"ca_file": str(ca.ca_file)})
        ok, message = mqtt_round_trip(strict, 5)
        assert not ok and "127.0.0.1" in message, message
        gate = bridges(strict)
        gate.start()
        assert not gate.wait_connected(2)
        loose = make_config(tmp_path / "loose", broker.port, tls={"ca_file": str(ca.ca_file), "insecure": True})
        relaxed = bridges(loose)
        relaxed.start()
        assert relaxed.wait_connected(10), relaxed.client.last_error
        assert mqtt_round_trip(loose, 5)[0]
    finally:
        broker.stop()


def test_client_certificate_required(tmp_path, ca, bridges):
    """require_certificate: a gate without a certificate is refused; with one from the CA it connects."""
    broker = Mosquitto(tmp_path / "broker", tls=(ca.ca_file, *ca.issue("broker", ["127.0.0.1"])),
                       require_certificate=True)
    broker.start()
    try:
        cert, key = ca.issue("gate-north")
        without = bridges(make_config(tmp_path / "without", broker.port, tls={"ca_file": str(ca.ca_file)},
                                      client_id="without"))
        with_cert = bridges(make_config(tmp_path / "with", broker.port, tls={
            "ca_file": str(ca.ca_file), "cert_file": str(cert), "key_file": str(key)}))
        site = _subscriber(broker, ca, [EVENT], ca.issue("site"))
        try:
            without.start()
            with_cert.start()
            assert with_cert.wait_connected(10), with_cert.client.last_error
            with_cert.publish_event({"id": "signed-by-ca"})
            assert site.wait_for(lambda m: m, 10)
            assert json.loads(site.messages[0][1])["id"] == "signed-by-ca"
            assert not without.connected
        finally:
            site.close()
    finally:
        broker.stop()


def test_tls_config_errors(tmp_path, ca):
    with pytest.raises(ConfigError) as err:
        parse_config({"mqtt": {"tls": {"key_file": "/etc/plategate/gate.key"}}})
    assert "mqtt.tls.key_file: needs cert_file" in str(err.value)
    with pytest.raises(ConfigError) as err:
        parse_config({"mqtt": {"tls": {"ca_file": "/x", "verify": False}}})
    assert "mqtt.tls.verify: unknown key" in str(err.value)
    cfg = make_config(tmp_path, 8883, tls={"ca_file": str(tmp_path / "missing.pem")})
    with pytest.raises(MqttError) as err:
        MqttClient(cfg.mqtt, "x")
    assert str(err.value).startswith("mqtt.tls: cannot load certificates")
