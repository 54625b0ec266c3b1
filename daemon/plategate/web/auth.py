"""Users, passwords, login sessions, CSRF tokens and the login rate limit of the web console.

Passwords are stored as Argon2id hashes (argon2-cffi) in ``web.password_file``, one
``user:hash`` line each, written by ``platectl web passwd``. Sessions live in the
web process's memory: a random token in an HttpOnly cookie, ended by logout, by
``web.session_minutes`` without a request, or by a restart of plategate-web.
"""

from __future__ import annotations

import contextlib
import grp
import hmac
import logging
import os
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import PlategateError

logger = logging.getLogger(__name__)

USER_RE = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
MIN_PASSWORD = 8
SERVICE_GROUP = "plategate"


class AuthError(PlategateError):
    """A user name or password file is invalid."""


def hasher():
    """The Argon2id hasher, sized for a Raspberry Pi (19 MiB, 2 passes: OWASP's minimum).

    Raises:
        AuthError: argon2-cffi is not installed (``pip install plategate[web]``).
    """
    try:
        from argon2 import PasswordHasher
    except ImportError:
        raise AuthError("argon2-cffi is not installed: pip install 'plategate[web]'") from None
    return PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)


def read_users(path: Path) -> dict[str, str]:
    """``user -> hash`` from the password file; empty when the file does not exist.

    Raises:
        AuthError: the file cannot be read or has a malformed line (named by number).
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise AuthError(f"{path}: cannot read password file: {exc.strerror or exc}") from None
    users = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, digest = line.partition(":")
        if not sep or not USER_RE.match(name) or not digest.startswith("$argon2"):
            raise AuthError(f"{path}:{number}: expected 'user:$argon2id$...' (written by platectl web passwd)")
        users[name] = digest
    return users


def set_password(path: Path, user: str, password: str) -> bool:
    """Add or replace *user*'s hash in the password file (mode 0640); True if the user is new.

    Raises:
        AuthError: bad user name, a password shorter than 8 characters, or the file cannot be written.
    """
    if not USER_RE.match(user):
        raise AuthError(f"user name {user!r}: use 1-32 letters, digits, '.', '_' or '-'")
    if len(password) < MIN_PASSWORD:
        raise AuthError(f"password: at least {MIN_PASSWORD} characters")
    users = read_users(path)
    new = user not in users
    users[user] = hasher().hash(password)
    write_users(path, users)
    return new


def remove_user(path: Path, user: str) -> bool:
    """Delete *user* from the password file; True if it was there.

    Raises:
        AuthError: the file cannot be read or written.
    """
    users = read_users(path)
    if users.pop(user, None) is None:
        return False
    write_users(path, users)
    return True


def write_users(path: Path, users: dict[str, str]) -> None:
    path = Path(path)
    body = "# plategate-web users (platectl web passwd USER)\n" + "".join(f"{u}:{h}\n" for u, h in users.items())
    tmp = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(body)
        if path.exists():
            st = path.stat()
            os.chmod(tmp, st.st_mode & 0o777)
            if os.geteuid() == 0:
                os.chown(tmp, st.st_uid, st.st_gid)
        elif os.geteuid() == 0:  # root:plategate, so that plategate-web (in that group) can read it
            with contextlib.suppress(KeyError):
                os.chown(tmp, 0, grp.getgrnam(SERVICE_GROUP).gr_gid)
        os.replace(tmp, path)
    except OSError as exc:
        raise AuthError(f"{path}: cannot write password file: {exc.strerror or exc}") from None


class Users:
    """Checks passwords against the password file (re-read when it changes)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._mtime: float | None = None
        self._users: dict[str, str] = {}
        self._hasher = hasher()
        self._dummy = self._hasher.hash(secrets.token_hex(16))  # equal work for unknown users

    def users(self) -> dict[str, str]:
        try:
            mtime = self.path.stat().st_mtime
        except OSError:
            mtime = None
        if mtime != self._mtime:
            self._users, self._mtime = read_users(self.path), mtime
        return self._users

    def safe_check(self, user: str, password: str) -> bool | None:
        """:meth:`check`, or ``None`` (logged) when the password file cannot be read."""
        try:
            return self.check(user, password)
        except AuthError as exc:
            logger.error("web login impossible: %s", exc)
            return None

    def check(self, user: str, password: str) -> bool:
        """Whether *password* is *user*'s (the same work whether or not the user exists).

        Raises:
            AuthError: the password file is unreadable or malformed.
        """
        from argon2.exceptions import InvalidHashError, VerificationError

        digest = self.users().get(user)
        try:
            return self._hasher.verify(digest or self._dummy, password) and digest is not None
        except (VerificationError, InvalidHashError):
            return False


@dataclass
class Session:
    user: str
    csrf: str
    last_seen: float
    created: float = field(default_factory=time.time)
    flashes: list[tuple[str, str]] = field(default_factory=list)


class Sessions:
    """Login sessions by random token; idle ones expire.

    Args:
        idle_s: seconds without a request after which a session ends.
        clock: monotonic clock (replaceable in tests).
    """

    def __init__(self, idle_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.idle_s = idle_s
        self.clock = clock
        self._by_token: dict[str, Session] = {}
        self._lock = threading.Lock()

    def create(self, user: str) -> tuple[str, Session]:
        token = secrets.token_urlsafe(32)
        session = Session(user, secrets.token_urlsafe(32), self.clock())
        with self._lock:
            now = self.clock()
            for old in [t for t, s in self._by_token.items() if now - s.last_seen > self.idle_s]:
                del self._by_token[old]
            self._by_token[token] = session
        return token, session

    def get(self, token: str | None) -> Session | None:
        """The live session of *token* (its idle timer restarts), or ``None``."""
        if not token:
            return None
        with self._lock:
            session = self._by_token.get(token)
            if session is None:
                return None
            now = self.clock()
            if now - session.last_seen > self.idle_s:
                del self._by_token[token]
                return None
            session.last_seen = now
            return session

    def end(self, token: str | None) -> None:
        with self._lock:
            self._by_token.pop(token or "", None)


def same_token(a: str | None, b: str | None) -> bool:
    """Constant-time comparison of two CSRF tokens (both must be present)."""
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))


class LoginLimiter:
    """At most *attempts* failed logins per client address within *window_s*."""

    def __init__(self, attempts: int, window_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.attempts, self.window_s, self.clock = attempts, window_s, clock
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, address: str) -> float:
        """Seconds until *address* may try again (0: now)."""
        with self._lock:
            now = self.clock()
            recent = [t for t in self._failures.get(address, []) if now - t < self.window_s]
            self._failures[address] = recent
            if len(recent) < self.attempts:
                return 0.0
            return self.window_s - (now - recent[0])

    def failed(self, address: str) -> None:
        with self._lock:
            self._failures.setdefault(address, []).append(self.clock())
            if len(self._failures) > 10000:  # bounded memory under a spray of addresses
                self._failures.pop(next(iter(self._failures)))

    def succeeded(self, address: str) -> None:
        with self._lock:
            self._failures.pop(address, None)
