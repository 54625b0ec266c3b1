"""One human-readable line per decision and relay action (``plategated --print-events``, the demo)."""

from __future__ import annotations

import time
from collections.abc import Callable


class ConsolePrinter:
    """Formats daemon happenings for a terminal.

    Args:
        write: called with each line (``print`` in the demo).
    """

    def __init__(self, write: Callable[[str], None]) -> None:
        self.write = write

    def _say(self, text: str) -> None:
        self.write(f"{time.strftime('%H:%M:%S')}  {text}")

    def relay_changed(self, state: str) -> None:
        self._say(f"relay {state.upper()}")

    def gate_action(self, action: str, detail: dict) -> None:
        if action == "open":
            self._say(f"gate OPEN ({detail.get('reason')}, {detail.get('plate')})")

    def event(self, event: dict) -> None:
        if event.get("type") == "no_plate":
            self._say(f"burst {event['burst']}: no plate read")
            return
        label = f" [{event['label']}]" if event.get("label") else ""
        confidence = f"conf {event['confidence']:.2f}" if event.get("confidence") is not None else "on request"
        latency = f"  {event['latency_ms']:.0f} ms" if event.get("latency_ms") is not None else ""
        plate = event.get("plate") or "-"
        direction = f"{event.get('direction') or 'unknown':<11} " if event.get("confidence") is not None else ""
        self._say(f"{plate:<10} {confidence}  {event['decision'].upper():<8} {direction}{event['reason']}{label}"
                  f"{latency}")
