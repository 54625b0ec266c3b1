"""Ed25519 signed envelopes.

A signed message on the wire is a JSON object::

    {"alg": "ed25519", "key_id": "<16 hex>", "payload": "<canonical JSON text>", "sig": "<base64>"}

``payload`` is the inner message serialised as canonical JSON (sorted keys, no spaces, UTF-8)
and carried *as a string*, so the exact signed bytes travel unchanged; ``sig`` is the Ed25519
signature of those UTF-8 bytes; ``key_id`` is the first 16 hex digits of the SHA-256 of the
raw 32-byte public key, so a gate can hold several site keys (rotation).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ..errors import AccessError, SignatureError

ALG = "ed25519"
ENVELOPE_KEYS = frozenset({"alg", "key_id", "payload", "sig"})


def canonical_json(obj: object) -> str:
    """Sorted keys, no whitespace, UTF-8 kept as is; NaN/Infinity refused."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_key_b64(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def generate_private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def private_key_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def load_private_key(path: str | os.PathLike) -> Ed25519PrivateKey:
    """Load a PEM (PKCS#8) Ed25519 private key.

    Raises:
        SignatureError: unreadable file or not an Ed25519 private key.
    """
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except OSError as exc:
        raise SignatureError(f"{path}: cannot read private key: {exc.strerror or exc}") from None
    except (ValueError, TypeError) as exc:
        raise SignatureError(f"{path}: not a PEM private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SignatureError(f"{path}: not an Ed25519 private key")
    return key


def parse_public_key(spec: str) -> Ed25519PublicKey:
    """A public key from base64 of the raw 32 bytes, a PEM text, or a path to a PEM/base64 file.

    Raises:
        SignatureError: naming the spec and what is wrong.
    """
    text = spec.strip()
    if not text.startswith("-----") and _is_file(text):
        try:
            text = Path(text).read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise SignatureError(f"public key file {spec}: cannot read: {exc}") from None
    if text.startswith("-----"):
        try:
            key = serialization.load_pem_public_key(text.encode("ascii"))
        except (ValueError, UnicodeEncodeError) as exc:
            raise SignatureError(f"public key {spec!r}: not a PEM public key: {exc}") from None
        if not isinstance(key, Ed25519PublicKey):
            raise SignatureError(f"public key {spec!r}: not an Ed25519 key")
        return key
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError(f"public key {spec!r}: neither base64 nor PEM nor a readable file") from None
    if len(raw) != 32:
        raise SignatureError(f"public key {spec!r}: {len(raw)} bytes, an Ed25519 key has 32")
    return Ed25519PublicKey.from_public_bytes(raw)


def _is_file(text: str) -> bool:
    try:
        return Path(text).is_file()
    except (OSError, ValueError):
        return False


def load_public_keys(specs: list[str]) -> dict[str, Ed25519PublicKey]:
    """Map key id -> public key for every spec.

    Raises:
        SignatureError: one spec is unusable.
    """
    keys = {}
    for spec in specs:
        key = parse_public_key(spec)
        keys[key_id(key)] = key
    return keys


def sign(payload: dict, key: Ed25519PrivateKey) -> dict:
    """Wrap *payload* in a signed envelope (a dict ready for ``json.dumps``)."""
    text = canonical_json(payload)
    sig = key.sign(text.encode("utf-8"))
    return {"alg": ALG, "key_id": key_id(key.public_key()), "payload": text, "sig": base64.b64encode(sig).decode("ascii")}


def sign_bytes(payload: dict, key: Ed25519PrivateKey) -> bytes:
    return canonical_json(sign(payload, key)).encode("utf-8")


def decode_json(raw: bytes, max_bytes: int, what: str) -> object:
    """Size-check and decode a JSON payload.

    Raises:
        AccessError: too large, not UTF-8, or not JSON.
    """
    if len(raw) > max_bytes:
        raise AccessError(f"{what}: payload of {len(raw)} bytes exceeds the limit of {max_bytes}")
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise AccessError(f"{what}: payload is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    except (json.JSONDecodeError, RecursionError) as exc:
        raise AccessError(f"{what}: payload is not valid JSON: {exc}") from None


def open_envelope(raw: bytes, keys: dict[str, Ed25519PublicKey], max_bytes: int, what: str) -> dict:
    """Check a signed envelope and return its inner payload object.

    Raises:
        AccessError: oversized, malformed JSON, or the inner payload is not a JSON object.
        SignatureError: not an envelope (unsigned), unknown key, bad base64 or a bad signature.
    """
    doc = decode_json(raw, max_bytes, what)
    if not isinstance(doc, dict) or "sig" not in doc or "payload" not in doc:
        raise SignatureError(f"{what}: unsigned (expected an envelope with 'payload' and 'sig')")
    extra = set(doc) - ENVELOPE_KEYS
    if extra:
        raise SignatureError(f"{what}: envelope has unknown keys {sorted(extra)}")
    alg, kid, text, sig = doc.get("alg", ALG), doc.get("key_id"), doc["payload"], doc["sig"]
    if alg != ALG:
        raise SignatureError(f"{what}: unsupported signature algorithm {alg!r}")
    if not isinstance(text, str) or not isinstance(sig, str) or not isinstance(kid, str):
        raise SignatureError(f"{what}: envelope fields payload, sig and key_id must be strings")
    if not keys:
        raise SignatureError(f"{what}: no site public key configured (mqtt.site_public_keys)")
    key = keys.get(kid)
    if key is None:
        raise SignatureError(f"{what}: signed with unknown key id {kid[:32]!r}")
    try:
        sig_bytes = base64.b64decode(sig, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError(f"{what}: signature is not base64") from None
    try:
        key.verify(sig_bytes, text.encode("utf-8"))
    except InvalidSignature:
        raise SignatureError(f"{what}: bad signature (key id {kid})") from None
    except UnicodeEncodeError:
        raise SignatureError(f"{what}: payload text is not encodable") from None
    try:
        inner = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise AccessError(f"{what}: signed payload is not valid JSON: {exc}") from None
    if not isinstance(inner, dict):
        raise AccessError(f"{what}: signed payload must be a JSON object, got {type(inner).__name__}")
    return inner
