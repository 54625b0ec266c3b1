"""What the control socket and remote commands may use of the running daemon.

:class:`DaemonParts` is a structural interface (a :class:`typing.Protocol`): the
handlers in :mod:`plategate.handlers` are written against it, and
:class:`plategate.service.Service` satisfies it, so the dependency runs one way
(service -> handlers -> parts) and the handlers can be given any object with these
attributes.
"""

from __future__ import annotations

import queue
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .access.store import AllowlistStore
    from .camera import CameraSupervisor
    from .config import PlategateConfig
    from .gate import GateController, Relay, VehicleInput
    from .gatekeeper import GateKeeper
    from .journal import Journal
    from .mqtt.bridge import MqttBridge
    from .pipeline import CaptureLoop, PipelineStats


class DaemonParts(Protocol):
    """The running parts the handlers read and drive."""

    cfg: PlategateConfig
    state: str
    started_at: float
    store: AllowlistStore
    bridge: MqttBridge | None
    camera: CameraSupervisor
    stats: PipelineStats
    keeper: GateKeeper
    frames: queue.Queue
    gate: GateController
    relay: Relay
    inputs: dict[str, VehicleInput]
    pin_factory: object  # the gpiozero pin factory
    journal: Journal
    capture: CaptureLoop

    def alive(self) -> bool:
        """Whether the capture and recognition threads are running and beating."""

    def models_health(self) -> dict:
        """The recognizer's model report."""

    def request_reload(self) -> None:
        """Ask the supervisor thread to re-read the configuration (as SIGHUP does)."""

    def status_extra(self) -> dict:
        """Daemon facts beyond the parts (last reload, readiness)."""
