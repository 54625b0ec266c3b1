"""The configuration of the daemon's connections: MQTT (and its TLS), the control socket, and the
outputs besides MQTT (the web console, HTTP webhooks)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from .config_base import PathStr, PosFloat, PosInt, Section, check_topic_prefix


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
        return check_topic_prefix(value)


class ControlConfig(Section):
    """Local control socket for platectl."""

    socket: PathStr = Path("/run/plategate/control.sock")
    group: str | None = "plategate"


class WebConfig(Section):
    """plategate-web: the web console (a separate process; off until a password is set)."""

    bind: str = Field("127.0.0.1", description="address to listen on: the box's LAN address, e.g. 192.168.1.20 "
                                               "(0.0.0.0 listens on every interface)")
    port: Annotated[int, Field(gt=0, lt=65536)] = 8080
    password_file: PathStr = Field(Path("/etc/plategate/web.passwd"),
                                description="user:hash lines written by 'platectl web passwd'")
    tls_cert: PathStr | None = Field(None, description="PEM certificate (chain): serve HTTPS with it")
    tls_key: PathStr | None = Field(None, description="PEM private key of tls_cert")
    session_minutes: Annotated[int, Field(ge=1, le=10080)] = Field(60, description="idle time after which a login ends")
    login_attempts: Annotated[int, Field(ge=1, le=100)] = Field(5, description="failed logins per address and "
                                                                              "lockout_minutes before more are refused")
    lockout_minutes: Annotated[int, Field(ge=1, le=1440)] = 10
    secure_cookies: bool | None = Field(None, description="mark cookies Secure (default: only when TLS is on)")
    threads: Annotated[int, Field(ge=1, le=32)] = 4

    @model_validator(mode="after")
    def _tls_pair(self) -> WebConfig:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key: give both or neither")
        return self


class WebhookConfig(Section):
    """One HTTP receiver of events (``[[webhooks]]``)."""

    url: str = Field(..., description="http:// or https:// URL that events are POSTed to")
    name: str = Field("", description="short name in status output (default: the URL's host)")
    secret: str | None = Field(None, description="shared secret of the HMAC-SHA256 signature")
    secret_file: PathStr | None = Field(None, description="read the secret from this file (first line) instead")
    snapshot: bool = Field(False, description="also send the plate crop, base64 JPEG in 'snapshot_jpeg'")
    timeout_s: PosFloat = 10.0
    retry_min_s: PosFloat = 2.0
    retry_max_s: PosFloat = 300.0

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL with a host: {value!r}")
        return value

    @model_validator(mode="after")
    def _check(self) -> WebhookConfig:
        if self.secret is None and self.secret_file is None:
            raise ValueError("secret or secret_file: required (receivers verify the signature with it)")
        if self.secret is not None and self.secret_file is not None:
            raise ValueError("secret and secret_file: give one, not both")
        if self.retry_max_s < self.retry_min_s:
            raise ValueError("retry_max_s: must be at least retry_min_s")
        if not self.name:
            self.name = urlsplit(self.url).hostname or self.url
        return self

    def secret_bytes(self) -> bytes:
        """The shared secret.

        Raises:
            OSError: the secret file cannot be read.
        """
        if self.secret is not None:
            return self.secret.encode()
        return self.secret_file.read_text(encoding="utf-8").splitlines()[0].strip().encode()  # type: ignore[union-attr]
