"""Where the allowlist comes from, and the allowlist file's part in it.

Without signed site sync the list has two sources: ``access.allowlist_file`` (read at start
and on every reload; its entries are the ``file`` entries: added, changed and removed as the
file is) and local edits (``platectl allowlist add/remove/import``, the control socket;
``local`` entries, kept across restarts and reloads; a local entry for a plate wins over the
file's). With signed site sync on (``mqtt.enabled`` and ``mqtt.site_public_keys``) the site's
list is the list: the file is not read, and a local edit lasts only until the next signed
snapshot replaces the list (a delta keeps it unless it names the plate).
"""

from __future__ import annotations

import logging

from ..config import PlategateConfig
from ..errors import PlategateError
from .store import AllowlistStore

logger = logging.getLogger(__name__)


def signed_sync(cfg: PlategateConfig) -> bool:
    """Whether the site's signed list is the list (the file is ignored, local edits are temporary)."""
    return cfg.mqtt.enabled and bool(cfg.mqtt.site_public_keys)


def load_allowlist_file(store: AllowlistStore, cfg: PlategateConfig) -> dict | None:
    """Bring the ``file`` entries in line with ``access.allowlist_file``; returns the counts,
    or ``None`` when there is no file, it is ignored, or it is malformed (logged; nothing changes)."""
    path = cfg.access.allowlist_file
    if path is None:
        return None
    if signed_sync(cfg):
        logger.warning("access.allowlist_file %s ignored: the list comes from the site over signed MQTT sync", path)
        return None
    from .io import read_csv, read_json

    try:
        entries = read_json(path) if path.suffix.lower() == ".json" else read_csv(path)
        counts = store.sync_file(entries)
    except PlategateError as exc:
        logger.error("allowlist file not loaded, keeping the stored list: %s", exc)
        return None
    logger.info("allowlist file %s: %d entries (%d added, %d changed, %d removed; %d plates keep their local "
                "entry)", path, counts["file"], counts["added"], counts["updated"], counts["removed"],
                counts["local_kept"])
    return counts


def edit_note(cfg: PlategateConfig, source_before: str | None, removing: bool = False) -> str | None:
    """What to tell whoever edits the list locally when the edit will not last, else ``None``."""
    if signed_sync(cfg):
        return ("note: signed site sync is on: the site's next full snapshot replaces the list and this local "
                "edit with it; make the change on the site to keep it")
    if removing and source_before == "file" and cfg.access.allowlist_file is not None:
        return (f"note: this entry comes from access.allowlist_file ({cfg.access.allowlist_file}): it comes back "
                "at the next restart or reload unless it is removed from that file")
    return None
