"""Evaluate the detector and reader on labelled folders; print the figures (and optionally save JSON).

Inputs (any combination, each may be given several times):

``--crops DIR``      plate crops with ``labels.csv`` (file,text): reader exact-match and
                     character accuracy, confidence vs accuracy, latency.
``--scenes DIR``     whole frames with ``boxes.csv`` (file,x1,y1,x2,y2[,text]; an empty box =
                     no plate): detection recall / precision at IoU 0.5, false positives per
                     image, latency; when a text column is filled, end-to-end exact match.
``--negatives DIR``  frames without plates (no CSV): false positives per image.
``--close-ups F,..`` with ``--scenes``: each labelled plate cut out of its frame so that it fills
                     the fraction F of the picture's width (a camera close to the car), scaled to
                     640 px wide: detection recall (and end-to-end reads) per F.

``--suite DATA [options]`` runs the validation suite instead (every real validation set, read
the way the daemon reads, one table and a macro average): see ``python -m tools.eval.suite --help``.

``--texts CSV`` adds plate texts (file,x1,y1,x2,y2,text) to the scene boxes, e.g. the hand-read
``tools/eval_data/ro-dashcam-valid-text.csv``. ``--group NAME=PREFIX`` reports scene figures separately for files starting with PREFIX
(e.g. ``--group night=nightride_ --group day=dayride_``). ``--heldout`` keeps only the held-out
part of a negatives folder (:func:`tools.synth.scenes.split_negatives`); ``--crops DIR:val``
keeps only the validation part of a crops folder (the reader's split by text). Example::

    python -m tools.eval.evaluate --scenes ../shared/datasets/ro-dashcam/valid --group day=dayride_ \\
        --group night=nightride_ --negatives ../shared/datasets/negatives --heldout \\
        --crops ../shared/datasets/ar-crops
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from plategate.config import MAX_READER_VIEWS, RecognitionConfig
from plategate.errors import PlategateError
from plategate.imageio import load_image
from plategate.types import normalise_plate

logger = logging.getLogger(__name__)

IOU = 0.5
THRESHOLDS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
CONF_BINS = (0.0, 0.5, 0.8, 0.9, 0.97, 1.0001)


# ----------------------------------------------------------------------------- pure metrics
def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix between boxes ``a (n, 4)`` and ``b (m, 4)``."""
    a, b = np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64).reshape(-1, 4)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def match(pred: np.ndarray, scores: np.ndarray, truth: np.ndarray, thr: float = IOU) -> tuple[np.ndarray, np.ndarray]:
    """Greedy matching by score; returns (pred_is_tp (n,), truth_matched_pred_index (m,) with -1 for missed)."""
    tp = np.zeros(len(pred), bool)
    owner = np.full(len(truth), -1)
    if len(pred) and len(truth):
        m = iou(pred, truth)
        for i in np.argsort(-np.asarray(scores)):
            j = int(np.argmax(np.where(owner < 0, m[i], -1)))
            if owner[j] < 0 and m[i, j] >= thr:
                owner[j] = i
                tp[i] = True
    return tp, owner


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def char_accuracy(pred: list[str], truth: list[str]) -> float:
    """1 - total edit distance / total truth characters."""
    total = sum(len(t) for t in truth)
    return 1.0 - sum(edit_distance(p, t) for p, t in zip(pred, truth, strict=True)) / max(total, 1)


def percentiles(ms: list[float]) -> dict[str, float]:
    """p50 / p90 / p99 / max of a latency list in ms."""
    if not ms:
        return {}
    a = np.asarray(ms)
    return {"p50": round(float(np.percentile(a, 50)), 2), "p90": round(float(np.percentile(a, 90)), 2),
            "p99": round(float(np.percentile(a, 99)), 2), "max": round(float(a.max()), 2), "n": len(ms)}


def confidence_table(conf: list[float], correct: list[bool]) -> list[dict]:
    """Accuracy per confidence bin."""
    rows = []
    c, ok = np.asarray(conf), np.asarray(correct, bool)
    for lo, hi in zip(CONF_BINS[:-1], CONF_BINS[1:], strict=True):
        sel = (c >= lo) & (c < hi)
        if sel.any():
            rows.append({"confidence": f"{lo:.2f}-{min(hi, 1.0):.2f}", "n": int(sel.sum()), "accuracy": round(float(ok[sel].mean()), 4)})
    return rows


# ----------------------------------------------------------------------------- data
@dataclass
class SceneTruth:
    """Ground truth of one frame."""

    boxes: list[list[float]] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)


