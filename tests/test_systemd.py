"""The systemd unit: hardening exposure, verification, and the sysusers/tmpfiles files."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "systemd" / "plategate.service"
ANALYZE = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")


def unit_settings() -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def test_unit_has_the_required_settings():
    s = unit_settings()
    assert s["Type"] == ["notify"] and s["Restart"] == ["on-failure"] and s["WatchdogSec"]
    assert s["User"] == ["plategate"] and s["SupplementaryGroups"] == ["gpio video dialout"]
    for key in ("StateDirectory", "RuntimeDirectory", "ConfigurationDirectory"):
        assert s[key] == ["plategate"]
    assert s["NoNewPrivileges"] == ["yes"] and s["ProtectSystem"] == ["strict"] and s["ProtectHome"] == ["yes"]
    assert s["PrivateTmp"] == ["yes"] and s["CapabilityBoundingSet"] == [""] and s["DevicePolicy"] == ["closed"]
    assert s["RestrictAddressFamilies"] and s["SystemCallFilter"]
    assert s["ExecStart"] == ["/opt/plategate/venv/bin/plategated --config /etc/plategate/plategate.toml"]
    devices = " ".join(s["DeviceAllow"])
    for needed in ("video4linux", "media", "dma_heap", "gpiochip", "ttyUSB"):
        assert needed in devices


@needs_analyze
@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "systemd").glob("*.service")))
def test_security_exposure_at_most_2_5(tmp_path, name):
    unit = tmp_path / name.replace("@.", "@lane1.")
    unit.write_text((ROOT / "systemd" / name).read_text())
    proc = subprocess.run([ANALYZE, "security", "--offline=yes", str(unit)], capture_output=True, text=True,
                          timeout=60)
    match = re.search(rf"Overall exposure level for {re.escape(unit.name)}: (\d+\.\d+)", proc.stdout + proc.stderr)
    assert match, proc.stdout + proc.stderr
    assert float(match.group(1)) <= 2.5, proc.stdout


@needs_analyze
def test_security_threshold_is_enforced():
    """The same tool fails a unit without the hardening (the check above can fail)."""
    proc = subprocess.run([ANALYZE, "security", "--offline=yes", "--threshold=25", str(UNIT)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout[-2000:]
    bare = UNIT.parent / ".bare-test.service"
    try:
        bare.write_text("[Service]\nExecStart=/bin/true\n")
        proc = subprocess.run([ANALYZE, "security", "--offline=yes", "--threshold=25", str(bare)],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode != 0
    finally:
        bare.unlink(missing_ok=True)


@needs_analyze
@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "systemd").glob("*.service")))
def test_verify(tmp_path, name):
    """systemd-analyze verify on every shipped unit (a template as an instance), with the executables
    pointed at real files on this machine."""
    text = (ROOT / "systemd" / name).read_text().replace("/opt/plategate/venv", str(tmp_path / "opt" / "venv"))
    for exe in set(re.findall(r"/opt/venv/bin/([\w-]+)", text.replace(str(tmp_path), ""))):
        fake = tmp_path / "opt" / "venv" / "bin" / exe
        fake.parent.mkdir(parents=True, exist_ok=True)
        fake.write_text("#!/bin/sh\nexit 0\n")
        fake.chmod(0o755)
    (tmp_path / name).write_text(text)
    unit = tmp_path / name.replace("@.", "@lane1.")
    unit.write_text(text)
    proc = subprocess.run([ANALYZE, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    out = (proc.stdout + proc.stderr).strip()
    if "Failed to connect to bus" in out or "Failed to initialize manager" in out:
        pytest.skip(f"systemd-analyze verify cannot run here: {out.splitlines()[0]}")
    assert proc.returncode == 0, out
    assert out == "", out


def test_sysusers_and_tmpfiles_content():
    sysusers = (ROOT / "systemd" / "plategate.sysusers").read_text()
    assert re.search(r"^u plategate\s+-:plategate .* /var/lib/plategate /usr/sbin/nologin$", sysusers, re.M)
    for group in ("gpio", "video", "dialout"):
        assert re.search(rf"^m plategate\s+{group}$", sysusers, re.M)
    tmpfiles = (ROOT / "systemd" / "plategate.tmpfiles").read_text()
    assert re.search(r"^d /var/lib/plategate\s+0750 plategate plategate -$", tmpfiles, re.M)
    assert re.search(r"^d /etc/plategate\s+0750 root\s+plategate -$", tmpfiles, re.M)
