"""``plategated --check-config`` as installers and install.sh run it (the real process):
strict types, and everything starting needs, each error naming its key path."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from plategate.config import parse_config
from plategate.errors import ConfigError
from plategate.mqtt.signing import generate_private_key, public_key_b64
from plategate.preflight import preflight
from tests.cli_support import write_frames

ROOT = Path(__file__).resolve().parent.parent


def check(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "plategate.service", "--check-config", str(path)],
                          capture_output=True, text=True, timeout=120)


def good_config(tmp: Path) -> str:
    frames = write_frames(tmp / "frames", moving=False)
    return (f'state_dir = "{tmp / "state"}"\n[camera]\nbackend = "replay"\nsource = "{frames}"\n'
            f'[gate]\npin_factory = "mock"\n[control]\nsocket = "{tmp / "c.sock"}"\ngroup = ""\n')


@pytest.mark.parametrize(("toml", "expected"), [
    ('[gate.relay]\npulse_ms = "500"\n', "gate.relay.pulse_ms: must be a valid integer, not the string '500'"),
    ('[gate.relay]\nactive_high = "off"\n', "gate.relay.active_high: must be a valid boolean, not the string 'off'"),
    ('[mqtt]\nenabled = "yes"\n', "mqtt.enabled: must be a valid boolean, not the string 'yes'"),
    ("watchdog = 1\n", "watchdog: must be a valid boolean, not the integer 1"),
    ('[camera]\nfps = "10"\n', "camera.fps: must be a valid number, not the string '10'"),
    ("[camera]\nsource = 5\n", "camera.source: must be a valid string, not the integer 5"),
    ("state_dir = 5\n", "state_dir: must be a path (a string), not the integer 5"),
])
def test_values_of_the_wrong_type_are_refused(tmp_path, toml, expected):
    path = tmp_path / "p.toml"
    path.write_text(toml)
    done = check(path)
    assert done.returncode == 2 and expected in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_strict_types_still_take_what_toml_means():
    cfg = parse_config({"camera": {"fps": 10, "source": "x", "backend": "replay"}, "state_dir": "/tmp/x",
                        "gate": {"relay": {"pin": "BOARD11"}}, "motion": {"min_area": 1}})
    assert cfg.camera.fps == 10.0 and cfg.state_dir == Path("/tmp/x") and cfg.gate.relay.pin == "BOARD11"
    with pytest.raises(ConfigError, match="journal.retention_days"):
        parse_config({"journal": {"retention_days": "30"}})


def test_a_good_config_passes(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(good_config(tmp_path))
    done = check(path)
    assert done.returncode == 0, done.stderr
    assert "configuration is valid" in done.stdout
    assert not (tmp_path / "state").exists()  # checking creates nothing


def test_everything_starting_needs_is_checked_with_key_paths(tmp_path):
    key = public_key_b64(generate_private_key().public_key())
    ro = tmp_path / "readonly"
    ro.mkdir()
    ro.chmod(0o555)
    text = good_config(tmp_path).replace(f'state_dir = "{tmp_path / "state"}"', f'state_dir = "{ro / "state"}"')
    text = text.replace('pin_factory = "mock"\n', 'pin_factory = "mock"\n[gate.relay]\npin = "BOARD13"\n'
                        '[gate.loop_detector]\nenabled = true\n[gate.photo_eye]\nenabled = true\npin = "GPIO99"\n')
    text += (f'[recognition]\ndetector_model = "{tmp_path / "nope.tflite"}"\n'
             f'[access]\nallowlist_file = "{tmp_path / "missing.csv"}"\n'
             f'[mqtt]\nenabled = true\nsite_public_keys = ["{key}", "bm90IGEga2V5"]\n'
             f'password_file = "{tmp_path / "pw"}"\n'
             f'[[webhooks]]\nurl = "http://127.0.0.1:9/hook"\nsecret_file = "{tmp_path / "hook.secret"}"\n')
    path = tmp_path / "p.toml"
    path.write_text(text)
    done = check(path)
    err = done.stderr
    assert done.returncode == 2, err
    # BOARD13 is GPIO27, the loop detector's default pin
    assert "gate.loop_detector.pin: GPIO27 is already gate.relay.pin" in err
    assert "gate.photo_eye.pin: 'GPIO99' is not a GPIO pin" in err
    assert "mqtt.site_public_keys[1]: public key 'bm90IGEga2V5': 9 bytes, an Ed25519 key has 32" in err
    assert "mqtt.site_public_keys[0]" not in err
    assert f"recognition.detector_model: model file {tmp_path / 'nope.tflite'} is missing" in err
    assert "recognition.reader_model" not in err  # the shipped reader is fine
    assert f"access.allowlist_file: {tmp_path / 'missing.csv'}" in err
    assert f"mqtt.password_file: {tmp_path / 'pw'} does not exist" in err
    assert f"webhooks.0.secret_file: {tmp_path / 'hook.secret'} does not exist" in err
    if os.geteuid() != 0 or not os.access(ro, os.W_OK):  # root may write anywhere
        assert f"state_dir: {ro / 'state'} cannot be created: {ro} is not writable" in err
    assert "Traceback" not in err


def test_photo_eye_defaults_to_gpio22_as_wiring_md_says(tmp_path):
    cfg = parse_config({"gate": {"loop_detector": {"enabled": True}, "photo_eye": {"enabled": True}}})
    assert cfg.gate.loop_detector.pin == 27 and cfg.gate.photo_eye.pin == 22
    assert not cfg.gate.photo_eye.triggers_capture and cfg.gate.loop_detector.triggers_capture
    assert "GPIO 22" in (ROOT / "docs" / "wiring.md").read_text() or "GPIO22" in (ROOT / "docs" / "wiring.md").read_text()
    assert not [p for p in preflight(cfg, load_models=False) if ".pin" in p]


def test_a_truncated_model_is_named(tmp_path):
    bad = tmp_path / "reader.tflite"
    shipped = parse_config({}).recognition.reader_path()
    bad.write_bytes(shipped.read_bytes()[:1000])
    shutil.copy(shipped.with_suffix(".json"), bad.with_suffix(".json"))
    cfg = parse_config({"recognition": {"reader_model": str(bad)}, "state_dir": str(tmp_path / "s")})
    problems = preflight(cfg, load_models=False)
    assert any(p.startswith("recognition.reader_model: model file") and "1000 bytes" in p for p in problems), problems


def test_the_lane_presence_db_folder_is_checked(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    cfg = parse_config({"state_dir": str(tmp_path / "s"),
                        "lane": {"presence": "enter", "presence_db": str(blocker / "lanes" / "presence.db")}})
    problems = preflight(cfg, load_models=False)
    assert f"lane.presence_db: {blocker} is not a directory" in problems, problems
    cfg = parse_config({"state_dir": str(tmp_path / "s"),
                        "lane": {"presence": "enter", "presence_db": str(tmp_path / "lanes" / "presence.db")}})
    assert not [p for p in preflight(cfg, load_models=False) if p.startswith("lane.")]


def test_picamera2_controls_are_shown_and_tls_key_needs_its_cert(tmp_path):
    text = good_config(tmp_path).replace('backend = "replay"', 'backend = "picamera2"')
    text = "\n".join(line for line in text.splitlines() if not line.startswith("source")) + "\n"
    path = tmp_path / "p.toml"
    path.write_text(text.replace("[camera]\n", "[camera]\nrotation = 180\nfocus = \"manual\"\nlens_position = 2\n"))
    done = check(path)
    assert done.returncode == 0, done.stderr
    assert "camera 0, hflip+vflip, focus manual at 2 dioptres" in done.stdout
    path.write_text(text + f'[mqtt]\nenabled = true\n[mqtt.tls]\nkey_file = "{tmp_path / "k.pem"}"\n')
    done = check(path)
    assert done.returncode == 2
    assert "mqtt.tls.key_file: needs cert_file (the client certificate the key belongs to)" in done.stderr
