"""A thin wrapper around paho-mqtt 2.x (CallbackAPIVersion.VERSION2).

It owns the connection only: TLS (CA, client certificate), username/password, last will,
automatic reconnect with exponential backoff (paho's network thread) and re-subscription
after every (re)connect. Incoming messages are handed to a single worker thread so that a
slow handler (applying a 100 000-entry snapshot) never stalls the network loop and
acknowledgements keep flowing. Publish acknowledgements are reported as message ids on
:attr:`MqttClient.acks` (a queue) without taking any lock of ours inside paho's callback.
"""

from __future__ import annotations

import logging
import queue
import ssl
import threading
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from ..config import MqttConfig
from ..errors import MqttError

logger = logging.getLogger(__name__)

Handler = Callable[[str, bytes], None]


def read_password(cfg) -> str | None:
    """The broker password from ``password_file`` (first line) or ``password`` of an ``[mqtt]``
    section: the gate's (:class:`MqttConfig`) or the site's.

    Raises:
        MqttError: the password file cannot be read.
    """
    if cfg.password_file is not None:
        try:
            lines = Path(cfg.password_file).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise MqttError(f"mqtt.password_file {cfg.password_file}: cannot read: {exc}") from None
        return lines[0].strip() if lines else ""
    return cfg.password


