"""Every runnable module under tools/ answers --help: usage naming how it is run, exit 0, no TensorFlow needed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / "tools"


def runnable_tools() -> list[str]:
    """Dotted names of the modules under tools/ that run as ``python -m`` (they have a ``__main__`` guard)."""
    names = []
    for path in sorted(TOOLS.rglob("*.py")):
        if 'if __name__ == "__main__":' in path.read_text(encoding="utf-8"):
            names.append(".".join(path.relative_to(ROOT).with_suffix("").parts))
    return names


def test_the_tools_are_found_in_every_role():
    found = set(runnable_tools())
    assert {"tools.quantize", "tools.allowlist_publish", "tools.gen_config_docs", "tools.make_demo",
            "tools.train.train_reader", "tools.train.train_detector", "tools.synth.scenes",
            "tools.eval.evaluate", "tools.eval.bench_reader"} <= found


@pytest.mark.parametrize("module", runnable_tools())
def test_tool_answers_help(module):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", module, "--help"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"usage: python -m {module}"), proc.stdout[:200]
    assert "Traceback" not in proc.stderr
