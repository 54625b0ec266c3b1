"""The site service: publish the master list, answer gates, collect their events and status.

One paho client with a persistent session (``clean_session=False``, a fixed client id,
QoS 1 subscriptions): while the service is down the broker keeps what the gates publish,
and delivers it on reconnect. Each message is stored (committed) inside paho's callback,
before paho acknowledges it, so a crash loses nothing either.

Subscriptions (``<prefix>/<site>/``):

* ``+/event``: stored in the fleet database (once per event id);
* ``+/status`` and ``+/allowlist/state``: the gate's row in the fleet report;
* ``+/allowlist/request``: answered with the newest signed snapshot (retained), at most once
  per ``request_min_interval_s`` for all gates together.

Publishing: when the master list differs from the newest published version, the next
version is frozen, its delta from the version before is published (QoS 1) and then its
full snapshot (retained, QoS 1).
"""

from __future__ import annotations

import json
import logging
import ssl
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from ..errors import MqttError, PlategateError
from ..mqtt.client import read_password
from ..mqtt.signing import load_private_key
from .config import SiteConfig
from .fleet import FleetStore
from .master import MasterList
from .messages import build_delta, build_snapshot

logger = logging.getLogger(__name__)


def make_client(cfg: SiteConfig, client_id: str, clean_session: bool) -> mqtt.Client:
    """A paho client with the site's credentials and TLS.

    Raises:
        MqttError: unreadable password file or TLS files.
    """
    m = cfg.mqtt
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean_session,
                         protocol=mqtt.MQTTv311)
    if m.username is not None:
        client.username_pw_set(m.username, read_password(m))
    if m.tls is not None:
        try:
            client.tls_set(ca_certs=str(m.tls.ca_file) if m.tls.ca_file else None,
                           certfile=str(m.tls.cert_file) if m.tls.cert_file else None,
                           keyfile=str(m.tls.key_file) if m.tls.key_file else None,
                           cert_reqs=ssl.CERT_REQUIRED, tls_version=ssl.PROTOCOL_TLS_CLIENT)
        except (OSError, ssl.SSLError, ValueError) as exc:
            raise MqttError(f"mqtt.tls: cannot load certificates: {exc}") from None
        client.tls_insecure_set(m.tls.insecure)
    client.reconnect_delay_set(m.reconnect_min_s, m.reconnect_max_s)
    return client


def publish_master(master: MasterList, key, cfg: SiteConfig, client: mqtt.Client, timeout: float = 10.0,
                   sent: list | None = None) -> int | None:
    """Freeze the master list as the next version if it changed, and publish its delta (QoS 1) and
    snapshot (retained); returns the version, or None when nothing changed. ``(kind, version)`` of
    each message is appended to *sent* as it is handed to the client.

    Raises:
        MqttError: the broker did not acknowledge the messages within *timeout* (the version is
            frozen; the snapshot goes out again on the service's next connect).
    """
    if not master.dirty():
        return None
    base = f"{cfg.mqtt.topic_prefix}/{cfg.site_id}"
    version, _digest, entries, previous = master.freeze()
    infos = []
    if previous is not None and previous[0] == version - 1:
        delta = build_delta(previous[1], entries, cfg.site_id, previous[0], key)
        if sent is not None:
            sent.append(("delta", version))
        infos.append(client.publish(f"{base}/allowlist/delta", delta, qos=1))
    if sent is not None:
        sent.append(("snapshot", version))
    infos.append(client.publish(f"{base}/allowlist", build_snapshot(entries, cfg.site_id, version, key), qos=1,
                                retain=True))
    for info in infos:
        try:
            info.wait_for_publish(timeout)
        except (RuntimeError, ValueError):
            pass
        if not info.is_published():
            raise MqttError(f"version {version} frozen, but the broker did not acknowledge it within {timeout:g} s")
    logger.info("published allowlist version %d (%d entries)", version, len(entries))
    return version


