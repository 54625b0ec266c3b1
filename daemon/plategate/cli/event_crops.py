"""The plate crops of recorded events, gathered into a labelled folder for teaching the reader a site.

``platectl events crops -o DIR`` copies each event's saved plate crop into *DIR* and lists it in
``DIR/labels.csv`` with the text a person gave it in the web console, else the text the reader
read. A person checks the texts (corrects them, or empties one to leave its crop out); ``python -m tools.train.site_tune DIR`` then fine-tunes
the reader on them. Running the command again adds the new events and keeps every row already
in the file, with its corrections.
"""

from __future__ import annotations

import csv
import logging
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..errors import StorageError

logger = logging.getLogger(__name__)

#: the columns of labels.csv; ``file`` and ``text`` are what the training tools read
FIELDS = ("file", "text", "read", "confidence", "time", "decision", "event", "checked_by")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


@dataclass(frozen=True)
class CropExport:
    """What one export did: crops added, events already in the folder, events without a saved crop."""

    added: int
    kept: int
    without_crop: int
    labels: Path


def crop_name(event_id: str) -> str:
    """The file name of an event's crop in the folder (its id, made safe for any file system)."""
    return _UNSAFE.sub("_", event_id) + ".jpg"


def saved_crop(row: dict) -> Path | None:
    """The event's plate crop file, or ``None`` when none was saved or it is gone (retention, low disk)."""
    path = Path(str(row.get("crop_path") or ""))
    return path if row.get("crop_path") and path.is_file() else None


def _read_existing(labels: Path) -> list[dict]:
    if not labels.is_file():
        return []
    try:
        with labels.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            if "file" not in (reader.fieldnames or ()) or "text" not in (reader.fieldnames or ()):
                raise StorageError(f"{labels}: not a crops list (needs the columns file and text, has "
                                   f"{reader.fieldnames}); move it away or choose another folder")
            return list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise StorageError(f"{labels}: cannot read it: {exc}") from None


def export_crops(rows: list[dict], out: Path, below: float | None = None) -> CropExport:
    """Copy the crops of event *rows* (journal rows, oldest first) into *out* and list them in labels.csv.

    Args:
        rows: events as the journal or the daemon returns them (``id``, ``plate``,
            ``confidence``, ``crop_path``, ...).
        out: the folder; created if missing (its parent must exist).
        below: only events read with a confidence below this (the reads worth checking).

    Returns:
        A :class:`CropExport`.

    Raises:
        StorageError: *out* cannot be created or written, or its labels.csv is not a crops list.
            Rows already in labels.csv are never dropped or changed.
    """
    labels = out / "labels.csv"
    try:
        out.mkdir(exist_ok=True)
    except OSError as exc:
        raise StorageError(f"cannot create {out}: {exc}") from None
    existing = _read_existing(labels)
    known = {r.get("file") for r in existing}
    new, without = [], 0
    for row in rows:
        event_id = str(row.get("id") or "")
        conf = row.get("confidence")
        if not event_id or (below is not None and isinstance(conf, int | float) and conf >= below):
            continue
        name = crop_name(event_id)
        if name in known:
            continue
        src = saved_crop(row)
        if src is None:
            without += 1
            continue
        try:
            shutil.copyfile(src, out / name)
        except OSError as exc:
            raise StorageError(f"cannot copy {src} to {out / name}: {exc}") from None
        known.add(name)
        text = row["checked_text"] if row.get("checked_text") is not None else row.get("plate") or ""
        new.append({"file": name, "text": text, "read": row.get("plate") or "", "checked_by": row.get("checked_by") or "",
                    "confidence": "" if conf is None else conf, "time": row.get("time") or "",
                    "decision": row.get("decision") or "", "event": event_id})
    if new or not labels.is_file():
        tmp = labels.with_name(".labels.csv.tmp")
        try:
            with tmp.open("w", newline="", encoding="utf-8") as fh:
                fields = list(FIELDS) + [k for k in (existing[0] if existing else {}) if k not in FIELDS and k]
                writer = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
                writer.writeheader()
                writer.writerows(existing + new)
            tmp.replace(labels)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise StorageError(f"cannot write {labels}: {exc} (the rows already there are unchanged)") from None
    return CropExport(added=len(new), kept=len(existing), without_crop=without, labels=labels)
