"""One daemon per state directory: an exclusive ``flock`` on ``<state_dir>/plategated.lock``.

Two daemons on the same state would write the same journal and outbox and could drive the
same relay. The lock is taken before anything else is opened and held for the life of the
process; the kernel drops it when the process ends in any way (``kill -9`` included), so a
stale lock file never blocks a start. The file holds the holder's pid for the message a
second instance prints.
"""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path

from .errors import PlategateError

logger = logging.getLogger(__name__)

LOCK_NAME = "plategated.lock"


class AlreadyRunning(PlategateError):
    """Another process holds the state directory's lock."""


class StateLock:
    """The exclusive lock on a state directory.

    Args:
        state_dir: the directory (created if missing).
    """

    def __init__(self, state_dir: str | os.PathLike) -> None:
        self.path = Path(state_dir) / LOCK_NAME
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock without waiting.

        Raises:
            AlreadyRunning: another process holds it (the message names its pid and the directory).
            PlategateError: the lock file cannot be created.
        """
        if self._fd is not None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise PlategateError(f"state_dir {self.path.parent}: cannot create the lock file: "
                                 f"{exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            who = f"pid {holder}" if holder else "another process"
            raise AlreadyRunning(f"another plategated ({who}) is already running on state_dir {self.path.parent}; "
                                 "one daemon per state directory (give each lane its own state_dir)") from None
        except OSError as exc:
            os.close(fd)
            raise PlategateError(f"{self.path}: cannot lock: {exc.strerror or exc}") from None
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        except OSError as exc:  # a full disk must not stop the daemon: the lock is what matters
            logger.warning("%s: cannot write the pid: %s", self.path, exc.strerror or exc)
        self._fd = fd

    def release(self) -> None:
        """Drop the lock (the file stays; it is harmless and reused)."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
