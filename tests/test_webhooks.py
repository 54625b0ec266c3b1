"""HTTP webhooks against a real local receiver that goes down, answers errors and comes back,
across a restart of the sender: every event arrives, in order per receiver, signed."""

from __future__ import annotations

import json
import time

import pytest
from webhook_receiver import Receiver

from plategate.config import parse_config
from plategate.errors import ConfigError
from plategate.webhooks import Webhooks, redact_url, sign, verify

SECRET = "s3cret-shared-with-the-receiver"


def hook(url: str, **over) -> dict:
    return {"url": url, "secret": SECRET, "retry_min_s": 0.05, "retry_max_s": 0.3, "timeout_s": 2, **over}


def make(tmp_path, hooks: list[dict]) -> Webhooks:
    cfg = parse_config({"state_dir": str(tmp_path), "site_id": "s1", "gate_id": "north", "webhooks": hooks})
    return Webhooks(cfg.webhook_db(), cfg.webhooks, cfg.site_id, cfg.gate_id)


def event(i: int) -> dict:
    return {"id": f"20261206T0000{i:02d}000-abcd{i:04d}", "time": "2026-12-06T00:00:00.000Z", "plate": f"AB{i:02d}CDE",
            "confidence": 0.97, "candidates": [[f"AB{i:02d}CDE", 0.97]], "decision": "granted",
            "reason": "exact_match", "matched": f"AB{i:02d}CDE", "label": "", "allowlist_version": 3,
            "latency_ms": 120.0, "opened": True}