def read_boxes_csv(folder: Path) -> dict[str, SceneTruth]:
    """``boxes.csv`` of a scenes folder: file -> boxes (+ texts when the column exists)."""
    out: dict[str, SceneTruth] = {}
    with open(folder / "boxes.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            t = out.setdefault(row["file"], SceneTruth())
            if row.get("x1"):
                t.boxes.append([float(row[k]) for k in ("x1", "y1", "x2", "y2")])
                t.texts.append(normalise_plate(row.get("text") or ""))
    return out


def add_texts(truth: dict[str, SceneTruth], csv_path: Path) -> int:
    """Fill plate texts from a CSV (file,x1,y1,x2,y2,text) into *truth* by file and box (IoU >= 0.9); returns how many."""
    n = 0
    with open(csv_path, newline="") as fh:
        for row in csv.DictReader(fh):
            t = truth.get(row["file"])
            if t is None or not t.boxes:
                continue
            box = np.array([[float(row[k]) for k in ("x1", "y1", "x2", "y2")]])
            overlaps = iou(box, np.array(t.boxes))[0]
            j = int(np.argmax(overlaps))
            if overlaps[j] >= 0.9:
                t.texts[j] = normalise_plate(row["text"])
                n += 1
    return n


def add_box_texts(truth: dict[str, SceneTruth], texts: dict[str, dict[int, str]]) -> int:
    """Fill plate texts given by frame and box index (``{file: {box: text}}``, e.g.
    :func:`tools.train.real_crops.photo_texts`) into *truth*; returns how many found their box."""
    n = 0
    for name, boxes in texts.items():
        t = truth.get(name)
        for box, text in boxes.items():
            if t is not None and box < len(t.boxes):
                t.texts[box] = text
                n += 1
    return n


def read_labels_csv(folder: Path, split: str = "all") -> list[tuple[Path, str]]:
    """``labels.csv`` (file,text) of a crops folder, duplicate rows dropped (as in training);
    ``split='val'`` keeps the reader's validation part."""
    from tools.synth import reader_data

    samples = reader_data.load_labelled(folder)
    if split == "val":
        samples = reader_data.split_by_text(samples)[1]
    return [(s.path, s.text) for s in samples]


# ----------------------------------------------------------------------------- evaluation
def eval_crops(reader, items: list[tuple[Path, str]]) -> dict:
    """Reader figures on labelled crops."""
    preds, truths, conf, ms, errors = [], [], [], [], 0
    for path, text in items:
        try:
            img = load_image(path)
        except PlategateError as exc:
            logger.warning("%s", exc)
            errors += 1
            continue
        t0 = time.perf_counter()
        r = reader.read(img)
        ms.append((time.perf_counter() - t0) * 1e3)
        preds.append(r.text)
        truths.append(text)
        conf.append(r.confidence)
    correct = [p == t for p, t in zip(preds, truths, strict=True)]
    return {"n": len(preds), "unreadable": errors, "exact_match": round(float(np.mean(correct)) if correct else 0.0, 4),
            "char_accuracy": round(char_accuracy(preds, truths), 4), "confidence_vs_accuracy": confidence_table(conf, correct),
            "latency_ms": percentiles(ms)}


def run_scenes(detector, reader, files: list[tuple[Path, SceneTruth]], min_score: float) -> list[dict]:
    """Run detection (and reading) on every frame; one record per frame."""
    from plategate.vision.recognizer import crop_plate

    records = []
    for path, truth in files:
        try:
            img = load_image(path)
        except PlategateError as exc:
            logger.warning("%s", exc)
            continue
        t0 = time.perf_counter()
        dets = detector.detect(img)
        det_ms = (time.perf_counter() - t0) * 1e3
        rec = {"file": path.name, "truth": truth, "boxes": np.array([d.box for d in dets], np.float64).reshape(-1, 4),
               "scores": np.array([d.score for d in dets]), "detect_ms": det_ms, "texts": [], "conf": []}
        if reader is not None and any(truth.texts):
            keep = [d for d in dets if d.score >= min_score]
            t1 = time.perf_counter()
            reads = reader.read_batch([crop_plate(img, d) for d in keep]) if keep else []
            rec["read_ms"] = (time.perf_counter() - t1) * 1e3
            rec["texts"] = [r.text for r in reads] + [""] * (len(dets) - len(keep))
            rec["conf"] = [r.confidence for r in reads] + [0.0] * (len(dets) - len(keep))
        records.append(rec)
    return records


def scene_metrics(records: list[dict], threshold: float) -> dict:
    """Recall, precision, FP/image (and end-to-end reads) at one score threshold."""
    n_truth = tp_total = n_pred = fp = 0
    e2e_total = e2e_ok = 0
    for r in records:
        sel = r["scores"] >= threshold
        boxes, scores = r["boxes"][sel], r["scores"][sel]
        truth = np.array(r["truth"].boxes, np.float64).reshape(-1, 4)
        tp, owner = match(boxes, scores, truth)
        n_truth += len(truth)
        tp_total += int(tp.sum())
        n_pred += len(boxes)
        fp += int((~tp).sum())
        if r["texts"]:
            texts = [t for t, s in zip(r["texts"], sel, strict=True) if s]
            for j, want in enumerate(r["truth"].texts):
                if want:
                    e2e_total += 1
                    e2e_ok += int(owner[j] >= 0 and texts[owner[j]] == want)
    out = {"threshold": threshold, "images": len(records), "plates": n_truth,
           "recall": round(tp_total / max(n_truth, 1), 4) if n_truth else None,
           "precision": round(tp_total / max(n_pred, 1), 4) if n_pred else None,
           "fp_per_image": round(fp / max(len(records), 1), 4)}
    if e2e_total:
        out["end_to_end_exact"] = round(e2e_ok / e2e_total, 4)
        out["end_to_end_plates"] = e2e_total
    return out


def summarise_scenes(records: list[dict], min_score: float, groups: dict[str, str]) -> dict:
    """Figures at *min_score* (per group), a threshold sweep, and latency."""
    out = {"all": scene_metrics(records, min_score)}
    for name, prefix in groups.items():
        sub = [r for r in records if r["file"].startswith(prefix)]
        if sub:
            out[name] = scene_metrics(sub, min_score)
    out["sweep"] = [scene_metrics(records, t) for t in THRESHOLDS]
    out["detect_latency_ms"] = percentiles([r["detect_ms"] for r in records])
    reads = [r["read_ms"] for r in records if "read_ms" in r]
    if reads:
        out["read_latency_ms"] = percentiles(reads)
    return out


def _print_block(title: str, data: dict) -> None:
    print(f"== {title}")
    for key, value in data.items():
        if isinstance(value, list):
            print(f"  {key}:")
            for row in value:
                print("    " + "  ".join(f"{k}={v}" for k, v in row.items()))
        elif isinstance(value, dict):
            print(f"  {key}: " + "  ".join(f"{k}={v}" for k, v in value.items()))
        else:
            print(f"  {key}: {value}")


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; prints the figures, returns 0 (1 if a model cannot be loaded)."""
    from tools.eval.close_ups import eval_close_ups, parse_fills  # it builds on this module's matching

    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--suite"]:  # the validation suite has its own options: python -m tools.eval.suite --help
        from tools.eval.suite import main as suite_main

        return suite_main(argv[1:])

    ap = argparse.ArgumentParser(prog="python -m tools.eval.evaluate", description=__doc__.split("\n\n")[0],
                                 epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--crops", action="append", default=[], metavar="DIR[:val]",
                    help="folder with labels.csv (file,text); DIR:val keeps only the reader's validation part (split by text)")
    ap.add_argument("--scenes", type=Path, action="append", default=[], help="folder with boxes.csv (file,x1,y1,x2,y2[,text])")
    ap.add_argument("--texts", type=Path, help="CSV file,x1,y1,x2,y2,text giving plate texts for --scenes boxes (end-to-end)")
    ap.add_argument("--negatives", type=Path, action="append", default=[], help="folder of frames without plates")
    ap.add_argument("--heldout", action="store_true", help="negatives: only the held-out part (never trained on)")
    ap.add_argument("--group", action="append", default=[], metavar="NAME=PREFIX", help="report scene files with this name prefix separately")
    ap.add_argument("--detector", type=Path, default=None, help="detector .tflite (default: the shipped one, recognition.detector_model)")
    ap.add_argument("--reader", type=Path, default=Path("models/reader.tflite"))
    ap.add_argument("--no-reader", action="store_true", help="detection figures only")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--views", type=int, default=1, choices=range(1, MAX_READER_VIEWS + 1),
                    help="views of each plate the reader reads and pools (as recognition.reader_views)")
    ap.add_argument("--min-score", type=float, default=RecognitionConfig().min_detection_score,
                    help="detection threshold (default: recognition.min_detection_score, %(default)s)")
    ap.add_argument("--close-ups", type=parse_fills, default=[], metavar="F1,F2",
                    help="with --scenes: each plate as a close-up filling these fractions of the width")
    ap.add_argument("--no-close-up", action="store_true",
                    help="no second, zoomed-out detector pass on frames where the first finds no plate "
                         "(as recognition.close_up = false)")
    ap.add_argument("--with-passes", action="store_true",
                    help="join --detector with what the daemon runs beside it by default: the coarse pass "
                         "(recognition.coarse_pass; its threshold, 0.6, stays when sweeping) and the second look "
                         "at boxes from recognition.second_look_from up to --min-score (the sweep's rows below "
                         "--min-score then count only the boxes the second look confirmed)")
    ap.add_argument("--limit", type=int, default=0, help="at most this many files per folder (0 = all)")
    ap.add_argument("--json-out", type=Path, help="also write all figures to this JSON file")
    ap.add_argument("--update-card", type=Path, metavar="CARD", help="merge the figures into this model card's metrics.evaluate "
                                                                   "(the model file and its sha256 are not touched)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    groups = dict(g.split("=", 1) for g in args.group)
    results: dict[str, dict] = {}
    try:
        reader = None
        if not args.no_reader and (args.crops or args.scenes):
            from plategate.vision.reader import PlateReader

            reader = PlateReader(args.reader, threads=args.threads, views=args.views)
        detector = None
        if args.scenes or args.negatives:
            from plategate.vision.detector import PlateDetector

            cfg = RecognitionConfig(threads=args.threads)
            detector = PlateDetector(args.detector or cfg.detector_path(), threads=args.threads,
                                     min_score=min(THRESHOLDS + (args.min_score,)),
                                     close_up=not args.no_close_up, close_up_below=args.min_score)
            if args.with_passes:
                from plategate.vision.recognizer import with_more_passes, with_second_look

                cfg = cfg.model_copy(update={"min_detection_score": args.min_score})
                detector = with_second_look(with_more_passes(detector, cfg), cfg)
    except PlategateError as exc:
        print(f"evaluate: error: {exc}", file=sys.stderr)
        return 1
    lim = args.limit or None
    for spec in args.crops:
        path, _, part = spec.partition(":")
        if part not in ("", "val"):
            ap.error(f"--crops {spec}: the only part is ':val'")
        folder = Path(path)
        items = read_labels_csv(folder, part or "all")[:lim]
        results[f"crops:{folder.name}{':' + part if part else ''}"] = eval_crops(reader, items)
    for folder in args.scenes:
        truth = read_boxes_csv(folder)
        if args.texts:
            logger.info("%d plate texts from %s", add_texts(truth, args.texts), args.texts)
        files = [(folder / name, t) for name, t in sorted(truth.items())][:lim]
        results[f"scenes:{folder.name}"] = summarise_scenes(run_scenes(detector, reader, files, args.min_score), args.min_score, groups)
        if args.close_ups:
            results[f"close-ups:{folder.name}"] = {"by_fill": eval_close_ups(detector, reader, files, args.close_ups, args.min_score)}
    for folder in args.negatives:
        from tools.synth.scenes import list_images, split_negatives

        paths = split_negatives(folder)[1] if args.heldout else list_images(folder)
        records = run_scenes(detector, None, [(p, SceneTruth()) for p in paths[:lim]], args.min_score)
        res = summarise_scenes(records, args.min_score, {})
        results[f"negatives:{folder.name}{' (held out)' if args.heldout else ''}"] = {
            "images": len(records), "fp_per_image": res["all"]["fp_per_image"],
            "sweep": [{"threshold": s["threshold"], "fp_per_image": s["fp_per_image"]} for s in res["sweep"]],
            "detect_latency_ms": res["detect_latency_ms"]}
    for name, data in results.items():
        if "all" in data:
            _print_block(name, {k: v for k, v in data.items() if k != "sweep"})
            print("  threshold sweep:")
            for row in data["sweep"]:
                print("    " + "  ".join(f"{k}={v}" for k, v in row.items()))
        else:
            _print_block(name, data)
    if args.json_out:
        args.json_out.write_text(json.dumps(results, indent=2))
    if args.update_card:
        card = json.loads(args.update_card.read_text())
        card.setdefault("metrics", {})["evaluate"] = {"command": "python -m tools.eval.evaluate " + " ".join(argv if argv is not None else sys.argv[1:]),
                                                      "min_score": args.min_score, "iou": IOU, "results": results}
        args.update_card.write_text(json.dumps(card, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
