"""tools/install.sh staged into a temporary root: layout, user, idempotence, upgrade keeps config and state."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "tools" / "install.sh"
pytestmark = pytest.mark.skipif(shutil.which("systemd-sysusers") is None, reason="needs systemd-sysusers")


def install(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT), "--root", str(root), *args], capture_output=True, text=True,
                          timeout=300)


def tree(root: Path) -> dict[str, tuple]:
    """Every path below *root* with mode, owner and content hash (or link target)."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if "/venv/lib/" in rel or rel.endswith(".pwd.lock"):
            continue
        st = path.lstat()
        if stat.S_ISLNK(st.st_mode):
            what = ("link", os.readlink(path))
        elif stat.S_ISDIR(st.st_mode):
            what = ("dir",)
        else:
            what = ("file", hashlib.sha256(path.read_bytes()).hexdigest())
        out[rel] = (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, what)
    return out


def ids(root: Path, name: str) -> tuple[int, int, str]:
    user = next(line.split(":") for line in (root / "etc/passwd").read_text().splitlines()
                if line.startswith(name + ":"))
    return int(user[2]), int(user[3]), user[6]


def group_members(root: Path) -> dict[str, set[str]]:
    return {f[0]: set(filter(None, f[3].split(","))) for f in
            (line.split(":") for line in (root / "etc/group").read_text().splitlines())}


def test_staged_install_layout(tmp_path):
    root = tmp_path / "root"
    proc = install(root, "--no-pip")
    assert proc.returncode == 0, proc.stderr
    uid, gid, shell = ids(root, "plategate")
    assert shell == "/usr/sbin/nologin"
    groups = group_members(root)
    assert {"gpio", "video", "dialout"} <= {g for g, members in groups.items() if "plategate" in members}

    for shipped in (ROOT / "systemd").glob("*.service"):  # every unit, the lane template included
        assert (root / "etc/systemd/system" / shipped.name).read_text() == shipped.read_text()
    wants = root / "etc/systemd/system/multi-user.target.wants/plategate.service"
    assert os.readlink(wants) == "/etc/systemd/system/plategate.service"
    assert not list((root / "etc/systemd/system/multi-user.target.wants").glob("plategate@*"))
    assert (root / "usr/lib/sysusers.d/plategate.conf").read_text() == (ROOT / "systemd/plategate.sysusers").read_text()
    assert (root / "usr/lib/tmpfiles.d/plategate.conf").is_file()

    cfg = root / "etc/plategate/plategate.toml"
    assert cfg.read_text() == (ROOT / "config/plategate.toml").read_text()
    assert stat.S_IMODE(cfg.stat().st_mode) == 0o640
    etc = (root / "etc/plategate").stat()
    assert stat.S_IMODE(etc.st_mode) == 0o750
    state = (root / "var/lib/plategate").stat()
    assert stat.S_IMODE(state.st_mode) == 0o750 and (state.st_uid, state.st_gid) == (uid, gid)
    if os.geteuid() == 0:
        assert (cfg.stat().st_uid, cfg.stat().st_gid) == (0, gid) and etc.st_gid == gid

    assert (root / "opt/plategate/venv/bin/python").exists()
    assert "include-system-site-packages = true" in (root / "opt/plategate/venv/pyvenv.cfg").read_text()
    assert os.readlink(root / "usr/local/bin/platectl") == "/opt/plategate/venv/bin/platectl"
    assert os.readlink(root / "usr/local/bin/plategate-site") == "/opt/plategate/venv/bin/plategate-site"
    assert (root / "opt/plategate/share/doc/plategate/examples/site.toml").read_text() == \
        (ROOT / "config/site.toml").read_text()
    assert (root / "opt/plategate/share/doc/plategate/README.md").read_text() == (ROOT / "README.md").read_text()
    assert (root / "opt/plategate/share/doc/plategate/docs/install.md").is_file()
    assert (root / "opt/plategate/VERSION").read_text().strip()


