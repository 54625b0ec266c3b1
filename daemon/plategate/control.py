"""The local control socket used by ``platectl``.

A Unix stream socket (normally ``/run/plategate/control.sock``) speaking JSON lines:
the client writes ``{"cmd": NAME, ...args}`` and reads one reply line
``{"ok": true, "result": ...}`` or ``{"ok": false, "error": "..."}``. A *stream*
command (``watch``) answers with many lines ``{"ok": true, "item": {...}}`` until
the client hangs up or the daemon stops (``{"ok": true, "end": true}``).

Access control is two-fold: the socket file is mode 0660 and owned by the service's
group, and every connection's peer credentials (``SO_PEERCRED``) are checked: root,
the daemon's own uid, or a member of the group (primary or supplementary) is let in;
anybody else gets one refusal line and the connection is closed. Handlers find the
peer's identity in the request under ``_peer`` (``pid``, ``uid``, ``user``), set by the
server from ``SO_PEERCRED`` (a client cannot forge it), for the audit trail.
"""

from __future__ import annotations

import contextlib
import grp
import json
import logging
import os
import pwd
import socket
import stat
import struct
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .errors import ControlError, PlategateError

logger = logging.getLogger(__name__)

MAX_LINE = 16 * 1024 * 1024  # an allowlist import travels in one request line
Handler = Callable[[dict], Any]
Stream = Callable[[dict], Iterator[dict]]


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def encode(message: dict) -> bytes:
    """Serialise one protocol message as a JSON line (dates, paths and enums as strings)."""
    return (json.dumps(message, default=_json_default, separators=(",", ":")) + "\n").encode()


def peer_credentials(sock: socket.socket) -> tuple[int, int, int]:
    """Return ``(pid, uid, gid)`` of the process at the other end of a Unix socket."""
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", raw)


