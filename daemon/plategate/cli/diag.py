"""platectl diag: the installer's checklist, one PASS / WARN / FAIL line per check with a hint.

Each check is a small function ``check(ctx) -> list[Result]`` (in :mod:`.checks`); the
exit status is 1 when any check FAILs. With the daemon running, the camera and the GPIO
pins are in its hands, so their figures come from its status instead of being opened here.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import asdict

from .check_reads import check_reads
from .checks import (
    Context,
    Result,
    Status,
    check_camera,
    check_clock,
    check_config,
    check_daemon,
    check_disk,
    check_files,
    check_host,
    check_inputs,
    check_models,
    check_mqtt,
    check_one_model,
    check_relay,
)
from .mqttprobe import mqtt_round_trip
from .output import emit

__all__ = ["CHECKS", "Context", "Result", "Status", "check_clock", "check_disk", "check_files", "check_one_model",
           "mqtt_round_trip", "run_checks"]


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("diag", help="checklist: config, models, camera, reads, inputs, relay, MQTT, disk, clock",
                              description="Run the installation checklist. Exit status 1 if any check FAILs.")
    p.add_argument("--skip", action="append", default=[], metavar="CHECK", choices=[n for n, _ in CHECKS],
                   help="leave out a check (repeatable)")
    p.add_argument("--only", action="append", default=[], metavar="CHECK", choices=[n for n, _ in CHECKS],
                   help="run only these checks (repeatable; config always runs)")
    p.add_argument("--camera-seconds", type=float, default=2.0, metavar="S",
                   help="how long to measure the frame rate (default 2)")
    p.add_argument("--mqtt-timeout", type=float, default=5.0, metavar="S", help="MQTT round-trip timeout")
    p.set_defaults(func=run)


CHECKS: list[tuple[str, Callable[[Context], list[Result]]]] = [
    ("config", check_config), ("daemon", check_daemon), ("models", check_models), ("camera", check_camera),
    ("reads", check_reads), ("inputs", check_inputs), ("relay", check_relay), ("mqtt", check_mqtt), ("files", check_files), ("disk", check_disk),
    ("clock", check_clock), ("host", check_host),
]


def run_checks(args: argparse.Namespace) -> list[Result]:
    """Run the selected checks in order; a check that raises becomes a FAIL, not a crash."""
    ctx = Context(args)
    results: list[Result] = []
    for name, fn in CHECKS:
        if name in args.skip or (args.only and name not in args.only and name != "config"):
            continue
        if ctx.cfg is None and name != "config":
            results.append(Result(name, Status.SKIP, "not checked: the config is invalid"))
            continue
        try:
            results.extend(fn(ctx))
        except Exception as exc:  # a check must never take diag down
            results.append(Result(name, Status.FAIL, f"check crashed: {type(exc).__name__}: {exc}",
                                  "run with --debug and report this"))
            if args.debug:
                raise
    return results


def render(results: list[Result]) -> str:
    width = max((len(r.name) for r in results), default=5)
    lines = []
    for r in results:
        lines.append(f"{r.status.value}  {r.name.ljust(width)}  {r.message}")
        if r.hint and r.status in (Status.FAIL, Status.WARN):
            lines.append(f"{'':4}  {'':{width}}  hint: {r.hint}")
    counts = {s: sum(r.status == s for r in results) for s in Status}
    lines.append(f"\n{counts[Status.PASS]} passed, {counts[Status.WARN]} warnings, {counts[Status.FAIL]} failed")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    results = run_checks(args)
    failed = any(r.status == Status.FAIL for r in results)
    data = {"ok": not failed, "checks": [dict(asdict(r), status=r.status.value) for r in results]}
    emit(args.json, data, lambda _d: render(results))
    return 1 if failed else 0
