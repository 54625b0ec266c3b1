"""HTTP webhooks: every event POSTed as JSON to each configured URL, signed, from a
persistent outbox.

An event is committed to SQLite (one row per receiver) before :meth:`Webhooks.publish`
returns, and a row is deleted only when its receiver answers 2xx. Each receiver has
its own sender thread that delivers its rows in order; a receiver that is down, slow
or answering errors is retried with exponential backoff (``retry_min_s`` doubling up
to ``retry_max_s``) while the others carry on, and a restart resumes from the rows
still stored. Delivery is therefore *at least once*: receivers de-duplicate on the
``Idempotency-Key`` header (the event id).

Each request carries ``X-Plategate-Signature: sha256=<hex HMAC-SHA256 of the body
with the receiver's secret>``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from . import __version__
from .config_network import WebhookConfig
from .db import open_sqlite
from .errors import StorageError
from .journal import iso_utc

logger = logging.getLogger(__name__)

MAX_PENDING = 20_000  # rows per receiver; past this the oldest is dropped (logged as an error)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS webhook_outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    hook TEXT NOT NULL,
    event_id TEXT NOT NULL,
    body BLOB NOT NULL,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS webhook_outbox_hook ON webhook_outbox(hook, seq);
"""


def sign(body: bytes, secret: bytes) -> str:
    """The ``X-Plategate-Signature`` header value for *body*."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify(body: bytes, secret: bytes, header: str | None) -> bool:
    """Whether *header* is the signature of *body* with *secret* (constant-time)."""
    return bool(header) and hmac.compare_digest(sign(body, secret), str(header))


def redact_url(url: str) -> str:
    """The URL without user:password and query (which may hold tokens)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


class _Sender(threading.Thread):
    """Delivers one receiver's rows in order, backing off while it fails."""

    def __init__(self, owner: Webhooks, cfg: WebhookConfig, key: str) -> None:
        super().__init__(name=f"webhook-{cfg.name}", daemon=True)
        self.owner, self.cfg, self.key = owner, cfg, key
        self.secret = b""
        self.wake = threading.Event()
        self.delivered = 0
        self.failures = 0
        self.last_ok: float | None = None
        self.last_error: str | None = None
        self.retry_at: float | None = None
        self._backoff = cfg.retry_min_s

    def status(self) -> dict:
        return {"name": self.cfg.name, "url": redact_url(self.cfg.url), "pending": self.owner.pending(self.key),
                "delivered": self.delivered, "failures": self.failures,
                "last_ok": iso_utc(self.last_ok) if self.last_ok else None, "last_error": self.last_error,
                "retry_in_s": round(max(0.0, self.retry_at - time.monotonic()), 1) if self.retry_at else None,
                "ok": self.last_error is None}

    def run(self) -> None:
        try:
            self.secret = self.cfg.secret_bytes()
        except OSError as exc:
            self.last_error = f"cannot read secret_file {self.cfg.secret_file}: {exc.strerror or exc}"
            logger.error("webhook %s: %s; nothing is sent to it (events stay queued)", self.cfg.name, self.last_error)
            return
        stop = self.owner.stopping
        while not stop.is_set():
            row = self.owner.head(self.key)
            if row is None:
                self.wake.wait(5.0)
                self.wake.clear()
                continue
            seq, event_id, body = row
            if self._post(event_id, body):
                self.owner.ack(seq)
                self.delivered += 1
                self.last_ok, self.last_error, self.retry_at = time.time(), None, None
                self._backoff = self.cfg.retry_min_s
                continue
            self.failures += 1
            self.retry_at = time.monotonic() + self._backoff
            logger.warning("webhook %s: event %s not delivered (%s); retry in %.0f s", self.cfg.name, event_id,
                           self.last_error, self._backoff)
            stop.wait(self._backoff)
            self._backoff = min(self._backoff * 2, self.cfg.retry_max_s)

    def _post(self, event_id: str, body: bytes) -> bool:
        request = urllib.request.Request(self.cfg.url, data=body, method="POST", headers={
            "Content-Type": "application/json", "User-Agent": f"plategate/{__version__}",
            "X-Plategate-Signature": sign(body, self.secret), "X-Plategate-Event": event_id,
            "Idempotency-Key": event_id})
        try:
            with urllib.request.urlopen(request, timeout=self.cfg.timeout_s) as response:
                response.read(65536)
                if 200 <= response.status < 300:
                    return True
                self.last_error = f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            self.last_error = f"HTTP {exc.code} {exc.reason}"
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", None) or exc
            self.last_error = f"{type(reason).__name__}: {reason}" if not isinstance(reason, str) else reason
        return False


