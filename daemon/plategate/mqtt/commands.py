"""Remote commands (``open``, ``reload``, ``snapshot``): signature, freshness, replay check,
dispatch to the daemon's handler, and the result payload.

A signed command must name this site and gate, carry a nonce never seen before and an
``issued_at`` within ``mqtt.command_max_age_s`` of the gate's clock (either direction). Seen
nonces are kept in SQLite (table ``nonces`` in the outbox database) for twice that age, so a
replay is refused across restarts too. With ``mqtt.allow_unsigned_commands`` (trusted local
broker only) a plain ``{"cmd": "open"}`` is accepted as well.

A refusal on ``cmd/result`` carries the refused command's ``cmd`` and ``nonce`` whenever the
payload could be read that far (read without trusting it), so the sender can match it.
The handler is called as ``handler(name, args, origin)`` where *origin* is
``{"signed": bool, "nonce": str | None, "key_id": str | None}`` (for the audit trail).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from ..db import open_with_schema
from ..errors import AccessError, PlategateError, SignatureError, StorageError
from .messages import now_iso, parse_command, parse_time, parse_unsigned_command
from .signing import decode_json, open_envelope

logger = logging.getLogger(__name__)

CommandHandler = Callable[[str, dict, dict], dict]


class NonceStore:
    """Seen command nonces with their time, pruned after *keep_s*.

    Raises:
        StorageError: the database cannot be opened.
    """

    def __init__(self, path: str | Path, keep_s: float) -> None:
        self.keep_s = keep_s
        self._lock = threading.Lock()
        self._db = open_with_schema(Path(path), "CREATE TABLE IF NOT EXISTS nonces (nonce TEXT PRIMARY KEY, seen REAL NOT NULL)",
                                    "nonce store", autocommit=True)

    def claim(self, nonce: str, now: float | None = None) -> bool:
        """Record *nonce*; False if it was already seen (a replay).

        Raises:
            StorageError: the database cannot be written.
        """
        now = time.time() if now is None else now
        with self._lock:
            try:
                self._db.execute("DELETE FROM nonces WHERE seen < ?", (now - self.keep_s,))
                cur = self._db.execute("INSERT OR IGNORE INTO nonces(nonce, seen) VALUES (?, ?)", (nonce, now))
            except sqlite3.Error as exc:
                raise StorageError(f"cannot record command nonce: {exc}") from None
        return cur.rowcount == 1

    def close(self) -> None:
        with self._lock:
            self._db.close()


class CommandProcessor:
    """Checks and runs commands; returns the ``cmd/result`` payload for each.

    Args:
        site, gate: this gate's ids.
        keys: key id -> Ed25519 public key of the site.
        nonces: the replay store.
        max_age_s: accepted distance between ``issued_at`` and now.
        max_bytes: payload size cap.
        allow_unsigned: accept plain commands (trusted local broker only).
    """

    def __init__(self, site: str, gate: str, keys: dict, nonces: NonceStore, max_age_s: float,
                 max_bytes: int, allow_unsigned: bool = False) -> None:
        self.site = site
        self.gate = gate
        self.keys = keys
        self.nonces = nonces
        self.max_age_s = max_age_s
        self.max_bytes = max_bytes
        self.allow_unsigned = allow_unsigned
        self.handler: CommandHandler | None = None

    def handle(self, raw: bytes, now: datetime | None = None) -> dict:
        """Process one raw command payload; never raises for bad input."""
        now = now or datetime.now(UTC)
        try:
            cmd, nonce, args, origin = self._check(raw, now)
        except (PlategateError, RecursionError) as exc:
            kind = "signature" if isinstance(exc, SignatureError) else "invalid"
            cmd, nonce = _claimed_name_and_nonce(raw, self.max_bytes)
            logger.warning("command %s (nonce %s) rejected (%s): %s", cmd, nonce, kind, exc)
            return self._result(cmd, nonce, False, error=f"rejected: {exc}")
        if self.handler is None:
            logger.warning("command %s refused: no command handler registered", cmd)
            return self._result(cmd, nonce, False, error="no command handler")
        logger.info("running remote command %s (nonce %s)", cmd, nonce)
        try:
            result = self.handler(cmd, args, origin)
        except PlategateError as exc:
            logger.warning("command %s failed: %s", cmd, exc)
            return self._result(cmd, nonce, False, error=str(exc))
        except Exception as exc:
            logger.exception("command %s crashed", cmd)
            return self._result(cmd, nonce, False, error=f"internal error: {type(exc).__name__}")
        if not isinstance(result, dict):
            result = {"value": result}
        return self._result(cmd, nonce, True, result=result)

    def _check(self, raw: bytes, now: datetime) -> tuple[str, str | None, dict, dict]:
        doc = decode_json(raw, self.max_bytes, "command")
        if self.allow_unsigned and isinstance(doc, dict) and "sig" not in doc:
            plain = parse_unsigned_command(doc)
            if plain.issued_at is not None:
                self._check_age(parse_time(plain.issued_at), now)
            if plain.nonce is not None and not self.nonces.claim(plain.nonce):
                raise SignatureError(f"replayed command: nonce {plain.nonce} was already used")
            return plain.cmd, plain.nonce, plain.args, {"signed": False, "nonce": plain.nonce, "key_id": None}
        inner = open_envelope(raw, self.keys, self.max_bytes, "command")
        command = parse_command(inner)
        if command.site != self.site or command.gate != self.gate:
            raise AccessError(f"command for {command.site}/{command.gate}, this gate is {self.site}/{self.gate}")
        self._check_age(parse_time(command.issued_at), now)
        if not self.nonces.claim(command.nonce):
            raise SignatureError(f"replayed command: nonce {command.nonce} was already used")
        key = doc.get("key_id") if isinstance(doc, dict) else None
        return command.cmd, command.nonce, command.args, {"signed": True, "nonce": command.nonce, "key_id": key}

    def _check_age(self, issued: datetime, now: datetime) -> None:
        age = (now - issued).total_seconds()
        if age > self.max_age_s:
            raise SignatureError(f"command too old: issued {age:.0f} s ago, limit {self.max_age_s} s")
        if age < -self.max_age_s:
            raise SignatureError(f"command issued {-age:.0f} s in the future (clock skew?), limit {self.max_age_s} s")

    def _result(self, cmd: str | None, nonce: str | None, ok: bool, result: dict | None = None,
                error: str | None = None) -> dict:
        return {"cmd": cmd, "nonce": nonce, "ok": ok, "result": result, "error": error, "time": now_iso()}

    @staticmethod
    def encode(result: dict) -> bytes:
        return json.dumps(result, default=str).encode("utf-8")


def _short_text(value: object) -> str | None:
    if isinstance(value, str) and 0 < len(value) <= 64 and value.isprintable():
        return value
    return None


def _claimed_name_and_nonce(raw: bytes, max_bytes: int) -> tuple[str | None, str | None]:
    """``cmd`` and ``nonce`` as a refused payload claims them (not trusted: only echoed back)."""
    try:
        doc = decode_json(raw, max_bytes, "command")
        if isinstance(doc, dict) and isinstance(doc.get("payload"), str):
            doc = json.loads(doc["payload"])
    except (PlategateError, ValueError, RecursionError):
        return None, None
    if not isinstance(doc, dict):
        return None, None
    return _short_text(doc.get("cmd")), _short_text(doc.get("nonce"))
