"""What the running daemon answers on its control socket and to MQTT commands."""

from __future__ import annotations

import base64
import logging
import queue
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from . import __version__
from .errors import ControlError, StorageError
from .gatekeeper import encode_jpeg, public_event

if TYPE_CHECKING:
    from .service import Service

logger = logging.getLogger(__name__)


def status(service: Service) -> dict:
    """The daemon's status as ``platectl status`` shows it."""
    store = service.store
    bridge = service.bridge
    return {
        "state": service.state,
        "version": __version__,
        "uptime_s": round(time.monotonic() - service.started_at, 1),
        "site": service.cfg.site_id,
        "gate_id": service.cfg.gate_id,
        "camera": service.camera.health,
        "pipeline": {**vars(service.stats), "decisions": service.keeper.decisions, "alive": service.alive(),
                     "queue": service.frames.qsize()},
        "gate": service.gate.status,
        "inputs": {name: dev.is_active for name, dev in service.inputs.items()},
        "allowlist": {"version": store.version, "count": store.count(), "hash": store.content_hash()},
        "mqtt": {"enabled": True, **bridge.health()} if bridge is not None else {"enabled": False},
        "models": service.models_health(),
        "journal": {"events": service.journal.count(), "snapshots_skipped": service.journal.snapshots_skipped},
        "webhooks": service.webhooks.status() if service.webhooks is not None else [],
        "host": host_health(service.cfg.state_dir),
        "last_events": [public_event(e) for e in service.journal.recent(5)],
    }


def user_of(args: dict) -> str:
    """Who asks: the web console sends ``web:<name>``; platectl its login name."""
    return str(args.get("user") or "platectl")


def audit(service: Service, args: dict, action: str, target: str | None = None, detail: dict | None = None) -> None:
    """Record a person's action; a record that cannot be written is logged, and the action
    (a gate open above all) still goes ahead."""
    try:
        service.audit.record(user_of(args), action, target, detail)
    except StorageError as exc:
        logger.error("%s (the action goes ahead)", exc)


def guard_site_list(service: Service, args: dict) -> None:
    """Refuse a web console change to a list that comes from the site's signed sync.

    Raises:
        ControlError: the list is the site's and the request comes from the web console.
    """
    if args.get("source") == "web" and site_managed(service):
        raise ControlError("the allowlist comes from the site's signed sync: change it at the site "
                           "(plategate-site); local changes would be overwritten by the next snapshot")


def site_managed(service: Service) -> bool:
    """Whether the allowlist is the site's (signed MQTT sync configured and applied)."""
    return bool(service.cfg.mqtt.enabled and service.cfg.mqtt.site_public_keys
                and service.store.state().get("origin") == "site")


def host_health(state_dir) -> dict:
    """Free disk space of the state folder and the clock (time, NTP synchronised)."""
    import shutil

    out: dict = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    try:
        usage = shutil.disk_usage(state_dir)
        out["disk_free_mb"] = round(usage.free / 1e6)
        out["disk_used_pct"] = round(100 * (usage.total - usage.free) / usage.total, 1)
    except OSError:
        out["disk_free_mb"] = None
    out["clock_synchronized"] = clock_synchronized()
    return out


