"""What the running daemon answers on its control socket and to MQTT commands.

The handlers are written against :class:`plategate.parts.DaemonParts`, not the service
class, so that this module does not depend on the module that uses it.
"""

from __future__ import annotations

import base64
import logging
import queue
import time
from collections.abc import Callable, Iterator

from . import __version__
from .access.filesync import edit_note
from .errors import ControlError
from .gatekeeper import MANUAL_OPEN, RELAY_TEST, REMOTE_COMMAND, encode_jpeg, public_event
from .handlers_web import audit, guard_site_list, parse_time, web_handlers, with_checked_text
from .parts import DaemonParts

logger = logging.getLogger(__name__)

#: the most events one ``events`` reply holds: a longer read goes in pages
EVENTS_PAGE = 5000


def status(service: DaemonParts) -> dict:
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
        "pin_factory": pin_factory_name(service),
        "inputs": {name: dev.is_active for name, dev in service.inputs.items()},
        "allowlist": {"version": store.version, "count": store.count(), "hash": store.content_hash()},
        "mqtt": {"enabled": True, **bridge.health()} if bridge is not None else {"enabled": False},
        "models": service.models_health(),
        "journal": {"events": service.journal.count(), "snapshots_skipped": service.journal.snapshots_skipped},
        "webhooks": service.webhooks.status() if service.webhooks is not None else [],
        "host": host_health(service.cfg.state_dir),
        "last_events": [public_event(e) for e in service.journal.recent(5)],
        **service.status_extra(),
    }


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

    return entry_from_dict({k: v for k, v in args.items() if k != "cmd" and not k.startswith("_")})


def requester(args: dict) -> str:
    """Who asked, for the journal: the user named by the caller (the web console passes its
    logged-in user), then the connecting process's account from the kernel."""
    peer = args.get("_peer") or {}
    account = f"{peer.get('user', '?')} (uid {peer.get('uid', '?')}, pid {peer.get('pid', '?')})"
    named = str(args.get("user") or "").strip()
    return f"{named} via control socket, {account}" if named else f"control socket, {account}"


