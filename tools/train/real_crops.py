"""Lay out the real labelled plate crops as folders the reader tools take (labels.csv + links).

The shared datasets keep their labels in several forms (``scene-crops/crops.csv`` with a
split and a status per crop; the eu-crops texts read by eye in ``tools/labels`` and
``tools/eval_data``; ``br-crops/labels.csv``). This tool writes one folder per set under
``--out``, each with a ``labels.csv`` (file,text) and symbolic links to the images, so that
``tools.train.train_reader --extra``, ``tools.eval.evaluate --crops`` and ``tools.quantize
--calibrate`` read them alike::

    python -m tools.train.real_crops --data ../shared/datasets --out work/real

Folders written (those whose source is missing are skipped with a note):

* ``scene-train``: ``scene-crops`` train split, status ``ok`` or ``unsure``, after the
  corrections of ``--fixes`` (default ``tools/labels/scene-crops-train-fixes.csv``), less
  ``scene-calib``;
* ``scene-calib``: the crops of a fixed share of the train split's photos (``--calib-share``,
  default 0.12, chosen by a hash of the photo's name): real crops from many countries that
  neither train nor judge a reader, for calibrating its confidence (``tools.quantize
  --calibrate``);
* ``scene-val``: ``scene-crops`` val split, status ``ok`` or ``unsure`` (the scored part);
* ``eu-hand``: the eu-crops read by eye for training (``tools/labels/eu-crops-text.csv``);
* ``eu-test``, ``eu-calib``: the eu-crops evaluation and calibration texts
  (``tools/eval_data``).

Images never get copied into the project: the links point into ``--data``.
"""

from __future__ import annotations

import argparse
import csv
import logging
import re
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

from plategate.errors import PlategateError
from plategate.types import normalise_plate

logger = logging.getLogger(__name__)

TOOLS = Path(__file__).resolve().parents[1]
DEFAULT_FIXES = TOOLS / "labels" / "scene-crops-train-fixes.csv"
DEFAULT_EU_HAND = TOOLS / "labels" / "eu-crops-text.csv"
#: statuses of scene-crops whose text is scored and trained on
READ_STATUSES = ("ok", "unsure")
#: the reader emits at most this many characters
MAX_TEXT = 10
#: share of the scene-crops train photos whose crops are kept for calibration
CALIB_SHARE = 0.12


class LabelError(PlategateError):
    """A label file is missing a column, or a correction names a crop that does not exist."""


@dataclass(frozen=True)
class Fix:
    """A correction of one scene-crops training label: a new text, or dropped."""

    file: str
    text: str
    drop: bool


def load_fixes(path: Path) -> dict[str, Fix]:
    """Read a corrections CSV ``file,text,action``: ``fix`` (the crop shows *text*), ``drop``
    (unreadable or not a registration) or ``keep`` (checked again, the label is right).

    Raises:
        LabelError: a column is missing or an action is unknown (the row is named).
    """
    fixes: dict[str, Fix] = {}
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        missing = {"file", "text", "action"} - set(reader.fieldnames or [])
        if missing:
            raise LabelError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
        for line, row in enumerate(reader, 2):
            action = row["action"].strip()
            if action not in ("fix", "drop", "keep"):
                raise LabelError(f"{path}:{line}: action must be fix, drop or keep, got {action!r}")
            if action == "keep":
                continue
            text = normalise_plate(row["text"])
            if action == "fix" and not text:
                raise LabelError(f"{path}:{line}: a fix needs a text")
            fixes[row["file"].strip()] = Fix(row["file"].strip(), text, action == "drop")
    return fixes


def scene_rows(crops_csv: Path, split: str, fixes: dict[str, Fix] | None = None,
               max_text: int | None = MAX_TEXT) -> list[tuple[str, str]]:
    """``(file, text)`` of the readable crops of *split*, corrections applied; texts longer
    than *max_text* (the reader's limit, for training) are left out unless it is None.

    Raises:
        LabelError: a correction names a crop that is not in *split* of *crops_csv*.
    """
    return [(row["file"], text) for row, text in _readable(crops_csv, split, fixes, max_text)]


def _readable(crops_csv: Path, split: str, fixes: dict[str, Fix] | None,
              max_text: int | None) -> list[tuple[dict[str, str], str]]:
    """The ``crops.csv`` rows of :func:`scene_rows`, each with its text."""
    fixes = fixes or {}
    out, seen = [], set()
    with crops_csv.open(newline="") as fh:
        for row in csv.DictReader(fh):
            if row["split"] != split:
                continue
            seen.add(row["file"])
            fix = fixes.get(row["file"])
            if fix is not None:
                if not fix.drop:
                    out.append((row, fix.text))
                continue
            text = normalise_plate(row["text"])
            if row["status"] in READ_STATUSES and text and (max_text is None or 1 < len(text) <= max_text):
                out.append((row, text))
    unknown = sorted(set(fixes) - seen)
    if unknown:
        raise LabelError(f"{crops_csv}: corrections name crops not in its {split} split: {', '.join(unknown[:5])}")
    return out


