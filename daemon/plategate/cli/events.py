"""platectl events: tail [-f], show ID, export, crops, formats, accuracy — through the daemon, or the journal file read-only."""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import json
import sqlite3
import sys
import time
from datetime import datetime
from pathlib import Path

from ..audit import PLATE_TEXT, latest_by_target, mark_checked
from ..errors import ControlError, StorageError
from ..types import parse_shapes
from . import common, event_accuracy, event_crops, event_formats
from .common import UsageError
from .output import cell, emit, keyvalues, local_time, table, to_json

COLUMNS = [("time", "TIME"), ("plate", "PLATE"), ("decision", "DECISION"), ("reason", "REASON"),
           ("confidence", "CONF"), ("direction", "DIRECTION"), ("label", "LABEL"), ("opened", "OPENED"),
           ("latency_ms", "MS"), ("id", "ID")]
#: events per control reply when reading many
PAGE = 1000
#: the most events the daemon's ``events`` gives in one reply (:data:`plategate.handlers.EVENTS_PAGE`)
DAEMON_MAX = 5000
EXPORT_FIELDS = ("id", "time", "plate", "confidence", "decision", "reason", "matched", "label",
                 "allowlist_version", "latency_ms", "opened", "direction", "crop_path", "frame_path", "candidates")


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("events", help="recorded decisions: tail, show, export",
                              description="Read the event journal through the running daemon, or the "
                                          "journal database directly (read-only) when it is not running.")
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    t = sub.add_parser("tail", help="the last events, oldest first")
    t.add_argument("-n", "--lines", type=int, default=20, metavar="N", help="how many (default 20)")
    t.add_argument("-f", "--follow", action="store_true", help="keep printing new events (Ctrl-C ends)")
    t.add_argument("--interval", type=float, default=1.0, help=argparse.SUPPRESS)
    t.add_argument("--max-polls", type=int, default=0, help=argparse.SUPPRESS)  # tests: end follow
    t.set_defaults(func=run_tail)
    s = sub.add_parser("show", help="one event with all its fields")
    s.add_argument("id", help="event id (as printed by tail)")
    s.set_defaults(func=run_show)
    e = sub.add_parser("export", help="events as CSV or JSON lines")
    e.add_argument("--format", choices=("csv", "json"), default="csv")
    e.add_argument("-o", "--output", metavar="FILE", help="write here instead of standard output")
    e.set_defaults(func=run_export)
    c = sub.add_parser("crops", help="the events' plate crops in a folder with labels.csv, to check and teach the reader",
                       description="Copy each event's saved plate crop into a folder and list it in labels.csv with "
                                   "the text read. Check the texts (correct them; an empty text leaves a crop out), then "
                                   "python -m tools.train.site_tune FOLDER teaches the reader this site's plates. Run "
                                   "again to add new events: rows already in labels.csv are kept as they are.")
    c.add_argument("-o", "--output", required=True, metavar="DIR", help="the folder (created if missing)")
    c.add_argument("--below", type=float, default=None, metavar="CONF",
                   help="only events read with a confidence below this (the reads worth checking)")
    c.set_defaults(func=run_crops)
    f = sub.add_parser("formats", help="the shapes of this site's plates and the plate_formats that fit them",
                       description="Count the shapes (L letter, D digit) of the distinct plates in the journal: the "
                                   "texts people checked in the web console, and the reads at >= 0.9. Suggests "
                                   "recognition.plate_formats: the fewest shapes that fit --cover of the plates.")
    f.add_argument("--cover", type=float, default=event_formats.DEFAULT_COVER, metavar="SHARE",
                   help=f"the share of the plates the suggested formats must fit (default {event_formats.DEFAULT_COVER})")
    f.set_defaults(func=run_formats)
    a = sub.add_parser("accuracy", help="the installed reader on the crops whose text people checked",
                       description="Read the saved crops of the events whose text a person checked (web console, "
                                   "Check reads) again with the installed reader, as the gate reads them, free and "
                                   "under plate formats, and count the reads that match the checked texts.")
    a.add_argument("--formats", metavar="SHAPES", help="plate formats to try, e.g. LLDDLLL,LDDDLLL "
                                                       "(default: recognition.plate_formats)")
    a.add_argument("--threads", type=int, default=1, metavar="N",
                   help="interpreter threads (default 1, leaving the other cores to the running gate)")
    a.set_defaults(func=run_accuracy)
    for q in (e, c, f, a):  # they read the events since a time (_rows_since)
        q.add_argument("--since", metavar="TIME", help="only events at or after this ISO 8601 time/date")
        q.add_argument("--limit", type=int, default=100000, help="at most this many events (default 100000)")
    for q in (t, s, e, c, f, a):
        q.add_argument("--offline", action="store_true",
                       help="read the journal file even if the daemon runs (read-only)")


