"""The ``reads`` check of ``platectl diag``: how surely the gate has read plates lately.

A gate that reads most plates below 0.9 opens late or not at all for its residents; the cause
is usually the camera (focus, shutter, infrared) or plates the reader does not know. The check
counts the reads of the last :data:`DAYS` days from the journal (through the daemon, or the
file when it is stopped), says how many reached 0.9 and how many unsure ones nobody has checked,
and, when ``recognition.plate_formats`` is not set, which formats the gate's plates fit.
"""

from __future__ import annotations

import time

from ..errors import ControlError, StorageError
from . import event_formats
from .checks import Context, Result, Status
from .event_accuracy import SURE

DAYS = 7
#: fewer sure reads than this share: a warning
LOW_SHARE = 0.5
#: events looked at, at most
LIMIT = 20000


def check_reads(ctx: Context) -> list[Result]:
    from .events import Source

    try:
        rows = Source(ctx.args).since(time.time() - DAYS * 86400, LIMIT)
    except (StorageError, ControlError) as exc:
        return [Result("reads", Status.SKIP, f"the journal cannot be read: {exc}")]
    reads = [r for r in rows if r.get("plate")]
    if not reads:
        return [Result("reads", Status.SKIP, f"no plate read in the last {DAYS} days")]
    sure = sum(float(r.get("confidence") or 0.0) >= SURE for r in reads)
    unchecked = sum(float(r.get("confidence") or 0.0) < SURE and "checked_text" not in r and bool(r.get("crop_path"))
                    for r in reads)
    share = sure / len(reads)
    message = (f"{len(reads)} reads in {DAYS} days, {100 * share:.0f} % at >= {SURE}; "
               f"{unchecked} unsure ones with a crop nobody has checked")
    if ctx.cfg is not None and not ctx.cfg.recognition.plate_formats:
        found = event_formats.site_shapes(rows)
        if found.suggested:
            message += (f"; plate_formats unset, this gate's plates fit {', '.join(found.suggested)} "
                        f"({100 * found.covered:.0f} %: platectl events formats)")
    if share < LOW_SHARE:
        return [Result("reads", Status.WARN, message,
                       "look at the unsure reads (web console, Check reads): blur or dark plates point to the camera "
                       "(docs/camera.md); plates read almost right to recognition.plate_formats (platectl events "
                       "formats) or to teaching the reader (docs/site-tuning.md)")]
    return [Result("reads", Status.PASS, message)]
