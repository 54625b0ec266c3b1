"""Choosing a gpiozero pin factory by name; no global ``Device.pin_factory`` is set."""

from __future__ import annotations

import logging

from ..errors import GateError

logger = logging.getLogger(__name__)


def make_pin_factory(name: str):
    """Return a gpiozero pin factory instance.

    Args:
        name: ``mock`` (gpiozero's own MockFactory, for tests, the demo and benches),
            ``lgpio`` (Raspberry Pi 5 / Bookworm), ``rpigpio``, ``native``, or ``auto``
            (the first of lgpio, rpigpio, native that works on this machine).

    Raises:
        GateError: the named factory cannot be loaded here (not a Pi, missing library).
    """
    if name == "mock":
        from gpiozero.pins.mock import MockFactory

        return MockFactory()
    loaders = {
        "lgpio": ("gpiozero.pins.lgpio", "LGPIOFactory"),
        "rpigpio": ("gpiozero.pins.rpigpio", "RPiGPIOFactory"),
        "native": ("gpiozero.pins.native", "NativeFactory"),
    }
    names = list(loaders) if name == "auto" else [name]
    problems = []
    for candidate in names:
        module_name, cls_name = loaders[candidate]
        try:
            module = __import__(module_name, fromlist=[cls_name])
            factory = getattr(module, cls_name)()
            logger.info("using gpiozero pin factory %s", candidate)
            return factory
        except Exception as exc:  # ImportError, or the library's own error off a Pi
            problems.append(f"{candidate}: {exc}")
    raise GateError("no GPIO pin factory works on this machine (" + "; ".join(problems) +
                    "); on a machine without GPIO set gate.pin_factory = \"mock\"")


def is_mock(factory) -> bool:
    """Whether *factory* is gpiozero's MockFactory (pins that drive nothing)."""
    return type(factory).__name__ == "MockFactory"


def describe_factory(factory) -> str:
    """``mock (nothing is wired)`` for gpiozero's MockFactory, else the factory's short name."""
    if is_mock(factory):
        return "mock (nothing is wired)"
    return type(factory).__name__.removesuffix("Factory").lower() or "unknown"
