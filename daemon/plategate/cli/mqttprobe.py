"""A broker probe for ``platectl diag``: connect with the daemon's own MQTT settings and see a
message of our own come back on a private topic."""

from __future__ import annotations

import secrets
import threading
import time

from ..config import PlategateConfig
from ..errors import PlategateError


def mqtt_round_trip(cfg: PlategateConfig, timeout: float) -> tuple[bool, str]:
    """Connect to the broker, subscribe to a private diag topic and receive our own message.

    Returns ``(ok, message)``; never raises for network problems.
    """
    import paho.mqtt.client as mqtt

    m = cfg.mqtt
    token = secrets.token_hex(4)
    topic = f"{m.topic_prefix}/{cfg.site_id}/{cfg.gate_id}/diag/{token}"
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"platectl-diag-{token}")
    client.connect_timeout = timeout
    connected, subscribed, received = threading.Event(), threading.Event(), threading.Event()
    outcome: dict = {}

    def on_connect(_c, _u, _flags, reason_code, _props):
        outcome["connect"] = str(reason_code)
        outcome["connect_ok"] = not reason_code.is_failure
        connected.set()

    client.on_connect = on_connect
    client.on_subscribe = lambda *_a: subscribed.set()
    client.on_message = lambda _c, _u, msg: received.set() if msg.topic == topic else None
    where = f"{m.host}:{m.port}"
    if m.username:
        try:
            from ..mqtt.client import read_password

            password = read_password(m)
        except ImportError:
            password = m.password
        except PlategateError as exc:
            return False, str(exc)
        client.username_pw_set(m.username, password)
    try:
        if m.tls is not None:
            client.tls_set(ca_certs=str(m.tls.ca_file) if m.tls.ca_file else None,
                           certfile=str(m.tls.cert_file) if m.tls.cert_file else None,
                           keyfile=str(m.tls.key_file) if m.tls.key_file else None)
            client.tls_insecure_set(m.tls.insecure)
        client.connect(m.host, m.port, keepalive=max(5, int(timeout) * 2))
    except (OSError, ValueError) as exc:
        return False, f"cannot connect to {where}: {getattr(exc, 'strerror', None) or exc}"
    client.loop_start()
    try:
        if not connected.wait(timeout):
            return False, f"{where}: no CONNACK within {timeout:g} s"
        if not outcome.get("connect_ok"):
            return False, f"{where} refused the connection: {outcome.get('connect')}"
        t0 = time.monotonic()
        client.subscribe(topic, qos=1)
        if not subscribed.wait(timeout):
            return False, f"{where}: subscribe to {topic} not acknowledged"
        client.publish(topic, b"platectl diag", qos=1)
        if not received.wait(timeout):
            return False, f"{where}: connected, but our message on {topic} did not come back (broker ACL?)"
        return True, f"{where}: connect + publish/subscribe round trip in {(time.monotonic() - t0) * 1000:.0f} ms"
    finally:
        client.disconnect()
        client.loop_stop()
