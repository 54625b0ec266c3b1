"""The README's two commands (tools/test.sh, tools/demo.sh, .ci/run) use the project's own venv, never the system pip.

Two levels: every command the scripts run, recorded through shims on a PATH of
``shims:/usr/bin:/bin`` (a system ``pip``/``python3 -m pip`` fails as on Debian's
externally-managed Python); and the scripts' venv logic with the real Debian
``/usr/bin/python3`` and real pip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEBIAN_PY = Path("/usr/bin/python3")

# A python3 that records its arguments; it creates a venv whose python records too and
# succeeds; it refuses `-m pip` like Debian's externally-managed Python; `-c` checks run
# on the real interpreter.
PYTHON_SHIM = """#!/bin/bash
echo "system-python3 $*" >> "$SHIM_LOG"
if [ "$1" = -m ] && [ "$2" = venv ]; then
    mkdir -p "$3/bin"
    printf '#!/bin/bash\\necho "venv-python $*" >> "$SHIM_LOG"\\n' > "$3/bin/python"
    chmod +x "$3/bin/python"
    exit 0
fi
if [ "$1" = -m ] && [ "$2" = pip ]; then
    echo "error: externally-managed-environment" >&2; exit 1
fi
exec "$REAL_PYTHON" "$@"
"""
LOGGER_SHIM = """#!/bin/bash
echo "$(basename "$0") $*" >> "$SHIM_LOG"
[ "$(basename "$0")" != pip ] && [ "$(basename "$0")" != pip3 ] || exit 1
"""


@pytest.fixture
def clone(tmp_path):
    """The scripts and build files in a fresh folder, with shims first on a bare PATH."""
    repo = tmp_path / "plategate"
    for rel in ("tools/test.sh", "tools/demo.sh", "tools/venv.sh", ".ci/run", "setup.cfg", "pyproject.toml"):
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, repo / rel)
    shims = tmp_path / "shims"
    shims.mkdir()
    (shims / "python3").write_text(PYTHON_SHIM)
    for name in ("pip", "pip3", "apt-get", "sudo"):
        (shims / name).write_text(LOGGER_SHIM)
    for shim in shims.iterdir():
        shim.chmod(0o755)
    log = tmp_path / "commands.log"
    log.touch()
    env = {"PATH": f"{shims}:/usr/bin:/bin", "HOME": str(tmp_path), "SHIM_LOG": str(log),
           "REAL_PYTHON": sys.executable}
    yield repo, env, log


def run(repo: Path, env: dict, *cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", *cmd], cwd=repo, env=env, capture_output=True, text=True, timeout=120)


def test_ci_and_test_sh_use_only_the_venv(clone):
    repo, env, log = clone
    proc = run(repo, env, ".ci/run", "-k", "something")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = log.read_text().splitlines()
    system = [line for line in lines if line.startswith("system-python3")]
    assert not any(line.startswith(("pip", "pip3")) for line in lines), lines
    assert all(" -m pip" not in line for line in system), system
    assert f"system-python3 -m venv {repo}/.venv" in system
    venv = [line for line in lines if line.startswith("venv-python")]
    assert "venv-python -m pip install --disable-pip-version-check --progress-bar on -e .[test,train,web]" in venv
    assert venv[-2:] == ["venv-python -m ruff check daemon tools tests", "venv-python -m pytest -q -k something"]
    assert f"creating the virtual environment {repo}/.venv" in proc.stdout
    assert f"installed: plategate and its dependencies in {repo}/.venv" in proc.stdout

    # A second run finds the venv and the stamp: no pip at all.
    log.write_text("")
    proc = run(repo, env, "tools/test.sh")
    assert proc.returncode == 0, proc.stderr
    assert not [line for line in log.read_text().splitlines() if "pip install" in line]
    assert "already installed" in proc.stdout

    # A changed setup.cfg (new dependency or extra) installs again.
    (repo / "setup.cfg").write_text((repo / "setup.cfg").read_text() + "\n")
    log.write_text("")
    assert run(repo, env, "tools/test.sh").returncode == 0
    assert any("-m pip install" in line for line in log.read_text().splitlines())


def test_demo_sh_uses_only_the_venv(clone):
    repo, env, log = clone
    proc = run(repo, env, "tools/demo.sh", "--duration", "3")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = log.read_text().splitlines()
    assert not any(line.startswith(("pip", "pip3")) for line in lines), lines
    assert all(" -m pip" not in line for line in lines if line.startswith("system-python3"))
    venv = [line for line in lines if line.startswith("venv-python")]
    assert venv[-3:] == [
        "venv-python -m pip install --disable-pip-version-check --progress-bar on -e .[demo]",
        "venv-python -m tools.make_demo --out demo/footage",
        "venv-python -m plategate.service --config config/demo.toml --print-events --duration 3",
    ]
    assert f"journal: {repo}/demo-state" in proc.stdout


def test_missing_venv_module_is_installed_through_apt(clone, tmp_path):
    """A python3 without ensurepip (Debian without python3-venv) gets python3-venv from apt, not pip."""
    repo, env, log = clone
    broken = tmp_path / "noensurepip"
    broken.mkdir()
    (broken / "ensurepip.py").write_text("raise ImportError('no ensurepip')\n")
    env = dict(env, PYTHONPATH=str(broken))
    proc = run(repo, env, "tools/demo.sh")
    assert "installing Debian packages: python3-venv" in proc.stdout
    lines = log.read_text().splitlines()
    assert any(line.startswith("apt-get") and "install" in line and "python3-venv" in line for line in lines), lines


def test_too_old_python_is_named(clone, tmp_path):
    repo, env, log = clone
    old = tmp_path / "old"
    old.mkdir()
    (old / "python3").write_text('#!/bin/bash\n[ "$1" = -V ] && echo "Python 3.9.2" && exit 0\nexit 1\n')
    (old / "python3").chmod(0o755)
    proc = run(repo, dict(env, PATH=f"{old}:{env['PATH']}"), "tools/test.sh")
    assert proc.returncode != 0
    assert "test.sh: error: Python 3.9.2 is too old: plategate needs Python 3.11 or newer" in proc.stderr
    assert not (repo / ".venv").exists()


@pytest.mark.skipif(not (DEBIAN_PY.exists() and Path("/usr/lib/python3/dist-packages").is_dir()),
                    reason="needs Debian's own /usr/bin/python3")
def test_venv_logic_with_debians_python(tmp_path):
    """The real thing on a bare PATH: Debian's python3 creates the venv, the venv's pip installs;
    the system interpreter is only asked to make the venv (recorded through a pass-through shim)."""
    if subprocess.run([str(DEBIAN_PY), "-c", "import ensurepip, sys; sys.exit(sys.version_info < (3, 11))"]).returncode:
        pytest.skip("Debian's python3 is older than 3.11 or lacks python3-venv")
    shims = tmp_path / "shims"
    shims.mkdir()
    log = tmp_path / "commands.log"
    (shims / "python3").write_text(f'#!/bin/bash\necho "$*" >> {log}\nexec {DEBIAN_PY} "$@"\n')
    (shims / "python3").chmod(0o755)
    venv = tmp_path / "venv"
    # PIP_NO_DEPS keeps this test offline and quick: the project itself is what is installed.
    env = {"PATH": f"{shims}:/usr/bin:/bin", "HOME": str(tmp_path), "PIP_NO_DEPS": "1", "PLATEGATE_VENV": str(venv)}
    for key in ("PIP_FIND_LINKS", "PIP_CERT", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL"):
        if key in os.environ:
            env[key] = os.environ[key]
    proc = subprocess.run(["bash", "-c", ". tools/venv.sh && venv_ensure ''"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    calls = log.read_text().splitlines()
    assert f"-m venv {venv}" in calls
    assert all(not c.startswith("-m") or c == f"-m venv {venv}" for c in calls), calls
    assert "home = /usr/bin" in (venv / "pyvenv.cfg").read_text()
    where = subprocess.run([str(venv / "bin" / "python"), "-c", "import plategate; print(plategate.__file__)"],
                           capture_output=True, text=True, timeout=60)
    assert where.stdout.strip() == str(ROOT / "daemon" / "plategate" / "__init__.py"), where.stderr
    assert (venv / "bin" / "platectl").exists()
    system = subprocess.run([str(DEBIAN_PY), "-c", "import plategate"], capture_output=True, timeout=60, cwd="/")
    assert system.returncode != 0  # nothing went into the system interpreter
    assert f"installed: plategate and its dependencies in {venv}" in proc.stdout