def wait(condition, timeout: float = 20.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_outage_errors_and_restart_lose_nothing(tmp_path):
    receiver = Receiver(SECRET.encode())
    hooks = make(tmp_path, [hook(receiver.url, snapshot=True)])
    hooks.start()
    try:
        for i in range(10):  # receiver down: connection refused
            hooks.publish(event(i), b"\xff\xd8jpeg" if i % 2 else None)
        assert wait(lambda: hooks.status()[0]["failures"] >= 2)
        status = hooks.status()[0]
        assert status["pending"] == 10 and status["ok"] is False and "Connection refused" in status["last_error"]
        receiver.up()
        receiver.fail_with = 503  # up but failing
        for i in range(10, 15):
            hooks.publish(event(i))
        assert wait(lambda: "HTTP 503" in (hooks.status()[0]["last_error"] or ""))
        assert receiver.ids() == set()
        receiver.fail_with = None
        assert wait(lambda: len(receiver.ids()) >= 3)
    finally:
        hooks.stop()  # a restart while events are still queued
    receiver.down()
    for_later = make(tmp_path, [hook(receiver.url, snapshot=True)])
    for i in range(15, 20):
        for_later.publish(event(i))
    for_later.start()
    try:
        receiver.up()
        assert wait(lambda: receiver.ids() >= {event(i)["id"] for i in range(20)}), \
            f"missing: {sorted({event(i)['id'] for i in range(20)} - receiver.ids())}"
        assert wait(lambda: for_later.status()[0]["pending"] == 0)
        assert for_later.status()[0]["ok"] and for_later.status()[0]["last_ok"]
    finally:
        for_later.stop()
        receiver.down()
    got = receiver.received
    assert all(r["valid"] for r in got), "a signature did not verify"
    assert all(r["key"] == r["id"] for r in got)
    first_seen = list(dict.fromkeys(r["id"] for r in got))
    assert first_seen == [event(i)["id"] for i in range(20)], "not delivered in order"
    body = next(r["body"] for r in got if r["id"] == event(1)["id"])
    assert body["site"] == "s1" and body["gate"] == "north" and body["snapshot"] is True
    assert body["snapshot_jpeg"] == "/9hqcGVn"  # base64 of the JPEG bytes
    assert {k: body[k] for k in event(1)} == event(1)  # the same fields as the MQTT event


def test_receivers_are_independent(tmp_path):
    good, dead = Receiver(b"other"), Receiver(SECRET.encode())
    good.up()
    hooks = make(tmp_path, [hook(dead.url), {**hook(good.url), "secret": "other", "name": "erp"}])
    hooks.start()
    try:
        for i in range(5):
            hooks.publish(event(i))
        assert wait(lambda: len(good.ids()) == 5)
        names = {s["name"]: s for s in hooks.status()}
        assert names["erp"]["pending"] == 0 and names["erp"]["delivered"] == 5
        assert names["127.0.0.1"]["pending"] == 5
        assert all(r["valid"] for r in good.received)
        assert "snapshot_jpeg" not in good.received[0]["body"]
    finally:
        hooks.stop()
        good.down()


def test_secret_file_and_signature(tmp_path):
    (tmp_path / "hook.secret").write_text("from-a-file\n")
    cfg = parse_config({"webhooks": [{"url": "https://user:pw@example.org/x?token=1",
                                      "secret_file": str(tmp_path / "hook.secret")}]})
    assert cfg.webhooks[0].secret_bytes() == b"from-a-file"
    assert cfg.webhooks[0].name == "example.org"
    assert redact_url(cfg.webhooks[0].url) == "https://example.org/x"
    body = json.dumps({"id": "x"}).encode()
    assert verify(body, b"k", sign(body, b"k")) and not verify(body, b"k", sign(body, b"j"))
    assert not verify(body, b"k", None)


@pytest.mark.parametrize(("hook_cfg", "message"), [
    ({"url": "ftp://example.org/"}, "webhooks.0.url"),
    ({"url": "http://example.org/"}, "secret or secret_file: required"),
    ({"url": "http://example.org/", "secret": "a", "secret_file": "/x"}, "give one, not both"),
    ({"url": "http://example.org/", "secret": "a", "colour": "red"}, "webhooks.0.colour"),
])
def test_bad_webhook_config_names_the_key(hook_cfg, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("(", r"\(")):
        parse_config({"webhooks": [hook_cfg]})


@pytest.mark.parametrize(("data", "message"), [
    ({"webhooks": [{"url": "http://example.org/", "secret": "a", "timeout_s": "10"}]}, "webhooks.0.timeout_s"),
    ({"webhooks": [{"url": "http://example.org/", "secret": "a", "snapshot": "yes"}]}, "webhooks.0.snapshot"),
    ({"web": {"port": "8080"}}, "web.port"),
])
def test_web_and_webhook_values_of_the_wrong_type_name_the_key(data, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        parse_config(data)


def test_an_outbox_that_fails_does_not_keep_the_event_from_the_other(tmp_path):
    """Two outboxes behind one forwarder: while the second cannot be written the first still
    gets the event; the journal keeps it for a refill, which gives it to the second only."""
    from plategate.config import JournalConfig
    from plategate.forwarding import EventForwarder, FanOut
    from plategate.gatekeeper import public_event
    from plategate.journal import Journal

    first, second = make(tmp_path / "a", [hook("http://127.0.0.1:9/a")]), make(tmp_path / "b", [hook("http://127.0.0.1:9/b")])
    second.stop()  # its database is closed: queueing raises StorageError
    current = {"second": second}
    journal = Journal(tmp_path / "j.db", tmp_path / "snaps", JournalConfig(min_free_mb=0))
    forwarder = EventForwarder(journal, public_event,
                               FanOut.of(first.publish, lambda e, s: current["second"].publish(e, s)))
    row = {**event(1), "ts": time.time(), "outbox": 0}
    stored = journal.record(row)
    try:
        assert forwarder.forward(stored) is False
        assert first.pending(first.senders[0].key) == 1
        assert [r["id"] for r in journal.unqueued()] == [row["id"]]
        current["second"] = reopened = make(tmp_path / "b", [hook("http://127.0.0.1:9/b")])
        assert forwarder.refill() == 1
        assert first.pending(first.senders[0].key) == 1  # not queued twice
        assert reopened.pending(reopened.senders[0].key) == 1
        assert journal.unqueued() == []
    finally:
        first.stop()
        current["second"].stop()
        journal.close()
