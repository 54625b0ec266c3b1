"""platectl allowlist: list / add / remove / import / export.

Through the running daemon (handlers ``allowlist_list``, ``allowlist_add``,
``allowlist_remove``, ``allowlist_import``) so that its in-memory index changes at
once; directly on the SQLite store (``access.database``) when it is not running.
Import files are parsed here first, so a malformed file is reported with its line
number and nothing already stored is touched. An edit that will not last (signed site
sync replaces it; a removed file entry comes back) is said on standard error; the model
is in :mod:`plategate.access.filesync`. Read-only actions (``list``, ``export``) never
create the store file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import AccessError
from . import common
from .output import emit, keyvalues, table, to_json

COLUMNS = [("plate", "PLATE"), ("kind", "KIND"), ("label", "LABEL"), ("valid_from", "FROM"),
           ("valid_until", "UNTIL"), ("windows", "WINDOWS"), ("source", "SOURCE")]


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("allowlist", help="list and edit the local allowlist",
                              description="Read and edit the allowlist through the daemon when it runs, "
                                          "on the store file when it does not. Local edits outlive restarts and "
                                          "reloads; access.allowlist_file only manages its own entries. With "
                                          "signed site sync on, the site's next full snapshot replaces local edits.")
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    ls = sub.add_parser("list", help="all entries")
    ls.add_argument("--kind", choices=("allow", "block"), help="only this kind")
    add = sub.add_parser("add", help="add or replace one entry")
    add.add_argument("plate", help="the plate in any spelling (stored as 0-9A-Z: \"ab-123 cd\" -> AB123CD)")
    add.add_argument("--label", default="", help="who or what (resident, unit, company)")
    add.add_argument("--block", action="store_true", help="a blocklist entry: always denied")
    add.add_argument("--valid-from", metavar="DATE", help="ISO date or time it becomes valid")
    add.add_argument("--valid-until", metavar="DATE", help="ISO date or time it stops being valid")
    add.add_argument("--window", action="append", metavar="WINDOW", default=[],
                     help="weekly time window such as 'Mon-Fri 07:00-19:00' (repeatable)")
    rm = sub.add_parser("remove", help="remove one plate")
    rm.add_argument("plate", help="the plate to remove")
    imp = sub.add_parser("import", help="load entries from a CSV or JSON file")
    imp.add_argument("file", help="CSV (plate,label,kind,valid_from,valid_until,windows) or JSON")
    imp.add_argument("--merge", action="store_true", help="add to the list instead of replacing it")
    exp = sub.add_parser("export", help="write all entries as CSV or JSON")
    exp.add_argument("-o", "--output", metavar="FILE", help="file (default: standard output)")
    exp.add_argument("--format", choices=("csv", "json"), help="default: from the file name, else csv")
    for q in (ls, add, rm, imp, exp):
        q.add_argument("--offline", action="store_true", help=argparse.SUPPRESS)
        q.set_defaults(func=run)


class Backend:
    """The same five operations on the daemon or on the store file."""

    def __init__(self, args: argparse.Namespace, read_only: bool = False) -> None:
        self.daemon = common.daemon(args)
        self.store = None
        self.cfg = common.load(args)
        self.path = self.cfg.access_db()
        self.note: str | None = None
        if self.daemon is None and not (read_only and not self.path.exists()):
            from ..access.store import AllowlistStore

            self.store = AllowlistStore(self.path)

    @property
    def where(self) -> str:
        return "daemon" if self.daemon is not None else f"store {self.path}"

    def state(self) -> dict:
        if self.daemon is not None:
            result = self.daemon.call("allowlist_list")
            if isinstance(result, list):
                return {"version": None, "count": len(result), "hash": None, "entries": result}
            return result
        if self.store is None:  # nothing stored yet: say so without creating the file
            return {"version": 0, "count": 0, "hash": None, "entries": []}
        sources = self.store.sources()
        return dict(self.store.state(),
                    entries=[dict(e.to_dict(), source=sources.get(e.plate)) for e in self.store.entries()])

    def _noted(self, result) -> None:
        if isinstance(result, dict) and result.get("note"):
            self.note = result["note"]

    def add(self, entry) -> None:
        from ..access.filesync import edit_note

        if self.daemon is not None:
            self._noted(self.daemon.call("allowlist_add", **entry.to_dict()))
        else:
            self.store.add(entry)
            self.note = edit_note(self.cfg, None)

    def remove(self, plate: str) -> bool:
        from ..access.filesync import edit_note

        if self.daemon is not None:
            result = self.daemon.call("allowlist_remove", plate=plate)
            self._noted(result)
            return bool(result.get("removed", True)) if isinstance(result, dict) else bool(result)
        before = self.store.source_of(plate)
        removed = self.store.remove(plate)
        self.note = edit_note(self.cfg, before, removing=True) if removed else None
        return removed

    def import_entries(self, entries: list, replace: bool) -> None:
        from ..access.filesync import edit_note

        if self.daemon is not None:
            self._noted(self.daemon.call("allowlist_import", entries=[e.to_dict() for e in entries], replace=replace))
            return
        if replace:
            self.store.replace_all(entries, origin="local")
        else:
            self.store.apply_delta(entries, [], origin="local")
        self.note = edit_note(self.cfg, None)

    def close(self) -> None:
        if self.store is not None:
            self.store.close()
            common.match_owner(self.store.path)


def _read_file(path: str) -> list:
    from ..access.io import read_csv, read_json

    return read_json(path) if path.lower().endswith(".json") else read_csv(path)


def run(args: argparse.Namespace) -> int:
    if args.action == "import":  # parse before touching anything
        entries = _read_file(args.file)
    backend = Backend(args, read_only=args.action in ("list", "export"))
    try:
        code = _dispatch(args, backend, entries if args.action == "import" else None)
    finally:
        backend.close()
    if backend.note:
        print(backend.note, file=sys.stderr)
    return code


def _dispatch(args: argparse.Namespace, backend: Backend, entries) -> int:
    from ..access.entry import make_entry
    from ..types import normalise_plate

    if args.action == "list":
        state = backend.state()
        if args.kind:
            state["entries"] = [e for e in state["entries"] if e.get("kind") == args.kind]

        def render(s: dict) -> str:
            head = keyvalues([("version", s.get("version")), ("entries", s.get("count")),
                              ("hash", (s.get("hash") or "")[:16] or None), ("source", backend.where)])
            rows = [dict(e, windows="; ".join(e.get("windows") or [])) for e in s["entries"]]
            return head + "\n\n" + (table(rows, COLUMNS) if rows else "(no entries)")

        emit(args.json, state, render)
    elif args.action == "add":
        entry = make_entry(args.plate, args.label, "block" if args.block else "allow",
                           args.valid_from, args.valid_until, args.window or None)
        backend.add(entry)
        emit(args.json, {"added": entry.to_dict(), "via": backend.where},
             lambda d: f"added {entry.plate} ({entry.kind.value}{', ' + entry.label if entry.label else ''}) via {d['via']}")
    elif args.action == "remove":
        plate = normalise_plate(args.plate)
        if not backend.remove(plate):
            raise AccessError(f"{plate} is not on the allowlist")
        emit(args.json, {"removed": plate, "via": backend.where}, lambda d: f"removed {plate} via {d['via']}")
    elif args.action == "import":
        backend.import_entries(entries, replace=not args.merge)
        verb = "merged" if args.merge else "imported (list replaced)"
        emit(args.json, {"imported": len(entries), "replace": not args.merge, "via": backend.where},
             lambda d: f"{len(entries)} entries {verb} from {args.file} via {d['via']}")
    elif args.action == "export":
        _export(args, backend)
    return 0


def _export(args: argparse.Namespace, backend: Backend) -> None:
    from ..access.entry import entry_from_dict
    from ..access.io import format_csv

    state = backend.state()
    entries = [entry_from_dict({k: v for k, v in e.items() if k in
                                ("plate", "label", "kind", "valid_from", "valid_until", "windows")})
               for e in state["entries"]]
    fmt = args.format or ("json" if (args.output or "").lower().endswith(".json") else "csv")
    if fmt == "json":
        import json

        text = json.dumps({"version": state.get("version"), "hash": state.get("hash"),
                           "entries": [e.to_dict() for e in entries]}, indent=1, ensure_ascii=False) + "\n"
    else:
        text = format_csv(entries)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        note = {"exported": len(entries), "file": args.output}
        print(to_json(note) if args.json else f"{len(entries)} entries written to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
