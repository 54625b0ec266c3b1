"""The one configuration schema, loaded from TOML.

Every section is a pydantic model with ``extra="forbid"`` and strict types (see
:mod:`.config_base`), so that a misspelt key or a value of the wrong type is an error,
not a silently ignored or coerced setting. The sections live by role in
:mod:`.config_devices`, :mod:`.config_processing` and :mod:`.config_network`; they are
re-exported here. :func:`load_config` turns pydantic's errors into one
:class:`~plategate.errors.ConfigError` whose message lists each problem as
``key.path: what is wrong``. What only the environment can tell (files, pins, keys)
is checked by :mod:`plategate.preflight`.

Relative paths in a config file are resolved against the file's own folder, so
``config/demo.toml`` can name ``../models/reader.tflite`` and work from any
working directory.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import Field

from .config_base import MAX_READER_VIEWS, PathStr, Roi, Section, default_models_dir
from .config_devices import CameraConfig, GateConfig, InputConfig, LoopDetectorConfig, PhotoEyeConfig, RelayConfig
from .config_network import ControlConfig, MqttConfig, TlsConfig, WebConfig, WebhookConfig
from .config_processing import AccessConfig, JournalConfig, LaneConfig, MotionConfig, RecognitionConfig
from .errors import ConfigError
from .validation import validated

__all__ = ["MAX_READER_VIEWS", "AccessConfig", "CameraConfig", "ControlConfig", "GateConfig", "InputConfig",
           "JournalConfig", "LaneConfig", "LoopDetectorConfig", "MotionConfig", "MqttConfig", "PhotoEyeConfig",
           "PlategateConfig", "RecognitionConfig", "RelayConfig", "Roi", "TlsConfig", "WebConfig", "WebhookConfig",
           "default_models_dir", "load_config", "parse_config"]


class PlategateConfig(Section):
    """The whole configuration file."""

    site_id: str = Field("site", pattern=r"^[A-Za-z0-9_-]+$", description="MQTT topic level <site>")
    gate_id: str = Field("gate", pattern=r"^[A-Za-z0-9_-]+$", description="MQTT topic level <gate>")
    state_dir: PathStr = Path("/var/lib/plategate")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    watchdog: bool = True
    camera: CameraConfig = CameraConfig()
    motion: MotionConfig = MotionConfig()
    recognition: RecognitionConfig = RecognitionConfig()
    access: AccessConfig = AccessConfig()
    gate: GateConfig = GateConfig()
    journal: JournalConfig = JournalConfig()
    mqtt: MqttConfig = MqttConfig()
    lane: LaneConfig = LaneConfig()
    control: ControlConfig = ControlConfig()
    web: WebConfig = WebConfig()
    webhooks: list[WebhookConfig] = Field(default_factory=list, description="HTTP receivers of every event")

    # Derived paths -----------------------------------------------------
    def journal_db(self) -> Path:
        return self.journal.database or self.state_dir / "journal.db"

    def snapshot_dir(self) -> Path:
        return self.journal.snapshot_dir or self.state_dir / "snapshots"

    def access_db(self) -> Path:
        return self.access.database or self.state_dir / "access.db"

    def outbox_db(self) -> Path:
        return self.mqtt.outbox or self.state_dir / "outbox.db"

    def webhook_db(self) -> Path:
        return self.state_dir / "webhooks.db"


_PATH_KEYS = (
    ("state_dir",),
    ("recognition", "detector_model"),
    ("recognition", "reader_model"),
    ("access", "allowlist_file"),
    ("access", "database"),
    ("journal", "database"),
    ("journal", "snapshot_dir"),
    ("mqtt", "outbox"),
    ("mqtt", "password_file"),
    ("mqtt", "tls", "ca_file"),
    ("mqtt", "tls", "cert_file"),
    ("mqtt", "tls", "key_file"),
    ("control", "socket"),
    ("web", "password_file"),
    ("web", "tls_cert"),
    ("web", "tls_key"),
    ("lane", "presence_db"),
)


def _resolve_relative(data: dict, base: Path) -> None:
    """Make relative path values in the raw TOML dict absolute against *base*, in place."""
    for key_path in _PATH_KEYS:
        node = data
        for key in key_path[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
            if node is None:
                break
        if not isinstance(node, dict):
            continue
        value = node.get(key_path[-1])
        if isinstance(value, str) and value and not os.path.isabs(value) and "://" not in value:
            node[key_path[-1]] = str((base / value).resolve())
    for hook in data.get("webhooks") or []:
        value = hook.get("secret_file") if isinstance(hook, dict) else None
        if isinstance(value, str) and value and not os.path.isabs(value):
            hook["secret_file"] = str((base / value).resolve())
    camera = data.get("camera")
    if isinstance(camera, dict) and camera.get("backend") == "replay":
        src = camera.get("source")
        if isinstance(src, str) and src and not os.path.isabs(src):
            camera["source"] = str((base / src).resolve())


def read_toml(p: Path) -> dict:
    """The parsed TOML file *p* (the gate's or the site's config).

    Raises:
        ConfigError: the file cannot be read, is not UTF-8 text, or is not valid TOML.
    """
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read config file: {exc.strerror or exc}") from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{p}: not UTF-8 text: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML: {exc}") from None


def parse_config(data: dict, source: str = "<config>") -> PlategateConfig:
    """Validate a raw dict (parsed TOML) against the schema.

    Raises:
        ConfigError: listing every problem as ``key.path: problem``.
    """
    return validated(PlategateConfig, data, f"{source}: invalid configuration")


def load_config(path: str | os.PathLike | None) -> PlategateConfig:
    """Load and validate a TOML config file; ``None`` gives the embedded defaults.

    Raises:
        ConfigError: the file cannot be read, is not valid TOML, or breaks the schema.
    """
    if path is None:
        return parse_config({}, "<defaults>")
    p = Path(path)
    data = read_toml(p)
    _resolve_relative(data, p.resolve().parent)
    return parse_config(data, str(p))
