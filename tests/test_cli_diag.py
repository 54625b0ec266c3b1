"""platectl diag: a broken setup gives the right FAIL lines; a working one passes."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from cli_support import FakeDaemon, cleanup, short_dir, write_config

from plategate.cli import diag, hostinfo
from plategate.cli.main import main
from tests.brokers import free_port


@pytest.fixture
def root():
    path = short_dir()
    yield path
    cleanup(path)


@pytest.fixture
def synced_clock(monkeypatch):
    monkeypatch.setattr(hostinfo, "clock_synchronised", lambda: (True, "test"))


def results(capsys) -> dict:
    data = json.loads(capsys.readouterr().out)
    return {c["name"]: c for c in data["checks"]}


def test_broken_setup_reports_fail_lines(root, capsys, synced_clock):
    port = free_port()  # nothing listens there
    cfg = write_config(root, extra=f"""
[recognition]
detector_model = "{root}/nope/detector.tflite"
reader_model = "{root}/nope/reader.tflite"

[mqtt]
enabled = true
host = "127.0.0.1"
port = {port}
""")
    text = cfg.read_text().replace(f'source = "{root}/frames"', f'source = "{root}/no-such-footage"')
    cfg.write_text(text)
    assert main(["diag", "--config", str(cfg), "--camera-seconds", "0.5", "--mqtt-timeout", "2"]) == 1
    out = capsys.readouterr().out
    lines = out.splitlines()

    def line(name: str, n: int = 0) -> str:
        found = [x for x in lines if x.split()[1:2] == [name]]
        assert len(found) > n, out
        return found[n]

    assert line("models").startswith("FAIL") and f"detector: missing file {root}/nope/detector.tflite" in out
    coarse = line("models", 1)
    assert coarse.startswith("PASS") and "coarse: detector-street-coarse.tflite loads" in coarse
    look = line("models", 2)
    assert look.startswith("PASS") and "second look: detector-look.tflite loads" in look
    assert line("models", 3).startswith("FAIL") and "reader:" in line("models", 3)
    assert line("camera").startswith("FAIL") and "no-such-footage" in line("camera")
    assert line("mqtt").startswith("FAIL") and f"cannot connect to 127.0.0.1:{port}" in line("mqtt")
    assert "Connection refused" in line("mqtt")
    assert line("daemon").startswith("WARN") and "not running" in line("daemon")
    assert line("inputs").startswith("PASS")  # none enabled
    assert line("relay").startswith("WARN") and "MOCK pins" in line("relay")
    assert line("clock").startswith("PASS")
    assert "hint: check mqtt.host/port" in out
    assert "failed" in lines[-1] and "Traceback" not in out


def test_invalid_config_fails_and_skips_the_rest(root, capsys):
    bad = root / "bad.toml"
    bad.write_text("[gate.relay]\npulse_ms = 5\n")
    assert main(["diag", "--json", "--config", str(bad)]) == 1
    res = results(capsys)
    assert res["config"]["status"] == "FAIL"
    assert "gate.relay.pulse_ms" in res["config"]["message"]
    assert {r["status"] for n, r in res.items() if n != "config"} == {"SKIP"}


def test_working_setup_passes(root, capsys, synced_clock, mosquitto):
    host, port = mosquitto
    cfg = write_config(root, fps=10, extra=f"""
[gate.loop_detector]
enabled = true
pin = 27

