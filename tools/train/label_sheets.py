"""Contact sheets for checking plate labels by eye: numbered crops with their label and a reader's read.

Picks the crops of a labelled folder (``labels.csv``: file,text) that deserve a second look:
those a reader reads differently from the label at ``--min-confidence`` or above, plus those
whose file is listed in ``--also`` (e.g. the ``unsure`` ones), and draws them 16 to a PNG
sheet, each with its number, its label and the reader's read::

    python -m tools.train.label_sheets work/real/scene-train --reader models/reader.tflite \\
        --also-status ../shared/datasets/scene-crops/crops.csv:unsure --out work/sheets

With ``--all``, every crop of the folder goes on a sheet with its label and the read: the
way to check a folder gathered by ``platectl events crops`` before ``tools.train.site_tune``.

With ``--unlabelled``, *folder* is a folder of crops without labels: every crop not named in a
``--skip`` CSV goes on a sheet (in a seeded order), its label shown as ``?``, for reading by
eye from scratch (the ``eu-crops`` of ``tools/labels/eu-crops-text.csv``)::

    python -m tools.train.label_sheets ../shared/datasets/eu-crops --unlabelled \
        --skip tools/labels/eu-crops-text.csv --skip tools/eval_data/eu-crops-test-text.csv \
        --skip tools/eval_data/eu-crops-calib-text.csv --out work/eu-sheets

Next to the sheets, ``index.csv`` (sheet,number,file,label,read,confidence) says which crop
each number is. Whoever reads the sheets writes down what each crop shows; corrections go
to ``tools/labels/scene-crops-train-fixes.csv`` (file,text,action), which
``tools.train.real_crops`` applies.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
from pathlib import Path

import cv2

from plategate.errors import PlategateError
from plategate.imageio import load_image
from tools.eval.sheets import PER_SHEET, sheet, tile
from tools.synth.reader_data import Sample, load_labelled
from tools.synth.scenes import list_images


def status_files(spec: str) -> set[str]:
    """``crops.csv:unsure`` -> the files of that status."""
    path, _, status = spec.rpartition(":")
    with open(path, newline="") as fh:
        return {r["file"] for r in csv.DictReader(fh) if r["status"] == status}


def unlabelled(folder: Path, skip: list[Path], seed: int) -> list[Sample]:
    """The images of *folder* not named in any *skip* CSV, in an order shuffled by *seed*, labelled ``?``.

    Raises:
        OSError: a CSV cannot be read.
        KeyError: a CSV has no ``file`` column.
    """
    named: set[str] = set()
    for path in skip:
        with path.open(newline="") as fh:
            named |= {r["file"] for r in csv.DictReader(fh)}
    files = [p for p in list_images(folder) if p.name not in named]
    random.Random(seed).shuffle(files)
    return [Sample(p, "?") for p in files]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.train.label_sheets", description=__doc__.split("\n\n")[0], epilog=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folder", type=Path, help="labelled crops folder (labels.csv: file,text)")
    p.add_argument("--reader", type=Path, default=Path("models/reader.tflite"), help="reader .tflite (default: %(default)s)")
    p.add_argument("--min-confidence", type=float, default=0.7,
                   help="a read that differs from the label at this confidence or above puts the crop on a sheet (default: %(default)s)")
    p.add_argument("--also-status", action="append", default=[], metavar="CROPS_CSV:STATUS",
                   help="also every crop of this status in a crops.csv (repeatable)")
    p.add_argument("--all", action="store_true",
                   help="every labelled crop on a sheet (checking a whole folder, e.g. platectl events crops)")
    p.add_argument("--out", type=Path, default=Path("work/sheets"), help="(default: %(default)s)")
    p.add_argument("--unlabelled", action="store_true",
                   help="FOLDER holds crops without labels: put every one on a sheet (label ?)")
    p.add_argument("--skip", action="append", type=Path, default=[], metavar="CSV",
                   help="with --unlabelled: leave out the files this CSV (file,...) names (repeatable)")
    p.add_argument("--seed", type=int, default=7, help="with --unlabelled: order of the crops (default: %(default)s)")
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args(argv)
    from plategate.vision.reader import PlateReader

    try:
        reader = PlateReader(a.reader, threads=a.threads, views=1)
        if a.unlabelled:
            samples = unlabelled(a.folder, a.skip, a.seed)
            also = {s.path.name for s in samples}
        else:
            samples = load_labelled(a.folder)
            also = set().union(*(status_files(s) for s in a.also_status)) if a.also_status else set()
    except (PlategateError, OSError, KeyError, ValueError) as exc:
        print(f"label_sheets: error: {exc}", file=sys.stderr)
        return 2
    picked = []
    for s in samples:
        try:
            img = load_image(s.path)
        except PlategateError as exc:
            print(f"label_sheets: skipping {exc}", file=sys.stderr)
            continue
        r = reader.read(img)
        if a.all or s.path.name in also or (r.text != s.text and r.confidence >= a.min_confidence):
            picked.append((s, img, r))
    a.out.mkdir(parents=True, exist_ok=True)
    with (a.out / "index.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["sheet", "number", "file", "label", "read", "confidence"])
        for k in range(0, len(picked), PER_SHEET):
            part = picked[k : k + PER_SHEET]
            name = f"sheet_{k // PER_SHEET:03d}.png"
            tiles = [tile(img, n, s.text, r.text, r.confidence) for n, (s, img, r) in enumerate(part, 1)]
            cv2.imwrite(str(a.out / name), sheet(tiles))
            for n, (s, _img, r) in enumerate(part, 1):
                w.writerow([name, n, s.path.name, s.text, r.text, round(r.confidence, 3)])
    print(f"{len(picked)} of {len(samples)} crops on {-(-len(picked) // PER_SHEET)} sheets in {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
