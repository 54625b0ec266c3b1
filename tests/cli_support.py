"""Helpers for the platectl tests: a config on disk and a real daemon-side control socket.

The "fake daemon" is the real :class:`plategate.control.ControlServer` on a real Unix
socket, with handler functions over a real :class:`AllowlistStore`, a real
:class:`Journal` and a relay on gpiozero's ``MockFactory`` — only the pipeline is absent.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np

from plategate.access.entry import entry_from_dict
from plategate.access.store import AllowlistStore
from plategate.audit import AuditLog
from plategate.config import JournalConfig, RelayConfig
from plategate.control import ControlServer
from plategate.handlers import control_handlers
from plategate.journal import Journal, iso_utc, new_event_id

BASE_CONFIG = """
site_id = "test"
gate_id = "north"
state_dir = "{state}"

[control]
socket = "{socket}"
group = ""

[camera]
backend = "replay"
source = "{frames}"
width = 320
height = 240
lores_width = 160
lores_height = 120
fps = {fps}
realtime = true
loop = true

[gate]
pin_factory = "mock"
"""


def short_dir() -> Path:
    """A short, world-traversable temp folder (Unix socket paths are limited to 107 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="pgcli-"))
    os.chmod(path, 0o755)
    return path


def write_frames(folder: Path, n: int = 6, moving: bool = True) -> Path:
    """Real PNG frames: a grey scene with a bright box that moves (to trigger motion)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        img = np.full((240, 320, 3), 60, np.uint8)
        if moving and i >= n // 2:
            cv2.rectangle(img, (40 + 10 * i, 60), (200 + 10 * i, 200), (255, 255, 255), -1)
        cv2.imwrite(str(folder / f"f{i:03d}.png"), img)
    return folder


def write_config(root: Path, extra: str = "", fps: float = 10.0) -> Path:
    """A complete test config under *root* (state, frames, socket); returns its path."""
    frames = write_frames(root / "frames")
    text = BASE_CONFIG.format(state=root / "state", socket=root / "control.sock", frames=frames, fps=fps)
    path = root / "plategate.toml"
    path.write_text(text + extra)
    return path


def add_events(journal: Journal, plates: list[tuple[str, str]], start: float | None = None) -> list[dict]:
    """Record decisions (plate, decision) one second apart; returns the stored events."""
    start = time.time() - 100 if start is None else start
    out = []
    for i, (plate, decision) in enumerate(plates):
        ts = start + i
        out.append(journal.record({"id": new_event_id(ts), "ts": ts, "time": iso_utc(ts), "plate": plate,
                                   "confidence": 0.9, "candidates": [[plate, 0.9]], "decision": decision,
                                   "reason": "exact_match" if decision == "granted" else "not_listed",
                                   "latency_ms": 120.0, "opened": decision == "granted"}))
    return out


def without_user(args: dict) -> dict:
    """The entry fields of an allowlist_add request (the daemon's audit arguments removed)."""
    return {k: v for k, v in args.items() if k not in ("user", "source", "_peer")}


class FakeDaemon:
    """Handlers as the service registers them, on real stores; started on the config's socket."""

    def __init__(self, root: Path) -> None:
        state = root / "state"
        self.store = AllowlistStore(state / "access.db")
        self.journal = Journal(state / "journal.db", state / "snapshots", JournalConfig())
        from gpiozero.pins.mock import MockFactory

        from plategate.gate.relay import create_relay

        self.factory = MockFactory()
        self.relay_changes: list[str] = []
        self.relay = create_relay(RelayConfig(pin=17), self.factory, on_change=self.relay_changes.append)
        self.watch_items: list[dict] = []
        self.audit = AuditLog(state / "journal.db")
        real = control_handlers(SimpleNamespace(journal=self.journal, audit=self.audit))  # what they read
        handlers = {
            "status": self.status, "events": real["events"], "event": real["event"],
            "allowlist_list": self.allowlist_list,
            "allowlist_add": lambda a: self.store.add(entry_from_dict(without_user(a))) and {"ok": True},
            "allowlist_remove": lambda a: {"removed": self.store.remove(a["plate"])},
            "allowlist_import": self.allowlist_import, "test_relay": self.test_relay, "snapshot": self.snapshot,
        }
        self.server = ControlServer(root / "control.sock", None, handlers, {"watch": lambda a: iter(self.watch_items)})
        self.started = time.monotonic()

    def status(self, _args: dict) -> dict:
        return {"state": "running", "version": "0.1.0", "uptime_s": 3725.0,
                "camera": {"backend": "replay", "opened": True, "fps": 9.8, "error": None},
                "models": {"detector": {"ok": True}, "reader": {"ok": True}},
                "allowlist": self.store.state(), "mqtt": {"enabled": True, "connected": False, "outbox_depth": 7},
                "gate": {"state": "closed"}, "inputs": {"loop_detector": False}}

    def allowlist_list(self, _args: dict) -> dict:
        return dict(self.store.state(), entries=[e.to_dict() for e in self.store.entries()])

    def allowlist_import(self, args: dict) -> dict:
        entries = [entry_from_dict(e) for e in args["entries"]]
        if args.get("replace", True):
            self.store.replace_all(entries, origin="local")
        else:
            self.store.apply_delta(entries, [], origin="local")
        return {"count": len(entries)}

    def test_relay(self, args: dict) -> dict:
        self.relay.pulse(int(args["ms"]))
        return {"pulsed_ms": int(args["ms"])}

    def snapshot(self, _args: dict) -> dict:
        import base64

        ok, data = cv2.imencode(".jpg", np.full((240, 320, 3), 90, np.uint8))
        return {"jpeg_b64": base64.b64encode(data.tobytes()).decode()}

    def __enter__(self) -> FakeDaemon:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()
        self.relay.close()
        self.store.close()
        self.audit.close()
        self.journal.close()


def cleanup(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
