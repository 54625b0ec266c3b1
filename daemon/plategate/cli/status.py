"""platectl status: what the running daemon reports, plus the host's temperature and throttling."""

from __future__ import annotations

import argparse

from ..errors import PlategateError
from . import common, hostinfo
from .output import cell, duration, emit, flatten, keyvalues, local_time, table

EVENT_COLUMNS = [("time", "TIME"), ("plate", "PLATE"), ("decision", "DECISION"), ("reason", "REASON"),
                 ("confidence", "CONF"), ("id", "ID")]


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("status", help="state of the running daemon",
                              description="State, uptime, camera frame rate, last events, allowlist, MQTT, "
                                          "model health, CPU temperature and throttling.")
    p.add_argument("--events", type=int, default=5, metavar="N", help="last N events to show (default 5)")
    p.set_defaults(func=run)


def host() -> dict:
    """This machine's CPU temperature and throttling flags."""
    return {"cpu_temp_c": hostinfo.cpu_temperature(), "throttled": hostinfo.throttled()}


def run(args: argparse.Namespace) -> int:
    status = common.client(args).call("status")
    if not isinstance(status, dict):
        status = {"status": status}
    status["host"] = {**host(), **(status.get("host") or {})}  # the daemon adds disk and clock
    events = status.get("last_events")
    if events is None and args.events > 0:
        try:
            events = common.client(args).call("events", n=args.events)
        except PlategateError:
            events = []
    status["last_events"] = (events or [])[: max(args.events, 0)]
    emit(args.json, status, render)
    return 0


def render(status: dict) -> str:
    """The status as a summary block, the last events table and every other field."""
    throttle = common.lookup(status, "host.throttled")
    throttle_text = "-" if throttle is None else (", ".join(throttle.get("now") or []) or "no") + (
        f" (earlier: {', '.join(throttle['past'])})" if throttle.get("past") else "")
    temp = common.lookup(status, "host.cpu_temp_c")
    summary = [
        ("state", common.lookup(status, "state")),
        ("version", common.lookup(status, "version")),
        ("uptime", duration(common.lookup(status, "uptime_s", "uptime"))),
        ("camera fps", common.lookup(status, "camera.fps", "health.camera.fps")),
        ("camera", common.lookup(status, "camera.error", "health.camera.error") or
         ("open" if common.lookup(status, "camera.opened", "health.camera.opened") else None)),
        ("allowlist", _allowlist(status)),
        ("mqtt", _mqtt(status)),
        *[(f"webhook {h.get('name')}", _webhook(h)) for h in status.get("webhooks") or []],
        ("disk free", None if common.lookup(status, "host.disk_free_mb") is None
         else f"{common.lookup(status, 'host.disk_free_mb')} MB"),
        ("clock", {True: "synchronised", False: "NOT synchronised (NTP)"}.get(
            common.lookup(status, "host.clock_synchronized"))),
        ("models", _models(status)),
        ("gate", common.lookup(status, "gate.state", "health.gate.state", "relay.state")),
        ("cpu temperature", None if temp is None else f"{temp:.1f} C"),
        ("throttling", throttle_text),
    ]
    parts = [keyvalues((k, v) for k, v in summary if v is not None and v != "-" or k == "state")]
    events = status.get("last_events") or []
    if events:
        rows = [dict(e, time=local_time(e.get("time"))) for e in events]
        parts.append("\nlast events\n" + table(rows, EVENT_COLUMNS))
    shown = ("last_events", "host", "state", "version", "uptime_s")
    rest = [(k, v) for k, v in flatten({k: v for k, v in status.items() if k not in shown})
            if not isinstance(v, list) or not v or not isinstance(v[0], dict)]
    if rest:
        parts.append("\ndetails\n" + keyvalues(rest))
    return "\n".join(parts)


def _webhook(hook: dict) -> str:
    text = f"{hook.get('pending', 0)} queued, {hook.get('delivered', 0)} delivered"
    if hook.get("last_error"):
        text += f"; failing: {hook['last_error']}"
        if hook.get("retry_in_s") is not None:
            text += f" (retry in {hook['retry_in_s']:.0f} s)"
    return f"{hook.get('url')}: {text}"


def _allowlist(status: dict) -> str | None:
    version = common.lookup(status, "allowlist.version", "allowlist_version")
    count = common.lookup(status, "allowlist.count", "allowlist.size", "allowlist.entries")
    if version is None and count is None:
        return None
    return f"version {cell(version)}, {cell(count)} entries"


def _mqtt(status: dict) -> str | None:
    mqtt = status.get("mqtt")
    if not isinstance(mqtt, dict):
        return None
    if mqtt.get("enabled") is False:
        return "disabled"
    state = "connected" if mqtt.get("connected") else "DISCONNECTED"
    depth = mqtt.get("outbox_depth", mqtt.get("outbox"))
    return f"{state}, outbox {cell(depth)}"


def _models(status: dict) -> str | None:
    models = common.lookup(status, "models", "health.models")
    if not isinstance(models, dict):
        return None if models is None else cell(models)
    out = []
    for name, info in models.items():
        if not isinstance(info, dict) or not ({"ok", "loaded", "error"} & set(info)):
            continue  # counters and timings beside the models: in the details
        ok = info.get("ok", info.get("loaded"))
        out.append(f"{name} {'ok' if ok and not info.get('error') else 'FAILED'}"
                   + (f" ({info['error']})" if info.get("error") else ""))
    return ", ".join(out) or None
