"""Benchmark of the access + MQTT part; prints the figures the issue asks for.

    python -m tools.eval.bench_access                 # 100 000 entries, 5 000 outbox events, own mosquitto
    python -m tools.eval.bench_access --entries 20000 --events 2000 --host 127.0.0.1 --port 1883

Targets: load of 100 000 entries <= 2 s; one decision (exact + tolerant) <= 1 ms;
outbox drain >= 500 events/s to a local mosquitto.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from plategate.access.entry import make_entry
from plategate.access.index import CONFUSABLE_PAIRS
from plategate.access.policy import AccessPolicy
from plategate.access.store import AllowlistStore
from plategate.config import AccessConfig, parse_config
from plategate.types import PlateRead

ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_SWAP = {a: b for pair in CONFUSABLE_PAIRS for a, b in (tuple(pair), tuple(pair)[::-1])}


def make_entries(n: int, rng: np.random.Generator) -> list:
    plates: set[str] = set()
    while len(plates) < n:
        k = int(rng.integers(5, 9))
        plates.add("".join(ALNUM[i] for i in rng.integers(0, len(ALNUM), k)))
    entries = []
    for i, plate in enumerate(sorted(plates)):
        if i % 100 == 0:
            entries.append(make_entry(plate, f"blocked {i}", "block"))
        elif i % 10 == 0:
            entries.append(make_entry(plate, f"Unit {i}", windows="Mon-Fri 07:00-19:00;Sat 08:00-12:00",
                                      valid_until="2030-12-31"))
        else:
            entries.append(make_entry(plate, f"Unit {i}"))
    return entries


def confusable_variant(plate: str) -> str | None:
    for i, ch in enumerate(plate):
        if ch in _SWAP:
            return plate[:i] + _SWAP[ch] + plate[i + 1:]
    return None


def bench_store(n: int, workdir: Path) -> dict:
    rng = np.random.default_rng(7)
    entries = make_entries(n, rng)
    db = workdir / "access.db"
    store = AllowlistStore(db)
    t0 = time.perf_counter()
    store.replace_all(entries, version=1, origin="site")
    t_apply = time.perf_counter() - t0
    store.close()
    t0 = time.perf_counter()
    store = AllowlistStore(db)
    t_load = time.perf_counter() - t0
    policy = AccessPolicy(store, AccessConfig(timezone="Europe/Berlin", holdoff_s=0))
    reads = []
    for e in entries[:: max(1, n // 2000) + 1]:  # +1: do not land on every 100th (block) entry
        reads.append(PlateRead(e.plate, 0.97))  # exact
        var = confusable_variant(e.plate)
        if var:
            reads.append(PlateRead(var, 0.97))  # tolerant
        reads.append(PlateRead(e.plate[::-1] + "Q", 0.97))  # miss -> tolerant search too
    now = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)
    times = []
    reasons: dict[str, int] = {}
    for r in reads:
        t0 = time.perf_counter()
        d = policy.decide(r, now)
        times.append(time.perf_counter() - t0)
        reasons[str(d.reason)] = reasons.get(str(d.reason), 0) + 1
    store.close()
    times_ms = sorted(t * 1000 for t in times)
    return {
        "entries": n,
        "apply_snapshot_s": round(t_apply, 3),
        "load_s": round(t_load, 3),
        "decisions": len(reads),
        "decision_mean_ms": round(statistics.fmean(times_ms), 4),
        "decision_p99_ms": round(times_ms[int(len(times_ms) * 0.99)], 4),
        "decision_max_ms": round(times_ms[-1], 4),
        "reasons": reasons,
    }


def bench_sync(n: int, workdir: Path) -> dict:
    """Verify + parse + apply a signed 100k snapshot the way the gate receives it."""
    from plategate.mqtt.signing import generate_private_key, load_public_keys, public_key_b64
    from plategate.mqtt.sync import AllowlistSync
    from tools.allowlist_publish import build_snapshot

    entries = make_entries(n, np.random.default_rng(11))
    key = generate_private_key()
    raw = build_snapshot(entries, "site", 1, key)
    store = AllowlistStore(workdir / "sync.db")
    sync = AllowlistSync(store, "site", load_public_keys([public_key_b64(key.public_key())]), 1 << 30, lambda _p: None)
    t0 = time.perf_counter()
    result = sync.handle_snapshot(raw)
    elapsed = time.perf_counter() - t0
    store.close()
    return {"signed_snapshot_bytes": len(raw), "signed_snapshot_apply_s": round(elapsed, 3), "result": result}


def _snapshot_over_broker(bridge, store, client, n_entries: int, key) -> float | None:
    """Publish a signed retained snapshot through the broker; seconds until the gate applied it."""
    from tools.allowlist_publish import build_snapshot

    raw = build_snapshot(make_entries(n_entries, np.random.default_rng(3)), "bench", store.version + 1, key)
    target = store.version + 1
    t0 = time.perf_counter()
    client.publish("plategate/bench/allowlist", raw, qos=1, retain=True)
    deadline = time.monotonic() + 120
    while store.version != target and time.monotonic() < deadline:
        time.sleep(0.01)
    return round(time.perf_counter() - t0, 3) if store.version == target else None


def bench_outbox(n_events: int, workdir: Path, host: str | None, port: int | None, n_entries: int = 0) -> dict:
    from plategate.mqtt.bridge import MqttBridge

    broker = None
    if host is None:
        from tests.brokers import Mosquitto

        broker = Mosquitto(workdir / "broker", persistence=False)
        broker.start()
        host, port = broker.host, broker.port
    try:
        from plategate.mqtt.signing import generate_private_key, public_key_b64

        key = generate_private_key()
        cfg = parse_config({"site_id": "bench", "gate_id": "g1", "state_dir": str(workdir / "state"),
                            "mqtt": {"enabled": True, "host": host, "port": port, "reconnect_min_s": 0.1,
                                     "site_public_keys": [public_key_b64(key.public_key())]}})
        store = AllowlistStore(cfg.access_db())
        bridge = MqttBridge(cfg, store)
        received = _count_events(host, port, "plategate/bench/g1/event")
        t0 = time.perf_counter()
        for i in range(n_events):
            bridge.publish_event({"id": f"bench-{i}", "plate": "AB123CD", "confidence": 0.97, "decision": "granted",
                                  "reason": "exact_match", "candidates": [["AB123CD", 0.97]], "latency_ms": 120.0})
        t_write = time.perf_counter() - t0
        t0 = time.perf_counter()
        bridge.start()
        drained = bridge.wait_drained(120)
        t_drain = time.perf_counter() - t0
        deadline = time.monotonic() + 10
        while received["n"] < n_events and time.monotonic() < deadline:
            time.sleep(0.01)
        snapshot_s = _snapshot_over_broker(bridge, store, received["client"], n_entries, key) if n_entries else None
        bridge.stop()
        store.close()
        received["client"].disconnect()
        received["client"].loop_stop()
    finally:
        if broker is not None:
            broker.stop()
    return {
        "events": n_events,
        "outbox_write_per_event_ms": round(t_write / n_events * 1000, 3),
        "drain_s": round(t_drain, 3),
        "drain_events_per_s": round(n_events / t_drain, 1) if drained else 0.0,
        "received_by_consumer": received["n"],
        "snapshot_over_broker_s": snapshot_s,
    }


def _count_events(host: str, port: int, topic: str) -> dict:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    state = {"n": 0}
    ready = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2)

    def on_message(_c, _u, _m):
        state["n"] += 1

    client.on_message = on_message
    client.on_connect = lambda c, *a: c.subscribe(topic, 1)
    client.on_subscribe = lambda *a: ready.set()
    client.connect(host, port)
    client.loop_start()
    ready.wait(5)
    state["client"] = client
    return state


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.eval.bench_access", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=100_000, help="allowlist size (default 100000)")
    parser.add_argument("--events", type=int, default=5000, help="events to drain through the outbox (default 5000)")
    parser.add_argument("--host", help="use this broker instead of starting mosquitto (tests/brokers.py)")
    parser.add_argument("--port", type=int, default=1883)
    parser.add_argument("--skip-mqtt", action="store_true", help="only the store and policy figures")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="bench-access-") as tmp:
        work = Path(tmp)
        results = {"store": bench_store(args.entries, work), "sync": bench_sync(args.entries, work)}
        if not args.skip_mqtt:
            results["outbox"] = bench_outbox(args.events, work, args.host, args.port if args.host else None, args.entries)
    if args.json:
        print(json.dumps(results))
        return 0
    s, y = results["store"], results["sync"]
    print(f"allowlist entries            {s['entries']}")
    print(f"apply snapshot (SQLite)      {s['apply_snapshot_s']:.3f} s")
    print(f"load from disk               {s['load_s']:.3f} s      (target <= 2 s)")
    print(f"decision exact+tolerant      mean {s['decision_mean_ms']:.4f} ms, p99 {s['decision_p99_ms']:.4f} ms, "
          f"max {s['decision_max_ms']:.4f} ms over {s['decisions']}   (target <= 1 ms)")
    print(f"  reasons                    {s['reasons']}")
    print(f"signed snapshot verify+apply {y['signed_snapshot_apply_s']:.3f} s ({y['signed_snapshot_bytes'] / 1e6:.1f} MB, {y['result']})")
    if "outbox" in results:
        o = results["outbox"]
        print(f"outbox write                 {o['outbox_write_per_event_ms']:.3f} ms/event (fsync per event)")
        print(f"outbox drain                 {o['drain_events_per_s']:.0f} events/s ({o['events']} in {o['drain_s']:.2f} s, "
              f"consumer got {o['received_by_consumer']})   (target >= 500/s)")
        print(f"signed snapshot via broker   {o['snapshot_over_broker_s']} s from publish to applied ({s['entries']} entries)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
