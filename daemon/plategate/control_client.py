"""The client side of the control socket: what ``platectl`` uses to talk to plategated.

The protocol (JSON lines, one reply or a stream of items) is described in
:mod:`plategate.control`, which holds the server.
"""

from __future__ import annotations

import grp
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .control import MAX_LINE, encode
from .errors import ControlError


class DaemonNotRunning(ControlError):
    """Nobody listens on the control socket (no file, or a stale one)."""


class ControlClient:
    """Talk to a running plategated over its control socket.

    Args:
        path: the socket path (``control.socket`` in the config).
        timeout: seconds to wait for a reply to :meth:`call`.
    """

    def __init__(self, path: str | os.PathLike, timeout: float = 10.0) -> None:
        self.path = Path(path)
        self.timeout = timeout

    def _connect(self) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(str(self.path))
        except FileNotFoundError:
            sock.close()
            raise DaemonNotRunning(f"plategated is not running (no socket at {self.path})") from None
        except ConnectionRefusedError:
            sock.close()
            raise DaemonNotRunning(f"plategated is not running (stale socket at {self.path}, nobody listening)") from None
        except PermissionError:
            sock.close()
            raise ControlError(
                f"permission denied on {self.path}: run as root or join the socket's group "
                f"({self._group_name()}), e.g. sudo usermod -aG {self._group_name()} $USER"
            ) from None
        except OSError as exc:
            sock.close()
            raise ControlError(f"cannot connect to {self.path}: {exc.strerror or exc}") from None
        return sock

    def _group_name(self) -> str:
        try:
            return grp.getgrgid(os.stat(self.path).st_gid).gr_name
        except (OSError, KeyError):
            return "plategate"

    def is_running(self) -> bool:
        """True when a daemon answers ``ping`` on the socket."""
        try:
            self.call("ping")
        except ControlError:
            return False
        return True

    def call(self, cmd: str, **args: Any) -> Any:
        """Send one command and return its ``result``.

        Raises:
            ControlError: the daemon is not running, refused us, timed out or
                answered with an error (its message is the daemon's).
        """
        with self._connect() as sock:
            self._send(sock, cmd, args)
            reader = sock.makefile("rb")
            try:
                line = reader.readline(MAX_LINE + 1)
            except TimeoutError:
                raise ControlError(f"plategated did not answer {cmd!r} within {self.timeout:g} s") from None
            except OSError as exc:
                raise ControlError(f"control socket error during {cmd!r}: {exc.strerror or exc}") from None
            reply = self._decode(line, cmd)
            if not reply.get("ok"):
                raise ControlError(str(reply.get("error", "unknown error")))
            return reply.get("result")

    def stream(self, cmd: str, **args: Any) -> Iterator[dict]:
        """Send a stream command and yield its items until the daemon ends the stream.

        Raises:
            ControlError: as for :meth:`call`.
        """
        sock = self._connect()
        try:
            self._send(sock, cmd, args)
            sock.settimeout(None)
            reader = sock.makefile("rb")
            while True:
                try:
                    line = reader.readline(MAX_LINE + 1)
                except OSError as exc:
                    raise ControlError(f"control socket error during {cmd!r}: {exc.strerror or exc}") from None
                reply = self._decode(line, cmd)
                if not reply.get("ok"):
                    raise ControlError(str(reply.get("error", "unknown error")))
                if reply.get("end"):
                    return
                if "item" in reply:
                    yield reply["item"]
                else:  # a plain command answered with a result: one item
                    yield reply.get("result")
                    return
        finally:
            sock.close()

    @staticmethod
    def _send(sock: socket.socket, cmd: str, args: dict) -> None:
        try:
            sock.sendall(encode({"cmd": cmd, **args}))
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused at once: the daemon's one-line reason is waiting to be read
        except OSError as exc:
            raise ControlError(f"control socket error during {cmd!r}: {exc.strerror or exc}") from None

    @staticmethod
    def _decode(line: bytes, cmd: str) -> dict:
        if not line:
            raise ControlError(f"plategated closed the connection during {cmd!r}")
        try:
            reply = json.loads(line)
        except ValueError:
            raise ControlError(f"garbled reply from plategated to {cmd!r}") from None
        if not isinstance(reply, dict):
            raise ControlError(f"garbled reply from plategated to {cmd!r}")
        return reply