class Webhooks:
    """The outbox and one sender per configured receiver.

    Args:
        path: SQLite file of the outbox (created).
        hooks: the ``[[webhooks]]`` sections.
        site_id, gate_id: added to each payload as in the MQTT event.

    Raises:
        StorageError: the outbox cannot be opened.
    """

    def __init__(self, path: Path, hooks: list[WebhookConfig], site_id: str = "", gate_id: str = "") -> None:
        self.path = Path(path)
        self.site_id, self.gate_id = site_id, gate_id
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        try:
            self._db = open_sqlite(self.path, synchronous="FULL", autocommit=True)
            self._db.executescript(_SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise StorageError(f"{self.path}: cannot open webhook outbox: {exc}") from None
        self.senders: list[_Sender] = []
        seen: set[str] = set()
        for cfg in hooks:
            key = redact_url(cfg.url)
            while key in seen:  # the same URL twice (e.g. two secrets): keep the queues apart
                key += "#"
            seen.add(key)
            self.senders.append(_Sender(self, cfg, key))

    @classmethod
    def from_config(cls, cfg) -> Webhooks | None:
        """The webhooks of a :class:`plategate.config.PlategateConfig`, ``None`` when it has none.

        Raises:
            StorageError: the outbox cannot be opened.
        """
        return cls(cfg.webhook_db(), cfg.webhooks, cfg.site_id, cfg.gate_id) if cfg.webhooks else None

    def start(self) -> None:
        for sender in self.senders:
            sender.start()
        if self.senders:
            logger.info("webhooks: %s", ", ".join(f"{s.cfg.name} ({s.owner.pending(s.key)} queued)"
                                                  for s in self.senders))

    def stop(self) -> None:
        self.stopping.set()
        for sender in self.senders:
            sender.wake.set()
        for sender in self.senders:
            if sender.is_alive():
                sender.join(timeout=max(5.0, sender.cfg.timeout_s + 1))
        with self._lock:
            self._db.close()

    # -- the outbox -----------------------------------------------------------
    def publish(self, event: dict, snapshot: bytes | None = None) -> None:
        """Queue *event* (the public event dict) for every receiver, durably.

        Raises:
            StorageError: the outbox cannot be written (the event stays in the journal).
        """
        if not self.senders:
            return
        event = {**event, "site": self.site_id, "gate": self.gate_id, "snapshot": snapshot is not None}
        plain = json.dumps(event, separators=(",", ":"), default=str).encode()
        with_jpeg = None
        now = time.time()
        rows = []
        for sender in self.senders:
            body = plain
            if sender.cfg.snapshot and snapshot is not None:
                if with_jpeg is None:
                    with_jpeg = json.dumps({**event, "snapshot_jpeg": base64.b64encode(snapshot).decode()},
                                           separators=(",", ":"), default=str).encode()
                body = with_jpeg
            rows.append((sender.key, str(event["id"]), body, now))
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany("INSERT INTO webhook_outbox(hook, event_id, body, created) VALUES (?,?,?,?)",
                                     rows)
                for sender in self.senders:
                    self._cap(sender.key)
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise StorageError(f"{self.path}: cannot queue event {event['id']} for webhooks: {exc}") from None
        for sender in self.senders:
            sender.wake.set()

    def _cap(self, key: str) -> None:
        (n,) = self._db.execute("SELECT COUNT(*) FROM webhook_outbox WHERE hook=?", (key,)).fetchone()
        if n <= MAX_PENDING:
            return
        for seq, event_id in self._db.execute("SELECT seq, event_id FROM webhook_outbox WHERE hook=? ORDER BY seq "
                                              "LIMIT ?", (key, n - MAX_PENDING)).fetchall():
            self._db.execute("DELETE FROM webhook_outbox WHERE seq=?", (seq,))
            logger.error("webhook outbox of %s over %d events: dropped event %s undelivered", key, MAX_PENDING,
                         event_id)

    def head(self, key: str) -> tuple[int, str, bytes] | None:
        with self._lock:
            if self.stopping.is_set():
                return None
            row = self._db.execute("SELECT seq, event_id, body FROM webhook_outbox WHERE hook=? ORDER BY seq LIMIT 1",
                                   (key,)).fetchone()
        return (int(row[0]), str(row[1]), bytes(row[2])) if row else None

    def ack(self, seq: int) -> None:
        with self._lock:
            if not self.stopping.is_set():
                self._db.execute("DELETE FROM webhook_outbox WHERE seq=?", (seq,))

    def pending(self, key: str) -> int:
        with self._lock:
            if self.stopping.is_set():
                return 0
            return int(self._db.execute("SELECT COUNT(*) FROM webhook_outbox WHERE hook=?", (key,)).fetchone()[0])

    def status(self) -> list[dict]:
        """Per receiver: name, URL (no credentials), queued, delivered, failures, last error."""
        return [sender.status() for sender in self.senders]
