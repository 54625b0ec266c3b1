"""CSV and JSON import/export of allowlist entries.

CSV: one entry per line, columns ``plate,label,kind,valid_from,valid_until,windows``; only
``plate`` is required, missing columns take defaults (label empty, kind ``allow``, always
valid). A first line starting with ``plate`` is a header; empty lines and lines starting with
``#`` are skipped. Several windows are separated by ``;`` (``Mon-Fri 07:00-19:00;Sat 09:00-12:00``).

JSON: ``{"entries": [{"plate": ..., "label": ..., "kind": ..., "valid_from": ...,
"valid_until": ..., "windows": [...]}], "version": N, "hash": "..."}`` or a bare list of entries.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

from ..errors import AccessError
from .entry import Entry, entry_from_dict, make_entry

CSV_COLUMNS = ("plate", "label", "kind", "valid_from", "valid_until", "windows")
MAX_FILE_BYTES = 200 * 1024 * 1024


def _read_text(path: Path) -> str:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise AccessError(f"{path}: file too large ({size} bytes, limit {MAX_FILE_BYTES})")
        return path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise AccessError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise AccessError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def parse_csv(text: str, source: str = "<csv>") -> list[Entry]:
    """Parse CSV text into entries.

    Raises:
        AccessError: ``source:line: problem`` for the first bad line, or a duplicate plate.
    """
    entries: list[Entry] = []
    seen: dict[str, int] = {}
    columns = CSV_COLUMNS
    reader = csv.reader(io.StringIO(text))
    try:
        for row in reader:
            lineno = reader.line_num
            if not row or not any(cell.strip() for cell in row) or row[0].lstrip().startswith("#"):
                continue
            if not entries and not seen and row[0].strip().lower() == "plate":
                header = tuple(c.strip().lower() for c in row)
                unknown = [c for c in header if c not in CSV_COLUMNS]
                if unknown:
                    raise AccessError(f"{source}:{lineno}: unknown column(s) {', '.join(unknown)} (known: {', '.join(CSV_COLUMNS)})")
                columns = header
                continue
            if len(row) > len(columns):
                raise AccessError(f"{source}:{lineno}: {len(row)} columns, expected at most {len(columns)} ({','.join(columns)})")
            values = {col: cell.strip() for col, cell in zip(columns, row, strict=False)}
            try:
                entry = make_entry(
                    values.get("plate", ""),
                    values.get("label", ""),
                    values.get("kind") or "allow",
                    values.get("valid_from") or None,
                    values.get("valid_until") or None,
                    values.get("windows") or None,
                )
            except AccessError as exc:
                raise AccessError(f"{source}:{lineno}: {exc}") from None
            if entry.plate in seen:
                raise AccessError(f"{source}:{lineno}: plate {entry.plate} already listed on line {seen[entry.plate]}")
            seen[entry.plate] = lineno
            entries.append(entry)
    except csv.Error as exc:
        raise AccessError(f"{source}:{reader.line_num}: malformed CSV: {exc}") from None
    return entries


def read_csv(path: str | os.PathLike) -> list[Entry]:
    """Read entries from a CSV file.

    Raises:
        AccessError: the file cannot be read or a line is malformed (file and line named).
    """
    p = Path(path)
    return parse_csv(_read_text(p), str(p))


def parse_json(text: str, source: str = "<json>") -> list[Entry]:
    """Parse a JSON document (object with ``entries`` or a bare list) into entries.

    Raises:
        AccessError: not JSON, wrong structure, a bad entry (index named) or a duplicate plate.
    """
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise AccessError(f"{source}: not valid JSON: {exc}") from None
    items = doc.get("entries") if isinstance(doc, dict) else doc
    if not isinstance(items, list):
        raise AccessError(f"{source}: expected a list of entries or an object with 'entries'")
    entries: list[Entry] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        try:
            entry = entry_from_dict(item)
        except AccessError as exc:
            raise AccessError(f"{source}: entries[{i}]: {exc}") from None
        if entry.plate in seen:
            raise AccessError(f"{source}: entries[{i}]: plate {entry.plate} already listed at entries[{seen[entry.plate]}]")
        seen[entry.plate] = i
        entries.append(entry)
    return entries


def read_json(path: str | os.PathLike) -> list[Entry]:
    """Read entries from a JSON file.

    Raises:
        AccessError: the file cannot be read or is malformed.
    """
    p = Path(path)
    return parse_json(_read_text(p), str(p))


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise AccessError(f"{path}: cannot write: {exc.strerror or exc}") from None


def format_csv(entries: list[Entry]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for e in entries:
        writer.writerow([e.plate, e.label, e.kind.value, e.valid_from or "", e.valid_until or "",
                         ";".join(w.text() for w in e.windows)])
    return buf.getvalue()


def write_csv(path: str | os.PathLike, entries: list[Entry]) -> int:
    """Write entries as CSV (with header) atomically; returns the count.

    Raises:
        AccessError: the file cannot be written.
    """
    _atomic_write(Path(path), format_csv(entries))
    return len(entries)


def write_json(path: str | os.PathLike, entries: list[Entry], version: int = 0, hash_hex: str | None = None) -> int:
    """Write entries as JSON atomically; returns the count.

    Raises:
        AccessError: the file cannot be written.
    """
    doc = {"version": version, "hash": hash_hex, "entries": [e.to_dict() for e in entries]}
    _atomic_write(Path(path), json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    return len(entries)
