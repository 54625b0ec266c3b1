"""Broker authentication: password file + ACL, and TLS with a client certificate made at test time."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from plategate.access.entry import make_entry
from plategate.access.store import AllowlistStore
from plategate.mqtt.bridge import MqttBridge
from tests.brokers import Mosquitto, find_mosquitto, make_password_file
from tests.mqtt_helpers import Recorder, make_config, site_key, wait_until
from tools.allowlist_publish import build_snapshot

pytestmark = [pytest.mark.mosquitto,
              pytest.mark.skipif(find_mosquitto() is None, reason="mosquitto not installed (tools/test.sh installs it)")]
EVENT = "plategate/estate/north/event"

ACL = """
user gate-north
topic readwrite plategate/estate/north/#
topic read plategate/estate/allowlist
topic read plategate/estate/allowlist/delta

user site
topic readwrite plategate/#
"""


@pytest.fixture
def secured_broker(tmp_path):
    pw = make_password_file(tmp_path / "passwd", {"gate-north": "s3cret-gate", "site": "s3cret-site"})
    acl = tmp_path / "acl"
    acl.write_text(ACL)
    broker = Mosquitto(tmp_path / "broker", password_file=pw, acl_file=acl)
    broker.start()
    yield broker
    broker.stop()


def _bridge(tmp_path, port, key, sub, **mqtt):
    cfg = make_config(tmp_path / sub, port, key, **mqtt)
    store = AllowlistStore(cfg.access_db())
    return MqttBridge(cfg, store), store


def test_password_and_acl(tmp_path, secured_broker):
    b = secured_broker
    key = site_key()
    pwfile = tmp_path / "gate.pw"
    pwfile.write_text("s3cret-gate\n")
    site = Recorder(b.host, b.port, ["plategate/#"], username="site", password="s3cret-site")
    bridge, store = _bridge(tmp_path, b.port, key, "good", username="gate-north", password_file=str(pwfile))
    bad, bad_store = _bridge(tmp_path, b.port, key, "bad", username="gate-north", password="wrong", client_id="bad-one")
    try:
        bridge.start()
        bad.start()
        assert bridge.wait_connected(10)
        bridge.publish_event({"id": "authorised"})
        assert site.wait_for(lambda m: any(t == EVENT for t, _ in m))
        # The site may publish the allowlist; the gate may read it.
        info = site.client.publish("plategate/estate/allowlist",
                                   build_snapshot([make_entry("AB1", "x")], "estate", 2, key), qos=1, retain=True)
        info.wait_for_publish(5)
        assert wait_until(lambda: store.version == 2, 10)
        # Wrong password: refused, and the event waits in the outbox instead of being lost.
        bad.publish_event({"id": "waiting"})
        assert wait_until(lambda: bad.client.last_error is not None, 10)
        assert "refused" in bad.client.last_error and not bad.connected
        assert bad.outbox_depth() == 1
    finally:
        site.close()
        for br, st in ((bridge, store), (bad, bad_store)):
            br.stop()
            st.close()


def _cert(subject: str, issuer_key, issuer_name, key, ca: bool = False, san: bool = False):
    now = dt.datetime.now(dt.UTC)
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
               .issuer_name(issuer_name or x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
    return builder.sign(issuer_key or key, hashes.SHA256())


def _write(path, cert, key):
    path.with_suffix(".crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    path.with_suffix(".key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                           serialization.NoEncryption()))
    return path.with_suffix(".crt"), path.with_suffix(".key")


@pytest.fixture
def pki(tmp_path):
    d = tmp_path / "pki"
    d.mkdir()
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert("plategate test CA", None, None, ca_key, ca=True)
    ca_crt, _ = _write(d / "ca", ca, ca_key)
    out = {"ca": ca_crt}
    for name, san in (("server", True), ("gate", False), ("site", False)):
        k = ec.generate_private_key(ec.SECP256R1())
        out[name] = _write(d / name, _cert(name, ca_key, ca.subject, k, san=san), k)
    rogue_key = ec.generate_private_key(ec.SECP256R1())
    out["rogue"] = _write(d / "rogue", _cert("rogue", None, None, rogue_key), rogue_key)  # self-signed
    return out


def test_tls_with_client_certificate(tmp_path, pki):
    broker = Mosquitto(tmp_path / "tlsbroker", tls=(pki["ca"], *pki["server"]), require_certificate=True)
    broker.start()
    key = site_key()
    tls = {"ca_file": str(pki["ca"]), "cert_file": str(pki["gate"][0]), "key_file": str(pki["gate"][1])}
    rogue_tls = {"ca_file": str(pki["ca"]), "cert_file": str(pki["rogue"][0]), "key_file": str(pki["rogue"][1])}
    bridge, store = _bridge(tmp_path, broker.port, key, "tls", tls=tls)
    rogue, rogue_store = _bridge(tmp_path, broker.port, key, "rogue", tls=rogue_tls, client_id="rogue")
    site = None
    try:
        site = Recorder(broker.host, broker.port, [EVENT], tls=(pki["ca"], *pki["site"]))
        bridge.start()
        rogue.start()
        assert bridge.wait_connected(10)
        bridge.publish_event({"id": "over-tls", "plate": "AB1"})
        assert site.wait_for(lambda m: m, 10)
        assert json.loads(site.messages[0][1])["id"] == "over-tls"
        # A certificate from another CA is refused by the broker.
        assert not rogue.wait_connected(2)
        rogue.publish_event({"id": "kept"})
        assert rogue.outbox_depth() == 1
    finally:
        if site:
            site.close()
        for br, st in ((bridge, store), (rogue, rogue_store)):
            br.stop()
            st.close()
        broker.stop()
