"""What a reload (SIGHUP, ``platectl reload``, the MQTT ``reload`` command) changes.

Every section of the new file is either applied whole or refused whole:

* applied at once: ``access`` (and the allowlist file), ``motion``, ``journal``,
  ``log_level`` (unless ``--log-level`` was given), ``recognition.vote_confidence`` and
  ``recognition.roi``, and ``mqtt``: the trusted site keys and limits live
  (:data:`plategate.mqtt.bridge.LIVE_SETTINGS`), anything else by reconnecting with a new
  MQTT bridge (turning MQTT on or off included);
* taken without anything to apply: ``web`` (read by plategate-web, which a restart of its
  own applies);
* refused, with an ERROR line and a note in STATUS and ``platectl status``: a change of
  ``state_dir``, ``site_id``, ``gate_id``, ``camera``, ``gate``, ``control``, ``lane`` (and any other
  top-level key without a live path) or of the other ``recognition`` keys (models,
  threads...), which need a restart. The daemon keeps running
  with the old values of those sections.

Revocation never waits: a site key that is no longer listed stops being trusted by this
reload even when the rest of ``[mqtt]`` is refused (an unusable new key, a broker setting
that cannot be applied).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .config import PlategateConfig
from .errors import PlategateError, SignatureError
from .pipeline import roi_tuple

if TYPE_CHECKING:
    from .mqtt.bridge import MqttBridge

logger = logging.getLogger(__name__)

#: top-level keys a reload applies; a change of any other needs a restart
LIVE_KEYS = frozenset({"recognition", "access", "motion", "journal", "log_level", "mqtt"})
LIVE_RECOGNITION = frozenset({"vote_confidence", "roi"})
#: top-level keys the daemon does not use (``web`` is plategate-web's): taken, nothing to apply
OTHER_PROCESS_KEYS = frozenset({"web"})


@dataclass
class ReloadReport:
    """What one reload did."""

    time: float = field(default_factory=time.time)
    applied: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"time": self.time, "applied": self.applied, "refused": self.refused, "errors": self.errors}

    def summary(self) -> str:
        if self.refused:
            return f"reload: {', '.join(self.refused)} not applied (restart plategated); applied: " \
                   f"{', '.join(self.applied) or 'nothing'}"
        return f"reloaded: {', '.join(self.applied) or 'nothing changed'}"


def changed_keys(old: PlategateConfig, new: PlategateConfig) -> list[str]:
    """Top-level keys whose value differs."""
    return [k for k in PlategateConfig.model_fields if getattr(old, k) != getattr(new, k)]


def apply_reload(daemon, new: PlategateConfig, log_level_fixed: bool = False) -> ReloadReport:
    """Apply *new* to the running *daemon* (a :class:`plategate.service.Service`).

    Never raises: what cannot be applied is in the report's ``refused`` and ``errors``.
    """
    report = ReloadReport()
    old: PlategateConfig = daemon.cfg
    logger.debug("reload: changed in the file: %s", ", ".join(changed_keys(old, new)) or "nothing")
    updates: dict = {}
    for key in changed_keys(old, new):
        if key in OTHER_PROCESS_KEYS:
            updates[key] = getattr(new, key)
            logger.info("reload: %s changed; it is read by plategate-web (restart that to apply it)", key)
        elif key not in LIVE_KEYS:  # state_dir, site_id, gate_id, camera, gate, control, lane, ...
            report.refused.append(key)
            report.errors.append(f"{key}: changed; needs a restart of plategated")
    rec_changed = {k for k in type(old.recognition).model_fields
                   if getattr(old.recognition, k) != getattr(new.recognition, k)}
    if rec_changed - LIVE_RECOGNITION:
        report.refused.append("recognition")
        report.errors.append(f"recognition.{', recognition.'.join(sorted(rec_changed - LIVE_RECOGNITION))}: "
                             "changed; needs a restart of plategated")
    elif rec_changed:
        daemon.worker.vote_confidence = new.recognition.vote_confidence
        daemon.worker.roi = roi_tuple(new.recognition.roi)
        updates["recognition"] = new.recognition
        report.applied.append("recognition")
    if old.access != new.access:
        daemon.policy.cfg = new.access
        updates["access"] = new.access
        report.applied.append("access")
    if old.motion != new.motion:
        daemon.capture.motion.cfg = daemon.capture.cfg = new.motion
        updates["motion"] = new.motion
        report.applied.append("motion")
    if old.journal != new.journal:
        daemon.journal.cfg = new.journal
        updates["journal"] = new.journal
        report.applied.append("journal")
    if old.log_level != new.log_level:
        updates["log_level"] = new.log_level
        if log_level_fixed:
            logger.info("log_level %s in the file ignored: --log-level was given on the command line", new.log_level)
        else:
            logging.getLogger().setLevel(new.log_level)
            report.applied.append("log_level")
    if old.mqtt != new.mqtt:
        if _reload_mqtt(daemon, old, new, report):
            updates["mqtt"] = new.mqtt
            report.applied.append("mqtt")
        else:
            report.refused.append("mqtt")
    daemon.cfg = old.model_copy(update=updates) if updates else old
    for line in report.errors:
        logger.error("reload: %s", line)
    return report


def _revoke_unlisted(bridge: MqttBridge, new: PlategateConfig) -> None:
    """Keep trusting only the old keys the new list still names (the new list has a bad key)."""
    from .mqtt.signing import key_id, parse_public_key

    listed = set()
    for spec in new.mqtt.site_public_keys:
        try:
            listed.add(key_id(parse_public_key(spec)))
        except SignatureError:
            continue
    kept = {kid: key for kid, key in bridge.keys.items() if kid in listed}
    for kid in set(bridge.keys) - set(kept):
        logger.warning("site key %s revoked: no longer in mqtt.site_public_keys", kid)
    bridge.set_keys(kept)


def _reload_mqtt(daemon, cur: PlategateConfig, new: PlategateConfig, report: ReloadReport) -> bool:
    """Apply a changed ``[mqtt]``; returns whether it was applied."""
    from .mqtt.bridge import LIVE_SETTINGS
    from .mqtt.signing import load_public_keys

    bridge = daemon.bridge
    try:
        keys = load_public_keys(new.mqtt.site_public_keys)
    except SignatureError as exc:
        report.errors.append(f"mqtt.site_public_keys: {exc}")
        if bridge is not None:
            _revoke_unlisted(bridge, new)
        return False
    if bridge is not None:
        for kid in set(bridge.keys) - set(keys):
            logger.warning("site key %s revoked: no longer in mqtt.site_public_keys", kid)
        bridge.set_keys(keys)  # revocation first, whatever happens next
    others = {k for k in type(new.mqtt).model_fields if getattr(cur.mqtt, k) != getattr(new.mqtt, k)} - LIVE_SETTINGS
    if bridge is not None and new.mqtt.enabled and not others:
        try:
            bridge.apply_settings(new.mqtt)
        except PlategateError as exc:
            report.errors.append(f"mqtt: {exc}")
            return False
        return True
    try:
        daemon.replace_bridge(cur.model_copy(update={"mqtt": new.mqtt}))
    except PlategateError as exc:
        report.errors.append(f"mqtt: cannot reconnect with the new settings, keeping the old connection: {exc}")
        return False
    logger.info("MQTT %s with the new settings", "reconnecting" if new.mqtt.enabled else "turned off")
    return True
