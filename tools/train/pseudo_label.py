"""Label unlabelled plate crops with a reader model, keeping only confident reads (self-training).

Run from the repository root::

    python -m tools.train.pseudo_label --model models/reader.tflite --images ../shared/datasets/eu-crops \\
        --out work/reader/eu-pseudo --min-confidence 0.9

Every image of ``--images`` is read with :class:`plategate.vision.reader.PlateReader`;
reads whose calibrated confidence reaches ``--min-confidence`` (and whose length is
within ``--min-length``..``--max-length``) are written to ``OUT/labels.csv`` with a
symbolic link to each image, the layout ``tools.train.train_reader --extra OUT`` reads.
Among the shipped reader's reads scoring >= 0.9 on the validation sets, all were
right, so such labels are nearly clean. Folders that are evaluation sets
(``ar-crops``) or already labelled (``br-crops``) are refused.

Exit status: 0 written, 1 no image could be labelled, 2 usage error.
"""

from __future__ import annotations

import argparse
import csv
import logging
import sys
import time
from pathlib import Path

from plategate.errors import PlategateError
from plategate.vision.reader import PlateReader
from tools.synth.reader_data import read_image

logger = logging.getLogger(__name__)

#: folders never pseudo-labelled: evaluation sets, or sets that have real labels
REFUSED = ("ar-crops", "br-crops")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tools.train.pseudo_label", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, required=True, help="reader .tflite with its card beside it")
    p.add_argument("--images", type=Path, required=True, help="folder of unlabelled plate crops")
    p.add_argument("--out", type=Path, required=True, help="output folder (labels.csv + links to the images)")
    p.add_argument("--min-confidence", type=float, default=0.9, help="keep reads at least this confident (default: %(default)s)")
    p.add_argument("--min-length", type=int, default=4, help="shortest text kept (default: %(default)s)")
    p.add_argument("--max-length", type=int, default=10, help="longest text kept (default: %(default)s)")
    p.add_argument("--threads", type=int, default=2, help="interpreter threads (default: %(default)s)")
    p.add_argument("--exclude", type=Path, action="append", default=[], metavar="CSV",
                   help="a label file (file,... with a header) whose files are never labelled, e.g. the EU test "
                        "and calibration files of tools/eval_data; repeatable")
    return p.parse_args(argv)


def excluded_names(files: list[Path]) -> set[str]:
    """The file names listed in the first column of each CSV of *files* (header skipped).

    Raises:
        OSError: a file cannot be read.
    """
    names: set[str] = set()
    for path in files:
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
        names.update(row[0] for row in rows[1:] if row)
    return names


def label_folder(reader: PlateReader, images: list[Path], min_confidence: float, min_length: int,
                 max_length: int) -> tuple[list[tuple[Path, str, float]], int]:
    """Read *images*; return the confident ``(path, text, confidence)`` rows and the number unreadable."""
    kept, bad = [], 0
    start = time.monotonic()
    for k, path in enumerate(images, 1):
        try:
            read = reader.read(read_image(path))
        except PlategateError as exc:
            logger.warning("skipping %s", exc)
            bad += 1
            continue
        if read.confidence >= min_confidence and min_length <= len(read.text) <= max_length:
            kept.append((path, read.text, read.confidence))
        if k % 200 == 0 or k == len(images):
            print(f"{k}/{len(images)} read, {len(kept)} kept ({time.monotonic() - start:.0f} s)", flush=True)
    return kept, bad


def write_labels(out: Path, rows: list[tuple[Path, str, float]]) -> None:
    """Write ``out/labels.csv`` and a link per image (replacing an earlier run's)."""
    out.mkdir(parents=True, exist_ok=True)
    for old in out.iterdir():
        if old.is_symlink():
            old.unlink()
    with (out / "labels.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "text", "confidence"])
        for path, text, conf in rows:
            (out / path.name).symlink_to(path.resolve())
            w.writerow([path.name, text, f"{conf:.4f}"])


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if not a.images.is_dir():
        print(f"error: --images {a.images} is not a folder", file=sys.stderr)
        return 2
    if a.images.resolve().name in REFUSED:
        print(f"error: {a.images} is an evaluation or already labelled set; it is never pseudo-labelled", file=sys.stderr)
        return 2
    if not 0.0 < a.min_confidence <= 1.0:
        print(f"error: --min-confidence must be in (0, 1], got {a.min_confidence}", file=sys.stderr)
        return 2
    try:
        reader = PlateReader(a.model, threads=a.threads)
    except PlategateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        skip = excluded_names(a.exclude)
    except OSError as exc:
        print(f"error: --exclude: {exc}", file=sys.stderr)
        return 2
    images = sorted(p for p in a.images.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.name not in skip)
    if skip:
        print(f"{len(skip)} files of {len(a.exclude)} --exclude file(s) left out", flush=True)
    rows, bad = label_folder(reader, images, a.min_confidence, a.min_length, a.max_length)
    write_labels(a.out, rows)
    print(f"{len(rows)} of {len(images)} crops labelled (confidence >= {a.min_confidence}), {bad} unreadable; "
          f"written to {a.out / 'labels.csv'}")
    return 0 if rows else 1


if __name__ == "__main__":
    sys.exit(main())
