"""platectl test-relay: pulse the barrier relay once (needs --confirm: the barrier moves)."""

from __future__ import annotations

import argparse
import sys
import time

from ..errors import GateError
from . import common
from .common import UsageError
from .output import emit


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("test-relay", help="pulse the gate relay once (needs --confirm)",
                              description="Pulse the barrier relay: through the daemon when it runs, "
                                          "else directly on the configured GPIO pin or serial board. "
                                          "The barrier WILL move, so --confirm is required.")
    p.add_argument("--pulse", type=int, metavar="MS", help="pulse length in ms (default: gate.relay.pulse_ms)")
    p.add_argument("--confirm", action="store_true", help="yes, really energise the relay")
    p.add_argument("--offline", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not args.confirm:
        raise UsageError("test-relay moves the barrier: add --confirm to pulse the relay")
    if args.pulse is not None and not 50 <= args.pulse <= 60000:
        raise UsageError(f"--pulse {args.pulse}: must be between 50 and 60000 ms")
    cfg = common.load(args)
    ms = args.pulse or cfg.gate.relay.pulse_ms
    daemon = common.daemon(args)
    if daemon is not None:
        result = daemon.call("test_relay", ms=ms)
        pins = result.get("pin_factory") if isinstance(result, dict) else None
        mock = " on MOCK pins: nothing was switched" if pins and str(pins).startswith("mock") else ""
        emit(args.json, {"pulsed_ms": ms, "via": "daemon", "result": result},
             lambda d: f"relay pulsed for {ms} ms by plategated{mock}"
             + (" (journaled as relay_test)" if isinstance(result, dict) and result.get("event") else ""))
        return 0
    result = pulse_direct(cfg, ms)
    result["event"] = journal_direct(cfg, ms)
    emit(args.json, dict(result, via="direct"),
         lambda d: f"relay pulsed for {ms} ms ({d['relay']}); it is now {'ON' if d['energised_after'] else 'off'}")
    if result.get("mock"):
        print("note: gate.pin_factory is \"mock\": nothing was switched", file=sys.stderr)
    return 0


def pulse_direct(cfg, ms: int) -> dict:
    """Pulse the configured relay from this process and wait for the pulse to end.

    Raises:
        GateError: the pin factory or relay device cannot be used.
    """
    from ..gate.pins import make_pin_factory
    from ..gate.relay import create_relay

    rcfg = cfg.gate.relay
    if rcfg.type == "none":
        raise GateError("gate.relay.type is 'none': there is no relay to test")
    factory = make_pin_factory(cfg.gate.pin_factory) if rcfg.type == "gpio" else None
    changes: list[str] = []
    relay = create_relay(rcfg, factory, on_change=changes.append)
    try:
        relay.pulse(ms)
        deadline = time.monotonic() + ms / 1000.0 + 2.0
        while relay.is_energised and time.monotonic() < deadline:
            time.sleep(0.01)
        after = relay.is_energised
    finally:
        relay.close()
        if factory is not None:
            factory.close()
    from ..gate.pins import is_mock

    mock = factory is not None and is_mock(factory)
    where = f"GPIO {rcfg.pin}" if rcfg.type == "gpio" else f"serial {rcfg.serial_port}"
    if mock:
        where += " on MOCK pins"
    return {"pulsed_ms": ms, "relay": where, "changes": changes, "energised_after": after, "mock": mock}


def journal_direct(cfg, ms: int) -> str | None:
    """Record the pulse in the daemon's journal (the daemon publishes it over MQTT when it next
    runs); returns the event id, or ``None`` when the journal cannot be written (said on stderr)."""
    import os
    import pwd

    from ..errors import PlategateError
    from ..gatekeeper import RELAY_TEST, request_event
    from ..journal import Journal

    user = pwd.getpwuid(os.getuid()).pw_name
    event = request_event(RELAY_TEST, f"platectl test-relay, {user} (uid {os.getuid()}, pid {os.getpid()})",
                          f"test pulse of {ms} ms")
    event["outbox"] = 0 if cfg.mqtt.enabled else None
    try:
        journal = Journal(cfg.journal_db(), cfg.snapshot_dir(), cfg.journal)
    except PlategateError as exc:
        print(f"warning: the pulse is not journaled: {exc}", file=sys.stderr)
        return None
    try:
        journal.record(event)
    finally:
        journal.close()
        common.match_owner(cfg.journal_db())
    return event["id"]
