"""From a burst's voted read to a decision, a relay action, a journal row and an MQTT event."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import numpy as np

from .forwarding import EventForwarder
from .gate import GateController
from .journal import Journal, iso_utc, new_event_id
from .pipeline import BurstResult
from .types import Decision, DecisionKind

logger = logging.getLogger(__name__)

#: a plate's previous burst helps measure its direction when it ended at most this long before
DIRECTION_HISTORY_S = 3.0
#: reasons of openings nobody's plate asked for (journaled and published like decisions)
MANUAL_OPEN = "manual_open"
REMOTE_COMMAND = "remote_command"
RELAY_TEST = "relay_test"


def encode_jpeg(image: np.ndarray | None, quality: int = 85) -> bytes | None:
    """JPEG bytes of *image*, or ``None``."""
    if image is None or not image.size:
        return None
    import cv2

    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return data.tobytes() if ok else None


class GateKeeper:
    """Decides on each burst result and carries the decision out.

    Args:
        policy: object with ``direction(reads, text) -> Direction`` and
            ``decide(read, direction) -> Decision`` (plategate.access.lane.LanePolicy).
        gate: the gate controller to open.
        journal: where every event is stored.
        forwarder: hands each journaled event to the MQTT outbox (and catches up later when
            the outbox cannot take it); ``None`` without MQTT.

    The relay is switched first, then the event is stored and published, so that
    neither a slow disk nor a down broker delays the barrier.
    """

    def __init__(self, policy, gate: GateController, journal: Journal, forwarder: EventForwarder | None = None) -> None:
        self.policy = policy
        self.gate = gate
        self.journal = journal
        self.forwarder = forwarder
        self.listeners: list[Callable[[dict], None]] = []
        self._lock = threading.Lock()
        self.last_event: dict | None = None
        self.decisions = 0
        self._bursts: dict[str, tuple[float, list]] = {}  # plate -> (trigger time, its boxed reads)

    def add_listener(self, fn: Callable[[dict], None]) -> None:
        self.listeners.append(fn)

    def remove_listener(self, fn: Callable[[dict], None]) -> None:
        if fn in self.listeners:
            self.listeners.remove(fn)

    def _notify(self, message: dict) -> None:
        for fn in list(self.listeners):
            try:
                fn(message)
            except Exception:
                logger.exception("event listener failed")

    def _direction_reads(self, text: str, result: BurstResult) -> list:
        """The burst's reads, preceded by the plate's previous burst (if recent) when fewer than two of
        this burst's reads have a box: an early decision after one frame still gets a direction from
        the car's movement since its last burst."""
        own = [r for r in result.reads if r.text == text and r.box]
        previous = self._bursts.get(text)
        self._bursts[text] = (result.trigger_time, own)
        if len(self._bursts) > 200:
            self._bursts = {p: v for p, v in self._bursts.items()
                            if result.trigger_time - v[0] <= DIRECTION_HISTORY_S}
        if len(own) >= 2 or previous is None or not 0 < result.trigger_time - previous[0] <= DIRECTION_HISTORY_S:
            return list(result.reads)
        return [*previous[1][-2:], *own]

    def handle(self, result: BurstResult) -> dict | None:
        """Decide on *result*; returns the stored event, or ``None`` when no plate was read."""
        if result.read is None:
            logger.info("burst %d (%s): no plate read in %d frame(s)", result.burst_id, result.source,
                        result.frames_used)
            self._notify({"type": "no_plate", "burst": result.burst_id, "frames": result.frames_used})
            return None
        with self._lock:
            read = result.read
            direction = self.policy.direction(self._direction_reads(read.text, result), read.text)
            decision: Decision = self.policy.decide(read, direction)
            if decision.open_gate:
                self.gate.open(decision.reason, decision.plate)
            now = time.time()
            latency = (time.monotonic() - result.trigger_time) * 1000.0
            event = {
                "id": new_event_id(now),
                "ts": now,
                "time": iso_utc(now),
                "plate": decision.plate or read.text,
                "confidence": read.confidence,
                "candidates": [list(c) for c in read.candidates],
                "decision": DecisionKind(decision.kind).value,
                "reason": decision.reason,
                "matched": decision.matched,
                "label": decision.label,
                "allowlist_version": decision.allowlist_version,
                "latency_ms": round(latency, 1),
                "opened": bool(decision.open_gate),
                "direction": direction.value,
                "extra": {"direction": direction.value, "lane_rule": decision.detail.get("lane_rule"),
                          "burst": result.burst_id, "source": result.source, "frames": result.frames_used,
                          "box": list(read.box) if read.box else None, "timing_ms": result.timing_ms},
            }
            logger.info("decision %s for %s (%.2f, %s): %s%s, %.0f ms after trigger", event["decision"],
                        event["plate"], read.confidence, direction.value, decision.reason,
                        " -> OPEN" if decision.open_gate else "", latency)
            self.decisions += 1
        return self._store(event, result.crop, result.frame)

    def _store(self, event: dict, crop: np.ndarray | None, frame: np.ndarray | None) -> dict:
        forwarder = self.forwarder
        if forwarder is not None and forwarder.active:
            with forwarder.lock:  # a refill must not hand this event over at the same time
                event["outbox"] = 0
                stored = self.journal.record(event, crop, frame)
                forwarder.forward(stored, encode_jpeg(crop))
        else:
            stored = self.journal.record(event, crop, frame)
        self.last_event = stored
        self._notify({"type": "decision", **public_event(stored)})
        return stored

    def open_on_request(self, reason: str, requested_by: str, note: str = "", plate: str | None = None,
                        action: Callable[[], object] | None = None) -> dict:
        """Open the gate (or run *action*, e.g. a relay test pulse) for someone, and journal and
        publish it like a decision: ``decision`` granted, ``reason`` (:data:`MANUAL_OPEN`,
        :data:`REMOTE_COMMAND`, :data:`RELAY_TEST`), ``requested_by`` and ``note`` (why).

        Raises:
            GateError: the relay cannot be driven (nothing is journaled then).
        """
        plate = plate or None
        with self._lock:
            if action is None:
                self.gate.open(reason, plate)
            else:
                action()
            event = request_event(reason, requested_by, note, plate,
                                  getattr(getattr(self.policy, "store", None), "version", None))
            logger.warning("gate opened on request: %s by %s%s", reason, requested_by, f" ({note})" if note else "")
        return self._store(event, None, None)