def control_handlers(service: DaemonParts) -> dict[str, Callable[[dict], object]]:
    """Handlers for ``platectl`` (one function per command name)."""

    def open_gate(args: dict) -> dict:
        event = service.keeper.open_on_request(MANUAL_OPEN, requester(args), str(args.get("reason") or ""),
                                               args.get("plate"))
        return {"opened": True, "mode": service.cfg.gate.relay.mode, "event": event["id"]}

    def test_relay(args: dict) -> dict:
        ms = int(args.get("ms") or service.cfg.gate.relay.pulse_ms)
        if not 10 <= ms <= 60000:
            raise ControlError(f"pulse of {ms} ms out of range (10..60000)")
        event = service.keeper.open_on_request(RELAY_TEST, requester(args), f"test pulse of {ms} ms",
                                               action=lambda: service.relay.pulse(ms))
        return {"pulsed_ms": ms, "event": event["id"], "pin_factory": pin_factory_name(service)}

    def snapshot(_args: dict) -> dict:
        pair = service.camera.camera.grab(timeout=3.0) if service.camera.camera.opened else None
        if pair is None:
            raise ControlError("the camera has no frame to give (not open or footage ended)")
        frame = pair.main()
        data = encode_jpeg(frame, 90)
        return {"jpeg_b64": base64.b64encode(data).decode(), "width": frame.shape[1], "height": frame.shape[0]}

    def events(args: dict) -> list[dict]:
        """The last ``n`` events, newest first; with ``after`` (an event's ``seq``) or ``since`` (a
        time), the ``n`` events after it, oldest first: one page of a longer read.

        Raises:
            ControlError: ``n`` out of range (1..:data:`EVENTS_PAGE`), ``after`` not a number, a bad time.
        """
        n = int(args.get("n") or 20)
        if not 1 <= n <= EVENTS_PAGE:
            raise ControlError(f"n: {n} out of range (1..{EVENTS_PAGE}); read more in pages with after")
        if args.get("after") is None and args.get("since") is None:
            return with_checked_text(service, service.journal.recent(n))
        try:
            after = int(args.get("after") or 0)
        except (TypeError, ValueError):
            raise ControlError(f"after: {args.get('after')!r} is not an event's seq") from None
        return with_checked_text(service, service.journal.since(after, n, parse_time(args.get("since"), "since")))

    def event(args: dict) -> dict:
        found = service.journal.get(str(args.get("id", "")))
        if found is None:
            raise ControlError(f"no event with id {args.get('id')!r}")
        return with_checked_text(service, [found])[0]

    def allowlist_list(_args: dict) -> dict:
        sources = service.store.sources()
        return {**service.store.state(),
                "entries": [dict(e.to_dict(), source=sources.get(e.plate)) for e in service.store.entries()]}

    def allowlist_add(args: dict) -> dict:
        guard_site_list(service, args)
        entry = _entry_from_args({k: v for k, v in args.items() if k not in ("user", "source")})
        action = "allowlist_edit" if service.store.get(entry.plate) is not None else "allowlist_add"
        service.store.add(entry)
        audit(service, args, action, entry.plate, entry.to_dict())
        return {**service.store.state(), "note": edit_note(service.cfg, None)}

    def allowlist_remove(args: dict) -> dict:
        from .types import normalise_plate

        guard_site_list(service, args)
        plate = normalise_plate(str(args.get("plate", "")))
        before = service.store.source_of(plate)
        removed = service.store.remove(plate)
        if removed:
            audit(service, args, "allowlist_remove", plate)
        return {"removed": removed, "note": edit_note(service.cfg, before, removing=True) if removed else None}

    def allowlist_import(args: dict) -> dict:
        from .access.entry import entry_from_dict

        guard_site_list(service, args)
        entries = [entry_from_dict(e) for e in args.get("entries") or []]
        audit(service, args, "allowlist_import", None,
              {"entries": len(entries), "replace": bool(args.get("replace", True))})
        if args.get("replace", True):
            service.store.replace_all(entries, origin="local")
        else:
            service.store.apply_delta(entries, [], origin="local")
        return {**service.store.state(), "note": edit_note(service.cfg, None)}

    def reload(_args: dict) -> dict:
        service.request_reload()
        return {"reloading": True}

    return {"status": lambda _a: status(service), "open": open_gate, "test_relay": test_relay,
            "snapshot": snapshot, "events": events, "event": event, "allowlist_list": allowlist_list,
            "allowlist_add": allowlist_add, "allowlist_remove": allowlist_remove,
            "allowlist_import": allowlist_import, "reload": reload, **web_handlers(service)}


def control_streams(service: DaemonParts) -> dict[str, Callable[[dict], Iterator[dict | None]]]:
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


def pin_factory_name(service: DaemonParts) -> str:
    """The gpiozero pin factory behind the relay and inputs: ``mock (nothing is wired)`` for
    gpiozero's MockFactory."""
    from .gate.pins import describe_factory

    return describe_factory(service.pin_factory)


def command_handler(service: DaemonParts) -> Callable[[str, dict, dict], dict]:
    """Carries out verified MQTT commands (``open``, ``reload``, ``snapshot``); *origin* says
    who sent them (nonce, key id, signed or not) for the journal."""

    def handle(name: str, args: dict, origin: dict | None = None) -> dict:
        if name == "open":
            origin = origin or {}
            by = (f"site command {origin.get('nonce')} signed by key {origin.get('key_id')}" if origin.get("signed")
                  else f"unsigned MQTT command {origin.get('nonce') or ''}".rstrip())
            note = str(args.get("reason") or args.get("source") or "")
            event = service.keeper.open_on_request(REMOTE_COMMAND, by, note, args.get("plate"))
            return {"ok": True, "opened": True, "event": event["id"]}
        if name == "reload":
            service.request_reload()
            return {"ok": True}
        if name == "snapshot":
            service.capture.request_trigger("command")
            return {"ok": True, "triggered": True}
        return {"ok": False, "error": f"unknown command {name!r}"}

    return handle
