"""``python -m plategate.mqtt``: run the MQTT bridge on its own (diagnostics and tests).

Examples::

    python -m plategate.mqtt --config /etc/plategate/plategate.toml --events 10 --drain
    python -m plategate.mqtt --config demo.toml            # sync the allowlist, log commands

``--events N`` queues N test events (ids ``<prefix>-<n>``) into the outbox first and prints
``queued N`` once they are committed; ``--drain`` exits when the outbox is empty.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from ..access.store import AllowlistStore
from ..config import load_config
from ..errors import PlategateError
from .bridge import MqttBridge


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m plategate.mqtt", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, help="plategate TOML configuration")
    parser.add_argument("--events", type=int, default=0, help="queue this many test events first")
    parser.add_argument("--id-prefix", default="test", help="id prefix of the test events")
    parser.add_argument("--drain", action="store_true", help="exit 0 once the outbox is empty")
    parser.add_argument("--timeout", type=float, default=0, help="give up after this many seconds (exit 1); 0 = never")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        cfg = load_config(args.config)
        store = AllowlistStore(cfg.access_db())
        bridge = MqttBridge(cfg, store)
    except PlategateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    bridge.set_command_handler(lambda name, cmd_args: {"echo": name, "args": cmd_args})
    for n in range(args.events):
        bridge.publish_event({"id": f"{args.id_prefix}-{n}", "plate": "TEST", "decision": "unknown", "reason": "test", "n": n})
    print(f"queued {args.events}", flush=True)
    bridge.start()
    ok = True
    try:
        if args.drain:
            ok = bridge.wait_drained(args.timeout or 1e9)
        else:
            done.wait(args.timeout or None)
    except KeyboardInterrupt:
        pass
    finally:
        bridge.stop()
    print(f"outbox depth {bridge.outbox_depth()}", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
