"""Config sections of the outputs besides MQTT: the web console and HTTP webhooks.

Part of the one schema in :mod:`plategate.config` (which imports these sections);
kept here so that each module stays about one subject.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

PosFloat = Annotated[float, Field(gt=0)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class WebConfig(_Section):
    """plategate-web: the web console (a separate process; off until a password is set)."""

    bind: str = Field("127.0.0.1", description="address to listen on: the box's LAN address, e.g. 192.168.1.20 "
                                               "(0.0.0.0 listens on every interface)")
    port: Annotated[int, Field(gt=0, lt=65536)] = 8080
    password_file: Path = Field(Path("/etc/plategate/web.passwd"),
                                description="user:hash lines written by 'platectl web passwd'")
    tls_cert: Path | None = Field(None, description="PEM certificate (chain): serve HTTPS with it")
    tls_key: Path | None = Field(None, description="PEM private key of tls_cert")
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


class WebhookConfig(_Section):
    """One HTTP receiver of events (``[[webhooks]]``)."""

    url: str = Field(..., description="http:// or https:// URL that events are POSTed to")
    name: str = Field("", description="short name in status output (default: the URL's host)")
    secret: str | None = Field(None, description="shared secret of the HMAC-SHA256 signature")
    secret_file: Path | None = Field(None, description="read the secret from this file (first line) instead")
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