def test_idempotent_and_upgrade_keeps_config_and_state(tmp_path):
    root = tmp_path / "root"
    assert install(root, "--no-pip").returncode == 0
    first = tree(root)
    proc = install(root, "--no-pip")
    assert proc.returncode == 0, proc.stderr
    assert tree(root) == first
    assert "reusing the venv" in proc.stdout

    cfg = root / "etc/plategate/plategate.toml"
    cfg.write_text(cfg.read_text().replace('site_id = "oakfield"', 'site_id = "mysite"'))
    journal = root / "var/lib/plategate/journal.db"
    journal.write_bytes(b"events")
    proc = install(root, "--no-pip")
    assert proc.returncode == 0, proc.stderr
    assert 'site_id = "mysite"' in cfg.read_text()
    assert journal.read_bytes() == b"events"
    assert (root / "etc/plategate/plategate.toml.dist").read_text() == (ROOT / "config/plategate.toml").read_text()
    assert "kept" in proc.stdout and "plategate.toml.dist" in proc.stdout
    passwd = (root / "etc/passwd").read_text().splitlines()
    assert sum(line.startswith("plategate:") for line in passwd) == 1  # the user is not duplicated


def test_prefix_and_no_enable(tmp_path):
    root = tmp_path / "root"
    proc = install(root, "--no-pip", "--no-enable", "--prefix", "/srv/pg")
    assert proc.returncode == 0, proc.stderr
    unit = (root / "etc/systemd/system/plategate.service").read_text()
    assert "ExecStart=/srv/pg/venv/bin/plategated --config /etc/plategate/plategate.toml" in unit
    assert "/opt/plategate" not in unit
    assert not (root / "etc/systemd/system/multi-user.target.wants/plategate.service").exists()
    assert (root / "srv/pg/venv/bin/python").exists()


def test_lanes_get_their_own_config_and_units(tmp_path):
    """--lane entry --lane exit: one config and one enabled plategate@NAME each, no single-lane unit;
    the lane files leave state_dir, gate_id and the socket to the instance; upgrades keep them."""
    from plategate.config import load_config
    from plategate.instance import apply_instance

    root = tmp_path / "root"
    proc = install(root, "--no-pip", "--lane", "entry", "--lane", "exit")
    assert proc.returncode == 0, proc.stderr
    wants = root / "etc/systemd/system/multi-user.target.wants"
    for lane in ("entry", "exit"):
        assert os.readlink(wants / f"plategate@{lane}.service") == "/etc/systemd/system/plategate@.service"
        cfg_file = root / "etc/plategate" / f"{lane}.toml"
        assert stat.S_IMODE(cfg_file.stat().st_mode) == 0o640
        cfg = apply_instance(load_config(cfg_file), lane)
        assert (cfg.gate_id, str(cfg.state_dir)) == (lane, f"/var/lib/plategate/{lane}")
        assert str(cfg.control.socket) == f"/run/plategate/{lane}/control.sock"
    assert not (wants / "plategate.service").exists()
    assert not (root / "etc/plategate/plategate.toml").exists()

    entry = root / "etc/plategate/entry.toml"
    entry.write_text(entry.read_text() + "\n[lane]\nleaving = \"none\"\n")
    (root / "var/lib/plategate/entry").mkdir(parents=True, exist_ok=True)
    (root / "var/lib/plategate/entry/journal.db").write_bytes(b"entry events")
    proc = install(root, "--no-pip", "--lane", "entry", "--lane", "exit")
    assert proc.returncode == 0, proc.stderr
    assert 'leaving = "none"' in entry.read_text()
    assert (root / "etc/plategate/entry.toml.dist").is_file() and not (root / "etc/plategate/exit.toml.dist").exists()
    assert (root / "var/lib/plategate/entry/journal.db").read_bytes() == b"entry events"


