"""What every platectl subcommand shares: the config, the daemon connection, errors."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..config import PlategateConfig
from ..control_client import ControlClient, DaemonNotRunning
from ..errors import PlategateError
from ..instance import config_file, load_tool_config


class UsageError(PlategateError):
    """The command line asks for something that cannot be done (exit status 2)."""


def config_path(args: argparse.Namespace) -> Path | None:
    """--config, else the lane's file (--instance NAME: /etc/plategate/NAME.toml), else $PLATEGATE_CONFIG,
    else /etc/plategate/plategate.toml if present, else None (:func:`plategate.instance.config_file`)."""
    return config_file(getattr(args, "config", None), getattr(args, "instance", None))


def load(args: argparse.Namespace) -> PlategateConfig:
    """The configuration platectl works with (cached on *args*).

    Raises:
        ConfigError: the file cannot be read or is invalid.
    """
    cached = getattr(args, "_cfg", None)
    if cached is None:
        cached = load_tool_config(getattr(args, "config", None), getattr(args, "instance", None))
        args._cfg = cached
    return cached


def who() -> str:
    """``platectl:<login name>`` for the daemon's audit trail."""
    import getpass

    try:
        return f"platectl:{getpass.getuser()}"
    except (OSError, KeyError):
        return f"platectl:uid{os.getuid()}"


def socket_path(args: argparse.Namespace) -> Path:
    """--socket, else the config's control.socket."""
    explicit = getattr(args, "socket", None)
    return Path(explicit) if explicit else load(args).control.socket


def client(args: argparse.Namespace, timeout: float = 10.0) -> ControlClient:
    """A client for the daemon's control socket (not yet connected)."""
    return ControlClient(socket_path(args), timeout=timeout)


def daemon(args: argparse.Namespace) -> ControlClient | None:
    """The running daemon's client, or ``None`` when no daemon runs.

    Raises:
        ControlError: a daemon runs but refuses us (wrong user), or answers garbage;
            falling back to the files behind its back would be wrong then.
    """
    if getattr(args, "offline", False):
        return None
    c = client(args)
    try:
        c.call("ping")
    except DaemonNotRunning:
        return None
    return c


def match_owner(db_path: os.PathLike) -> None:
    """Give an SQLite file (and its -wal/-shm) the owner of its folder.

    ``sudo platectl allowlist add`` with the daemon stopped would otherwise leave
    root-owned files in /var/lib/plategate that the service user cannot open.
    """
    if os.geteuid() != 0:
        return
    path = Path(db_path)
    try:
        owner = path.parent.stat()
    except OSError:
        return
    for suffix in ("", "-wal", "-shm", "-journal"):
        p = Path(f"{path}{suffix}")
        try:
            st = p.stat()
            if (st.st_uid, st.st_gid) != (owner.st_uid, owner.st_gid):
                os.chown(p, owner.st_uid, owner.st_gid)
        except OSError:
            continue


def lookup(data: dict, *keys: str, default=None):
    """The first of the dotted *keys* (``"camera.fps"``) present in nested *data*, else *default*."""
    for key in keys:
        node = data
        for part in key.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node is not None:
            return node
    return default
