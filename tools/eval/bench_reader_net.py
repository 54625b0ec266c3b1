"""Time candidate reader networks before training them: int8 invoke time of untrained builds.

The time a network takes does not depend on its weights, so an untrained build,
quantised to int8 the way ``tools.quantize`` does it (random calibration images),
shows how fast a reader of that shape would be. Each network is given as
``CHANNELS`` (five stage widths, ``tools.train.reader_model.build_model``) with an optional
``+light`` (depthwise-separable second convolution), e.g.::

    python -m tools.eval.bench_reader_net 24,48,96,192,256 24,48,96,192,256+light 16,32,64,128,192+light

The networks (and ``--model`` files, e.g. the shipped reader) are timed in turns,
``--rounds`` times, so that a busy or noisy machine slows all of them alike; the
median invoke time of every round is printed, then each network's median over
rounds and its ratio to the first one. Needs the ``[train]`` extra (TensorFlow).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from plategate.errors import PlategateError
from plategate.vision.runtime import interpreter_class
from tools.train.stages import parse_stage_widths

logger = logging.getLogger(__name__)


def parse_net(spec: str) -> tuple[tuple[int, ...], bool]:
    """``"16,32,64,128,192+light"`` -> ``((16, 32, 64, 128, 192), True)``.

    Raises:
        ValueError: not five positive integers, or an unknown suffix.
    """
    widths, plus, suffix = spec.partition("+")
    if plus and suffix != "light":
        raise ValueError(f"network {spec!r}: the only suffix is +light, got +{suffix}")
    try:
        return parse_stage_widths(widths), bool(plus)
    except ValueError as exc:
        raise ValueError(f"network {spec!r}: {exc}") from exc


def build_int8(channels: tuple[int, ...], light: bool, height: int, width: int, classes: int) -> bytes:
    """An untrained reader network of this shape, converted to int8 TFLite."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    from tools.quantize import convert_int8
    from tools.train.reader_model import build_model

    model = build_model(classes, height, width, channels, light_stem=light)
    inp = tf.keras.Input((height, width, 1), batch_size=1)
    fixed = tf.keras.Model(inp, model(inp, training=False))
    rng = np.random.default_rng(0)
    rep = [rng.random((height, width, 1), dtype=np.float32) for _ in range(8)]
    return convert_int8(tf.lite.TFLiteConverter.from_keras_model(fixed), rep)


def time_invoke(interpreter, count: int) -> float:
    """Median milliseconds of *count* invokes (input set each time), after a warm-up."""
    d = interpreter.get_input_details()[0]
    x = np.zeros(d["shape"], d["dtype"])
    for _ in range(max(5, count // 10)):
        interpreter.set_tensor(d["index"], x)
        interpreter.invoke()
    times = []
    for _ in range(count):
        t0 = time.perf_counter()
        interpreter.set_tensor(d["index"], x)
        interpreter.invoke()
        times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1000)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.eval.bench_reader_net", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("nets", nargs="*", metavar="CHANNELS[+light]", help="networks to build and time")
    p.add_argument("--model", type=Path, action="append", default=[], help="also time this .tflite file; repeatable")
    p.add_argument("--threads", type=int, default=2, help="LiteRT threads (default: %(default)s)")
    p.add_argument("--invokes", type=int, default=300, help="invokes per round (default: %(default)s)")
    p.add_argument("--rounds", type=int, default=5, help="turns over all networks (default: %(default)s)")
    p.add_argument("--height", type=int, default=32)
    p.add_argument("--width", type=int, default=128)
    p.add_argument("--classes", type=int, default=37, help="alphabet + blank (default: %(default)s)")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    try:
        nets = [(spec, parse_net(spec)) for spec in a.nets]
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    missing = [str(m) for m in a.model if not m.is_file()]
    if missing or not (nets or a.model):
        print(f"error: model file not found: {', '.join(missing)}" if missing else "error: name a network or a --model",
              file=sys.stderr)
        return 2
    cls = interpreter_class()
    interpreters = {}
    with tempfile.TemporaryDirectory() as tmp:
        for spec, (channels, light) in nets:
            print(f"building {spec} ...", flush=True)
            try:
                data = build_int8(channels, light, a.height, a.width, a.classes)
            except (ValueError, PlategateError) as exc:
                print(f"error: {spec}: {exc}", file=sys.stderr)
                return 1
            path = Path(tmp) / f"net{len(interpreters)}.tflite"
            path.write_bytes(data)
            interpreters[f"{spec} ({len(data) / 1024:.0f} KiB)"] = cls(model_path=str(path), num_threads=a.threads)
        for m in a.model:
            interpreters[str(m)] = cls(model_path=str(m), num_threads=a.threads)
        for it in interpreters.values():
            it.allocate_tensors()
        rounds: dict[str, list[float]] = {name: [] for name in interpreters}
        for r in range(a.rounds):
            for name, it in interpreters.items():
                rounds[name].append(time_invoke(it, a.invokes))
            print(f"round {r + 1}/{a.rounds}: " + ", ".join(f"{v[-1]:.3f}" for v in rounds.values()), flush=True)
    first = float(np.median(next(iter(rounds.values()))))
    print(f"int8 invoke, {a.threads} thread(s), median of {a.rounds} rounds x {a.invokes} invokes:")
    for name, values in rounds.items():
        med = float(np.median(values))
        print(f"  {med:.3f} ms  x{med / first:.2f}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
