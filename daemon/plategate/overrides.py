"""Settings changed while running (the motion ROI drawn in the web console).

They are kept in ``<state_dir>/overrides.json`` (the daemon cannot, and should not, write
the operator's TOML file under ``/etc``) and applied over the config file at every start
and reload, validated by the same schema. ``platectl`` and the settings page show the
effective result; deleting the file returns to the TOML file's values.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from pydantic import ValidationError

from .config import PlategateConfig
from .errors import ConfigError
from .validation import describe, validated

logger = logging.getLogger(__name__)

#: the settings that may be overridden, as (section, key)
ALLOWED = frozenset({("motion", "roi")})


def overrides_path(cfg: PlategateConfig) -> Path:
    return Path(cfg.state_dir) / "overrides.json"


def read(cfg: PlategateConfig) -> dict:
    """The stored overrides ``{section: {key: value}}`` (empty if none).

    Raises:
        ConfigError: the file is not valid JSON or names a setting that cannot be overridden.
    """
    path = overrides_path(cfg)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read overrides: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object")
    for section, values in data.items():
        for key in values if isinstance(values, dict) else [None]:
            if (section, key) not in ALLOWED:
                raise ConfigError(f"{path}: {section}.{key}: cannot be overridden (only "
                                  f"{', '.join('.'.join(k) for k in sorted(ALLOWED))})")
    return data


def apply(cfg: PlategateConfig) -> PlategateConfig:
    """*cfg* with the stored overrides applied (a new object; *cfg* itself when there are none).

    Raises:
        ConfigError: the overrides file is unreadable or its values break the schema.
    """
    data = read(cfg)
    if not data:
        return cfg
    merged = cfg.model_dump()
    for section, values in data.items():
        merged[section] = {**merged[section], **values}
    out = validated(PlategateConfig, merged, f"{overrides_path(cfg)}: invalid override")
    logger.info("settings overridden from %s: %s", overrides_path(cfg), data)
    return out


def applied(cfg: PlategateConfig) -> PlategateConfig:
    """Like :func:`apply`, for the daemon: overrides that cannot be applied are logged as an
    error and the config file's values are used. Never raises."""
    try:
        return apply(cfg)
    except ConfigError as exc:
        logger.error("%s; running with the config file's values", exc)
        return cfg


def save(cfg: PlategateConfig, section: str, key: str, value: object) -> PlategateConfig:
    """Validate and store one override; returns the config with it applied.

    Raises:
        ConfigError: the setting cannot be overridden or the value is invalid (nothing is stored).
    """
    if (section, key) not in ALLOWED:
        raise ConfigError(f"{section}.{key}: cannot be overridden")
    data = read(cfg)
    data.setdefault(section, {})[key] = value
    merged = cfg.model_dump()
    merged[section] = {**merged[section], key: value}
    try:
        out = PlategateConfig.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError("; ".join(describe(e) for e in exc.errors())) from None
    path = overrides_path(cfg)
    tmp = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot save the override: {exc.strerror or exc}") from None
    return out
