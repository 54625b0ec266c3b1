"""tools.eval.bench_web runs a daemon and plategate-web and prints its figures."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("flask", reason="the web extra is not installed")
pytest.importorskip("plategate.vision.recognizer")

from tools.eval import bench_web  # noqa: E402


def test_bench_web_prints_figures(capsys):
    assert bench_web.main(["--idle", "0.5", "--requests", "3"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"plategate-web RSS after start: \d+\.\d MB", out)
    assert re.search(r"idle CPU over 0 s: \d+\.\d\d % of one core", out) or "idle CPU over 1 s" in out
    for path in bench_web.PAGES:
        assert re.search(rf"GET {re.escape(path)}\s+median\s+\d+\.\d ms", out), out
