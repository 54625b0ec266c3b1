"""Topic names (DESIGN.md "MQTT contract"): gate topics under ``<prefix>/<site>/<gate>/``,
site topics under ``<prefix>/<site>/``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topics:
    """All topics of one gate."""

    prefix: str
    site: str
    gate: str

    @property
    def base(self) -> str:
        return f"{self.prefix}/{self.site}/{self.gate}"

    @property
    def status(self) -> str:
        return f"{self.base}/status"

    @property
    def event(self) -> str:
        return f"{self.base}/event"

    def event_snapshot(self, event_id: str) -> str:
        return f"{self.base}/event/{event_id}/snapshot"

    @property
    def last_snapshot(self) -> str:
        """The last plate crop (JPEG, retained): what Home Assistant's image entity shows."""
        return f"{self.base}/snapshot"

    @property
    def allowlist_state(self) -> str:
        return f"{self.base}/allowlist/state"

    @property
    def allowlist_request(self) -> str:
        return f"{self.base}/allowlist/request"

    @property
    def cmd(self) -> str:
        return f"{self.base}/cmd"

    @property
    def cmd_result(self) -> str:
        return f"{self.base}/cmd/result"

    @property
    def site_allowlist(self) -> str:
        return f"{self.prefix}/{self.site}/allowlist"

    @property
    def site_delta(self) -> str:
        return f"{self.prefix}/{self.site}/allowlist/delta"

    @classmethod
    def from_config(cls, cfg) -> Topics:
        """From a :class:`~plategate.config.PlategateConfig`."""
        return cls(cfg.mqtt.topic_prefix, cfg.site_id, cfg.gate_id)