class JournalReader:
    """Read-only access to the journal database (never creates or changes anything).

    Raises:
        StorageError: the file is missing or not a plategate journal.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise StorageError(f"no event journal at {self.path} (nothing recorded yet, or wrong "
                               f"journal.database / state_dir in the config)")
        try:
            self._db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=5.0)
            self._db.execute("SELECT seq FROM events LIMIT 1")
        except sqlite3.Error as exc:
            raise StorageError(f"{self.path}: cannot read the event journal: {exc}") from None

    def _query(self, sql: str, args: tuple = ()) -> list[dict]:
        try:
            cur = self._db.execute(sql, args)
            names = [d[0] for d in cur.description]
            rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        except sqlite3.Error as exc:
            raise StorageError(f"{self.path}: cannot read the event journal: {exc}") from None
        finally:
            common.match_owner(self.path)  # a -shm created by root must stay usable by the daemon
        for row in rows:
            for key in ("candidates", "extra"):
                if isinstance(row.get(key), str):
                    try:
                        row[key] = json.loads(row[key])
                    except ValueError:
                        pass
            if "opened" in row:
                row["opened"] = bool(row["opened"])
            if isinstance(row.get("extra"), dict):  # the direction of travel is stored in extra
                row["direction"] = row["extra"].get("direction") or "unknown"
        return rows

    def _checked(self, rows: list[dict]) -> list[dict]:
        """*rows* with the texts people said their plates show (``checked_text``, ``checked_by``)."""
        try:
            found = latest_by_target(self._db, PLATE_TEXT, [str(r.get("id")) for r in rows])
        except sqlite3.Error as exc:
            raise StorageError(f"{self.path}: cannot read the audit log: {exc}") from None
        return mark_checked(rows, found)

    def recent(self, n: int) -> list[dict]:
        return self._checked(self._query("SELECT * FROM events ORDER BY seq DESC LIMIT ?", (n,)))

    def get(self, event_id: str) -> dict | None:
        rows = self._checked(self._query("SELECT * FROM events WHERE id = ?", (event_id,)))
        return rows[0] if rows else None

    def since_ts(self, ts: float, limit: int) -> list[dict]:
        return self._checked(self._query("SELECT * FROM events WHERE ts >= ? ORDER BY seq LIMIT ?", (ts, limit)))


class Source:
    """Events from the daemon (``events`` / ``event`` handlers) or from the journal file."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.daemon = common.daemon(args)
        self.journal = None
        if self.daemon is None:
            cfg = common.load(args)
            self.journal = JournalReader(cfg.journal_db())

    def recent(self, n: int) -> list[dict]:
        if self.daemon is not None:
            if n > DAEMON_MAX:
                raise UsageError(f"-n: at most {DAEMON_MAX} events through the daemon (events export reads more)")
            rows = self.daemon.call("events", n=n)
            return list(rows or [])
        return self.journal.recent(n)

    def since(self, since_ts: float | None, limit: int) -> list[dict]:
        """Up to *limit* events at or after *since_ts*, oldest first; from the daemon in pages of
        :data:`PAGE`, so that neither side holds a whole journal in one reply."""
        if self.daemon is None:
            return self.journal.since_ts(since_ts or 0.0, limit)
        rows: list[dict] = []
        after = 0
        while len(rows) < limit:
            want = min(PAGE, limit - len(rows))
            page = list(self.daemon.call("events", after=after, since=since_ts, n=want) or [])
            rows.extend(page)
            if len(page) < want:
                break
            after = int(page[-1]["seq"])
        return rows

    def get(self, event_id: str) -> dict | None:
        if self.daemon is not None:
            try:
                return self.daemon.call("event", id=event_id)
            except ControlError as exc:
                if "not found" in str(exc).lower() or "no event" in str(exc).lower():
                    return None
                raise
        return self.journal.get(event_id)


def _oldest_first(rows: list[dict]) -> list[dict]:
    return sorted(rows, key=lambda r: (r.get("seq") or 0, str(r.get("time") or "")))


def _render_rows(rows: list[dict], header: bool = True) -> str:
    shown = [dict(r, time=local_time(r.get("time"))) for r in rows]
    text = table(shown, COLUMNS)
    return text if header else "\n".join(text.splitlines()[1:])


