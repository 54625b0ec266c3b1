"""plategate-web.service: its own user in the plategate group, off until a password is set, hardened."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "systemd" / "plategate-web.service"
TEMPLATE = ROOT / "systemd" / "plategate-web@.service"
ANALYZE = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")


def settings() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            out.setdefault(key.strip(), []).append(value.strip())
    return out


def test_web_unit_settings():
    s = settings()
    assert s["ExecStart"] == ["/opt/plategate/venv/bin/plategate-web --config /etc/plategate/plategate.toml"]
    assert s["User"] == ["plategate-web"] and s["SupplementaryGroups"] == ["plategate"]
    assert s["ConditionPathExists"] == ["/etc/plategate/web.passwd"] and s["RestartPreventExitStatus"] == ["3"]
    assert s["PrivateDevices"] == ["yes"] and s["ProtectSystem"] == ["strict"] and s["NoNewPrivileges"] == ["yes"]
    assert "StateDirectory" not in s  # it writes nothing: the daemon holds the state
    sysusers = (ROOT / "systemd" / "plategate.sysusers").read_text()
    assert re.search(r"^u plategate-web\s+-\s+.*/usr/sbin/nologin$", sysusers, re.M)
    assert re.search(r"^m plategate-web\s+plategate$", sysusers, re.M)


@needs_analyze
def test_web_unit_exposure_and_verify(tmp_path):
    proc = subprocess.run([ANALYZE, "security", "--offline=yes", str(UNIT)], capture_output=True, text=True,
                          timeout=60)
    match = re.search(r"Overall exposure level for plategate-web.service: (\d+\.\d+)", proc.stdout + proc.stderr)
    assert match and float(match.group(1)) <= 2.5, proc.stdout + proc.stderr
    fake = tmp_path / "venv" / "bin" / "plategate-web"
    fake.parent.mkdir(parents=True)
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    unit = tmp_path / "plategate-web.service"
    unit.write_text(UNIT.read_text().replace("/opt/plategate/venv", str(tmp_path / "venv")))
    proc = subprocess.run([ANALYZE, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    out = (proc.stdout + proc.stderr).strip()
    if "Failed to connect to bus" in out or "Failed to initialize manager" in out:
        pytest.skip(f"systemd-analyze verify cannot run here: {out.splitlines()[0]}")
    assert proc.returncode == 0 and out == "", out


def test_install_stages_the_web_unit_without_enabling_it(tmp_path):
    root = tmp_path / "root"
    proc = subprocess.run(["bash", str(ROOT / "tools" / "install.sh"), "--root", str(root), "--no-pip"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (root / "etc/systemd/system/plategate-web.service").read_text() == UNIT.read_text()
    assert (root / "etc/systemd/system/plategate-web@.service").read_text() == TEMPLATE.read_text()
    assert not (root / "etc/systemd/system/multi-user.target.wants/plategate-web.service").exists()
    assert os.readlink(root / "usr/local/bin/plategate-web") == "/opt/plategate/venv/bin/plategate-web"
    assert re.search(r"^plategate-web:", (root / "etc/passwd").read_text(), re.M)



def test_web_template_matches_the_single_unit():
    """plategate-web@.service is plategate-web.service for one lane: the hardening cannot drift apart."""
    single = [line for line in UNIT.read_text().splitlines() if not line.startswith("#")]
    template = [line for line in TEMPLATE.read_text().splitlines() if not line.startswith("#")]
    swaps = {
        "Description=plategate web console": "Description=plategate web console, lane %i",
        "After=network-online.target plategate.service": "After=network-online.target plategate@%i.service",
        "ExecStart=/opt/plategate/venv/bin/plategate-web --config /etc/plategate/plategate.toml":
            "ExecStart=/opt/plategate/venv/bin/plategate-web --instance %i",
    }
    assert template == [swaps.get(line, line) for line in single]


def test_web_console_of_a_lane_reads_the_lanes_file(tmp_path, monkeypatch, capsys):
    pytest.importorskip("argon2", reason="the web extra is not installed")
    from plategate.web import server

    monkeypatch.setenv("PLATEGATE_CONFIG_DIR", str(tmp_path))
    monkeypatch.delenv("PLATEGATE_CONFIG", raising=False)
    passwd = tmp_path / "entry-web.passwd"
    (tmp_path / "entry.toml").write_text(f'[web]\npassword_file = "{passwd}"\n')
    assert server.main(["-i", "entry"]) == server.EXIT_NO_PASSWORD
    assert str(passwd) in capsys.readouterr().err
    assert server.main(["-i", "no/such"]) == 1
    assert "instance name 'no/such'" in capsys.readouterr().err
    assert server.main(["-i", "exit"]) == 1  # no /etc/plategate/exit.toml
    assert "exit.toml" in capsys.readouterr().err
