"""The site tool (tools/allowlist_publish.py) and the documented JSON Schemas."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import jsonschema
import pytest

from plategate.access.entry import make_entry
from plategate.access.store import AllowlistStore
from plategate.mqtt.bridge import MqttBridge
from plategate.mqtt.commands import CommandProcessor
from plategate.mqtt.messages import json_schemas
from plategate.mqtt.signing import load_private_key, load_public_keys, open_envelope
from tests.mqtt_helpers import make_config, wait_until
from tools import allowlist_publish
from tools.allowlist_publish import build_command, build_delta, build_snapshot

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = ROOT / "docs" / "schemas"


def schema(name: str) -> dict:
    return json.loads((SCHEMAS / f"{name}.json").read_text())


def test_docs_schemas_are_current():
    for name, generated in json_schemas().items():
        assert (SCHEMAS / f"{name}.json").exists(), f"docs/schemas/{name}.json missing: python -m plategate.mqtt.messages"
        assert schema(name) == generated, f"docs/schemas/{name}.json is stale: python -m plategate.mqtt.messages"


def test_payloads_validate_against_the_documented_schemas(tmp_path):
    key = allowlist_publish.generate_private_key()
    v1 = [make_entry("AB123CD", "Unit 1", windows="Mon-Fri 07:00-19:00"), make_entry("X1", "b", "block", valid_until="2027-01-01")]
    v2 = v1[:1]
    for raw, name in ((build_snapshot(v1, "estate", 3, key), "allowlist-snapshot"),
                      (build_delta(v1, v2, "estate", 3, key), "allowlist-delta"),
                      (build_command("open", "estate", "north", key), "command")):
        env = json.loads(raw)
        jsonschema.validate(env, schema("envelope"))
        jsonschema.validate(json.loads(env["payload"]), schema(name))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"type": "snapshot", "site": "estate", "version": "3"}, schema("allowlist-snapshot"))
    # What the gate sends.
    cfg = make_config(tmp_path, 1, key)  # port 1: never connects; the payloads are built locally
    store = AllowlistStore(cfg.access_db())
    bridge = MqttBridge(cfg, store)
    bridge.publish_event({"plate": "AB123CD", "confidence": 0.97, "candidates": [("AB123CD", 0.97)], "decision": "granted",
                          "reason": "exact_match", "matched": "AB123CD", "label": "Unit 1", "allowlist_version": 3,
                          "latency_ms": 140.0, "direction": "approaching"}, snapshot=b"\xff\xd8")
    event = json.loads(bridge.outbox.pending(0, 1)[0].payload)
    jsonschema.validate(event, schema("event"))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**event, "direction": "sideways"}, schema("event"))
    jsonschema.validate(json.loads(bridge._status_payload()), schema("status"))
    jsonschema.validate(json.loads(bridge.sync.state_payload()), schema("allowlist-state"))
    requests = []
    bridge.sync._request = requests.append
    bridge.sync.request_snapshot("test", force=True)
    jsonschema.validate(requests[0], schema("allowlist-request"))
    jsonschema.validate(json.loads(CommandProcessor.encode(bridge.commands.handle(b"{}"))), schema("command-result"))
    bridge.outbox.close()
    bridge.nonces.close()
    store.close()


def test_keygen_snapshot_delta_files(tmp_path, capsys):
    prefix = tmp_path / "site"
    assert allowlist_publish.main(["keygen", "--out", str(prefix)]) == 0
    assert stat.S_IMODE((tmp_path / "site.key").stat().st_mode) == 0o600
    assert "site_public_keys" in capsys.readouterr().out
    assert allowlist_publish.main(["keygen", "--out", str(prefix)]) == 1  # no silent overwrite
    keys = load_public_keys([str(tmp_path / "site.pub")])
    old, new = tmp_path / "old.csv", tmp_path / "new.csv"
    old.write_text("plate,label\nAB123CD,Unit 1\nXY99,Unit 2\n")
    new.write_text("plate,label,kind\nAB123CD,Unit 1,allow\nBAD1,stolen,block\n")
    out = tmp_path / "snap.json"
    common = ["--key", str(tmp_path / "site.key"), "--site", "estate"]
    assert allowlist_publish.main(["snapshot", *common, "--version", "4", str(old), "--out", str(out)]) == 0
    snap = open_envelope(out.read_bytes(), keys, 1 << 20, "snapshot")
    assert snap["version"] == 4 and [e["plate"] for e in snap["entries"]] == ["AB123CD", "XY99"]
    assert allowlist_publish.main(["delta", *common, "--from-version", "4", str(old), str(new), "--out", str(out)]) == 0
    delta = open_envelope(out.read_bytes(), keys, 1 << 20, "delta")
    assert delta["remove"] == ["XY99"] and [e["plate"] for e in delta["add"]] == ["BAD1"] and delta["version"] == 5
    bad = tmp_path / "bad.csv"
    bad.write_text("AB1,x,perhaps\n")
    assert allowlist_publish.main(["snapshot", *common, "--version", "5", str(bad)]) == 1
    assert "bad.csv:1: kind" in capsys.readouterr().err


@pytest.mark.mosquitto
def test_publish_and_command_round_trip(tmp_path, mosquitto, capsys):
    host, port = mosquitto
    prefix = tmp_path / "site"
    allowlist_publish.main(["keygen", "--out", str(prefix)])
    key = load_private_key(tmp_path / "site.key")
    cfg = make_config(tmp_path, port, key)
    store = AllowlistStore(cfg.access_db())
    bridge = MqttBridge(cfg, store)
    bridge.set_command_handler(lambda name, args, origin: {"handled": name, "args": args})
    bridge.start()
    try:
        assert bridge.wait_connected(10)
        csv = tmp_path / "list.csv"
        csv.write_text("AB123CD,Unit 1\n")
        net = ["--host", host, "--port", str(port), "--publish"]
        common = ["--key", str(tmp_path / "site.key"), "--site", "estate"]
        assert allowlist_publish.main(["snapshot", *common, "--version", "9", str(csv), *net]) == 0
        assert wait_until(lambda: store.version == 9)
        capsys.readouterr()
        assert allowlist_publish.main(["command", *common, "--gate", "north", "open", "--arg", "reason=visitor",
                                       "--wait", "5", *net]) == 0
        result = json.loads(capsys.readouterr().out)
        assert result["ok"] and result["result"] == {"handled": "open", "args": {"reason": "visitor"}}
    finally:
        bridge.stop()
        store.close()
