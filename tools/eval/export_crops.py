"""Cut the plates of labelled scenes out as the daemon would read them: a crops folder.

For each frame of ``--scenes`` (a folder with ``boxes.csv``), the shipped detector runs,
each labelled box of ``--texts`` (CSV ``file,x1,y1,x2,y2,text``) is matched to a
detection at IoU >= 0.5, and the detection is cut out with the recognizer's own
:func:`plategate.vision.recognizer.crop_plate` (corner rectification, padding). The crops
and a ``labels.csv`` (file,text) go to ``--out``: a folder that ``tools.quantize
--calibrate``, ``tools.eval.evaluate --crops`` and ``tools.eval.bench_reader --eval`` take.

Labelled plates the detector misses are listed and skipped: the reader never sees them
in service either. Example (the reader's real calibration set)::

    python -m tools.eval.export_crops --scenes DATA/ro-dashcam/train \\
        --texts tools/eval_data/ro-dashcam-train-text.csv --out work/ro-calib
"""

from __future__ import annotations

import argparse
import csv
import logging
import sys
from pathlib import Path

import cv2
import numpy as np

from plategate.errors import PlategateError
from plategate.imageio import load_image
from tools.eval.evaluate import IOU, SceneTruth, add_texts, match, read_boxes_csv

logger = logging.getLogger(__name__)


def export(detector, scenes: Path, texts: Path, out: Path, min_score: float) -> tuple[int, list[str]]:
    """Write the matched crops and ``labels.csv`` to *out*.

    Returns:
        (crops written, descriptions of labelled plates that were not written).

    Raises:
        OSError: ``boxes.csv`` or the texts CSV cannot be read, or *out* cannot be written.
    """
    truth = read_boxes_csv(scenes)
    add_texts(truth, texts)
    rows, skipped = cut_labelled(detector, scenes, truth, out, min_score)
    write_labels(out, rows)
    return len(rows), skipped


def cut_labelled(detector, scenes: Path, truth: dict[str, SceneTruth], out: Path, min_score: float,
                 file_name=lambda stem, j: f"{stem}_{j}.png") -> tuple[list[tuple[str, str]], list[str]]:
    """Cut the plates of *truth* that have a text out of the frames of *scenes* into *out*: each
    matched to a detection from *min_score* at IoU >= 0.5 and cut by ``crop_plate``, written as
    ``file_name(stem, box index)``.

    Returns:
        ``(file, text)`` of the crops written, and descriptions of the labelled plates that were not.

    Raises:
        OSError: *out* cannot be written.
    """
    from plategate.vision.recognizer import crop_plate

    out.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, str]] = []
    skipped: list[str] = []
    labelled = [(name, t) for name, t in sorted(truth.items()) if any(t.texts)]
    for k, (name, t) in enumerate(labelled, 1):
        try:
            frame = load_image(scenes / name)
        except PlategateError as exc:
            skipped.append(f"{name}: {exc}")
            continue
        dets = [d for d in detector.detect(frame) if d.score >= min_score]
        _, owner = match(np.array([d.box for d in dets], np.float64).reshape(-1, 4),
                         np.array([d.score for d in dets]), np.array(t.boxes), IOU)
        for j, text in enumerate(t.texts):
            if not text:
                continue
            if owner[j] < 0:
                skipped.append(f"{name} box {j} ({text}): not detected")
                continue
            crop = crop_plate(frame, dets[owner[j]])
            file = file_name(Path(name).stem, j)
            if not cv2.imwrite(str(out / file), crop):
                raise OSError(f"cannot write {out / file}")
            rows.append((file, text))
        if k % 50 == 0 or k == len(labelled):
            print(f"{k}/{len(labelled)} frames, {len(rows)} crops", file=sys.stderr, flush=True)
    return rows, skipped


def write_labels(out: Path, rows: list[tuple[str, str]]) -> None:
    """Write ``out/labels.csv`` (file,text), the labels file of a crops folder."""
    with open(out / "labels.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "text"])
        writer.writerows(rows)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; 0 on success, 1 if the detector or the inputs cannot be read or the output written."""
    ap = argparse.ArgumentParser(prog="python -m tools.eval.export_crops", description=__doc__.split("\n\n")[0],
                                 epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenes", type=Path, required=True, help="folder with frames and boxes.csv")
    ap.add_argument("--texts", type=Path, required=True, help="CSV file,x1,y1,x2,y2,text of the plates to export")
    ap.add_argument("--out", type=Path, required=True, help="crops folder to write (crops + labels.csv)")
    ap.add_argument("--detector", type=Path, default=Path("models/detector.tflite"))
    ap.add_argument("--min-score", type=float, default=0.55, help="detection threshold (default: %(default)s)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    for path in (args.scenes / "boxes.csv", args.texts):
        if not path.is_file():
            print(f"export_crops: error: {path} not found", file=sys.stderr)
            return 1
    try:
        from plategate.vision.detector import PlateDetector

        detector = PlateDetector(args.detector, threads=args.threads, min_score=args.min_score)
    except PlategateError as exc:
        print(f"export_crops: error: {exc}", file=sys.stderr)
        return 1
    try:
        written, skipped = export(detector, args.scenes, args.texts, args.out, args.min_score)
    except OSError as exc:
        print(f"export_crops: error: {exc}", file=sys.stderr)
        return 1
    for line in skipped:
        print(f"skipped {line}", file=sys.stderr)
    print(f"{written} crops written to {args.out} ({len(skipped)} labelled plates skipped)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
