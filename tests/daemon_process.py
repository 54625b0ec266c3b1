"""Run the real ``plategated`` as a child process (``python -m plategate.service``) on a
config file, with its log in a file, and stop it with SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from plategate.control_client import ControlClient
from plategate.errors import ControlError


def daemon_config(root: Path, frames: Path, mqtt: str = "", extra: str = "") -> str:
    """TOML for a daemon on the replay camera (still frames, motion off), mock pins, and
    everything under *root*; *mqtt* is the body of an ``[mqtt]`` section (empty: MQTT off)."""
    text = (f'site_id = "estate"\ngate_id = "north"\nstate_dir = "{root / "state"}"\n'
            f'[camera]\nbackend = "replay"\nsource = "{frames}"\nwidth = 320\nheight = 240\n'
            f'lores_width = 160\nlores_height = 120\nfps = 5\nloop = true\n'
            f'[motion]\nenabled = false\n[gate]\npin_factory = "mock"\n'
            f'[control]\nsocket = "{root / "control.sock"}"\ngroup = ""\n')
    if mqtt:
        text += f"[mqtt]\n{mqtt}\n"
    return text + extra


class DaemonProcess:
    """One ``plategated`` child process."""

    def __init__(self, config: Path, *args: str, env: dict | None = None) -> None:
        self.config = config
        self.log = config.with_suffix(".log")
        self._log_fh = self.log.open("w")
        self.proc = subprocess.Popen([sys.executable, "-m", "plategate.service", "--config", str(config), *args],
                                     stdout=subprocess.DEVNULL, stderr=self._log_fh, env=env or dict(os.environ))

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_log(self, needle: str, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.text():
                return True
            if self.proc.poll() is not None:
                return needle in self.text()
            time.sleep(0.05)
        return False

    def client(self, socket_path: Path) -> ControlClient:
        return ControlClient(socket_path, timeout=10)

    def wait_ready(self, socket_path: Path, timeout: float = 60.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"plategated exited with {self.proc.returncode}:\n{self.text()}")
            try:
                status = self.client(socket_path).call("status")
                if status.get("state") == "running":
                    return status
            except ControlError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"plategated not running after {timeout} s:\n{self.text()}")

    def hangup(self) -> None:
        self.proc.send_signal(signal.SIGHUP)

    def stop(self, timeout: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log_fh.close()
        return self.proc.returncode
