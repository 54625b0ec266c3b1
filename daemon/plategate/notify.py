"""systemd notification protocol (sd_notify) over the ``$NOTIFY_SOCKET`` datagram socket."""

from __future__ import annotations

import logging
import os
import socket

logger = logging.getLogger(__name__)


class Notifier:
    """Sends ``READY=1``, ``STATUS=...``, ``WATCHDOG=1`` ... to systemd.

    Args:
        env: the environment to read ``NOTIFY_SOCKET`` and ``WATCHDOG_USEC`` from
            (default ``os.environ``). Without ``NOTIFY_SOCKET`` every call is a no-op.
    """

    def __init__(self, env: dict | None = None) -> None:
        env = os.environ if env is None else env
        address = env.get("NOTIFY_SOCKET", "")
        self.address = "\0" + address[1:] if address.startswith("@") else address
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        watchdog_for_us = not pid or pid == str(os.getpid())
        self.watchdog_interval_s = int(usec) / 1e6 / 2 if usec.isdigit() and int(usec) > 0 and watchdog_for_us else None
        self._sock: socket.socket | None = None
        self.sent: list[str] = []

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    def notify(self, *fields: str) -> bool:
        """Send ``KEY=value`` fields; returns whether they were sent."""
        if not self.address:
            return False
        message = "\n".join(fields)
        try:
            if self._sock is None:
                # Non-blocking: a notification must never stall the daemon (a full receive
                # queue would otherwise block sendto until systemd reads).
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK)
            self._sock.sendto(message.encode(), self.address)
        except BlockingIOError:
            logger.debug("sd_notify queue full: %s dropped", message.split("=", 1)[0])
            return False
        except OSError as exc:
            logger.warning("sd_notify to %s failed: %s", self.address, exc)
            return False
        self.sent.append(message)
        return True

    def ready(self, status: str = "") -> bool:
        return self.notify("READY=1", *(("STATUS=" + status,) if status else ()))

    def status(self, text: str) -> bool:
        return self.notify("STATUS=" + text)

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")

    def stopping(self) -> bool:
        return self.notify("STOPPING=1")

    def reloading(self) -> bool:
        return self.notify("RELOADING=1")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
