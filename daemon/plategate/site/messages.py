"""Signed site messages: allowlist snapshots, deltas and gate commands (docs/allowlist-sync.md)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from ..access.entry import Entry, content_hash
from ..mqtt.signing import sign_bytes


def now_iso() -> str:
    """The current UTC time as ``2026-11-21T08:00:00Z``."""
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def build_snapshot(entries: list[Entry], site: str, version: int, key, issued_at: str | None = None) -> bytes:
    """A signed snapshot message for *entries* at *version*."""
    payload = {
        "type": "snapshot", "site": site, "version": version, "issued_at": issued_at or now_iso(),
        "entries": [e.to_dict() for e in sorted(entries, key=lambda e: e.plate)], "hash": content_hash(entries),
    }
    return sign_bytes(payload, key)


def diff(old: list[Entry], new: list[Entry]) -> tuple[list[Entry], list[str]]:
    """Entries to add/replace and plates to remove to go from *old* to *new*."""
    old_by = {e.plate: e for e in old}
    new_by = {e.plate: e for e in new}
    add = [e for p, e in sorted(new_by.items()) if old_by.get(p) != e]
    remove = sorted(p for p in old_by if p not in new_by)
    return add, remove


def build_delta(old: list[Entry], new: list[Entry], site: str, from_version: int, key,
                issued_at: str | None = None) -> bytes:
    """A signed delta from *old* (at *from_version*) to *new* (at *from_version* + 1)."""
    add, remove = diff(old, new)
    payload = {
        "type": "delta", "site": site, "from_version": from_version, "version": from_version + 1,
        "issued_at": issued_at or now_iso(), "add": [e.to_dict() for e in add], "remove": remove,
        "hash": content_hash(new),
    }
    return sign_bytes(payload, key)


def build_command(cmd: str, site: str, gate: str, key, args: dict | None = None, nonce: str | None = None,
                  issued_at: str | None = None) -> bytes:
    """A signed command for one gate with a fresh nonce."""
    payload = {"type": "command", "cmd": cmd, "site": site, "gate": gate, "nonce": nonce or secrets.token_hex(12),
               "issued_at": issued_at or now_iso(), "args": args or {}}
    return sign_bytes(payload, key)
