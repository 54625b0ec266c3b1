"""platectl watch: live decisions (and relay/camera events) from the running daemon."""

from __future__ import annotations

import argparse

from . import common
from .output import cell, local_time, to_json


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("watch", help="print decisions live as the daemon makes them",
                              description="Stream live events from the running daemon until Ctrl-C.")
    p.add_argument("--count", type=int, default=0, metavar="N", help="stop after N items (default: never)")
    p.set_defaults(func=run)


def line(item: dict) -> str:
    """One human line for a streamed item."""
    if not isinstance(item, dict):
        return cell(item)
    when = local_time(item.get("time")) if item.get("time") else ""
    if item.get("plate") is not None or item.get("decision"):
        parts = [when, f"{cell(item.get('plate')):<10}", f"{str(item.get('decision', '-')).upper():<8}",
                 cell(item.get("reason"))]
        if item.get("confidence") is not None:
            parts.append(f"conf {cell(item.get('confidence'))}")
        if item.get("label"):
            parts.append(f"({item['label']})")
        if item.get("opened"):
            parts.append("GATE OPENED")
        if item.get("latency_ms") is not None:
            parts.append(f"{cell(item.get('latency_ms'))} ms")
        return "  ".join(p for p in parts if p)
    kind = item.get("type") or item.get("kind") or "event"
    rest = " ".join(f"{k}={cell(v)}" for k, v in item.items() if k not in ("type", "kind", "time"))
    return f"{when}  {kind}: {rest}".strip()


def run(args: argparse.Namespace) -> int:
    client = common.client(args)
    shown = 0
    for item in client.stream("watch"):
        print(to_json(item) if args.json else line(item), flush=True)
        shown += 1
        if args.count and shown >= args.count:
            break
    return 0