class SiteService:
    """The running site side.

    Args:
        cfg: the site configuration.

    Raises:
        PlategateError: the key, the database or the TLS files cannot be loaded.
    """

    def __init__(self, cfg: SiteConfig) -> None:
        self.cfg = cfg
        self.key = load_private_key(cfg.key_file)
        self.master = MasterList(cfg.database)
        self.fleet = FleetStore(cfg.database)
        self.base = f"{cfg.mqtt.topic_prefix}/{cfg.site_id}"
        self.connected = threading.Event()
        self._publish_lock = threading.Lock()
        self._last_answer = 0.0
        self._resend = False
        self._stop = threading.Event()
        self.published: list[tuple[str, int]] = []  # (kind, version), newest last
        self.client = make_client(cfg, cfg.client_id(), clean_session=False)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message

    # MQTT callbacks (paho's thread) ---------------------------------------------------------
    def _on_connect(self, client, _userdata, flags, reason_code, _props) -> None:
        if reason_code.is_failure:
            logger.warning("broker %s:%s refused the connection: %s", self.cfg.mqtt.host, self.cfg.mqtt.port,
                           reason_code)
            return
        logger.info("connected to %s:%s as %s (session %s)", self.cfg.mqtt.host, self.cfg.mqtt.port,
                    self.cfg.client_id(), "resumed" if flags.session_present else "new")
        client.subscribe([(f"{self.base}/+/event", 1), (f"{self.base}/+/status", 1),
                          (f"{self.base}/+/allowlist/state", 1), (f"{self.base}/+/allowlist/request", 1)])
        self._resend = True  # the run loop re-publishes the newest snapshot (retained) after each connect
        self.connected.set()

    def _on_disconnect(self, *_args) -> None:
        if self.connected.is_set():
            logger.warning("disconnected from the broker; reconnecting (the broker keeps the gates' messages)")
        self.connected.clear()

    def _on_message(self, _client, _userdata, msg) -> None:
        rest = msg.topic[len(self.base) + 1:] if msg.topic.startswith(self.base + "/") else ""
        gate, _, kind = rest.partition("/")
        try:
            payload = json.loads(msg.payload) if msg.payload else None
        except ValueError:
            logger.warning("%s: not JSON, ignored", msg.topic)
            return
        try:
            if kind == "event" and isinstance(payload, dict) and payload.get("id"):
                if self.fleet.add_event(gate, payload):
                    logger.info("event %s from %s: %s %s", payload.get("id"), gate, payload.get("plate"),
                                payload.get("decision"))
            elif kind == "status" and isinstance(payload, dict):
                self.fleet.set_status(gate, payload)
            elif kind == "allowlist/state" and isinstance(payload, dict):
                self.fleet.set_allowlist_state(gate, payload)
            elif kind == "allowlist/request":
                self.fleet.note_request(gate)
                self._answer_request(gate, payload if isinstance(payload, dict) else {})
        except PlategateError as exc:
            logger.error("%s: %s", msg.topic, exc)

    def _answer_request(self, gate: str, request: dict) -> None:
        now = time.monotonic()
        if now - self._last_answer < self.cfg.request_min_interval_s:
            logger.info("allowlist request from %s (%s): a snapshot went out just now", gate, request.get("reason"))
            return
        self._last_answer = now
        latest = self.master.latest()
        if latest is None:
            logger.warning("allowlist request from %s: nothing published yet (plategate-site publish)", gate)
            return
        version, _digest, entries = latest
        logger.info("allowlist request from %s (%s, has version %s): sending snapshot %d", gate,
                    request.get("reason"), request.get("have_version"), version)
        self.client.publish(f"{self.base}/allowlist", build_snapshot(entries, self.cfg.site_id, version, self.key),
                            qos=1, retain=True)
        self.published.append(("snapshot", version))

    # Publishing -------------------------------------------------------------------------
    def publish_changes(self, timeout: float = 10.0) -> int | None:
        """Publish the master list if it changed since the newest version; returns the new version or None.

        Raises:
            MqttError: the broker did not acknowledge the messages within *timeout*.
        """
        with self._publish_lock:
            return publish_master(self.master, self.key, self.cfg, self.client, timeout, self.published)

    def resend_latest(self) -> int | None:
        """Publish the newest version's snapshot again (retained): a version frozen while the broker
        was away reaches the gates, and the retained copy is re-signed. Gates ignore a copy they have."""
        latest = self.master.latest()
        if latest is None:
            return None
        version, _digest, entries = latest
        self.client.publish(f"{self.base}/allowlist", build_snapshot(entries, self.cfg.site_id, version, self.key),
                            qos=1, retain=True)
        self.published.append(("snapshot", version))
        return version

    # Lifecycle ----------------------------------------------------------------------------
    def start(self, wait_s: float = 0.0) -> bool:
        """Connect in the background; with *wait_s*, wait that long for the connection."""
        self.client.connect_async(self.cfg.mqtt.host, self.cfg.mqtt.port, keepalive=self.cfg.mqtt.keepalive)
        self.client.loop_start()
        return self.connected.wait(wait_s) if wait_s else self.connected.is_set()

    def run(self, duration: float | None = None, ready=None) -> int:
        """Publish list changes until :meth:`request_stop` (or *duration* seconds)."""
        end = time.monotonic() + duration if duration else None
        if ready is not None:
            ready()
        while not self._stop.is_set() and (end is None or time.monotonic() < end):
            if self.connected.is_set():
                try:
                    if self.publish_changes() is None and self._resend:
                        self.resend_latest()
                    self._resend = False
                except PlategateError as exc:
                    logger.error("publishing failed: %s", exc)
            self._stop.wait(self.cfg.publish_check_s)
        return 0

    def request_stop(self) -> None:
        self._stop.set()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
        self.master.close()
        self.fleet.close()
