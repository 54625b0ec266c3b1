"""Relays that open the barrier: a GPIO pin through gpiozero, or a serial relay board.

Every relay starts de-energised, and :meth:`Relay.close` leaves it de-energised.
"""

from __future__ import annotations

import abc
import logging
import threading
from collections.abc import Callable

from ..config import RelayConfig
from ..errors import GateError

logger = logging.getLogger(__name__)

ActionCallback = Callable[[str], None]


class Relay(abc.ABC):
    """A relay output with non-blocking pulses.

    Args:
        on_change: called with ``"on"`` or ``"off"`` after every change of state.
    """

    def __init__(self, on_change: ActionCallback | None = None) -> None:
        self._lock = threading.RLock()
        self._timer: threading.Timer | None = None
        self._energised = False
        self.on_change = on_change
        self.pulses = 0

    @property
    def is_energised(self) -> bool:
        return self._energised

    def _set(self, energise: bool) -> None:
        with self._lock:
            if energise == self._energised:
                return
            self._write(energise)
            self._energised = energise
        logger.info("relay %s", "energised" if energise else "de-energised")
        if self.on_change is not None:
            try:
                self.on_change("on" if energise else "off")
            except Exception:
                logger.exception("relay change callback failed")

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def on(self) -> None:
        """Energise until :meth:`off` (hold mode)."""
        with self._lock:
            self._cancel_timer()
            self._set(True)

    def off(self) -> None:
        """De-energise now (cancels a running pulse)."""
        with self._lock:
            self._cancel_timer()
            self._set(False)

    def pulse(self, ms: int) -> None:
        """Energise for *ms* milliseconds without blocking; a new pulse restarts the timer."""
        with self._lock:
            self._cancel_timer()
            self._set(True)
            self.pulses += 1
            self._timer = threading.Timer(ms / 1000.0, self._end_pulse)
            self._timer.daemon = True
            self._timer.start()

    def _end_pulse(self) -> None:
        with self._lock:
            self._timer = None
            self._set(False)

    def close(self) -> None:
        """De-energise and release the device; safe to call twice."""
        with self._lock:
            self._cancel_timer()
            try:
                self._set(False)
            finally:
                self._release()

    @abc.abstractmethod
    def _write(self, energise: bool) -> None: ...

    def _release(self) -> None:
        """Release the underlying device (nothing to release by default)."""
        return None


class GpioRelay(Relay):
    """A relay on a GPIO pin through ``gpiozero.OutputDevice``."""

    def __init__(self, pin, active_high: bool, pin_factory, on_change: ActionCallback | None = None) -> None:
        super().__init__(on_change)
        from gpiozero import OutputDevice
        from gpiozero.exc import GPIOZeroError

        try:
            self.device = OutputDevice(pin, active_high=active_high, initial_value=False, pin_factory=pin_factory)
        except (GPIOZeroError, ValueError) as exc:
            raise GateError(f"gate.relay.pin {pin!r}: cannot use as relay output: {exc}") from exc

    def _write(self, energise: bool) -> None:
        if energise:
            self.device.on()
        else:
            self.device.off()

    def _release(self) -> None:
        self.device.close()


class SerialRelay(Relay):
    """A USB/serial relay board driven with configurable byte sequences (pyserial).

    ``port`` may be any pyserial URL, e.g. ``/dev/ttyUSB0`` or ``loop://`` in tests.
    """

    def __init__(self, port: str, baudrate: int, open_bytes: bytes, close_bytes: bytes,
                 on_change: ActionCallback | None = None) -> None:
        super().__init__(on_change)
        import serial

        try:
            self.port = serial.serial_for_url(port, baudrate=baudrate, timeout=1.0, write_timeout=1.0)
        except (serial.SerialException, ValueError) as exc:
            raise GateError(f"gate.relay.serial_port {port!r}: cannot open: {exc}") from exc
        self.open_bytes = open_bytes
        self.close_bytes = close_bytes
        self._write(False)

    def _write(self, energise: bool) -> None:
        import serial

        try:
            self.port.write(self.open_bytes if energise else self.close_bytes)
            self.port.flush()
        except serial.SerialException as exc:
            raise GateError(f"serial relay write failed: {exc}") from exc

    def _release(self) -> None:
        self.port.close()


class NullRelay(Relay):
    """No relay (``type = "none"``): decisions are made and logged, nothing is switched."""

    def _write(self, energise: bool) -> None:
        pass


def create_relay(cfg: RelayConfig, pin_factory, on_change: ActionCallback | None = None) -> Relay:
    """Build the configured relay, de-energised.

    Raises:
        GateError: the pin or port cannot be used.
    """
    if cfg.type == "gpio":
        return GpioRelay(cfg.pin, cfg.active_high, pin_factory, on_change)
    if cfg.type == "serial":
        return SerialRelay(cfg.serial_port, cfg.serial_baudrate, bytes.fromhex(cfg.serial_open),
                           bytes.fromhex(cfg.serial_close), on_change)
    return NullRelay(on_change)