[mqtt]
enabled = true
host = "{host}"
port = {port}
""")
    (root / "state").mkdir()
    rc = main(["diag", "--json", "--config", str(cfg), "--camera-seconds", "1", "--skip", "models", "--skip", "disk"])
    res = results(capsys)
    assert res["config"]["status"] == "PASS"
    assert res["camera"]["status"] == "PASS", res["camera"]
    assert "fps (configured 10" in res["camera"]["message"] and "320x240" in res["camera"]["message"]
    # the config runs on gpiozero's mock pins: said, as a warning
    assert res["inputs"]["status"] == "WARN" and "loop_detector (pin 27) clear" in res["inputs"]["message"]
    assert "MOCK pins" in res["inputs"]["message"] and "MOCK pins" in res["relay"]["message"]
    assert res["mqtt"]["status"] == "PASS" and "round trip" in res["mqtt"]["message"]
    assert "models" not in res and "disk" not in res
    assert rc == 0


def test_diag_uses_running_daemon(root, capsys, synced_clock):
    cfg = write_config(root)
    with FakeDaemon(root):
        main(["diag", "--json", "--config", str(cfg), "--only", "daemon", "--only", "camera", "--only", "mqtt"])
    res = results(capsys)
    assert res["daemon"]["status"] == "PASS" and "state running" in res["daemon"]["message"]
    assert res["camera"]["status"] == "PASS" and "measured by plategated" in res["camera"]["message"]
    assert res["mqtt"]["status"] == "WARN"  # disabled in this config


def test_clock_and_disk_checks(root, monkeypatch):
    cfg_path = write_config(root)
    from plategate.config import load_config

    ctx = diag.Context(args=None, cfg=load_config(cfg_path))
    monkeypatch.setattr(hostinfo, "clock_synchronised", lambda: (False, "timedatectl"))
    (res,) = diag.check_clock(ctx)
    assert res.status == diag.Status.FAIL and "NOT synchronised (timedatectl)" in res.message
    monkeypatch.setattr(hostinfo, "clock_synchronised", lambda: (None, "unknown"))
    assert diag.check_clock(ctx)[0].status == diag.Status.WARN
    (res,) = diag.check_disk(ctx)
    assert res.status == diag.Status.WARN and "does not exist yet" in res.message
    ctx.cfg.journal.min_free_mb = 10**12
    (res,) = diag.check_disk(ctx)
    assert res.status == diag.Status.FAIL and "below journal.min_free_mb" in res.message


def _card(model, content: bytes) -> None:
    import hashlib

    card = {"name": "reader", "task": "reader", "file": model.name, "size_bytes": len(content),
            "sha256": hashlib.sha256(content).hexdigest(), "license": "Apache-2.0",
            "input": {"shape": [1, 32, 128, 1], "normalisation": "x/255"}, "output": {"decoding": "ctc"}}
    model.with_suffix(".json").write_text(json.dumps(card))


def test_tampered_and_truncated_models_fail(root):
    model = root / "reader.tflite"
    original = b"TFL3" + bytes(range(200))
    _card(model, original)
    model.write_bytes(original[:-1] + b"X")  # same size, other content
    res = diag.check_one_model("reader", model, 1)
    assert res.status == diag.Status.FAIL and "sha256" in res.message and "reader.tflite" in res.message
    model.write_bytes(original[:50])
    res = diag.check_one_model("reader", model, 1)
    assert res.status == diag.Status.FAIL and ("truncated" in res.message or "sha256" in res.message)
    model.with_suffix(".json").unlink()
    assert diag.check_one_model("reader", model, 1).status == diag.Status.FAIL


def test_throttle_decoding():
    assert hostinfo.decode_throttled(0) == []
    assert hostinfo.decode_throttled(0x50005) == ["under-voltage now", "throttled now", "under-voltage has occurred",
                                                  "throttling has occurred"]


def test_mqtt_credentials_checked(root, tmp_path):
    """A broker with a password file: the right password passes, a wrong one is a clear FAIL."""
    from tests.brokers import Mosquitto, find_mosquitto, make_password_file

    if find_mosquitto() is None:
        pytest.skip("mosquitto is not installed (tools/test.sh installs it)")
    from plategate.config import load_config

    pwfile = make_password_file(tmp_path / "passwd", {"gate": "s3cret"})
    with Mosquitto(tmp_path / "broker", password_file=pwfile) as broker:
        secret = root / "mqtt-password"
        secret.write_text("s3cret\n")
        base = f'\n[mqtt]\nenabled = true\nhost = "{broker.host}"\nport = {broker.port}\nusername = "gate"\n'
        good = load_config(write_config(root, extra=base + f'password_file = "{secret}"\n'))
        ok, message = diag.mqtt_round_trip(good, 5)
        assert ok, message
        bad = load_config(write_config(root, extra=base + 'password = "wrong"\n'))
        ok, message = diag.mqtt_round_trip(bad, 5)
        assert not ok and "refused the connection" in message and "authori" in message.lower(), message


def test_files_check(root, monkeypatch):
    from plategate.cli import filecheck
    from plategate.config import load_config

    private = root / "private"
    private.mkdir(mode=0o700)
    listed = private / "allow.csv"
    listed.write_text("AB123CD\n")
    cfg = load_config(write_config(root, extra=f'[access]\nallowlist_file = "{listed}"\n[recognition]\n'
                                               f'detector_model = "{root}/none.tflite"\nreader_model = "{root}/none.tflite"\n'))
    ctx = diag.Context(args=None, cfg=cfg)
    monkeypatch.setattr(filecheck, "service_identity", lambda user="plategate": (65534, {65534}))
    (res,) = [r for r in diag.check_files(ctx)]
    assert res.status == diag.Status.WARN and "not readable by user plategate" in res.message
    os.chmod(private, 0o755)
    os.chmod(listed, 0o644)
    assert diag.check_files(ctx)[0].status == diag.Status.PASS
    monkeypatch.setattr(filecheck, "HIDDEN", (root,))
    (res,) = diag.check_files(ctx)
    assert res.status == diag.Status.WARN and "ProtectHome" in res.message
    listed.unlink()
    (res,) = diag.check_files(ctx)
    assert res.status == diag.Status.FAIL and f"access.allowlist_file: {listed} does not exist" == res.message


def test_result_names_are_the_check_names_that_only_and_skip_take(root, capsys):
    cfg = write_config(root)
    assert main(["diag", "--json", "--config", str(cfg), "--only", "models"]) in (0, 1)
    names = {c["name"] for c in json.loads(capsys.readouterr().out)["checks"]}
    assert names == {"config", "models"}
    choices = {n for n, _ in diag.CHECKS}
    assert main(["diag", "--json", "--config", str(cfg), "--skip", "mqtt", "--skip", "camera"]) in (0, 1)
    names = {c["name"] for c in json.loads(capsys.readouterr().out)["checks"]}
    assert names <= choices and "models" in names


def test_a_missing_second_detector_names_its_config_key(tmp_path):
    res = diag.check_one_model("second detector", tmp_path / "detector.tflite", 1)
    assert res.status == diag.Status.FAIL and "second detector: missing file" in res.message
    assert res.hint.endswith("recognition.second_detector_model")


def test_reads_count_the_sure_ones_and_suggest_formats(root, capsys):
    import time

    from cli_support import add_events

    from plategate.config import JournalConfig
    from plategate.journal import Journal, new_event_id

    cfg = write_config(root)
    assert main(["diag", "--json", "--config", str(cfg), "--only", "reads"]) == 0
    assert results(capsys)["reads"]["status"] == "SKIP"  # no journal yet
    state = root / "state"
    journal = Journal(state / "journal.db", state / "snapshots", JournalConfig())
    add_events(journal, [(f"AB{n:02d}CDE", "granted") for n in range(40)])  # read at 0.9
    now = time.time()
    journal.record({"id": new_event_id(now - 30 * 86400), "ts": now - 30 * 86400, "plate": "OLD1", "confidence": 0.2,
                    "decision": "unknown"})  # a month ago: not counted
    for i in range(10):
        journal.record({"id": new_event_id(now - i), "ts": now - i, "plate": f"KX{i}", "confidence": 0.3,
                        "decision": "unknown"}, np.full((40, 160, 3), 90, np.uint8))
    journal.record({"id": new_event_id(now), "ts": now, "plate": None, "decision": "granted", "reason": "manual_open"})
    assert main(["diag", "--json", "--config", str(cfg), "--only", "reads"]) == 0
    reads = results(capsys)["reads"]
    assert reads["status"] == "PASS", reads
    assert reads["message"].startswith("50 reads in 7 days, 80 % at >= 0.9; 10 unsure ones with a crop nobody")
    assert "this gate's plates fit LLDDLLL (100 %" in reads["message"]
    for i in range(40):
        journal.record({"id": new_event_id(now - 100 - i), "ts": now - 100 - i, "plate": f"ZZ{i}", "confidence": 0.5,
                        "decision": "unknown"})
    journal.close()
    assert main(["diag", "--config", str(cfg), "--only", "reads"]) == 0  # a warning, not a failure
    out = capsys.readouterr().out
    assert "WARN  reads   90 reads in 7 days, 44 % at >= 0.9" in out and "hint: look at the unsure reads" in out
