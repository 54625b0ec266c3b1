"""Control socket commands that the web console needs beyond ``platectl``'s: event search
and snapshots, the live frame with what the pipeline sees, the audit trail and the
effective config with secrets redacted; and what both need to journal a person's change
(the audit trail) or to refuse a web change to the site's list.

Manual opens and relay tests are not audit rows: they are events in the journal (see
:meth:`plategate.gatekeeper.GateKeeper.open_on_request`), which ``events_search`` finds by
their ``reason``."""

from __future__ import annotations

import base64
import datetime as dt
import logging
import time
from collections.abc import Callable
from pathlib import Path

from .access.entry import MAX_PLATE_LEN
from .audit import PLATE_TEXT, mark_checked
from .errors import ControlError, StorageError
from .gatekeeper import encode_jpeg
from .parts import DaemonParts
from .types import normalise_plate

logger = logging.getLogger(__name__)

MAX_SEARCH = 5000
LIVE_ANALYSED_S = 3.0
SECRET_KEYS = frozenset({"password", "secret"})
REDACTED = "(redacted)"
DECISIONS = ("", "granted", "denied", "unknown")


def parse_time(value: object, key: str) -> float | None:
    """A timestamp from seconds, or from ISO 8601 text (naive means UTC); ``None`` if empty.

    Raises:
        ControlError: the value is neither.
    """
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        when = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ControlError(f"{key}: not a time: {value!r} (use ISO 8601, e.g. 2026-12-05T18:00)") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()


def redact(value: object) -> object:
    """A copy of a config dict with secrets (passwords, webhook secrets, URL credentials) replaced."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in SECRET_KEYS and item:
                out[key] = REDACTED
            elif key == "url" and isinstance(item, str):
                from .webhooks import redact_url

                out[key] = redact_url(item)
            else:
                out[key] = redact(item)
        return out
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def user_of(args: dict) -> str:
    """Who asks: the web console sends ``web:<name>``; otherwise the connecting process's
    account (from the kernel), else ``platectl``."""
    peer = args.get("_peer") or {}
    return str(args.get("user") or "").strip()[:64] or str(peer.get("user") or "platectl")


def audit(service: DaemonParts, args: dict, action: str, target: str | None = None, detail: dict | None = None) -> None:
    """Record a person's change (allowlist, motion region); a record that cannot be written is
    logged, and the change still goes ahead."""
    try:
        service.audit.record(user_of(args), action, target, detail)
    except StorageError as exc:
        logger.error("%s (the action goes ahead)", exc)


def guard_site_list(service: DaemonParts, args: dict) -> None:
    """Refuse a web console change to a list that comes from the site's signed sync.

    Raises:
        ControlError: the list is the site's and the request comes from the web console.
    """
    if args.get("source") == "web" and site_managed(service):
        raise ControlError("the allowlist comes from the site's signed sync: change it at the site "
                           "(plategate-site); local changes would be overwritten by the next snapshot")


def site_managed(service: DaemonParts) -> bool:
    """Whether the allowlist is the site's (signed MQTT sync configured and applied)."""
    return bool(service.cfg.mqtt.enabled and service.cfg.mqtt.site_public_keys
                and service.store.state().get("origin") == "site")


def with_checked_text(service: DaemonParts, rows: list[dict]) -> list[dict]:
    """*rows* (journal events) with ``checked_text`` and ``checked_by`` where a person has said
    what the plate shows (:data:`plategate.audit.PLATE_TEXT`); an unreadable audit log leaves them out."""
    try:
        found = service.audit.latest(PLATE_TEXT, [str(r.get("id")) for r in rows])
    except StorageError as exc:
        logger.error("%s", exc)
        return rows
    return mark_checked(rows, found)


def _image(path: str | None, root: Path) -> bytes | None:
    if not path:
        return None
    p = Path(path)
    try:
        if not p.resolve().is_relative_to(root.resolve()):
            return None
        return p.read_bytes()
    except OSError:
        return None


