"""MqttBridge: the daemon's one object for everything MQTT.

It composes the client (:mod:`.client`), the persistent outbox and its publisher
(:mod:`.outbox`, :mod:`.publisher`), the signed allowlist sync (:mod:`.sync`), remote
commands (:mod:`.commands`) and Home Assistant discovery (:mod:`.homeassistant`).
``publish_event`` only writes to the outbox and returns; publishing happens on a
background thread, so decisions never wait for the network or the broker.

Settings in :data:`LIVE_SETTINGS` (the trusted site keys above all) can be changed on a
running bridge with :meth:`MqttBridge.apply_settings`; any other ``[mqtt]`` change needs a
new bridge (a reconnect), which the daemon's reload builds.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable

from ..access.store import AllowlistStore
from ..config import MqttConfig, PlategateConfig
from ..errors import MqttError
from .client import MqttClient
from .commands import CommandHandler, CommandProcessor, NonceStore
from .homeassistant import discovery_messages
from .messages import now_iso
from .outbox import MessageKind, Outbox
from .publisher import OutboxPublisher
from .signing import load_public_keys
from .sync import AllowlistSync, SyncResult
from .topics import Topics

logger = logging.getLogger(__name__)

OFFLINE = json.dumps({"state": "offline"}).encode()

#: ``[mqtt]`` keys a running bridge takes without reconnecting
LIVE_SETTINGS = frozenset({"site_public_keys", "command_max_age_s", "allow_unsigned_commands", "max_snapshot_bytes",
                           "max_command_bytes", "snapshot_request_interval_s", "outbox_max_mb"})


class MqttBridge:
    """Events out (via the outbox), status, allowlist sync and commands in.

    Args:
        cfg: the whole configuration (uses ``site_id``, ``gate_id``, ``mqtt`` and the outbox path).
        store: the allowlist store that signed snapshots and deltas are applied to.

    Raises:
        MqttError: bad TLS files, unreadable password file.
        SignatureError: a configured site public key is unusable.
        StorageError: the outbox cannot be opened.
    """

    def __init__(self, cfg: PlategateConfig, store: AllowlistStore) -> None:
        self.cfg = cfg
        self.store = store
        m = cfg.mqtt
        self.topics = Topics.from_config(cfg)
        self.keys = load_public_keys(m.site_public_keys)
        if not self.keys:
            logger.warning("mqtt.site_public_keys is empty: signed allowlists and commands will all be refused")
        self.outbox = Outbox(cfg.outbox_db(), m.outbox_max_mb * 1024 * 1024)
        self.nonces = NonceStore(cfg.outbox_db(), keep_s=2 * m.command_max_age_s + 60)
        client_id = m.client_id or f"plategate-{cfg.site_id}-{cfg.gate_id}"
        self.client = MqttClient(m, client_id, will=(self.topics.status, OFFLINE))
        self.publisher = OutboxPublisher(self.outbox, self.client, window=m.max_inflight)
        self.sync = AllowlistSync(store, cfg.site_id, self.keys, m.max_snapshot_bytes, self._publish_request,
                                  m.snapshot_request_interval_s)
        self.commands = CommandProcessor(cfg.site_id, cfg.gate_id, self.keys, self.nonces, m.command_max_age_s,
                                         m.max_command_bytes, m.allow_unsigned_commands)
        self._status: dict = {}
        self._status_source: Callable[[], dict] | None = None
        self._status_lock = threading.Lock()
        self._started_at = time.monotonic()
        self._running = False
        self._halt = threading.Event()
        self._status_thread: threading.Thread | None = None
        store.on_change(lambda _idx: self._publish_allowlist_state())

        self.client.on_connected(self._on_connected)
        self.client.subscribe(self.topics.site_allowlist, self._on_snapshot)
        self.client.subscribe(self.topics.site_delta, self._on_delta)
        self.client.subscribe(self.topics.cmd, self._on_command)

    # Lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        """Start connecting and draining in the background; returns at once.

        Raises:
            MqttError: the broker address is unusable.
        """
        if self._running:
            return
        self._running = True
        self._halt.clear()
        self.publisher.start()
        self.client.start()
        if self.cfg.mqtt.status_interval_s > 0:
            self._status_thread = threading.Thread(target=self._status_loop, name="mqtt-status", daemon=True)
            self._status_thread.start()
        if self.outbox.depth():
            logger.info("outbox holds %d message(s) from before; they will be published first", self.outbox.depth())

    def stop(self, timeout: float = 2.0) -> None:
        """Publish ``offline``, disconnect, stop threads. Undelivered events stay in the outbox."""
        if not self._running:
            return
        self._running = False
        self._halt.set()
        if self._status_thread is not None:
            self._status_thread.join(timeout)
        self.publisher.stop(timeout)
        self.sync.close()
        self.client.stop(final=(self.topics.status, OFFLINE), timeout=timeout)
        self.outbox.close()
        self.nonces.close()

    def __enter__(self) -> MqttBridge:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # Interface for the daemon ---------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self.client.connected

    def outbox_depth(self) -> int:
        return self.outbox.depth()

    def wait_connected(self, timeout: float) -> bool:
        return self.client.wait_connected(timeout)

    def wait_drained(self, timeout: float) -> bool:
        """Block until the outbox is empty (for tests and shutdown); True if it emptied."""
        deadline = time.monotonic() + timeout
        while self.outbox.depth() and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.outbox.depth() == 0

    def publish_event(self, event: dict, snapshot: bytes | None = None) -> str:
        """Persist an event (and its JPEG) to the outbox and return its id at once.

        Missing ``id`` and ``time`` are filled in. The publisher thread sends it when it can.

        Raises:
            StorageError: the outbox cannot be written (the event is not stored).
        """
        event = dict(event)
        event_id = str(event.get("id") or uuid.uuid4().hex)
        event["id"] = event_id
        event.setdefault("time", now_iso())
        event.setdefault("site", self.cfg.site_id)
        event.setdefault("gate", self.cfg.gate_id)
        event["snapshot"] = snapshot is not None
        payload = json.dumps(event, default=_json_default, separators=(",", ":")).encode("utf-8")
        rows = [(event_id, MessageKind.EVENT, self.topics.event, payload)]
        if snapshot is not None:
            rows.append((event_id, MessageKind.SNAPSHOT, self.topics.event_snapshot(event_id), bytes(snapshot)))
        self.outbox.put(rows)
        self.publisher.wake()
        return event_id

    def set_status(self, status: dict) -> None:
        """Merge *status* into the retained status message and publish it if connected."""
        with self._status_lock:
            self._status.update(status)
        self._publish_status()

    def publish_status(self) -> None:
        """Publish the retained status now (fresh health) if connected."""
        self._publish_status()

    def set_status_source(self, fn: Callable[[], dict]) -> None:
        """*fn()* gives the daemon's fresh health; it is called for every status message, so the
        retained status never repeats stale figures."""
        self._status_source = fn

    def set_command_handler(self, fn: CommandHandler) -> None:
        """*fn(name, args, origin) -> dict* runs verified commands (``open``, ``reload``, ``snapshot``)."""
        self.commands.handler = fn

    def apply_settings(self, m: MqttConfig) -> None:
        """Apply changed :data:`LIVE_SETTINGS` at once: from the next message on only the new
        site keys are trusted (a removed key is revoked), and the new limits hold.

        Raises:
            SignatureError: a listed key is unusable (nothing is changed then).
            MqttError: *m* differs in a setting that needs a reconnect.
        """
        other = {k for k in m.model_fields if getattr(m, k) != getattr(self.cfg.mqtt, k)} - LIVE_SETTINGS
        if other:
            raise MqttError(f"mqtt.{', mqtt.'.join(sorted(other))}: needs a reconnect")
        keys = load_public_keys(m.site_public_keys)
        self.set_keys(keys)
        self.sync.max_bytes = m.max_snapshot_bytes
        self.sync.request_interval_s = m.snapshot_request_interval_s
        self.commands.max_age_s = m.command_max_age_s
        self.commands.max_bytes = m.max_command_bytes
        self.commands.allow_unsigned = m.allow_unsigned_commands
        self.outbox.max_bytes = m.outbox_max_mb * 1024 * 1024
        self.cfg = self.cfg.model_copy(update={"mqtt": m})

    def set_keys(self, keys: dict) -> None:
        """Trust exactly *keys* (key id -> Ed25519 public key) from now on."""
        self.keys = keys
        self.sync.keys = keys
        self.commands.keys = keys
        if not keys:
            logger.warning("no site public key is trusted: signed allowlists and commands will all be refused")

    def on_allowlist_applied(self, fn: Callable[[dict], None]) -> None:
        """*fn(state)* after a signed snapshot or delta was applied (state: version, count, hash)."""
        self.sync.on_applied(fn)

    def request_snapshot(self, reason: str = "requested") -> bool:
        """Ask the site for a full snapshot now (rate limit bypassed)."""
        return self.sync.request_snapshot(reason, force=True)

    def health(self) -> dict:
        return {
            "connected": self.connected,
            "broker": f"{self.cfg.mqtt.host}:{self.cfg.mqtt.port}",
            "outbox_depth": self.outbox.depth(),
            "outbox_bytes": self.outbox.size_bytes(),
            "dropped_events": self.outbox.dropped_events,
            "last_error": self.client.last_error,
            "allowlist_error": self.sync.last_error,
        }

    # Internals -----------------------------------------------------------------------
    def _status_payload(self) -> bytes:
        fresh: dict = {}
        if self._status_source is not None:
            try:
                fresh = self._status_source()
            except Exception:
                logger.exception("collecting the status failed")
        with self._status_lock:
            status = {"state": "online", **self._status, **fresh}
        status.setdefault("uptime_s", round(time.monotonic() - self._started_at, 1))
        status["allowlist_version"] = self.store.version
        status["outbox_depth"] = self.outbox.depth()
        status["time"] = now_iso()
        return json.dumps(status, default=_json_default).encode("utf-8")

    def _publish(self, topic: str, payload: bytes, retain: bool) -> None:
        if not self.client.connected:
            return
        try:
            self.client.publish(topic, payload, qos=1, retain=retain)
        except (ValueError, RuntimeError) as exc:
            logger.warning("cannot publish on %s: %s", topic, exc)

    def _status_loop(self) -> None:
        while not self._halt.wait(self.cfg.mqtt.status_interval_s):
            self._publish_status()

    def _publish_status(self) -> None:
        self._publish(self.topics.status, self._status_payload(), retain=True)

    def _publish_allowlist_state(self) -> None:
        self._publish(self.topics.allowlist_state, self.sync.state_payload(), retain=True)

    def _publish_request(self, payload: dict) -> None:
        if not self.client.connected:
            raise MqttError("not connected")
        self.client.publish(self.topics.allowlist_request, json.dumps(payload).encode(), qos=1)

    def _on_connected(self) -> None:
        self._publish_status()
        self._publish_allowlist_state()
        if self.cfg.mqtt.homeassistant:
            for topic, payload in discovery_messages(self.topics, self.cfg.mqtt.homeassistant_prefix,
                                                     self.cfg.mqtt.allow_unsigned_commands):
                self._publish(topic, payload, retain=True)
        self.publisher.wake()
        self.sync.send_deferred()

    def _on_snapshot(self, topic: str, payload: bytes) -> None:
        if self.sync.handle_snapshot(payload) in (SyncResult.REJECTED, SyncResult.PENDING):
            self._publish_allowlist_state()  # last_error changed; an applied list publishes itself

    def _on_delta(self, topic: str, payload: bytes) -> None:
        if self.sync.handle_delta(payload) in (SyncResult.REJECTED, SyncResult.PENDING):
            self._publish_allowlist_state()

    def _on_command(self, topic: str, payload: bytes) -> None:
        result = self.commands.handle(payload)
        self._publish(self.topics.cmd_result, CommandProcessor.encode(result), retain=False)


def _json_default(obj: object) -> object:
    if isinstance(obj, set | frozenset | tuple):
        return list(obj)
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    if hasattr(obj, "value"):
        return obj.value
    return str(obj)