def clock_synchronized() -> bool | None:
    """The kernel's view of NTP sync (adjtimex), ``None`` where it cannot be asked."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        buf = ctypes.create_string_buffer(512)  # struct timex; modes 0 = read only
        state = libc.adjtimex(buf)
    except (OSError, AttributeError):
        return None
    return None if state < 0 else state != 5  # TIME_ERROR: not synchronised


def _entry_from_args(args: dict):
    from .access.entry import entry_from_dict

    return entry_from_dict({k: v for k, v in args.items() if k != "cmd"})


def control_handlers(service: Service) -> dict[str, Callable[[dict], object]]:
    """Handlers for ``platectl`` (one function per command name)."""

    def open_gate(args: dict) -> dict:
        reason = str(args.get("reason") or "manual")[:200]
        audit(service, args, "open", args.get("plate"), {"reason": reason})
        service.gate.open(reason, args.get("plate"))
        return {"opened": True, "mode": service.cfg.gate.relay.mode}

    def test_relay(args: dict) -> dict:
        ms = int(args.get("ms") or service.cfg.gate.relay.pulse_ms)
        if not 10 <= ms <= 60000:
            raise ControlError(f"pulse of {ms} ms out of range (10..60000)")
        audit(service, args, "relay_test", "relay", {"ms": ms})
        service.relay.pulse(ms)
        return {"pulsed_ms": ms}

    def snapshot(_args: dict) -> dict:
        pair = service.camera.camera.grab(timeout=3.0) if service.camera.camera.opened else None
        if pair is None:
            raise ControlError("the camera has no frame to give (not open or footage ended)")
        frame = pair.main()
        data = encode_jpeg(frame, 90)
        return {"jpeg_b64": base64.b64encode(data).decode(), "width": frame.shape[1], "height": frame.shape[0]}

    def events(args: dict) -> list[dict]:
        return service.journal.recent(int(args.get("n") or 20))

    def event(args: dict) -> dict:
        found = service.journal.get(str(args.get("id", "")))
        if found is None:
            raise ControlError(f"no event with id {args.get('id')!r}")
        return found

    def allowlist_list(_args: dict) -> dict:
        return {**service.store.state(), "entries": [e.to_dict() for e in service.store.entries()]}

    def allowlist_add(args: dict) -> dict:
        guard_site_list(service, args)
        entry = _entry_from_args({k: v for k, v in args.items() if k not in ("user", "source")})
        action = "allowlist_edit" if service.store.get(entry.plate) is not None else "allowlist_add"
        service.store.add(entry)
        audit(service, args, action, entry.plate, entry.to_dict())
        return service.store.state()

    def allowlist_remove(args: dict) -> dict:
        guard_site_list(service, args)
        plate = str(args.get("plate", ""))
        removed = service.store.remove(plate)
        if removed:
            audit(service, args, "allowlist_remove", plate)
        return {"removed": removed}

    def allowlist_import(args: dict) -> dict:
        from .access.entry import entry_from_dict

        guard_site_list(service, args)
        entries = [entry_from_dict(e) for e in args.get("entries") or []]
        audit(service, args, "allowlist_import", None,
              {"entries": len(entries), "replace": bool(args.get("replace", True))})
        if args.get("replace", True):
            service.store.replace_all(entries, origin="platectl")
        else:
            service.store.apply_delta(entries, [], origin="platectl")
        return service.store.state()

    def reload(_args: dict) -> dict:
        service.request_reload()
        return {"reloading": True}

    from .handlers_web import web_handlers

    return {"status": lambda _a: status(service), "open": open_gate, "test_relay": test_relay,
            "snapshot": snapshot, "events": events, "event": event, "allowlist_list": allowlist_list,
            "allowlist_add": allowlist_add, "allowlist_remove": allowlist_remove,
            "allowlist_import": allowlist_import, "reload": reload, **web_handlers(service)}


def control_streams(service: Service) -> dict[str, Callable[[dict], Iterator[dict | None]]]:
    """Streaming commands: ``watch`` yields every decision (and no-plate burst) live."""

    def watch(_args: dict) -> Iterator[dict | None]:
        inbox: queue.Queue = queue.Queue(maxsize=1000)

        def listener(message: dict) -> None:
            try:
                inbox.put_nowait(message)
            except queue.Full:
                pass

        service.keeper.add_listener(listener)
        try:
            while service.state in ("starting", "running"):
                try:
                    yield inbox.get(timeout=1.0)
                except queue.Empty:
                    yield None
        finally:
            service.keeper.remove_listener(listener)

    return {"watch": watch}


def command_handler(service: Service) -> Callable[[str, dict], dict]:
    """Carries out verified MQTT commands (``open``, ``reload``, ``snapshot``)."""

    def handle(name: str, args: dict) -> dict:
        if name == "open":
            service.gate.open("remote command", args.get("plate"))
            return {"ok": True, "opened": True}
        if name == "reload":
            service.request_reload()
            return {"ok": True}
        if name == "snapshot":
            service.capture.request_trigger("command")
            return {"ok": True, "triggered": True}
        return {"ok": False, "error": f"unknown command {name!r}"}

    return handle