def web_handlers(service: DaemonParts) -> dict[str, Callable[[dict], object]]:
    """``events_search``, ``event_image``, ``event_text``, ``live``, ``audit``, ``config_show``, ``set_roi``."""

    def events_search(args: dict) -> dict:
        decision = str(args.get("decision") or "")
        if decision not in DECISIONS:
            raise ControlError(f"decision: {decision!r} is not one of granted, denied, unknown")
        limit = int(args.get("limit") or 50)
        if not 1 <= limit <= MAX_SEARCH:
            raise ControlError(f"limit: {limit} out of range (1..{MAX_SEARCH})")
        reasons = args.get("reasons") or []
        if not isinstance(reasons, list) or not all(isinstance(r, str) for r in reasons):
            raise ControlError("reasons: a list of event reasons, e.g. [\"manual_open\", \"relay_test\"]")
        below = args.get("below")
        if below is not None and (isinstance(below, bool) or not isinstance(below, (int, float))
                                  or not 0 < below <= 1):
            raise ControlError(f"below: {below!r} is not a confidence in (0, 1]")
        rows = service.journal.search(str(args.get("plate") or ""), parse_time(args.get("since"), "since"),
                                      parse_time(args.get("until"), "until"), decision, limit,
                                      max(0, int(args.get("offset") or 0)), tuple(reasons[:20]), below=below,
                                      unchecked=PLATE_TEXT if args.get("unchecked") else None)
        for row in rows:
            row["has_crop"], row["has_frame"] = bool(row.pop("crop_path")), bool(row.pop("frame_path"))
        return {"events": with_checked_text(service, rows)}

    def event_image(args: dict) -> dict:
        kind = str(args.get("kind") or "crop")
        if kind not in ("crop", "frame"):
            raise ControlError(f"kind: {kind!r} is not crop or frame")
        row = service.journal.get(str(args.get("id", "")))
        if row is None:
            raise ControlError(f"no event with id {args.get('id')!r}")
        data = _image(row.get(f"{kind}_path"), service.cfg.snapshot_dir())
        if data is None:
            raise ControlError(f"event {row['id']} has no {kind} snapshot (not saved or removed by retention)")
        return {"jpeg_b64": base64.b64encode(data).decode()}

    def event_text(args: dict) -> dict:
        """Record what a person says the plate of event ``id`` shows (``text``; empty: unreadable).

        Raises:
            ControlError: no such event, a text with other characters than letters, digits,
                spaces and dashes or longer than a plate, or the audit log cannot store it.
        """
        event_id = str(args.get("id", ""))
        if service.journal.get(event_id) is None:
            raise ControlError(f"no event with id {event_id!r}")
        raw = str(args.get("text") or "").strip()
        text = normalise_plate(raw)
        if len(text) != len(raw.replace(" ", "").replace("-", "")) or len(text) > MAX_PLATE_LEN:
            raise ControlError(f"text: {raw!r} is not a plate (letters and digits, at most {MAX_PLATE_LEN}; "
                               "spaces and dashes are dropped; empty: unreadable)")
        try:
            row = service.audit.record(user_of(args), PLATE_TEXT, event_id, {"text": text})
        except StorageError as exc:
            raise ControlError(str(exc)) from None
        return {"id": event_id, "checked_text": text, "checked_by": row["user"]}

    def live(_args: dict) -> dict:
        """The frame to show: while a car is being read (the last analysed frame is under
        ``LIVE_ANALYSED_S`` old and has plates) that frame with its plate boxes, else the latest."""
        out: dict = {"camera": service.camera.health, "motion_roi": service.cfg.motion.roi.model_dump(),
                     "recognition_roi": service.cfg.recognition.roi.model_dump(), "frame": None, "plates": []}
        frame, analysed = None, service.worker.last_analysed
        if analysed is not None and analysed[2] and time.time() - analysed[0] < LIVE_ANALYSED_S:
            frame = analysed[1]
            out["analysed_age_s"] = round(time.time() - analysed[0], 1)
            out["plates"] = [{"text": t, "confidence": round(c, 3), "box": [int(v) for v in b]}
                             for t, c, b in analysed[2] if b is not None]
        elif service.capture.latest is not None:
            frame = service.capture.latest.main()
        if frame is not None:
            out["frame"] = {"jpeg_b64": base64.b64encode(encode_jpeg(frame, 80)).decode(),
                            "width": int(frame.shape[1]), "height": int(frame.shape[0])}
        last = service.keeper.last_event
        if last is not None:
            out["last"] = {"id": last["id"], "time": last["time"], "plate": last["plate"],
                           "decision": last["decision"]}
        return out

    def audit_list(args: dict) -> dict:
        return {"rows": service.audit.recent(min(int(args.get("n") or 50), 1000), args.get("action") or None)}

    def config_show(_args: dict) -> dict:
        data = service.cfg.model_dump(mode="json")
        from . import overrides

        return {"config": redact(data), "path": str(service.config_path) if service.config_path else None,
                "overrides": overrides.read(service.cfg), "overrides_path": str(overrides.overrides_path(service.cfg))}

    def set_roi(args: dict) -> dict:
        from . import overrides

        try:
            roi = {k: float(args[k]) for k in ("x1", "y1", "x2", "y2")}
        except (KeyError, TypeError, ValueError):
            raise ControlError("set_roi needs numbers x1, y1, x2, y2 (fractions of the frame, 0..1)") from None
        new = overrides.save(service.cfg, "motion", "roi", roi)
        service.cfg = service.cfg.model_copy(update={"motion": new.motion})
        service.capture.motion.cfg = service.capture.cfg = new.motion
        audit(service, args, "set_roi", "motion.roi", roi)
        return {"motion_roi": new.motion.roi.model_dump()}

    return {"events_search": events_search, "event_image": event_image, "event_text": event_text, "live": live,
            "audit": audit_list,
            "config_show": config_show, "set_roi": set_roi}