def test_refuses_a_32_bit_python(tmp_path):
    fake = tmp_path / "python32"
    fake.write_text("#!/bin/sh\necho 32\n")
    fake.chmod(0o755)
    proc = install(tmp_path / "root", "--no-pip", "--python", str(fake))
    assert proc.returncode != 0
    assert "install.sh: error: a 64-bit OS is required" in proc.stderr and "Raspberry Pi OS (64-bit)" in proc.stderr
    assert not (tmp_path / "root/opt").exists()


@pytest.mark.parametrize("args, message", [
    (["--frobnicate"], "install.sh: error: unknown option '--frobnicate' (see --help)"),
    (["--prefix", "relative/dir"], "install.sh: error: --prefix must be an absolute path, got 'relative/dir'"),
    (["--lane", "../x"], "install.sh: error: --lane '../x': use letters, digits, '_' or '-' (e.g. entry)"),
])
def test_bad_options(tmp_path, args, message):
    proc = install(tmp_path / "root", *args)
    assert proc.returncode != 0
    assert proc.stderr.strip() == message


def test_help():
    proc = subprocess.run(["bash", str(SCRIPT), "--help"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0 and "--root DIR" in proc.stdout and "--no-pip" in proc.stdout


@pytest.mark.slow
def test_full_install_with_pip(tmp_path):
    """The real pip step into the staged venv (from the configured package index, progress shown);
    the installed platectl runs; every unit verifies."""
    root = tmp_path / "root"
    proc = install(root)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Successfully installed" in proc.stdout and "pip shows each package" in proc.stdout
    venv_bin = root / "opt/plategate/venv/bin"
    out = subprocess.run([str(venv_bin / "platectl"), "--version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("platectl ")
    env = dict(os.environ, PLATEGATE_CONFIG=str(root / "etc/plategate/plategate.toml"))
    out = subprocess.run([str(venv_bin / "platectl"), "status"], capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 1 and out.stderr.strip().startswith("platectl: error: plategated is not running")
    if (ROOT / "models" / "reader.tflite").exists():  # the shipped models land in the venv and verify
        shared = root / "opt/plategate/venv/share/plategate/models"
        assert (shared / "reader.tflite").exists() and (shared / "reader.json").exists()
        out = subprocess.run([str(venv_bin / "platectl"), "diag", "--json", "--only", "models"], capture_output=True,
                             text=True, timeout=120, env=env)
        results = json.loads(out.stdout)["checks"]
        assert {c["name"] for c in results} == {"config", "models"}, results
        assert results[0]["status"] == "PASS", results
        for name in ("reader", "detector"):
            if (ROOT / "models" / f"{name}.tflite").exists():
                found = [c for c in results if c["message"].startswith(f"{name}: ")]
                assert found and found[0]["status"] == "PASS", results
                assert "matches its card" in found[0]["message"]
    analyze = shutil.which("systemd-analyze")
    if analyze:  # every installed unit, with the real executables of the staged venv
        units = tmp_path / "units"
        units.mkdir()
        for installed in (root / "etc/systemd/system").glob("*.service"):
            text = installed.read_text().replace("/opt/plategate/venv", str(root / "opt/plategate/venv"))
            (units / installed.name).write_text(text)
            if installed.name.endswith("@.service"):
                (units / installed.name.replace("@.", "@lane1.")).write_text(text)
        for unit in units.glob("*.service"):
            if unit.name.endswith("@.service"):
                continue
            proc = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)
            assert proc.returncode == 0 and not (proc.stdout + proc.stderr).strip(), (unit, proc.stdout + proc.stderr)


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed (apt-get install shellcheck)")
@pytest.mark.parametrize("script", ["install.sh", "test.sh", "demo.sh", "venv.sh", "train_setup.sh"])
def test_shellcheck(script):
    proc = subprocess.run(["shellcheck", "-x", f"tools/{script}"], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout
