"""Start a real mosquitto broker on a free port (tests, benchmarks, ``platectl diag``).

    with Mosquitto(tmp_path) as broker:
        host, port = broker.host, broker.port
        broker.stop(); broker.start()      # same port, persistence kept

Options: ``password_file`` + ``acl_file`` (authentication, no anonymous access),
``tls=(ca, cert, key)`` with ``require_certificate`` (a TLS listener), ``persistence``.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

MOSQUITTO_CANDIDATES = ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/opt/homebrew/sbin/mosquitto")


def find_mosquitto() -> str | None:
    """Path of the mosquitto binary, or None."""
    found = shutil.which("mosquitto")
    if found:
        return found
    for cand in MOSQUITTO_CANDIDATES:
        if os.access(cand, os.X_OK):
            return cand
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class BrokerError(RuntimeError):
    """mosquitto is missing or did not start."""


class Mosquitto:
    """One mosquitto process with its own config in *workdir*."""

    def __init__(self, workdir: str | os.PathLike, port: int | None = None, *, password_file: Path | None = None,
                 acl_file: Path | None = None, tls: tuple[Path, Path, Path] | None = None,
                 require_certificate: bool = True, persistence: bool = True) -> None:
        self.binary = find_mosquitto()
        if self.binary is None:
            raise BrokerError("mosquitto not found (apt-get install mosquitto)")
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None
        self.log = self.workdir / "mosquitto.log"
        lines = [f"listener {self.port} {self.host}", "persistence " + ("true" if persistence else "false"),
                 f"persistence_location {self.workdir}/", "autosave_interval 1", "log_type all",
                 f"log_dest file {self.log}", "max_queued_messages 100000"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            lines.append("user root")  # otherwise mosquitto drops to 'mosquitto' and cannot read workdir
        if password_file is not None:
            lines += ["allow_anonymous false", f"password_file {password_file}"]
        else:
            lines.append("allow_anonymous true")
        if acl_file is not None:
            lines.append(f"acl_file {acl_file}")
        if tls is not None:
            ca, cert, key = tls
            lines += [f"cafile {ca}", f"certfile {cert}", f"keyfile {key}",
                      "require_certificate " + ("true" if require_certificate else "false")]
        self.conf = self.workdir / "mosquitto.conf"
        self.conf.write_text("\n".join(lines) + "\n")

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    def start(self, timeout: float = 10.0) -> None:
        """Start and wait until the port accepts connections.

        Raises:
            BrokerError: the broker exited or did not listen in time (log tail included).
        """
        self.proc = subprocess.Popen([self.binary, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                raise BrokerError(f"mosquitto exited with {self.proc.returncode}: {err}{self._log_tail()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise BrokerError(f"mosquitto did not listen on {self.port} within {timeout}s{self._log_tail()}")

    def _log_tail(self) -> str:
        try:
            return "\n" + "\n".join(self.log.read_text(errors="replace").splitlines()[-10:])
        except OSError:
            return ""

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM (mosquitto saves its persistence file), then SIGKILL if needed."""
        if self.proc is None or self.proc.poll() is not None:
            self.proc = None
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout)
        if self.proc.stderr:
            self.proc.stderr.close()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def __enter__(self) -> Mosquitto:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def make_password_file(path: Path, users: dict[str, str]) -> Path:
    """Write a mosquitto password file with mosquitto_passwd (hashed entries)."""
    tool = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
    path.write_text("")
    for user, password in users.items():
        subprocess.run([tool, "-b", str(path), user, password], check=True, capture_output=True)
    path.chmod(0o600)
    return path
