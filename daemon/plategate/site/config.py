"""The site service's configuration (``/etc/plategate/site.toml``), validated like the gate's:
unknown keys are rejected and every error names its key path."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..config import TlsConfig, read_toml
from ..config_base import check_topic_prefix
from ..validation import validated

PosFloat = Annotated[float, Field(gt=0)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class SiteMqttConfig(_Section):
    """The broker the gates use."""

    host: str = "localhost"
    port: Annotated[int, Field(gt=0, lt=65536)] = 1883
    client_id: str = Field("", description="default plategate-site-<site_id>; keep it stable (persistent session)")
    username: str | None = None
    password: str | None = None
    password_file: Path | None = Field(None, description="read the password from this file (first line)")
    tls: TlsConfig | None = Field(None, description="as the gate's [mqtt.tls]: present = TLS on")
    keepalive: Annotated[int, Field(ge=5, le=3600)] = 30
    topic_prefix: str = "plategate"
    reconnect_min_s: PosFloat = 1.0
    reconnect_max_s: PosFloat = 60.0

    @field_validator("topic_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        return check_topic_prefix(value)


class SiteConfig(_Section):
    """The whole site file."""

    site_id: str = Field(..., pattern=r"^[A-Za-z0-9_-]+$", description="the MQTT topic level <site> of the gates")
    key_file: Path = Field(Path("/etc/plategate/site.key"), description="the site's Ed25519 private key (PEM)")
    database: Path = Field(Path("/var/lib/plategate-site/site.db"),
                           description="master list, published versions, gates' events and status")
    publish_check_s: PosFloat = Field(2.0, description="how often the service looks for list changes to publish")
    request_min_interval_s: Annotated[float, Field(ge=0)] = Field(
        5.0, description="answer allowlist/request at most this often (one snapshot serves every gate)")
    offline_after_s: PosFloat = Field(300.0, description="fleet report: a gate silent this long counts as offline")
    mqtt: SiteMqttConfig = SiteMqttConfig()

    def client_id(self) -> str:
        return self.mqtt.client_id or f"plategate-site-{self.site_id}"


_PATHS = (("key_file",), ("database",), ("mqtt", "password_file"), ("mqtt", "tls", "ca_file"),
          ("mqtt", "tls", "cert_file"), ("mqtt", "tls", "key_file"))


def parse_site_config(data: dict, source: str = "<site config>") -> SiteConfig:
    """Validate a raw dict.

    Raises:
        ConfigError: listing every problem as ``key.path: problem``.
    """
    return validated(SiteConfig, data, f"{source}: invalid configuration")


def load_site_config(path: str | os.PathLike) -> SiteConfig:
    """Load ``site.toml``; relative paths are taken from the file's folder.

    Raises:
        ConfigError: the file cannot be read, is not TOML, or breaks the schema.
    """
    p = Path(path)
    data = read_toml(p)
    for key_path in _PATHS:
        node = data
        for key in key_path[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict) and isinstance(node.get(key_path[-1]), str) and not os.path.isabs(node[key_path[-1]]):
            node[key_path[-1]] = str((p.resolve().parent / node[key_path[-1]]).resolve())
    return parse_site_config(data, str(p))
