"""Signed allowlist sync: verify, order and apply site snapshots and deltas.

* A snapshot is applied when its version is newer than the applied one (or equal with a
  different content hash, which restores the site's list over local edits) and the entries
  hash to the announced ``hash``.
* A delta is applied when ``from_version`` equals the applied version and the result hashes
  to the delta's ``hash``; a newer delta is kept aside (gap) and a full snapshot is requested;
  a hash mismatch also requests a snapshot. Kept deltas are applied once the gap is closed.
* Anything unsigned, badly signed, malformed, for another site, or not newer than what is
  applied is refused with a log line naming why; nothing is applied.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable

from ..access.store import AllowlistStore
from ..errors import AccessError, PlategateError, SignatureError
from .messages import Delta, now_iso, parse_delta, parse_snapshot, to_entries
from .signing import open_envelope

logger = logging.getLogger(__name__)

MAX_PENDING_DELTAS = 256


class SyncResult:
    """Outcome codes of one handled message (strings for logs and tests)."""

    APPLIED = "applied"
    UNCHANGED = "unchanged"
    PENDING = "pending"
    REJECTED = "rejected"


class AllowlistSync:
    """Applies signed site messages to an :class:`AllowlistStore`.

    Args:
        store: the allowlist store.
        site: this gate's site id (messages for other sites are refused).
        keys: key id -> Ed25519 public key of the site.
        max_bytes: payload size cap.
        request_snapshot: ``fn(payload: dict)`` publishes an ``allowlist/request``.
        min_request_interval_s: rate limit for snapshot requests.
    """

    def __init__(self, store: AllowlistStore, site: str, keys: dict, max_bytes: int,
                 request_snapshot: Callable[[dict], None], min_request_interval_s: float = 30.0) -> None:
        self.store = store
        self.site = site
        self.keys = keys
        self.max_bytes = max_bytes
        self._request = request_snapshot
        self.request_interval_s = min_request_interval_s
        self._last_request = -1e18
        self._request_lock = threading.RLock()
        self._deferred: str | None = None
        self._timer: threading.Timer | None = None
        self._pending: dict[int, Delta] = {}
        self._lock = threading.Lock()
        self.last_error: str | None = None
        # (sha256 of the raw snapshot, version, hash) it left the store in: the retained snapshot
        # comes again on every reconnect and need not be verified and parsed again.
        self._seen_snapshot: tuple[str, int, str] | None = None
        self._applied_listeners: list[Callable[[dict], None]] = []

    def on_applied(self, fn: Callable[[dict], None]) -> None:
        """Call *fn(store.state())* after a snapshot or delta has been applied."""
        self._applied_listeners.append(fn)

    # Entry points (bytes from the broker) ----------------------------------------------
    def handle_snapshot(self, raw: bytes) -> str:
        """Verify and apply a signed snapshot; never raises for bad input."""
        with self._lock:
            try:
                result = self._snapshot(raw)
            except (PlategateError, RecursionError) as exc:
                return self._reject("snapshot", exc)
            applied = self._drain_pending() if result == SyncResult.APPLIED else False
        if result == SyncResult.APPLIED or applied:
            self._notify()
        return result

    def handle_delta(self, raw: bytes) -> str:
        """Verify and apply (or keep aside) a signed delta; never raises for bad input."""
        with self._lock:
            try:
                result = self._delta(raw)
            except (PlategateError, RecursionError) as exc:
                return self._reject("delta", exc)
        if result == SyncResult.APPLIED:
            self._notify()
        return result

    def _reject(self, what: str, exc: BaseException) -> str:
        kind = "signature" if isinstance(exc, SignatureError) else "invalid"
        self.last_error = f"{what} rejected ({kind}): {exc}"
        logger.warning("allowlist %s rejected (%s): %s", what, kind, exc)
        return SyncResult.REJECTED

    def _notify(self) -> None:
        state = self.store.state()
        for fn in list(self._applied_listeners):
            try:
                fn(state)
            except Exception:
                logger.exception("allowlist-applied listener failed")

    # Logic ---------------------------------------------------------------------------
    def _snapshot(self, raw: bytes) -> str:
        if not raw:
            return SyncResult.UNCHANGED  # a cleared retained message
        raw_digest = hashlib.sha256(raw).hexdigest()
        if self._seen_snapshot == (raw_digest, self.store.version, self.store.content_hash()):
            logger.debug("allowlist snapshot unchanged since it was last applied")
            return SyncResult.UNCHANGED
        snap = parse_snapshot(open_envelope(raw, self.keys, self.max_bytes, "snapshot"))
        if snap.site != self.site:
            raise AccessError(f"snapshot for site {snap.site!r}, this gate belongs to {self.site!r}")
        cur_version, cur_hash = self.store.version, self.store.content_hash()
        if snap.version < cur_version:
            raise SignatureError(f"stale snapshot: version {snap.version} is older than the applied {cur_version}")
        if snap.version == cur_version and snap.hash == cur_hash:
            logger.info("allowlist snapshot version %d already applied", snap.version)
            self._seen_snapshot = (raw_digest, cur_version, cur_hash)
            return SyncResult.UNCHANGED
        entries = to_entries(snap.entries, "snapshot", "entries")
        plates = [e.plate for e in entries]
        if len(set(plates)) != len(plates):
            raise AccessError("snapshot lists a plate more than once (after normalisation)")
        # replace_all checks the content hash before touching anything.
        self.store.replace_all(entries, version=snap.version, origin="site", expected_hash=snap.hash)
        self._seen_snapshot = (raw_digest, snap.version, snap.hash)
        self.last_error = None
        logger.info("allowlist snapshot version %d applied: %d entries", snap.version, len(entries))
        return SyncResult.APPLIED

    def _delta(self, raw: bytes) -> str:
        delta = parse_delta(open_envelope(raw, self.keys, self.max_bytes, "delta"))
        if delta.site != self.site:
            raise AccessError(f"delta for site {delta.site!r}, this gate belongs to {self.site!r}")
        cur = self.store.version
        if delta.version <= cur:
            raise SignatureError(f"stale or replayed delta: version {delta.version} is not newer than the applied {cur}")
        # Validate the entries now so that a bad delta is refused whatever its position.
        to_entries(delta.add, "delta", "add")
        if delta.from_version > cur:
            if len(self._pending) < MAX_PENDING_DELTAS:
                self._pending[delta.from_version] = delta
            logger.warning("allowlist delta %d->%d leaves a gap after the applied version %d; asking for a snapshot",
                           delta.from_version, delta.version, cur)
            self.request_snapshot(f"gap: have {cur}, got delta from {delta.from_version}")
            return SyncResult.PENDING
        result = self._apply_delta(delta)
        if result == SyncResult.APPLIED:
            self._drain_pending()
        return result

    def _apply_delta(self, delta: Delta) -> str:
        from ..types import normalise_plate

        add = to_entries(delta.add, "delta", "add")
        remove = [normalise_plate(p) for p in delta.remove]
        try:
            self.store.apply_delta(add, remove, version=delta.version, origin="site", expected_hash=delta.hash)
        except AccessError as exc:
            self.last_error = f"delta {delta.from_version}->{delta.version}: {exc}"
            logger.warning("allowlist delta %d->%d not applied: %s; asking for a snapshot", delta.from_version, delta.version, exc)
            self.request_snapshot(f"hash mismatch applying delta to version {delta.version}")
            return SyncResult.REJECTED
        self.last_error = None
        logger.info("allowlist delta %d->%d applied (+%d -%d)", delta.from_version, delta.version, len(add), len(remove))
        return SyncResult.APPLIED

    def _drain_pending(self) -> bool:
        applied = False
        cur = self.store.version
        for from_version in [v for v in self._pending if v < cur]:
            del self._pending[from_version]
        while cur in self._pending:
            delta = self._pending.pop(cur)
            if self._apply_delta(delta) != SyncResult.APPLIED:
                break
            applied = True
            cur = self.store.version
        return applied

    def request_snapshot(self, reason: str, force: bool = False) -> bool:
        """Publish an ``allowlist/request`` now, or, within the rate-limit interval after the
        last one (or while the request cannot be published), once the interval is over / the
        broker is back: a request is deferred, never dropped. Returns whether it went out now."""
        with self._request_lock:
            now = time.monotonic()
            wait = self.request_interval_s - (now - self._last_request)
            if not force and wait > 0:
                self._defer(reason, wait)
                return False
            return self._send_request(reason)

    def _send_request(self, reason: str) -> bool:
        self._deferred = None
        payload = {"reason": reason, "have_version": self.store.version, "have_hash": self.store.content_hash(),
                   "time": now_iso()}
        try:
            self._request(payload)
        except Exception as exc:
            logger.warning("allowlist request deferred until it can be published: %s", exc)
            self._deferred = reason
            return False
        self._last_request = time.monotonic()
        logger.info("asked the site for a full allowlist snapshot: %s", reason)
        return True

    def _defer(self, reason: str, wait: float) -> None:
        self._deferred = reason
        if self._timer is None or not self._timer.is_alive():
            self._timer = threading.Timer(wait, self.send_deferred)
            self._timer.daemon = True
            self._timer.start()
            logger.info("allowlist request (%s) deferred %.1f s by the rate limit", reason, wait)

    def send_deferred(self) -> bool:
        """Send a deferred request now if its interval is over (the bridge calls this on reconnect)."""
        with self._request_lock:
            if self._deferred is None:
                return False
            wait = self.request_interval_s - (time.monotonic() - self._last_request)
            if wait > 0:
                self._timer = None
                self._defer(self._deferred, wait)
                return False
            return self._send_request(self._deferred)

    @property
    def deferred(self) -> str | None:
        """The reason of a request waiting for the rate limit or the broker, if any."""
        return self._deferred

    def close(self) -> None:
        """Cancel a pending deferred-request timer."""
        if self._timer is not None:
            self._timer.cancel()

    def state_payload(self) -> bytes:
        """The retained ``allowlist/state`` payload."""
        state = self.store.state()
        state["time"] = now_iso()
        state["last_error"] = self.last_error
        return json.dumps(state).encode("utf-8")