def photo_texts(crops_csv: Path, split: str, source: str, fixes: dict[str, Fix] | None = None) -> dict[str, dict[int, str]]:
    """The texts of *split*'s readable crops (:func:`scene_rows`, no length limit) cut from the
    photos of *source* (``crops.csv``'s ``source`` column), as ``{photo: {box: text}}``: crop
    ``NAME_pN`` is the plate of box N (0-based) of its photo in that photo set's ``boxes.csv``.

    Raises:
        LabelError: a correction names a crop that is not in *split*.
    """
    out: dict[str, dict[int, str]] = {}
    for row, text in _readable(crops_csv, split, fixes, max_text=None):
        box = re.search(r"_p(\d+)\.[^.]+$", row["file"])
        if row["source"] == source and box:
            out.setdefault(row["scene"], {})[int(box.group(1))] = text
    return out


def calibration_files(crops_csv: Path, share: float) -> set[str]:
    """The train-split crops of the photos that hash (CRC-32 of the ``scene`` name) into the
    first *share* of 1000 buckets: the same photos on every machine, whatever else changes."""
    limit = round(share * 1000)
    with crops_csv.open(newline="") as fh:
        return {r["file"] for r in csv.DictReader(fh)
                if r["split"] == "train" and zlib.crc32(r["scene"].encode()) % 1000 < limit}


def text_rows(labels_csv: Path) -> list[tuple[str, str]]:
    """``(file, text)`` of a ``file,text`` CSV (extra columns are ignored)."""
    with labels_csv.open(newline="") as fh:
        return [(r["file"].strip(), normalise_plate(r["text"])) for r in csv.DictReader(fh) if normalise_plate(r["text"])]


def write_folder(out: Path, images: Path, rows: list[tuple[str, str]]) -> int:
    """Write ``out/labels.csv`` and a link per image found in *images*; returns the rows written."""
    out.mkdir(parents=True, exist_ok=True)
    kept = []
    for name, text in rows:
        src = (images / name).resolve()
        if not src.is_file():
            logger.warning("%s: not found, left out", src)
            continue
        link = out / name
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(src)
        kept.append((name, text))
    with (out / "labels.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "text"])
        w.writerows(kept)
    return len(kept)


def plan(data: Path, fixes_path: Path | None, calib_share: float = CALIB_SHARE,
         eu_hand: Path = DEFAULT_EU_HAND) -> dict[str, tuple[Path, list[tuple[str, str]]]]:
    """The folders to write: name -> (image folder, rows)."""
    jobs: dict[str, tuple[Path, list[tuple[str, str]]]] = {}
    scene = data / "scene-crops"
    if (scene / "crops.csv").is_file():
        fixes = load_fixes(fixes_path) if fixes_path is not None and fixes_path.is_file() else {}
        train = scene_rows(scene / "crops.csv", "train", fixes)
        calib = calibration_files(scene / "crops.csv", calib_share)
        jobs["scene-train"] = (scene / "images", [r for r in train if r[0] not in calib])
        jobs["scene-calib"] = (scene / "images", [r for r in train if r[0] in calib])
        jobs["scene-val"] = (scene / "images", scene_rows(scene / "crops.csv", "val", max_text=None))
    eu = data / "eu-crops"
    if eu.is_dir():
        for name, csv_path in (("eu-hand", eu_hand),
                               ("eu-test", TOOLS / "eval_data" / "eu-crops-test-text.csv"),
                               ("eu-calib", TOOLS / "eval_data" / "eu-crops-calib-text.csv")):
            jobs[name] = (eu, text_rows(csv_path))
    return jobs


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.train.real_crops", description=__doc__.split("\n\n")[0],
                                epilog=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, required=True, help="shared datasets folder")
    p.add_argument("--out", type=Path, default=Path("work/real"), help="where the folders go (default: %(default)s)")
    p.add_argument("--fixes", type=Path, default=DEFAULT_FIXES,
                   help="corrections of scene-crops training labels, CSV file,text,action (default: %(default)s)")
    p.add_argument("--calib-share", type=float, default=CALIB_SHARE,
                   help="share of the scene-crops train photos kept for calibration, 0 to 1 (default: %(default)s)")
    p.add_argument("--eu-hand", type=Path, default=DEFAULT_EU_HAND,
                   help="eu-crops texts read by eye for training, CSV file,text (default: %(default)s)")
    a = p.parse_args(argv)
    if not 0 <= a.calib_share < 1:
        p.error(f"--calib-share must be at least 0 and below 1, got {a.calib_share}")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if not a.data.is_dir():
        print(f"error: --data {a.data}: not a folder", file=sys.stderr)
        return 2
    try:
        jobs = plan(a.data, a.fixes, a.calib_share, a.eu_hand)
    except (LabelError, OSError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not jobs:
        print(f"error: {a.data} holds neither scene-crops nor eu-crops", file=sys.stderr)
        return 2
    for name, (images, rows) in jobs.items():
        n = write_folder(a.out / name, images, rows)
        print(f"{a.out / name}: {n} crops", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