def run_tail(args: argparse.Namespace) -> int:
    src = Source(args)
    rows = _oldest_first(src.recent(max(args.lines, 0)))
    seen = {r.get("id") for r in rows}
    if args.json:
        for row in rows:
            print(to_json(row), flush=True)
    elif rows:
        print(_render_rows(rows), flush=True)
    elif not args.follow:
        print("no events recorded yet")
    polls = 0
    while args.follow:
        time.sleep(args.interval)
        polls += 1
        new = [r for r in _oldest_first(src.recent(50)) if r.get("id") not in seen]
        for row in new:
            seen.add(row.get("id"))
            print(to_json(row) if args.json else _render_rows([row], header=False), flush=True)
        if args.max_polls and polls >= args.max_polls:
            break
    return 0


def run_show(args: argparse.Namespace) -> int:
    event = Source(args).get(args.id)
    if event is None:
        raise StorageError(f"no event with id {args.id!r}")

    def render(ev: dict) -> str:
        pairs = [(k, local_time(v) + f"  ({v})" if k == "time" else v) for k, v in ev.items() if k != "ts"]
        cands = ev.get("candidates") or []
        if cands:
            pairs = [(k, v) for k, v in pairs if k != "candidates"]
            pairs.append(("candidates", "  ".join(f"{c[0]} {cell(c[1])}" if isinstance(c, list | tuple) else cell(c)
                                                   for c in cands)))
        return keyvalues(pairs)

    emit(args.json, event, render)
    return 0


def _since_ts(text: str | None) -> float | None:
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--since: not an ISO 8601 date or time: {text!r}") from None
    if when.tzinfo is None:
        when = when.astimezone()  # a bare date/time means local time
    return when.timestamp()


def _rows_since(args: argparse.Namespace) -> list[dict]:
    return Source(args).since(_since_ts(args.since), args.limit)


def run_export(args: argparse.Namespace) -> int:
    rows = _rows_since(args)
    fmt = "json" if args.json else args.format
    buf = io.StringIO()
    if fmt == "json":
        for row in rows:
            buf.write(to_json(row) + "\n")
    else:
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(EXPORT_FIELDS)
        for row in rows:
            writer.writerow(["" if row.get(k) is None else (json.dumps(row[k]) if k == "candidates" else row[k])
                             for k in EXPORT_FIELDS])
    if args.output:
        Path(args.output).write_text(buf.getvalue(), encoding="utf-8")
        print(f"{len(rows)} events written to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(buf.getvalue())
        sys.stdout.flush()
    return 0


def run_crops(args: argparse.Namespace) -> int:
    if args.below is not None and not 0 < args.below <= 1:
        raise UsageError(f"--below must be above 0 and at most 1, got {args.below}")
    out = Path(args.output)
    if not out.parent.is_dir():
        raise UsageError(f"-o {out}: its folder {out.parent} does not exist")
    result = event_crops.export_crops(_rows_since(args), out, args.below)
    summary = {"folder": str(out), "labels": str(result.labels), "added": result.added, "kept": result.kept,
               "without_crop": result.without_crop}

    def render(r: dict) -> str:
        lines = [f"{r['added']} crops added to {r['labels']} ({r['kept']} rows already there kept as they were)"]
        if r["without_crop"]:
            lines.append(f"{r['without_crop']} events have no saved crop (journal.snapshots off, or the file was "
                         f"removed to free disk space)")
        lines.append("check each text (correct it, or empty it to leave the crop out), then on a training machine: "
                     f"python -m tools.train.site_tune {r['folder']} --data DATASETS")
        return "\n".join(lines)

    emit(args.json, summary, render)
    return 0


def run_formats(args: argparse.Namespace) -> int:
    if not 0 < args.cover <= 1:
        raise UsageError(f"--cover must be above 0 and at most 1, got {args.cover}")
    result = dataclasses.asdict(event_formats.site_shapes(_rows_since(args), args.cover))
    emit(args.json, result, event_formats.render)
    return 0


def run_accuracy(args: argparse.Namespace) -> int:
    from ..vision.reader import PlateReader

    cfg = common.load(args).recognition
    try:
        shapes = parse_shapes(args.formats) or list(cfg.plate_formats)
    except ValueError as exc:
        raise UsageError(f"--formats: {exc}") from None
    crops, missing = event_accuracy.checked_crops(_rows_since(args))
    threads = max(1, args.threads)
    readers = {"free decoding": PlateReader(cfg.reader_path(), threads=threads, views=cfg.reader_views)}
    if shapes:
        readers[f"plate_formats {','.join(shapes)}"] = PlateReader(cfg.reader_path(), threads=threads,
                                                                   views=cfg.reader_views, formats=shapes)
    scores, unreadable = event_accuracy.score(readers, crops) if crops else ([], [])
    result = {"crops": len(crops), "without_crop": missing, "modes": [dataclasses.asdict(m) for m in scores],
              "unreadable": unreadable}
    emit(args.json, result, event_accuracy.render)
    return 0
