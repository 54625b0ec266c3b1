"""Choose the second look's threshold for a looking network, on training photos it never saw as views.

``tools.train.look_data`` keeps a fifth of the training photos (``held_out``) out of the look
views. On that fifth of ``openimages-plates/train``, ``openlpr-scenes/train``,
``ro-dashcam/train`` and the training negatives, this runs the daemon's detector (its default
``[recognition]`` settings, with ``--look`` as ``second_look_model``) once per threshold and
prints, for each, the recall of plates >= 40 px wide (openimages), of all plates (openlpr,
ro-dashcam), the false boxes per negative, and the mean of the three recalls and
``1 - false boxes per negative``, the suite's figures. The best mean wins; a tie goes to the
higher threshold. The validation sets are never read. Example::

    python -m tools.eval.look_threshold ../shared/datasets --look work/look2/detector-look.tflite
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from plategate.config import RecognitionConfig
from plategate.errors import PlategateError
from plategate.imageio import load_image
from tools.eval.evaluate import match, read_boxes_csv
from tools.eval.suite import WIDE
from tools.train.look_data import held_out

THRESHOLDS = (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6)
#: (name, folder under DATA, count only plates >= WIDE px)
SETS = (("openimages", "openimages-plates/train", True), ("openlpr", "openlpr-scenes/train", False),
        ("dashcam", "ro-dashcam/train", False))


def figures(detector, photos: dict[str, list[tuple[Path, np.ndarray]]], negatives: list[Path]) -> dict[str, float]:
    """Recall per set, false boxes per negative and their mean (as the suite scores them)."""
    out: dict[str, float] = {}
    for name, wide_only in ((n, w) for n, _, w in SETS):
        found = total = 0
        for path, gt in photos.get(name, []):
            dets = detector.detect(load_image(path))
            boxes = np.array([d.box for d in dets], np.float64).reshape(-1, 4)
            _, owner = match(boxes, np.array([d.score for d in dets]), gt)
            counted = (gt[:, 2] - gt[:, 0] >= WIDE) if wide_only else np.ones(len(gt), bool)
            found += int(((owner >= 0) & counted).sum())
            total += int(counted.sum())
        if total:
            out[name] = found / total
    if negatives:
        out["fp_per_negative"] = sum(len(detector.detect(load_image(p))) for p in negatives) / len(negatives)
    scores = [out[n] for n, _, _ in SETS if n in out] + ([max(0.0, 1 - out["fp_per_negative"])] if negatives else [])
    out["mean"] = float(np.mean(scores))
    return out


def choose(results: dict[float, dict[str, float]]) -> float:
    """The threshold with the best mean; a tie goes to the higher threshold."""
    return max(results, key=lambda t: (round(results[t]["mean"], 6), t))


def main(argv: list[str] | None = None) -> int:
    """Print the figures per threshold and the chosen one; 0, or 1 if a model or the data cannot be read."""
    from plategate.vision.recognizer import detector_from_config
    from tools.synth.scenes import split_negatives

    ap = argparse.ArgumentParser(prog="python -m tools.eval.look_threshold", description=__doc__.split("\n\n")[0])
    ap.add_argument("data", type=Path, help="the shared datasets folder")
    ap.add_argument("--look", type=Path, required=True, help="the looking network's .tflite (320x192)")
    ap.add_argument("--thresholds", default=",".join(map(str, THRESHOLDS)), help="comma-separated (default: %(default)s)")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args(argv)
    try:
        thresholds = sorted(float(t) for t in a.thresholds.split(","))
    except ValueError:
        ap.error(f"--thresholds: numbers separated by commas, got {a.thresholds!r}")
    photos: dict[str, list[tuple[Path, np.ndarray]]] = {}
    for name, rel, _ in SETS:
        if (a.data / rel / "boxes.csv").is_file():
            photos[name] = [(a.data / rel / f, np.asarray(t.boxes, np.float64).reshape(-1, 4))
                            for f, t in sorted(read_boxes_csv(a.data / rel).items()) if held_out(f) and t.boxes]
    negatives = [p for p in split_negatives(a.data / "negatives")[0] if held_out(p.name)] if (a.data / "negatives").is_dir() else []
    if not photos and not negatives:
        print(f"look_threshold: error: {a.data} holds none of the training sets", file=sys.stderr)
        return 1
    print("held out: " + ", ".join(f"{n} {len(v)} photos" for n, v in photos.items()) + f", {len(negatives)} negatives")
    results: dict[float, dict[str, float]] = {}
    try:
        for t in thresholds:
            cfg = RecognitionConfig(threads=a.threads, second_look_model=a.look, second_look_min_score=t)
            results[t] = figures(detector_from_config(cfg), photos, negatives)
            print(f"threshold {t:.2f}: " + "  ".join(f"{k} {v:.4f}" for k, v in results[t].items()), flush=True)
    except PlategateError as exc:
        print(f"look_threshold: error: {exc}", file=sys.stderr)
        return 1
    print(f"chosen: {choose(results):.2f}  (recognition.second_look_min_score)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