def _supplementary_groups(pid: int) -> set[int]:
    """The peer's supplementary groups from /proc (empty if the process is gone)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Groups:"):
                    return {int(g) for g in line.split()[1:]}
    except OSError:
        pass
    return set()


def resolve_group(group: str | int | None) -> int | None:
    """Group name or id -> gid; ``None`` when no group is configured.

    Raises:
        ControlError: the group does not exist.
    """
    if group is None or group == "":
        return None
    if isinstance(group, int) or str(group).isdigit():
        return int(group)
    try:
        return grp.getgrnam(str(group)).gr_gid
    except KeyError:
        raise ControlError(f"control.group: no such group {group!r} (create it or set control.group)") from None


def _peer_info(pid: int, uid: int) -> dict:
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        user = str(uid)
    return {"pid": pid, "uid": uid, "user": user}


class ControlServer:
    """Serve handler functions on a Unix socket, one thread per connection.

    Args:
        path: socket path; its folder is created (mode 0750) if missing.
        group: group (name or gid) that owns the socket and whose members may connect;
            ``None`` keeps the process's group and admits only root and the same uid.
        handlers: ``name -> fn(args) -> JSON-able result``.
        streams: ``name -> fn(args) -> iterator of dicts`` for long-running commands;
            an idle stream should yield ``None`` now and then so that it notices a stop.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        group: str | int | None = None,
        handlers: dict[str, Handler] | None = None,
        streams: dict[str, Stream] | None = None,
    ) -> None:
        self.path = Path(path)
        self.group = group
        self.handlers: dict[str, Handler] = dict(handlers or {})
        self.streams: dict[str, Stream] = dict(streams or {})
        self.handlers.setdefault("ping", self._ping)
        self.handlers.setdefault("help", lambda _args: sorted(set(self.handlers) | set(self.streams)))
        self._gid: int | None = None
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._inode: tuple[int, int] | None = None

    # -- life cycle -----------------------------------------------------------
    def start(self) -> None:
        """Bind the socket, set mode 0660 and group, and start accepting.

        Raises:
            ControlError: another daemon answers on the socket, the group does not
                exist, or the socket cannot be created.
        """
        self._gid = resolve_group(self.group)
        self.path.parent.mkdir(mode=0o750, parents=True, exist_ok=True)
        self._remove_stale()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_umask = os.umask(0o117)  # never world-accessible, not even for an instant
        try:
            sock.bind(str(self.path))
        except OSError as exc:
            sock.close()
            raise ControlError(f"cannot create control socket {self.path}: {exc.strerror or exc}") from None
        finally:
            os.umask(old_umask)
        try:
            if self._gid is not None:
                os.chown(self.path, -1, self._gid)
            os.chmod(self.path, 0o660)
        except OSError as exc:
            sock.close()
            raise ControlError(f"cannot set owner/mode of {self.path}: {exc.strerror or exc}") from None
        st = os.stat(self.path)
        self._inode = (st.st_dev, st.st_ino)
        sock.listen(16)
        sock.settimeout(0.5)
        self._sock = sock
        self._stopping.clear()
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._accept_loop, name="control-accept", daemon=True)
        self._thread.start()
        logger.info("control socket listening on %s (group %s)", self.path, self.group)

    def stop(self) -> None:
        """Stop accepting, end open connections and streams, remove the socket file."""
        self._stopping.set()
        if self._sock is not None:
            with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as waker:
                waker.settimeout(0.5)
                waker.connect(str(self.path))  # wakes accept() at once
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            st = os.stat(self.path)
            if self._inode == (st.st_dev, st.st_ino):
                self.path.unlink()

    def __enter__(self) -> ControlServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _remove_stale(self) -> None:
        try:
            mode = os.lstat(self.path).st_mode
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(mode):
            raise ControlError(f"{self.path} exists and is not a socket; remove it or change control.socket")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        probe.settimeout(1)
        try:
            probe.connect(str(self.path))
        except (ConnectionRefusedError, FileNotFoundError):
            self.path.unlink(missing_ok=True)  # left over from a daemon that died
            return
        except OSError as exc:
            raise ControlError(f"cannot check the existing socket {self.path}: {exc.strerror or exc}") from None
        finally:
            probe.close()
        raise ControlError(f"another plategated is already listening on {self.path}")

    # -- connections ----------------------------------------------------------
    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._sock.accept()  # type: ignore[union-attr]
            except TimeoutError:
                continue
            except OSError:
                if self._stopping.is_set():
                    return
                logger.exception("control socket accept failed")
                time.sleep(0.2)
                continue
            if self._stopping.is_set():
                conn.close()
                return
            conn.settimeout(None)
            with self._lock:
                self._conns.add(conn)
            threading.Thread(target=self._serve, args=(conn,), name="control-conn", daemon=True).start()

    def allowed(self, pid: int, uid: int, gid: int) -> bool:
        """Whether a peer may use the socket: root, the daemon's uid, or the group's members."""
        if uid == 0 or uid == os.getuid():
            return True
        if self._gid is None:
            return False
        if gid == self._gid or self._gid in _supplementary_groups(pid):
            return True
        try:
            name = pwd.getpwuid(uid).pw_name
            return name in grp.getgrgid(self._gid).gr_mem
        except KeyError:
            return False

    def _serve(self, conn: socket.socket) -> None:
        try:
            pid, uid, gid = peer_credentials(conn)
            if not self.allowed(pid, uid, gid):
                logger.warning("control socket: refused pid %s uid %s gid %s", pid, uid, gid)
                group = self.group if self.group is not None else "(none)"
                conn.sendall(encode({"ok": False, "error": f"permission denied: uid {uid} is not root, "
                                     f"the daemon's user or a member of group {group}"}))
                return
            reader = conn.makefile("rb")
            while not self._stopping.is_set():
                line = reader.readline(MAX_LINE + 1)
                if not line:
                    return
                if len(line) > MAX_LINE:
                    conn.sendall(encode({"ok": False, "error": f"request longer than {MAX_LINE} bytes"}))
                    return
                if not line.strip():
                    continue
                if not self._answer(conn, line, _peer_info(pid, uid)):
                    return
        except OSError as exc:
            logger.debug("control connection ended: %s", exc)
        finally:
            with self._lock:
                self._conns.discard(conn)
            with contextlib.suppress(OSError):
                conn.close()

    def _answer(self, conn: socket.socket, line: bytes, peer: dict | None = None) -> bool:
        """Handle one request line; return False when the connection should close."""
        try:
            request = json.loads(line)
            if not isinstance(request, dict) or not isinstance(request.get("cmd"), str):
                raise ValueError("expected an object with a string 'cmd'")
        except ValueError as exc:
            conn.sendall(encode({"ok": False, "error": f"bad request: {exc}"}))
            return True
        cmd = request.pop("cmd")
        request["_peer"] = peer or {}
        if cmd in self.streams:
            self._stream(conn, cmd, request)
            return False
        handler = self.handlers.get(cmd)
        if handler is None:
            known = ", ".join(sorted(set(self.handlers) | set(self.streams)))
            conn.sendall(encode({"ok": False, "error": f"unknown command {cmd!r} (known: {known})"}))
            return True
        try:
            reply = {"ok": True, "result": handler(request)}
        except PlategateError as exc:
            reply = {"ok": False, "error": str(exc)}
        except Exception as exc:  # noqa: BLE001 - the daemon must survive a bad handler
            logger.exception("control command %s failed", cmd)
            reply = {"ok": False, "error": f"internal error in {cmd}: {type(exc).__name__}: {exc}"}
        conn.sendall(encode(reply))
        return True

    def _stream(self, conn: socket.socket, cmd: str, args: dict) -> None:
        try:
            for item in self.streams[cmd](args):
                if self._stopping.is_set():
                    break
                if item is None:  # a heartbeat from an idle stream: only check for stop
                    continue
                conn.sendall(encode({"ok": True, "item": item}))
            conn.sendall(encode({"ok": True, "end": True}))
        except (BrokenPipeError, ConnectionResetError):
            logger.debug("control stream %s: client left", cmd)
        except PlategateError as exc:
            with contextlib.suppress(OSError):
                conn.sendall(encode({"ok": False, "error": str(exc)}))
        except Exception as exc:  # noqa: BLE001
            logger.exception("control stream %s failed", cmd)
            with contextlib.suppress(OSError):
                conn.sendall(encode({"ok": False, "error": f"internal error in {cmd}: {type(exc).__name__}: {exc}"}))

    def _ping(self, _args: dict) -> dict:
        return {"pong": True, "pid": os.getpid(), "uptime_s": round(time.monotonic() - self._started, 1)}