def request_event(reason: str, requested_by: str, note: str = "", plate: str | None = None,
                  allowlist_version: int | None = None) -> dict:
    """The journal row of an opening nobody's read asked for (see :meth:`GateKeeper.open_on_request`)."""
    now = time.time()
    return {"id": new_event_id(now), "ts": now, "time": iso_utc(now), "plate": plate or None, "confidence": None,
            "candidates": [], "decision": DecisionKind.GRANTED.value, "reason": reason, "matched": None,
            "label": None, "allowlist_version": allowlist_version, "latency_ms": None, "opened": True,
            "extra": {"requested_by": requested_by, "note": note or None}}


PUBLIC_KEYS = ("id", "time", "plate", "confidence", "candidates", "decision", "reason", "matched", "label",
               "allowlist_version", "latency_ms", "opened", "direction")


def public_event(event: dict) -> dict:
    """The event as reported over MQTT and the control socket (no local paths); openings on
    request add ``requested_by`` and ``note``.

    ``direction`` is kept in the journal's ``extra`` column; rows read back from the
    journal find it there.
    """
    out = {k: event.get(k) for k in PUBLIC_KEYS}
    extra = event.get("extra")
    if out["direction"] is None:
        out["direction"] = (extra.get("direction") if isinstance(extra, dict) else None) or "unknown"
    if isinstance(extra, dict) and extra.get("requested_by"):
        out["requested_by"] = extra["requested_by"]
        out["note"] = extra.get("note")
    return out
