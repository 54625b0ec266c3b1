"""The configuration of the daemon's connections: MQTT (and its TLS), the control socket."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator, model_validator

from .config_base import PathStr, PosFloat, PosInt, Section


class TlsConfig(Section):
    """TLS to the broker: the table's presence switches it on (docs/mqtt.md, "TLS")."""

    ca_file: PathStr | None = None
    cert_file: PathStr | None = None
    key_file: PathStr | None = None
    insecure: bool = False

    @model_validator(mode="after")
    def _pair(self) -> TlsConfig:
        if self.key_file is not None and self.cert_file is None:
            raise ValueError("key_file: needs cert_file (the client certificate the key belongs to)")
        return self


class MqttConfig(Section):
    """Broker connection, topics and signed sync."""

    enabled: bool = False
    host: str = "localhost"
    port: Annotated[int, Field(gt=0, lt=65536)] = 1883
    client_id: str = ""
    username: str | None = None
    password: str | None = None
    password_file: PathStr | None = Field(None, description="read the password from this file (first line) instead of 'password'")
    tls: TlsConfig | None = None
    keepalive: Annotated[int, Field(ge=5, le=3600)] = 30
    topic_prefix: str = "plategate"
    reconnect_min_s: PosFloat = 1.0
    reconnect_max_s: PosFloat = 60.0
    outbox: PathStr | None = Field(None, description="default <state_dir>/outbox.db")
    outbox_max_mb: PosInt = 200
    site_public_keys: list[str] = Field(default_factory=list, description="Ed25519 public keys (base64 raw or PEM file paths)")
    command_max_age_s: PosInt = 60
    allow_unsigned_commands: bool = Field(False, description="only for a trusted local broker")
    homeassistant: bool = False
    homeassistant_prefix: str = "homeassistant"
    max_snapshot_bytes: PosInt = Field(64 * 1024 * 1024, description="largest signed allowlist snapshot or delta accepted")
    max_command_bytes: PosInt = Field(16 * 1024, description="largest command payload accepted")
    max_inflight: Annotated[int, Field(ge=1, le=65535)] = Field(200, description="outbox messages handed to the client before acknowledgement")
    snapshot_request_interval_s: PosFloat = Field(30.0, description="at most one allowlist/request per this interval")
    clean_session: bool = Field(False, description="False: the broker keeps deltas and commands for the gate while it is offline")
    status_interval_s: Annotated[float, Field(ge=0)] = Field(60.0, description="republish the retained status this often (0 = only on change)")

    @field_validator("topic_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not value or any(c in value for c in "#+\x00") or value.startswith("/") or value.endswith("/"):
            raise ValueError(f"invalid topic prefix {value!r} (no wildcards, no leading/trailing '/')")
        return value


class ControlConfig(Section):
    """Local control socket for platectl."""

    socket: PathStr = Path("/run/plategate/control.sock")
    group: str | None = "plategate"
