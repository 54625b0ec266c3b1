"""Site side of the signed allowlist sync from files: key pair, signed snapshots/deltas/commands, publish.

The site service ``plategate-site`` does all this from its own master list; this tool
signs single messages from CSV files (the message builders are plategate.site.messages).

Examples (run from the repository root)::

    python -m tools.allowlist_publish keygen --out site              # site.key (keep secret), site.pub
    python -m tools.allowlist_publish snapshot --key site.key --site estate1 --version 7 residents.csv \\
        --publish --host broker.example --port 8883 --ca ca.pem
    python -m tools.allowlist_publish delta --key site.key --site estate1 --from-version 7 old.csv new.csv --publish
    python -m tools.allowlist_publish command --key site.key --site estate1 --gate north open --publish --wait 5

Without ``--publish`` the signed message is written to ``--out`` (default: stdout). Snapshots
go retained to ``<prefix>/<site>/allowlist``; deltas to ``<prefix>/<site>/allowlist/delta``;
commands to ``<prefix>/<site>/<gate>/cmd`` (``--wait`` prints the ``cmd/result``).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import threading
from pathlib import Path

from plategate.access.io import read_csv
from plategate.errors import PlategateError
from plategate.mqtt.signing import (
    generate_private_key,
    key_id,
    load_private_key,
    private_key_pem,
    public_key_b64,
)
from plategate.site.messages import build_command, build_delta, build_snapshot, diff

__all__ = ["build_command", "build_delta", "build_snapshot", "diff", "main"]


def _command_nonce(payload: bytes) -> str | None:
    try:
        return json.loads(json.loads(payload)["payload"]).get("nonce")
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def _reply_for(payload: bytes, reply: bytes) -> bool:
    """Whether a ``cmd/result`` *reply* answers the command *payload* (same nonce)."""
    nonce = _command_nonce(payload)
    try:
        return nonce is None or json.loads(reply).get("nonce") == nonce
    except (ValueError, AttributeError):
        return False


def publish(args: argparse.Namespace, topic: str, payload: bytes, retain: bool, wait_topic: str | None = None) -> int:
    """Publish one message (QoS 1) and optionally print the reply on *wait_topic* that answers it
    (same nonce); a reply with ``"ok": false`` (the gate refused the command) exits 1."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"plategate-site-{secrets.token_hex(4)}")
    if args.username:
        client.username_pw_set(args.username, args.password or os.environ.get("PLATEGATE_MQTT_PASSWORD"))
    if args.ca or args.tls_cert:
        client.tls_set(ca_certs=args.ca, certfile=args.tls_cert, keyfile=args.tls_key)
    replies: list[bytes] = []
    got = threading.Event()
    subscribed = threading.Event()

    def on_message(_c, _u, msg):
        if _reply_for(payload, bytes(msg.payload)):
            replies.append(bytes(msg.payload))
            got.set()

    client.on_message = on_message
    client.on_subscribe = lambda *a: subscribed.set()
    client.connect(args.host, args.port, keepalive=30)
    client.loop_start()
    try:
        if wait_topic:
            client.subscribe(wait_topic, qos=1)
            subscribed.wait(5)
        info = client.publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(10)
        if not info.is_published():
            print(f"error: broker did not acknowledge the message on {topic}", file=sys.stderr)
            return 1
        print(f"published {len(payload)} bytes to {topic}", file=sys.stderr)
        if wait_topic:
            if not got.wait(args.wait):
                print(f"error: no reply on {wait_topic} within {args.wait} s", file=sys.stderr)
                return 1
            print(replies[0].decode("utf-8", errors="replace"))
            try:
                refused = json.loads(replies[0]).get("ok") is False
            except (ValueError, AttributeError):
                refused = False
            if refused:
                print("error: the gate refused the command", file=sys.stderr)
                return 1
    finally:
        client.disconnect()
        client.loop_stop()
    return 0


def _emit(args: argparse.Namespace, topic: str, payload: bytes, retain: bool, wait_topic: str | None = None) -> int:
    if args.publish:
        return publish(args, topic, payload, retain, wait_topic)
    if args.out and args.out != "-":
        Path(args.out).write_bytes(payload)
        print(f"wrote {len(payload)} bytes to {args.out} (topic {topic})", file=sys.stderr)
    else:
        sys.stdout.write(payload.decode("utf-8") + "\n")
    return 0


