"""Helpers for the MQTT tests: configs, a site key, and a recording subscriber."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from plategate.config import PlategateConfig, parse_config
from plategate.mqtt.signing import generate_private_key, public_key_b64


def make_config(tmp: Path, port: int, key=None, host: str = "127.0.0.1", **mqtt_overrides) -> PlategateConfig:
    """A config for site 'estate', gate 'north' with short backoffs and state under *tmp*."""
    mq = {
        "enabled": True, "host": host, "port": port, "reconnect_min_s": 0.1, "reconnect_max_s": 0.5,
        "keepalive": 5, "snapshot_request_interval_s": 0.5,
        "site_public_keys": [public_key_b64(key.public_key())] if key is not None else [],
    }
    mq.update(mqtt_overrides)
    return parse_config({"site_id": "estate", "gate_id": "north", "state_dir": str(tmp / "state"), "mqtt": mq})


def site_key():
    return generate_private_key()


class Recorder:
    """A subscriber that records every message it gets (topic, payload) in order."""

    def __init__(self, host: str, port: int, topics: list[str], client_id: str | None = None,
                 clean_session: bool = True, username: str | None = None, password: str | None = None,
                 tls: tuple[str, str | None, str | None] | None = None) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self._cond = threading.Condition()
        self._subscribed = threading.Event()
        kwargs = {"clean_session": clean_session} if client_id else {}
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id or "", protocol=mqtt.MQTTv311, **kwargs)
        self.client.reconnect_delay_set(0.1, 0.5)
        if username:
            self.client.username_pw_set(username, password)
        if tls:
            self.client.tls_set(ca_certs=str(tls[0]), certfile=str(tls[1]) if tls[1] else None,
                                keyfile=str(tls[2]) if tls[2] else None)
        self.topics = topics
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.connect(host, port, keepalive=5)
        self.client.loop_start()
        if not self._subscribed.wait(10):
            raise TimeoutError("recorder did not subscribe")

    def _on_connect(self, client, userdata, flags, rc, props):
        client.subscribe([(t, 1) for t in self.topics])

    def _on_message(self, client, userdata, msg):
        with self._cond:
            self.messages.append((msg.topic, bytes(msg.payload)))
            self._cond.notify_all()

    def wait_for(self, predicate, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self.messages):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def json_on(self, topic: str) -> list[dict]:
        with self._cond:
            return [json.loads(p) for t, p in self.messages if t == topic and p]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def publish(host: str, port: int, topic: str, payload: bytes, retain: bool = False) -> None:
    """Publish one QoS 1 message and wait for the broker's acknowledgement."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    client.connect(host, port)
    client.loop_start()
    try:
        info = client.publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(10)
        assert info.is_published()
    finally:
        client.disconnect()
        client.loop_stop()


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
