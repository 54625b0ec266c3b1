"""The gate state machine: turns "open" into a relay pulse or a hold while occupied."""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable

from ..config import RelayConfig
from .relay import Relay

logger = logging.getLogger(__name__)


class GateState(enum.StrEnum):
    """What the gate controller is doing."""

    IDLE = "idle"
    PULSING = "pulsing"
    HOLDING = "holding"


class GateController:
    """Opens the barrier through a :class:`Relay` and tracks vehicle presence.

    Args:
        relay: the barrier relay (de-energised).
        cfg: ``gate.relay`` (mode ``pulse`` or ``hold``, ``pulse_ms``, ``hold_max_s``).
        on_action: called with ``(action, detail)`` for ``open``, ``release`` and
            ``presence`` changes; used for logs, the demo and live status.

    In ``pulse`` mode, :meth:`open` energises the relay for ``pulse_ms`` (a barrier
    controller with an "open" input closes by itself, with its own safety loop). In
    ``hold`` mode the relay stays energised while a vehicle is present and is only
    released once the loop/photo-eye reports it gone (or after ``hold_max_s``):
    the gate is never commanded closed while occupied.
    """

    def __init__(self, relay: Relay, cfg: RelayConfig,
                 on_action: Callable[[str, dict], None] | None = None) -> None:
        self.relay = relay
        self.cfg = cfg
        self.on_action = on_action
        self._lock = threading.RLock()
        self._present: dict[str, bool] = {}
        self._hold_timer: threading.Timer | None = None
        self._holding = False
        self.opens = 0
        self.last_open: float | None = None

    # -- presence -------------------------------------------------------
    @property
    def vehicle_present(self) -> bool:
        return any(self._present.values())

    def set_presence(self, source: str, present: bool) -> None:
        """Record a presence input change; releases a hold once nothing is present."""
        with self._lock:
            self._present[source] = present
            self._emit("presence", {"source": source, "present": present})
            if self._holding and not self.vehicle_present:
                self._release("vehicle left")

    # -- commands -------------------------------------------------------
    @property
    def state(self) -> GateState:
        if self._holding:
            return GateState.HOLDING
        return GateState.PULSING if self.relay.is_energised else GateState.IDLE

    def open(self, reason: str, plate: str | None = None) -> None:
        """Open the barrier (non-blocking)."""
        with self._lock:
            self.opens += 1
            self.last_open = time.time()
            detail = {"reason": reason, "plate": plate, "mode": self.cfg.mode}
            if self.cfg.mode == "hold":
                self._holding = True
                self.relay.on()
                self._restart_hold_timer()
                detail["hold_max_s"] = self.cfg.hold_max_s
            else:
                self.relay.pulse(self.cfg.pulse_ms)
                detail["pulse_ms"] = self.cfg.pulse_ms
            self._emit("open", detail)

    def _restart_hold_timer(self) -> None:
        if self._hold_timer is not None:
            self._hold_timer.cancel()
        self._hold_timer = threading.Timer(self.cfg.hold_max_s, self._hold_expired)
        self._hold_timer.daemon = True
        self._hold_timer.start()

    def _hold_expired(self) -> None:
        with self._lock:
            if not self._holding:
                return
            if self.vehicle_present:
                logger.warning("hold time %.0f s reached with a vehicle still present: keeping the gate open",
                               self.cfg.hold_max_s)
                self._restart_hold_timer()
                return
            self._release("hold time reached")

    def _release(self, why: str) -> None:
        self._holding = False
        if self._hold_timer is not None:
            self._hold_timer.cancel()
            self._hold_timer = None
        self.relay.off()
        self._emit("release", {"reason": why})

    def _emit(self, action: str, detail: dict) -> None:
        if self.on_action is not None:
            try:
                self.on_action(action, detail)
            except Exception:
                logger.exception("gate action callback failed")

    def close(self) -> None:
        """De-energise the relay and release it (shutdown path)."""
        with self._lock:
            self._holding = False
            if self._hold_timer is not None:
                self._hold_timer.cancel()
                self._hold_timer = None
            self.relay.close()

    @property
    def status(self) -> dict:
        return {"state": self.state.value, "relay_energised": self.relay.is_energised,
                "vehicle_present": self.vehicle_present, "opens": self.opens, "mode": self.cfg.mode}
