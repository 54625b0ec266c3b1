"""The drain thread: hands outbox rows to the MQTT client in order and deletes them when
the broker acknowledges them.

At most ``window`` rows are in the client's hands at once. paho keeps them across a
reconnect and resends them (in order, with DUP set) itself, so this thread only ever
publishes each row once per process; rows still unacknowledged at a crash or ``kill -9``
are published again after restart with the same id (consumers deduplicate on ``id``).
"""

from __future__ import annotations

import logging
import queue
import threading

from ..errors import StorageError
from .client import MqttClient
from .outbox import Outbox

logger = logging.getLogger(__name__)


class OutboxPublisher:
    """Background publisher of an :class:`Outbox` through an :class:`MqttClient`."""

    def __init__(self, outbox: Outbox, client: MqttClient, window: int = 200, ack_batch_s: float = 0.02) -> None:
        self.outbox = outbox
        self.client = client
        self.window = window
        self.ack_batch_s = ack_batch_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._inflight: dict[int, int] = {}  # mid -> seq
        self._last_handed = 0
        self._thread: threading.Thread | None = None
        self.published = 0
        self.acknowledged = 0
        client.on_ack(self._wake.set)

    def wake(self) -> None:
        """New rows are in the outbox (cheap, callable from any thread)."""
        self._wake.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="mqtt-outbox", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def inflight(self) -> int:
        return len(self._inflight)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(0.5)
            self._wake.clear()
            try:
                self._collect_acks()
                if self.client.connected:
                    self._hand_out()
            except StorageError as exc:
                logger.error("outbox: %s; retrying", exc)
                self._stop.wait(1.0)
            except Exception:
                logger.exception("outbox publisher error; retrying")
                self._stop.wait(1.0)
        try:
            self._collect_acks()
        except StorageError as exc:
            logger.error("outbox: %s", exc)

    def _collect_acks(self) -> None:
        seqs = []
        while True:
            try:
                mid = self.client.acks.get_nowait()
            except queue.Empty:
                break
            seq = self._inflight.pop(mid, None)
            if seq is not None:
                seqs.append(seq)
        if seqs:
            self.outbox.ack(seqs)
            self.acknowledged += len(seqs)

    def _hand_out(self) -> None:
        room = self.window - len(self._inflight)
        if room <= 0:
            return
        for msg in self.outbox.pending(self._last_handed, room):
            info = self.client.publish(msg.topic, msg.payload, qos=msg.qos, retain=msg.retain)
            if not MqttClient.ok(info):
                logger.warning("outbox: client refused message %s (rc %s); will retry", msg.msg_id, info.rc)
                self._wake.set()
                self._stop.wait(0.1)
                return
            self._inflight[info.mid] = msg.seq
            self._last_handed = msg.seq
            self.published += 1
            if msg.qos == 0:
                self._inflight.pop(info.mid, None)
                self.outbox.ack([msg.seq])
