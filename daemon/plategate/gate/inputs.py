"""Vehicle inputs (loop detector, photo-eye) through gpiozero with debounce."""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..config import GateConfig, InputConfig
from ..errors import GateError

logger = logging.getLogger(__name__)


class VehicleInput:
    """A debounced digital input that reports a vehicle present / gone.

    Args:
        name: ``loop_detector`` or ``photo_eye`` (used in logs and status).
        cfg: the input's config section.
        pin_factory: a gpiozero pin factory.
        on_change: called with ``(name, present)`` on every debounced change.

    Raises:
        GateError: the pin cannot be used as an input.
    """

    def __init__(self, name: str, cfg: InputConfig, pin_factory,
                 on_change: Callable[[str, bool], None] | None = None) -> None:
        from gpiozero import DigitalInputDevice
        from gpiozero.exc import GPIOZeroError

        self.name = name
        self.cfg = cfg
        self.on_change = on_change
        kwargs: dict = {"bounce_time": cfg.bounce_ms / 1000.0 or None, "pin_factory": pin_factory}
        if cfg.pull == "none":
            kwargs.update(pull_up=None, active_state=cfg.active_high)
        else:
            kwargs["pull_up"] = cfg.pull == "up"
        try:
            self.device = DigitalInputDevice(cfg.pin, **kwargs)
        except (GPIOZeroError, ValueError) as exc:
            raise GateError(f"gate.{name}.pin {cfg.pin!r}: cannot use as input: {exc}") from exc
        self.device.when_activated = lambda: self._changed(True)
        self.device.when_deactivated = lambda: self._changed(False)

    def _changed(self, present: bool) -> None:
        logger.info("%s: vehicle %s", self.name, "present" if present else "gone")
        if self.on_change is not None:
            try:
                self.on_change(self.name, present)
            except Exception:
                logger.exception("%s change callback failed", self.name)

    @property
    def is_active(self) -> bool:
        return bool(self.device.is_active)

    def close(self) -> None:
        self.device.close()


def create_inputs(cfg: GateConfig, pin_factory,
                  on_change: Callable[[str, bool], None] | None = None) -> dict[str, VehicleInput]:
    """Build the enabled inputs (``loop_detector``, ``photo_eye``) keyed by name."""
    inputs = {}
    for name in ("loop_detector", "photo_eye"):
        section: InputConfig = getattr(cfg, name)
        if section.enabled:
            inputs[name] = VehicleInput(name, section, pin_factory, on_change)
    return inputs
