"""Config schema: defaults, key-path errors, unknown keys, relative paths, --check-config."""

from __future__ import annotations

from pathlib import Path

import pytest

from plategate.config import load_config, parse_config
from plategate.errors import ConfigError
from plategate.service import main as plategated

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name", ["plategate.toml", "demo.toml"])
def test_shipped_configs_are_valid(name):
    cfg = load_config(ROOT / "config" / name)
    assert cfg.camera.width > cfg.camera.lores_width


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"camera": {"fps": 0}}, "camera.fps: must be greater than 0"),
        ({"camera": {"backend": "replay"}}, "camera.source: required for backend 'replay'"),
        ({"camrea": {}}, "camrea: unknown key"),
        ({"gate": {"relay": {"colour": "red"}}}, "gate.relay.colour: unknown key"),
        ({"gate": {"relay": {"type": "serial"}}}, "gate.relay.serial_port: required"),
        ({"gate": {"relay": {"serial_open": "zz"}}}, "gate.relay.serial_open: not hex bytes"),
        ({"gate": {"relay": {"mode": "hold"}}}, "gate.relay.mode: 'hold' needs an enabled loop_detector"),
        ({"gate": {"photo_eye": {"active_high": True}}}, "gate.photo_eye.active_high: a pulled-up input"),
        ({"motion": {"roi": {"x1": 0.8, "x2": 0.2}}}, "motion.roi: x2 must be greater than x1"),
        ({"motion": {"threshold": 300}}, "motion.threshold: must be less than or equal to 255"),
        ({"access": {"timezone": "Mars/Olympus"}}, "access.timezone: unknown time zone"),
        ({"site_id": "a/b"}, "site_id: String should match pattern"),
        ({"recognition": {"plate_formats": ["LLX"]}}, "recognition.plate_formats.0: String should match"),
    ],
)
def test_errors_name_the_key_path(data, expected):
    with pytest.raises(ConfigError) as err:
        parse_config(data)
    assert expected in str(err.value)


def test_all_errors_are_listed_at_once():
    with pytest.raises(ConfigError) as err:
        parse_config({"camera": {"fps": -1, "width": 0}, "extra": 1})
    text = str(err.value)
    assert "camera.fps" in text and "camera.width" in text and "extra: unknown key" in text


def test_relative_paths_resolve_against_the_config_file(tmp_path):
    sub = tmp_path / "etc"
    sub.mkdir()
    (sub / "p.toml").write_text('state_dir = "state"\n[camera]\nbackend = "replay"\nsource = "clips"\n'
                                '[access]\nallowlist_file = "list.csv"\n')
    cfg = load_config(sub / "p.toml")
    assert cfg.state_dir == sub / "state"
    assert cfg.camera.source == str(sub / "clips")
    assert cfg.access.allowlist_file == sub / "list.csv"
    assert cfg.journal_db() == sub / "state" / "journal.db"


def test_unreadable_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[camera\nfps = 3\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(binary)


def test_check_config_cli(tmp_path, capsys):
    assert plategated(["--check-config", str(ROOT / "config" / "plategate.toml")]) == 0
    assert "configuration is valid" in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text("[camera]\nfps = 0\n[gate.relay]\npulse_ms = 10\n")
    assert plategated(["--check-config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "camera.fps: must be greater than 0" in err
    assert "gate.relay.pulse_ms: must be greater than or equal to 50" in err
    assert "Traceback" not in err
