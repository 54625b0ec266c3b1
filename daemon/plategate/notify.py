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
        watchdog: whether to take part in systemd's watchdog (the config's ``watchdog``).
            When False, :meth:`watchdog` sends nothing and, if the unit asked for pings
            (``WatchdogSec=``), :meth:`ready` tells systemd to stop expecting them
            (``WATCHDOG_USEC=0``), so the daemon is not killed for their absence.
    """

    def __init__(self, env: dict | None = None, *, watchdog: bool = True) -> None:
        env = os.environ if env is None else env
        address = env.get("NOTIFY_SOCKET", "")
        self.address = "\0" + address[1:] if address.startswith("@") else address
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        watchdog_for_us = not pid or pid == str(os.getpid())
        interval = int(usec) / 1e6 / 2 if usec.isdigit() and int(usec) > 0 and watchdog_for_us else None
        self.watchdog_enabled = watchdog
        #: half the unit's watchdog timeout: how often to ping (None: no pings expected or wanted)
        self.watchdog_interval_s = interval if watchdog else None
        self._disarm = interval is not None and not watchdog
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
        fields = ["READY=1", *(("STATUS=" + status,) if status else ())]
        if self._disarm:
            logger.info("watchdog = false: systemd's watchdog (WatchdogSec=) is turned off for this run")
            fields.append("WATCHDOG_USEC=0")
        return self.notify(*fields)

    def status(self, text: str) -> bool:
        return self.notify("STATUS=" + text)

    def watchdog(self) -> bool:
        """Ping systemd's watchdog; returns whether the ping was sent (never with ``watchdog=False``)."""
        return self.watchdog_enabled and self.notify("WATCHDOG=1")

    def stopping(self) -> bool:
        return self.notify("STOPPING=1")

    def reloading(self) -> bool:
        return self.notify("RELOADING=1")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
