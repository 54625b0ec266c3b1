"""tools.eval.bench_reader_net times untrained candidate reader networks beside real model files."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.eval import bench_reader_net

SHIPPED = Path(__file__).resolve().parent.parent / "models" / "reader.tflite"


def test_network_specs_are_parsed_and_bad_ones_named():
    assert bench_reader_net.parse_net("16,32,64,128,192+light") == ((16, 32, 64, 128, 192), True)
    assert bench_reader_net.parse_net("24,48,96,192,256") == ((24, 48, 96, 192, 256), False)
    for bad in ("1,2", "a,b,c,d,e", "8,8,8,8,0", "8,8,8,8,8+heavy"):
        with pytest.raises(ValueError, match="network"):
            bench_reader_net.parse_net(bad)


def test_usage_errors_before_any_work(tmp_path, capsys):
    assert bench_reader_net.main([]) == 2
    assert "name a network" in capsys.readouterr().err
    assert bench_reader_net.main(["8,8"]) == 2
    assert "five positive stage widths" in capsys.readouterr().err
    assert bench_reader_net.main(["--model", str(tmp_path / "none.tflite")]) == 2
    assert "none.tflite" in capsys.readouterr().err


def test_a_built_network_and_a_model_file_are_timed_in_turns(capsys):
    pytest.importorskip("tensorflow")
    assert bench_reader_net.main(["8,8,8,8,8+light", "--model", str(SHIPPED), "--rounds", "2", "--invokes", "5",
                                  "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert out.count("round ") == 2
    lines = [line for line in out.splitlines() if " ms  x" in line]
    assert len(lines) == 2 and lines[0].split()[2] == "x1.00" and "8,8,8,8,8+light" in lines[0]
    assert str(SHIPPED) in lines[1] and float(lines[1].split()[0]) > 0
