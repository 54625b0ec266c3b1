"""Lanes: one daemon per camera, each a named instance (``plategate@NAME.service``).

An instance NAME reads ``/etc/plategate/NAME.toml`` and, for every setting its file
leaves out, gets its own:

* ``state_dir`` = ``/var/lib/plategate/NAME`` (journal, allowlist store, outbox, snapshots),
* ``control.socket`` = ``/run/plategate/NAME/control.sock`` (what ``platectl -i NAME`` uses),
* ``gate_id`` = NAME (the MQTT topic level ``<gate>`` and the client id).

A setting written in the file wins. ``PLATEGATE_CONFIG_DIR`` replaces ``/etc/plategate``
(tests, staging).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from .config import PlategateConfig, load_config
from .errors import ConfigError

CONFIG_DIR = Path("/etc/plategate")
STATE_ROOT = Path("/var/lib/plategate")
RUN_ROOT = Path("/run/plategate")
CONFIG_DIR_ENV = "PLATEGATE_CONFIG_DIR"
#: the file a daemon, platectl or plategate-web without --config and without a lane reads, if present
DEFAULT_CONFIG = Path("/etc/plategate/plategate.toml")
#: names a config file instead of DEFAULT_CONFIG
CONFIG_ENV = "PLATEGATE_CONFIG"
NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def check_name(name: str) -> str:
    """*name* if it can name a lane (letters, digits, ``_``, ``-``; what a gate id allows).

    Raises:
        ConfigError: anything else (``/``, ``.``, spaces, empty).
    """
    if not NAME_RE.match(name or ""):
        raise ConfigError(f"instance name {name!r}: use letters, digits, '_' or '-' (at most 64), "
                          "e.g. entry or exit")
    return name


def config_dir() -> Path:
    return Path(os.environ.get(CONFIG_DIR_ENV) or CONFIG_DIR)


def instance_config_path(name: str) -> Path:
    """``/etc/plategate/NAME.toml`` (or below ``$PLATEGATE_CONFIG_DIR``).

    Raises:
        ConfigError: *name* is not a valid lane name.
    """
    return config_dir() / f"{check_name(name)}.toml"


def config_file(explicit: str | os.PathLike | None, name: str | None = None) -> Path | None:
    """The config file a tool reads: *explicit* (--config), else the lane *name*'s file, else
    ``$PLATEGATE_CONFIG``, else :data:`DEFAULT_CONFIG` if present, else ``None`` (built-in defaults).

    Raises:
        ConfigError: *name* is not a valid lane name.
    """
    if explicit:
        return Path(explicit)
    if name:
        return instance_config_path(name)
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV])
    return DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else None


def load_tool_config(explicit: str | os.PathLike | None, name: str | None = None) -> PlategateConfig:
    """What platectl and plategate-web work with: :func:`config_file`'s file (built-in defaults
    without one), made the lane *name*'s own by :func:`apply_instance` when a lane is named.

    Raises:
        ConfigError: bad name, unreadable or invalid file.
    """
    cfg = load_config(config_file(explicit, name))
    return apply_instance(cfg, name) if name else cfg


def apply_instance(cfg: PlategateConfig, name: str) -> PlategateConfig:
    """*cfg* with the lane's own state folder, control socket and gate id where the file set none."""
    check_name(name)
    update: dict = {}
    if "state_dir" not in cfg.model_fields_set:
        update["state_dir"] = STATE_ROOT / name
    if "gate_id" not in cfg.model_fields_set:
        update["gate_id"] = name
    if "socket" not in cfg.control.model_fields_set:
        update["control"] = cfg.control.model_copy(update={"socket": RUN_ROOT / name / "control.sock"})
    return cfg.model_copy(update=update) if update else cfg


def load_instance(name: str, path: str | os.PathLike | None = None) -> PlategateConfig:
    """Load the lane *name*: its own file (or *path*), then :func:`apply_instance`.

    Raises:
        ConfigError: bad name, unreadable or invalid file.
    """
    return apply_instance(load_config(path if path is not None else instance_config_path(name)), name)


def daemon_config(path: str | os.PathLike | None, name: str | None) -> tuple[Path | None, PlategateConfig]:
    """For ``plategated [-c PATH] [-i NAME]``: the file to read and its configuration.

    Without a lane *name*, *path* (or the embedded defaults); with one, *path* or the lane's
    own file, made the lane's own by :func:`apply_instance`.

    Raises:
        ConfigError: bad name, unreadable or invalid file.
    """
    if not name:
        return (Path(path) if path is not None else None), load_config(path)
    file = Path(path) if path is not None else instance_config_path(name)
    return file, load_instance(name, file)
