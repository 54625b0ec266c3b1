"""Benchmark the shipped plate reader: latency per crop and accuracy on labelled crop folders.

Examples::

    python -m tools.eval.bench_reader --latency 500 --threads 1
    python -m tools.eval.bench_reader --eval ../shared/datasets/br-crops:val --eval ../shared/datasets/ar-crops

``--eval`` takes ``DIR`` (all crops in ``DIR/labels.csv``) or ``DIR:val`` / ``DIR:train``
(the fixed split by plate text used in training). For each set it prints the
exact-match rate, how many reads scored >= the confidence threshold and how many of
those were right, and the most frequent character substitutions (``4>0``: a 4 read
as 0). ``--audit CSV`` (``file,label,verdict,looks_like``, e.g.
``tools/eval_data/br-crops-val-audit.csv``) also prints each figure with the labels the
audit marks ``wrong`` replaced by what the photo shows; the dataset's figures are
always printed first. ``--latency N`` reads N rendered camera-like crops and prints the
model-only and the full per-crop time (preprocess + model + beam search); each ``--eval``
set also prints the read time per crop on its real crops. ``--views 3`` reads every crop
the way ``recognition.reader_views: 3`` does (the crop as given and, when that read is
unsure, also padded and trimmed, candidates pooled).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

from plategate.config import MAX_READER_VIEWS
from plategate.errors import PlategateError
from plategate.vision.reader import PlateReader, plate_shape

logger = logging.getLogger(__name__)

DEFAULT_MODEL = Path(__file__).resolve().parents[2] / "models" / "reader.tflite"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tools.eval.bench_reader", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="reader model (default: the shipped one)")
    p.add_argument("--threads", type=int, default=1, help="LiteRT threads (default: %(default)s)")
    p.add_argument("--latency", type=int, default=0, metavar="N", help="time N rendered crops")
    p.add_argument("--eval", action="append", default=[], metavar="DIR[:val|:train]", help="labelled crop folder; repeatable")
    p.add_argument("--threshold", type=float, default=0.9, help="confidence threshold for precision (default: %(default)s)")
    p.add_argument("--formats", default="", metavar="F1,F2",
                   help="plate formats (L=letter, D=digit) for syntax-constrained decoding, e.g. LLLDDDD,LLLDLDD")
    p.add_argument("--views", type=int, default=1, metavar="V", choices=range(1, MAX_READER_VIEWS + 1),
                   help=f"views read per crop and pooled (1-{MAX_READER_VIEWS}, as recognition.reader_views; default: %(default)s)")
    p.add_argument("--audit", type=Path, default=None, metavar="CSV",
                   help="label audit (file,label,verdict,looks_like): also score rows marked 'wrong' by 'looks_like'")
    p.add_argument("--errors", type=int, default=0, metavar="K", help="list up to K wrong reads per set")
    p.add_argument("--json", action="store_true", help="print one JSON object with all figures at the end")
    p.add_argument("--update-card", action="store_true",
                   help="also store the figures in the model card's metrics (key 'bench_reader', per --formats and --views)")
    return p.parse_args(argv)


def load_label_fixes(path: Path) -> dict[str, tuple[str, str]]:
    """Read a label audit and return ``{file name: (dataset label, audited label)}`` for rows marked ``wrong``.

    Raises:
        PlategateError: the file is unreadable, lacks a column, or a ``wrong`` row has no ``looks_like``.
    """
    from tools.synth import reader_data

    return {r.file: (r.label, r.looks_like) for r in reader_data.load_label_audit(path) if r.verdict == "wrong"}


def confusions(pairs: list[tuple[str, str]]) -> Counter[str]:
    """Count character substitutions (``"4>0"``: a true 4 read as 0) in misreads of the right length.

    Reads of another length (a character dropped or added) are not aligned and not counted.
    """
    out: Counter[str] = Counter()
    for truth, got in pairs:
        if len(truth) == len(got):
            out.update(f"{t}>{g}" for t, g in zip(truth, got, strict=True) if t != g)
    return out


def by_shape(results: list[tuple[str, bool]], top: int = 6) -> dict[str, list[int]]:
    """Right reads and counts per plate shape (``L``/``D`` string of the true text).

    The *top* commonest shapes come first (ties by name); the rest are summed under
    ``"other"``, so sets of many countries stay readable.

    Args:
        results: ``(true text, read right)`` pairs.
        top: shapes listed on their own.
    """
    counts: dict[str, list[int]] = {}
    for text, ok in results:
        entry = counts.setdefault(plate_shape(text), [0, 0])
        entry[0] += ok
        entry[1] += 1
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1][1], kv[0]))
    out = dict(ranked[:top])
    if len(ranked) > top:
        out["other"] = [sum(v[0] for _, v in ranked[top:]), sum(v[1] for _, v in ranked[top:])]
    return out


def median_p95(ms: list[float]) -> tuple[float, float]:
    """The median and the 95th percentile of *ms* (milliseconds)."""
    return float(np.median(ms)), float(np.percentile(ms, 95))


def evaluate(reader: PlateReader, spec: str, threshold: float, show_errors: int = 0,
             fixes: dict[str, tuple[str, str]] | None = None, times: list[float] | None = None) -> dict:
    """Exact-match and confident-precision figures of *reader* on a labelled folder.

    The milliseconds of each read are appended to *times* when it is given (to time
    several sets together).

    With *fixes* (see :func:`load_label_fixes`), the result also holds an ``audited``
    entry: the same figures with those labels replaced (only where the dataset's label
    is the one the audit saw).
    """
    from tools.synth import reader_data

    path, _, part = spec.partition(":")
    samples = reader_data.load_labelled(Path(path))
    if part:
        train, val = reader_data.split_by_text(samples)
        samples = {"train": train, "val": val}[part]
    sure = sure_right = failed = 0
    a_right = a_sure_right = 0
    replaced = []
    wrong = []
    outcomes: list[tuple[str, bool]] = []
    read_ms: list[float] = []
    for s in samples:
        try:
            image = reader_data.read_image(s.path)
            t0 = time.perf_counter()
            read = reader.read(image)
            read_ms.append((time.perf_counter() - t0) * 1000)
        except PlategateError as exc:
            failed += 1
            print(f"  {s.path.name}: {exc}", flush=True)
            continue
        ok = read.text == s.text
        outcomes.append((s.text, ok))
        if read.confidence >= threshold:
            sure += 1
            sure_right += ok
        if not ok:
            wrong.append((s.path.name, s.text, read.text, read.confidence))
        fix = (fixes or {}).get(s.path.name)
        truth = fix[1] if fix and fix[0] == s.text else s.text
        if truth != s.text:
            replaced.append(f"{s.path.name} {s.text}->{truth}")
        a_right += read.text == truth
        a_sure_right += read.confidence >= threshold and read.text == truth
    if times is not None:
        times.extend(read_ms)
    n = len(samples)
    right = sum(ok for _, ok in outcomes)
    res = {"set": spec, "count": n, "exact_match": right / n if n else None, "failed": failed,
           f"confident_{threshold}": sure, f"confident_right_{threshold}": sure_right,
           f"precision_at_{threshold}": sure_right / sure if sure else None}
    if read_ms:
        res["read_ms_median"], res["read_ms_p95"] = median_p95(read_ms)
    print(f"{spec}: {n} crops, exact match {right}/{n} = {100 * right / max(n, 1):.1f} %, "
          f"confidence >= {threshold}: {sure} reads, {sure_right} right"
          + (f" ({100 * sure_right / sure:.2f} %)" if sure else ""), flush=True)
    if replaced:
        res["audited"] = {"replaced": replaced, "exact_match": a_right / n, f"confident_right_{threshold}": a_sure_right,
                          f"precision_at_{threshold}": a_sure_right / sure if sure else None}
        print(f"  with audited labels ({', '.join(replaced)}): exact match {a_right}/{n} = {100 * a_right / n:.1f} %, "
              f"confidence >= {threshold}: {sure} reads, {a_sure_right} right"
              + (f" ({100 * a_sure_right / sure:.2f} %)" if sure else ""), flush=True)
    if read_ms:
        print(f"  read time per crop (image decoding excluded): {res['read_ms_median']:.3f} ms median, "
              f"{res['read_ms_p95']:.3f} ms p95", flush=True)
    shapes = by_shape(outcomes)
    if len(shapes) > 1:
        res["by_shape"] = shapes
        print("  by plate shape: " + ", ".join(f"{k} {r}/{c}" for k, (r, c) in shapes.items()), flush=True)
    swaps = confusions([(truth, got) for _, truth, got, _ in wrong])
    if swaps:
        res["confusions"] = dict(swaps.most_common(12))
        print("  most frequent substitutions (same-length misreads): "
              + ", ".join(f"{k} x{v}" for k, v in swaps.most_common(12)), flush=True)
    for name, truth, got, conf in sorted(wrong, key=lambda w: -w[3])[:show_errors]:
        print(f"    {name}: truth {truth}  read {got or '-'}  confidence {conf:.3f}")
    return res


def latency(reader: PlateReader, n: int) -> dict:
    """Median / p95 milliseconds per crop for the model alone and for a full read."""
    from tools.synth.augment import camera_crop
    from tools.synth.plates import render_plate

    rng = np.random.default_rng(0)
    crops = [camera_crop(render_plate(rng=rng, height=64)[0], rng, out_height=int(rng.integers(32, 96))) for _ in range(min(n, 200))]
    for c in crops[:10]:
        reader.read(c)
    model_ms, full_ms = [], []
    h, w = reader.height, reader.width
    x = np.zeros((1, h, w, 1), np.float32)
    for i in range(n):
        t0 = time.perf_counter()
        reader.model.run(x)
        model_ms.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        reader.read(crops[i % len(crops)])
        full_ms.append((time.perf_counter() - t0) * 1000)
    (model_median, model_p95), (read_median, read_p95) = median_p95(model_ms), median_p95(full_ms)
    res = {"crops": n, "threads": reader.threads, "views": reader.views,
           "model_ms_median": model_median, "model_ms_p95": model_p95,
           "read_ms_median": read_median, "read_ms_p95": read_p95}
    print(f"latency over {n} crops ({res['threads']} thread(s), {reader.views} view(s)): model {res['model_ms_median']:.3f} ms median, "
          f"{res['model_ms_p95']:.3f} ms p95; full read {res['read_ms_median']:.3f} ms median, "
          f"{res['read_ms_p95']:.3f} ms p95", flush=True)
    return res


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    try:
        reader = PlateReader(a.model, threads=a.threads, formats=[f for f in a.formats.split(",") if f], views=a.views)
        fixes = load_label_fixes(a.audit) if a.audit else None
    except (PlategateError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    out: dict = {"model": str(a.model), "sha256": reader.model.card.sha256, "formats": a.formats, "views": a.views,
                 "eval": []}
    times: list[float] = []
    for spec in a.eval:
        out["eval"].append(evaluate(reader, spec, a.threshold, a.errors, fixes, times))
    if len(a.eval) > 1 and times:
        median, p95 = median_p95(times)
        out["read_ms_all_sets"] = {"crops": len(times), "median": median, "p95": p95}
        print(f"all {len(a.eval)} sets: read time per crop {median:.3f} ms median, {p95:.3f} ms p95 "
              f"over {len(times)} crops", flush=True)
    if a.latency:
        out["latency"] = latency(reader, a.latency)
    if a.json:
        print(json.dumps(out))
    if a.update_card:
        update_card(a.model, out, argv)
    return 0


def update_card(model: Path, figures: dict, argv: list[str] | None) -> None:
    """Merge *figures* into the card beside *model* (the model file and its sha256 are untouched)."""
    from plategate.vision.runtime import card_path

    path = card_path(model)
    card = json.loads(path.read_text())
    bench = card.setdefault("metrics", {}).setdefault("bench_reader", {})
    key = f"formats={figures['formats']}" if figures["formats"] else "free"
    views = figures.get("views", 1)
    suffix = f"_views_{views}" if views > 1 else ""
    key += suffix
    entry = bench.setdefault(key, {})
    for res in figures["eval"]:
        entry[res["set"]] = {k: v for k, v in res.items() if k != "set"}
    if "latency" in figures:
        bench[f"latency_threads_{figures['latency']['threads']}{suffix}"] = figures["latency"]
    command = "python -m tools.eval.bench_reader " + " ".join(argv if argv is not None else sys.argv[1:])
    commands = bench.setdefault("commands", [])
    if command not in commands:  # a re-run refreshes its figures; the list names each command once
        commands.append(command)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(card, indent=2) + "\n")
    tmp.replace(path)
    print(f"figures stored in {path}")


if __name__ == "__main__":
    sys.exit(main())
