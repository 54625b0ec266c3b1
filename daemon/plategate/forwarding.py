"""From the journal to the MQTT outbox: every journaled event is published, sooner or later.

The journal is the record of what happened; the MQTT outbox is only the queue towards the
broker. An event is first written to the journal with ``outbox = 0``, then handed to the
outbox; once the outbox has committed it the journal row is marked ``outbox = 1``. When the
outbox cannot take it (its disk is full, its database is broken) the event stays marked
``0`` in the journal, and :meth:`EventForwarder.refill` hands it over again, with its plate
snapshot read back from the journal's JPEG, as soon as the outbox can be written: every few
seconds while the daemon runs and once at start, so a restart in between loses nothing.

An event handed over twice (a crash between the outbox commit and the journal mark) is
published twice with the same ``id``; consumers deduplicate on it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from .errors import PlategateError
from .journal import Journal

logger = logging.getLogger(__name__)

#: ``fn(public_event, snapshot_jpeg) -> event id``: the MQTT bridge's ``publish_event``
Publish = Callable[[dict, bytes | None], object]
PublicView = Callable[[dict], dict]


class EventForwarder:
    """Hands journaled events to a publisher and catches up on those it could not take.

    Args:
        journal: the event journal (rows carry the ``outbox`` mark).
        public_view: turns a journal row into the published event (no local paths).
        publish: the publisher, or ``None`` while MQTT is off.
    """

    def __init__(self, journal: Journal, public_view: PublicView, publish: Publish | None = None) -> None:
        self.journal = journal
        self.public_view = public_view
        self._publish = publish
        #: held while an event is journaled and handed over, and during a refill, so that a
        #: refill never hands over an event its decision thread is handing over at the moment
        self.lock = threading.RLock()
        self._failing = False
        self.handed = 0
        self.refilled = 0

    @property
    def active(self) -> bool:
        """Whether events are to be published (MQTT on)."""
        return self._publish is not None

    def set_publisher(self, publish: Publish | None) -> None:
        """Switch the publisher (MQTT turned on, off or reconnected with new settings by a reload)."""
        self._publish = publish

    def forward(self, event: dict, snapshot: bytes | None = None) -> bool:
        """Hand one journaled event to the outbox; returns whether the outbox took it.

        Never raises: an event the outbox cannot take stays marked in the journal for :meth:`refill`.
        """
        publish = self._publish
        if publish is None:
            return False
        try:
            with self.lock:
                publish(self.public_view(event), snapshot)
        except PlategateError as exc:
            self._failed(exc)
            return False
        except Exception:
            logger.exception("handing event %s to the outbox failed; it waits in the journal", event.get("id"))
            return False
        self.journal.mark_queued(event["id"])
        self.handed += 1
        if self._failing:
            self._failing = False
            logger.info("MQTT outbox writable again: journaled events are handed over")
        return True

    def _failed(self, exc: Exception) -> None:
        if not self._failing:
            logger.error("MQTT outbox cannot take events (%s): they wait in the journal and are handed "
                         "over when it can", exc)
        self._failing = True

    def refill(self, limit: int = 200) -> int:
        """Hand over journaled events not yet in the outbox (oldest first); returns how many were.

        Never raises.
        """
        if self._publish is None:
            return 0
        with self.lock:
            try:
                self.journal.flush()
                rows = self.journal.unqueued(limit)
            except PlategateError as exc:
                logger.warning("cannot read the journal for events still to publish: %s", exc)
                return 0
            done = 0
            for row in rows:
                if not self.forward(row, _read_snapshot(row.get("crop_path"))):
                    break
                done += 1
            if done:
                self.refilled += done
                logger.info("%d journaled event(s) handed to the MQTT outbox", done)
            return done


def _read_snapshot(path: str | None) -> bytes | None:
    if not path:
        return None
    try:
        return Path(path).read_bytes()
    except OSError:
        return None
