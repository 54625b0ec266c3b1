"""platectl events accuracy: how well the installed reader reads this gate's plates.

The events whose plate text a person checked in the web console (*Check reads*) are this
site's own labelled crops. Their saved crops are read again with the installed reader, as the
gate reads them (``recognition.reader_views``), with free decoding and with plate formats (the
configured ``recognition.plate_formats`` or ``--formats``), and the reads are compared with the
checked texts. That says, before a setting changes, whether formats help this gate, and how far
its reader is from the site's plates (``tools.train.site_tune`` is the next step).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ImageError
from ..types import PlateRead, normalise_plate
from .event_crops import saved_crop

logger = logging.getLogger(__name__)

#: a read at or above this confidence is sure: the one a gate acts on without a second thought
#: (the figures of ``platectl events`` and ``diag``, and ``tools.train.site_tune``)
SURE = 0.9
#: misreads listed per mode
SHOWN = 10


@dataclass
class ModeScore:
    """The reads of one decoding mode against the checked texts."""

    mode: str
    crops: int = 0
    right: int = 0
    sure_right: int = 0
    sure_wrong: int = 0
    misreads: list[dict] = field(default_factory=list)

    def add(self, truth: str, read: PlateRead, event: str | None = None) -> bool:
        """Count one *read* of a crop whose text is *truth*; returns whether it is right."""
        right = read.text == truth
        self.crops += 1
        self.right += right
        self.sure_right += right and read.confidence >= SURE
        self.sure_wrong += (not right) and read.confidence >= SURE
        if not right and len(self.misreads) < SHOWN:
            self.misreads.append({"event": event, "checked": truth, "read": read.text,
                                  "confidence": round(float(read.confidence), 3)})
        return right


def checked_crops(rows: list[dict]) -> tuple[list[tuple[dict, Path]], int]:
    """The events of *rows* with a checked, readable text and a saved crop on disk.

    Returns (event, crop file) pairs and how many checked events had no crop left
    (snapshots off or removed by retention).
    """
    found, missing = [], 0
    for row in rows:
        if not normalise_plate(row.get("checked_text") or ""):
            continue
        path = saved_crop(row)
        if path is None:
            missing += 1
        else:
            found.append((row, path))
    return found, missing


def score(readers: dict[str, object], crops: list[tuple[dict, Path]]) -> tuple[list[ModeScore], list[str]]:
    """Read every crop with each of *readers* (``mode -> PlateReader``) and score it against its
    checked text. Returns the scores and the crops that could not be read (file: reason)."""
    from ..imageio import load_image

    scores = {mode: ModeScore(mode) for mode in readers}
    unreadable = []
    for row, path in crops:
        try:
            image = load_image(path)
        except ImageError as exc:
            unreadable.append(str(exc))
            continue
        truth = normalise_plate(row["checked_text"])
        for mode, reader in readers.items():
            scores[mode].add(truth, reader.read(image), row.get("id"))
    return list(scores.values()), unreadable


def render(result: dict) -> str:
    """The text report (``result`` is the ``--json`` form)."""
    lines = [f"{result['crops']} crops whose text a person checked ({result['without_crop']} checked events have no "
             "crop left)"]
    if not result["crops"]:
        lines.append("check reads in the web console (Events, Check reads) first")
        return "\n".join(lines)
    for s in result["modes"]:
        n = max(s["crops"], 1)
        lines.append(f"{s['mode']:<34} {s['right']:>5} right ({100 * s['right'] / n:.1f} %), "
                     f"{s['sure_right']} right and {s['sure_wrong']} wrong at >= {SURE}")
    for s in result["modes"]:
        if s["misreads"]:
            shown = ", ".join(f"{m['checked']} read {m['read'] or '(nothing)'} ({m['confidence']:.2f})"
                              for m in s["misreads"])
            lines.append(f"misreads, {s['mode']}: {shown}")
    for reason in result["unreadable"]:
        lines.append(f"not read: {reason}")
    lines.append("The checked crops are mostly reads the gate was unsure of, so these figures are below the "
                 "gate's share of right reads over all its traffic.")
    return "\n".join(lines)
