"""The web console's link to the daemon and what its request handlers share: the control
client (failures sorted into "daemon unavailable" and "daemon refused"), users, sessions,
the login limiter, and the site's time zone."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from ..config import PlategateConfig
from ..control_client import ControlClient, DaemonNotRunning
from ..errors import ControlError
from .auth import LoginLimiter, Sessions, Users


class DaemonUnavailable(Exception):
    """plategated is not running, not reachable or did not answer (the page shows why, 503)."""


class DaemonRefused(Exception):
    """plategated answered with an error: the request was invalid (the page shows its message, 400)."""


#: how ControlClient words the failures of the connection itself (anything else is the daemon's answer)
UNREACHABLE = ("plategated is not running", "permission denied", "cannot connect", "did not answer",
               "closed the connection", "control socket error", "garbled reply")


class Console:
    """What the request handlers share: config, control client, users, sessions, limiter."""

    def __init__(self, cfg: PlategateConfig, client: ControlClient, users: Users) -> None:
        self.cfg = cfg
        self.client = client
        self.users = users
        self.sessions = Sessions(cfg.web.session_minutes * 60.0)
        self.limiter = LoginLimiter(cfg.web.login_attempts, cfg.web.lockout_minutes * 60.0)
        self.tz = ZoneInfo(cfg.access.timezone)
        secure = cfg.web.secure_cookies
        self.secure_cookies = (cfg.web.tls_cert is not None) if secure is None else secure

    def call(self, cmd: str, **args):
        """A control command's result.

        Raises:
            DaemonUnavailable: plategated is not running, refused the connection or did not answer.
            DaemonRefused: plategated answered with an error.
        """
        try:
            return self.client.call(cmd, **args)
        except DaemonNotRunning as exc:
            raise DaemonUnavailable(str(exc)) from None
        except ControlError as exc:
            if str(exc).startswith(UNREACHABLE):
                raise DaemonUnavailable(str(exc)) from None
            raise DaemonRefused(str(exc)) from None

    def local(self, value: str | float | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
        """An ISO UTC time or a timestamp shown in the site's time zone."""
        if value in (None, ""):
            return ""
        if isinstance(value, int | float):
            when = dt.datetime.fromtimestamp(value, dt.UTC)
        else:
            try:
                when = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            except ValueError:
                return str(value)
        return when.astimezone(self.tz).strftime(fmt)

    def to_utc(self, local_text: str) -> str | None:
        """A ``datetime-local`` form value (site time zone) as ISO UTC, or ``None`` if empty.

        Raises:
            ValueError: not a date-time.
        """
        if not local_text:
            return None
        when = dt.datetime.fromisoformat(local_text)
        if when.tzinfo is None:
            when = when.replace(tzinfo=self.tz)
        return when.astimezone(dt.UTC).isoformat()