class MqttClient:
    """One broker connection.

    Args:
        cfg: the ``[mqtt]`` section.
        client_id: the MQTT client id.
        will: ``(topic, payload)`` of the last will (QoS 1, retained), or None.
        inbox_size: bound of the incoming message queue.

    Raises:
        MqttError: TLS files cannot be loaded or the password file is unreadable.
    """

    def __init__(self, cfg: MqttConfig, client_id: str, will: tuple[str, bytes] | None = None, inbox_size: int = 1000) -> None:
        self.cfg = cfg
        self.client_id = client_id
        self.acks: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._handlers: dict[str, Handler] = {}
        self._subs: dict[str, int] = {}
        self._connect_listeners: list[Callable[[], None]] = []
        self._ack_listeners: list[Callable[[], None]] = []
        self._connected = threading.Event()
        self._inbox: queue.Queue[tuple[str, bytes] | None] = queue.Queue(maxsize=inbox_size)
        self._worker: threading.Thread | None = None
        self._started = False
        self.last_error: str | None = None
        self._client = self._build(will)

    def _build(self, will: tuple[str, bytes] | None) -> mqtt.Client:
        cfg = self.cfg
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id, clean_session=cfg.clean_session,
                             protocol=mqtt.MQTTv311)
        if cfg.username is not None:
            client.username_pw_set(cfg.username, read_password(cfg))
        if cfg.tls is not None:
            try:
                client.tls_set(
                    ca_certs=str(cfg.tls.ca_file) if cfg.tls.ca_file else None,
                    certfile=str(cfg.tls.cert_file) if cfg.tls.cert_file else None,
                    keyfile=str(cfg.tls.key_file) if cfg.tls.key_file else None,
                    cert_reqs=ssl.CERT_REQUIRED,
                    tls_version=ssl.PROTOCOL_TLS_CLIENT,
                )
            except (OSError, ssl.SSLError, ValueError) as exc:
                raise MqttError(f"mqtt.tls: cannot load certificates: {exc}") from None
            if cfg.tls.insecure:
                client.tls_insecure_set(True)
        if will is not None:
            client.will_set(will[0], will[1], qos=1, retain=True)
        client.reconnect_delay_set(cfg.reconnect_min_s, cfg.reconnect_max_s)
        client.max_inflight_messages_set(min(cfg.max_inflight, 1000))
        client.max_queued_messages_set(0)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_connect_fail = self._on_connect_fail
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        return client

    # Registration --------------------------------------------------------------------
    def subscribe(self, topic: str, handler: Handler, qos: int = 1) -> None:
        """Subscribe now (if connected) and after every reconnect; *handler(topic, payload)*
        runs on the worker thread."""
        self._handlers[topic] = handler
        self._subs[topic] = qos
        if self.connected:
            self._client.subscribe(topic, qos)

    def on_connected(self, fn: Callable[[], None]) -> None:
        """Call *fn()* on the worker thread after every successful (re)connect."""
        self._connect_listeners.append(fn)

    def on_ack(self, fn: Callable[[], None]) -> None:
        """Call *fn()* (must be cheap, no locks) from the network thread when an ack arrives."""
        self._ack_listeners.append(fn)

    # paho callbacks (network thread) ---------------------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self.last_error = f"connection refused: {reason_code}"
            logger.warning("MQTT broker %s:%s refused the connection: %s", self.cfg.host, self.cfg.port, reason_code)
            return
        logger.info("MQTT connected to %s:%s as %s", self.cfg.host, self.cfg.port, self.client_id)
        self.last_error = None
        self._connected.set()
        if self._subs:
            client.subscribe([(t, q) for t, q in self._subs.items()])
        self._put(("\0connected", b""))

    def _on_connect_fail(self, client, userdata) -> None:
        first = self.last_error is None or not self.last_error.startswith("cannot connect")
        self.last_error = f"cannot connect to {self.cfg.host}:{self.cfg.port}"
        if first:  # once per outage, not on every backoff retry
            logger.warning("MQTT broker %s:%s unreachable; retrying with backoff up to %g s (events wait in the outbox)",
                           self.cfg.host, self.cfg.port, self.cfg.reconnect_max_s)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        was = self._connected.is_set()
        self._connected.clear()
        if was and self._started:
            logger.warning("MQTT disconnected from %s:%s (%s); reconnecting with backoff", self.cfg.host, self.cfg.port, reason_code)
        for fn in self._ack_listeners:
            fn()

    def _on_message(self, client, userdata, message) -> None:
        self._put((message.topic, bytes(message.payload)))

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        self.acks.put(mid)
        for fn in self._ack_listeners:
            fn()

    def _put(self, item: tuple[str, bytes]) -> None:
        try:
            self._inbox.put(item, timeout=5)
        except queue.Full:
            logger.error("MQTT inbox full: dropped a message on %s", item[0])

    # Worker --------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            item = self._inbox.get()
            if item is None:
                return
            topic, payload = item
            try:
                if topic == "\0connected":
                    for fn in self._connect_listeners:
                        fn()
                    continue
                handler = self._handlers.get(topic)
                if handler is not None:
                    handler(topic, payload)
            except Exception:
                logger.exception("MQTT handler for %s failed", topic)

    # Control -------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def start(self) -> None:
        """Connect in the background (never blocks, never raises for an unreachable broker)."""
        if self._started:
            return
        self._started = True
        self._worker = threading.Thread(target=self._work, name="mqtt-inbox", daemon=True)
        self._worker.start()
        try:
            self._client.connect_async(self.cfg.host, self.cfg.port, keepalive=self.cfg.keepalive)
        except (OSError, ValueError) as exc:
            raise MqttError(f"mqtt: cannot connect to {self.cfg.host}:{self.cfg.port}: {exc}") from None
        self._client.loop_start()

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> mqtt.MQTTMessageInfo:
        """Hand a message to paho (queued in memory while disconnected; resent after reconnect)."""
        return self._client.publish(topic, payload, qos=qos, retain=retain)

    def stop(self, final: tuple[str, bytes] | None = None, timeout: float = 2.0) -> None:
        """Optionally publish a last retained message, then disconnect and join the threads."""
        if not self._started:
            return
        self._started = False
        if final is not None and self.connected:
            try:
                info = self._client.publish(final[0], final[1], qos=1, retain=True)
                info.wait_for_publish(timeout)
            except (RuntimeError, ValueError):
                pass
        self._client.disconnect()
        self._client.loop_stop()
        self._connected.clear()
        self._inbox.put(None)
        if self._worker is not None:
            self._worker.join(timeout)

    @staticmethod
    def ok(info: mqtt.MQTTMessageInfo) -> bool:
        """Whether paho accepted (sent or queued) the message."""
        return info.rc in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN)