def cmd_keygen(args: argparse.Namespace) -> int:
    key = generate_private_key()
    priv, pub = Path(f"{args.out}.key"), Path(f"{args.out}.pub")
    if priv.exists() and not args.force:
        print(f"error: {priv} exists (use --force to overwrite)", file=sys.stderr)
        return 1
    fd = os.open(priv, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(private_key_pem(key))
    pub.write_text(public_key_b64(key.public_key()) + "\n")
    print(f"private key: {priv} (keep it on the site server only)")
    print(f"public key:  {pub}  key id {key_id(key.public_key())}")
    print(f'gate config: [mqtt] site_public_keys = ["{public_key_b64(key.public_key())}"]')
    return 0


def cmd_snapshot(args: argparse.Namespace) -> int:
    entries = read_csv(args.csv)
    payload = build_snapshot(entries, args.site, args.version, load_private_key(args.key))
    return _emit(args, f"{args.prefix}/{args.site}/allowlist", payload, retain=True)


def cmd_delta(args: argparse.Namespace) -> int:
    payload = build_delta(read_csv(args.old), read_csv(args.new), args.site, args.from_version, load_private_key(args.key))
    return _emit(args, f"{args.prefix}/{args.site}/allowlist/delta", payload, retain=False)


def cmd_command(args: argparse.Namespace) -> int:
    cmd_args = {}
    for item in args.arg or []:
        k, sep, v = item.partition("=")
        if not sep:
            print(f"error: --arg {item!r}: expected KEY=VALUE", file=sys.stderr)
            return 2
        cmd_args[k] = v
    payload = build_command(args.name, args.site, args.gate, load_private_key(args.key), cmd_args)
    base = f"{args.prefix}/{args.site}/{args.gate}"
    return _emit(args, f"{base}/cmd", payload, retain=False, wait_topic=f"{base}/cmd/result" if args.wait else None)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m tools.allowlist_publish", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="action", required=True)
    k = sub.add_parser("keygen", help="generate an Ed25519 key pair (PREFIX.key, PREFIX.pub)")
    k.add_argument("--out", required=True, help="path prefix of the key files")
    k.add_argument("--force", action="store_true", help="overwrite an existing key")
    k.set_defaults(fn=cmd_keygen)

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--key", required=True, help="site private key (PEM)")
        sp.add_argument("--site", required=True, help="site id (topic level <site>)")
        sp.add_argument("--prefix", default="plategate", help="topic prefix (default plategate)")
        sp.add_argument("--out", help="write the signed message here instead of stdout")
        sp.add_argument("--publish", action="store_true", help="publish to the broker instead of writing it")
        sp.add_argument("--host", default="localhost")
        sp.add_argument("--port", type=int, default=1883)
        sp.add_argument("--username")
        sp.add_argument("--password", help="or set PLATEGATE_MQTT_PASSWORD")
        sp.add_argument("--ca", help="CA certificate for TLS")
        sp.add_argument("--tls-cert", help="client certificate for TLS")
        sp.add_argument("--tls-key", help="client certificate key for TLS")

    s = sub.add_parser("snapshot", help="sign a full list from CSV (retained)")
    common(s)
    s.add_argument("--version", type=int, required=True, help="new list version (greater than the last one)")
    s.add_argument("csv", help="CSV plate,label,kind,valid_from,valid_until,windows")
    s.set_defaults(fn=cmd_snapshot)
    d = sub.add_parser("delta", help="sign the change between two CSV lists")
    common(d)
    d.add_argument("--from-version", type=int, required=True, help="version of OLD as published; the delta makes it +1")
    d.add_argument("old")
    d.add_argument("new")
    d.set_defaults(fn=cmd_delta)
    c = sub.add_parser("command", help="sign a command for one gate")
    common(c)
    c.add_argument("--gate", required=True)
    c.add_argument("name", choices=("open", "reload", "snapshot"))
    c.add_argument("--arg", action="append", help="KEY=VALUE argument (repeatable)")
    c.add_argument("--wait", type=float, default=0, help="wait this many seconds for cmd/result and print it")
    c.set_defaults(fn=cmd_command)
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.fn(args)
    except (PlategateError, OSError, json.JSONDecodeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
