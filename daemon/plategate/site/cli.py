"""``plategate-site``: the site's master list, publishing, the fleet report, and the service itself.

    plategate-site keygen --out /etc/plategate/site
    plategate-site add AB123CD --label "Flat 4" [--kind block] [--from 2026-01-01] [--until ...] [--window ...]
    plategate-site edit AB123CD --label "Flat 5"
    plategate-site remove AB123CD
    plategate-site import residents.csv [--replace]
    plategate-site list [--json]
    plategate-site publish                 # sign and publish the changes now
    plategate-site gates [--json]          # the fleet: online, allowlist version, last event
    plategate-site events [-n 20] [--gate north] [--json]
    plategate-site run                     # the service (plategate-site.service)

The config file is ``--config``, else ``$PLATEGATE_SITE_CONFIG``, else ``/etc/plategate/site.toml``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path

from .. import __version__
from ..access.io import read_csv
from ..errors import PlategateError
from .config import SiteConfig, load_site_config

DEFAULT_CONFIG = Path("/etc/plategate/site.toml")
CONFIG_ENV = "PLATEGATE_SITE_CONFIG"


def _config(args: argparse.Namespace) -> SiteConfig:
    return load_site_config(args.config or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)


def _table(rows: list[dict], columns: list[tuple[str, str]]) -> str:
    cells = [[h for _, h in columns]] + [["" if r.get(k) is None else str(r.get(k)) for k, _ in columns] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells)


def _entry_row(e) -> dict:
    d = e.to_dict()
    d["windows"] = "; ".join(d["windows"])
    return d


ENTRY_COLUMNS = [("plate", "PLATE"), ("kind", "KIND"), ("label", "LABEL"), ("valid_from", "FROM"),
                 ("valid_until", "UNTIL"), ("windows", "WINDOWS")]


def cmd_keygen(args: argparse.Namespace) -> int:
    from ..mqtt.signing import generate_private_key, key_id, private_key_pem, public_key_b64

    priv, pub = Path(f"{args.out}.key"), Path(f"{args.out}.pub")
    if priv.exists() and not args.force:
        raise PlategateError(f"{priv} exists (--force overwrites it, and every gate must then get the new key)")
    key = generate_private_key()
    fd = os.open(priv, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(private_key_pem(key))
    pub.write_text(public_key_b64(key.public_key()) + "\n")
    print(f"private key: {priv} (mode 0600; the site service's key_file)")
    print(f"public key:  {pub}  key id {key_id(key.public_key())}")
    print(f'every gate:  [mqtt] site_public_keys = ["{public_key_b64(key.public_key())}"]')
    return 0


def _master(args: argparse.Namespace):
    from .master import MasterList

    return MasterList(_config(args).database)


def cmd_add(args: argparse.Namespace) -> int:
    from .master import entry_from_options

    master = _master(args)
    try:
        entry = master.add(entry_from_options(args.plate, args.label or "", args.kind or "allow", args.valid_from,
                                              args.valid_until, args.window))
    finally:
        master.close()
    print(f"added {entry.plate} ({entry.kind.value}); publish with: plategate-site publish (the service does it "
          "within seconds)")
    return 0


def cmd_edit(args: argparse.Namespace) -> int:
    changes = {"label": args.label, "kind": args.kind, "valid_from": args.valid_from, "valid_until": args.valid_until,
               "windows": [] if args.no_windows else (args.window or None)}
    if all(v is None for v in changes.values()):
        raise PlategateError("edit: nothing to change (give --label, --kind, --from, --until, --window or --no-windows)")
    master = _master(args)
    try:
        entry = master.edit(args.plate, **changes)
    finally:
        master.close()
    print(f"edited {entry.plate}")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    master = _master(args)
    try:
        removed = master.remove(args.plate)
    finally:
        master.close()
    if not removed:
        raise PlategateError(f"{args.plate} is not on the list")
    print(f"removed {args.plate}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    entries = read_csv(args.csv)
    master = _master(args)
    try:
        counts = master.import_entries(entries, replace_all=args.replace)
    finally:
        master.close()
    print(f"imported {len(entries)} entries from {args.csv}: {counts['added']} added, {counts['updated']} updated, "
          f"{counts['removed']} removed")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    master = _master(args)
    try:
        entries, latest, dirty = master.entries(), master.latest(), master.dirty()
    finally:
        master.close()
    if args.json:
        print(json.dumps({"published_version": latest[0] if latest else 0, "unpublished_changes": dirty,
                          "entries": [e.to_dict() for e in entries]}))
        return 0
    print(_table([_entry_row(e) for e in entries], ENTRY_COLUMNS))
    state = "unpublished changes" if dirty else "published"
    print(f"{len(entries)} entries; published version {latest[0] if latest else 0} ({state})")
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    from ..mqtt.signing import load_private_key
    from .master import MasterList
    from .service import make_client, publish_master

    cfg = _config(args)
    key = load_private_key(cfg.key_file)
    master = MasterList(cfg.database)
    client = make_client(cfg, f"{cfg.client_id()}-cli-{os.getpid()}", clean_session=True)
    try:
        client.connect(cfg.mqtt.host, cfg.mqtt.port, keepalive=cfg.mqtt.keepalive)
    except OSError as exc:
        master.close()
        raise PlategateError(f"cannot connect to {cfg.mqtt.host}:{cfg.mqtt.port}: {exc}") from None
    client.loop_start()
    try:
        version = publish_master(master, key, cfg, client, args.timeout)
    finally:
        client.disconnect()
        client.loop_stop()
        master.close()
    print(f"published version {version}" if version else "nothing changed since the newest published version")
    return 0


def _ago(seconds: float | None) -> str:
    return "" if seconds is None else f"{seconds:.0f} s ago"


def cmd_gates(args: argparse.Namespace) -> int:
    from .fleet import FleetStore
    from .master import MasterList

    cfg = _config(args)
    master, fleet = MasterList(cfg.database), FleetStore(cfg.database)
    try:
        latest = master.latest()
        rows = fleet.report(latest[0] if latest else 0, latest[1] if latest else None, cfg.offline_after_s)
    finally:
        master.close()
        fleet.close()
    if args.json:
        print(json.dumps({"site": cfg.site_id, "published_version": latest[0] if latest else 0, "gates": rows}))
        return 0
    shown = [{**r, "online": "online" if r["online"] else "OFFLINE", "seen": _ago(r["last_status_s"]),
              "list": f"{r['allowlist_version']}{'' if r['allowlist_current'] else ' (behind)'}",
              "last": (f"{r['last_event']['time']} {r['last_event']['plate']} {r['last_event']['decision']}"
                       if r["last_event"] else "")} for r in rows]
    print(_table(shown, [("gate", "GATE"), ("online", "STATE"), ("seen", "STATUS"), ("list", "ALLOWLIST"),
                         ("events", "EVENTS"), ("last", "LAST EVENT")]))
    print(f"{sum(r['online'] for r in rows)}/{len(rows)} gates online; site list version "
          f"{latest[0] if latest else 0}; {sum(not r['allowlist_current'] for r in rows)} behind")
    return 0


def cmd_events(args: argparse.Namespace) -> int:
    from .fleet import FleetStore

    fleet = FleetStore(_config(args).database)
    try:
        rows = fleet.events(args.lines, args.gate)
    finally:
        fleet.close()
    if args.json:
        for row in reversed(rows):
            print(json.dumps(row))
        return 0
    for row in rows:
        row["received"] = datetime.fromtimestamp(row["received"], UTC).isoformat(timespec="seconds")
    print(_table(list(reversed(rows)), [("time", "TIME"), ("gate", "GATE"), ("plate", "PLATE"),
                                        ("decision", "DECISION"), ("reason", "REASON"), ("direction", "DIRECTION"),
                                        ("opened", "OPENED"), ("id", "ID")]))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from ..notify import Notifier
    from .service import SiteService

    cfg = _config(args)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    service = SiteService(cfg)
    notifier = Notifier()
    signal.signal(signal.SIGTERM, lambda *_: service.request_stop())
    signal.signal(signal.SIGINT, lambda *_: service.request_stop())
    service.start()
    try:
        return service.run(args.duration, ready=lambda: notifier.ready(f"site {cfg.site_id}"))
    finally:
        notifier.stopping()
        service.stop()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="plategate-site", description="the site side of plategate's allowlist sync "
                                     "and the fleet's events", epilog="docs/site.md")
    parser.add_argument("-c", "--config", metavar="FILE",
                        help=f"site config (default: ${CONFIG_ENV} or {DEFAULT_CONFIG})")
    parser.add_argument("--version", action="version", version=f"plategate-site {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    k = sub.add_parser("keygen", help="make the site's Ed25519 key pair (PREFIX.key, PREFIX.pub)")
    k.add_argument("--out", required=True, metavar="PREFIX")
    k.add_argument("--force", action="store_true")
    k.set_defaults(func=cmd_keygen)

    def entry_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("plate")
        p.add_argument("--label")
        p.add_argument("--kind", choices=("allow", "block"))
        p.add_argument("--from", dest="valid_from", metavar="WHEN", help="valid from (2026-01-01 or 2026-01-01T08:00)")
        p.add_argument("--until", dest="valid_until", metavar="WHEN", help="valid until (a date includes that day)")
        p.add_argument("--window", action="append", metavar="SPEC", help="weekly window, e.g. 'Mon-Fri 07:00-19:00' "
                       "(repeatable)")

    a = sub.add_parser("add", help="add a plate to the master list")
    entry_options(a)
    a.set_defaults(func=cmd_add)
    e = sub.add_parser("edit", help="change a plate's label, kind, validity or windows")
    entry_options(e)
    e.add_argument("--no-windows", action="store_true", help="remove every window (always valid)")
    e.set_defaults(func=cmd_edit)
    r = sub.add_parser("remove", help="remove a plate")
    r.add_argument("plate")
    r.set_defaults(func=cmd_remove)
    i = sub.add_parser("import", help="add or update plates from a CSV file (plate,label,kind,valid_from,...)")
    i.add_argument("csv")
    i.add_argument("--replace", action="store_true", help="remove every plate the file does not list")
    i.set_defaults(func=cmd_import)
    ls = sub.add_parser("list", help="the master list")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_list)
    p = sub.add_parser("publish", help="sign and publish the changes now (the service does it by itself)")
    p.add_argument("--timeout", type=float, default=10.0)
    p.set_defaults(func=cmd_publish)
    g = sub.add_parser("gates", help="the fleet: online, allowlist version, last event")
    g.add_argument("--json", action="store_true")
    g.set_defaults(func=cmd_gates)
    ev = sub.add_parser("events", help="the newest events of every gate (or one)")
    ev.add_argument("-n", "--lines", type=int, default=20)
    ev.add_argument("--gate")
    ev.add_argument("--json", action="store_true")
    ev.set_defaults(func=cmd_events)
    rn = sub.add_parser("run", help="the service: publish, answer requests, collect (plategate-site.service)")
    rn.add_argument("--duration", type=float, help="stop after this many seconds")
    rn.set_defaults(func=cmd_run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``plategate-site``; returns the exit code (1: error, 2: usage)."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except PlategateError as exc:
        lines = str(exc).splitlines()
        print(f"plategate-site: error: {lines[0]}", file=sys.stderr)
        for line in lines[1:]:
            print(f"  {line.strip()}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"plategate-site: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
