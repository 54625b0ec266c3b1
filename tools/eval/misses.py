"""Contact sheets of what the validation suite loses: the plates a photo set's detector misses, the crops a crop set misreads.

The suite (:mod:`tools.eval.suite`) counts; this tool shows. For each chosen set it runs the
models the way the suite does (the daemon's default ``[recognition]`` settings) and draws every
loss in a numbered tile::

    python -m tools.eval.misses ../shared/datasets --set "openimages val" --set "scene-crops val" --out work/misses

* **photo sets**: each plate the suite counts and the detector does not find at IoU 0.5
  (for the street and phone photos, those at least 40 px wide), cut out with a plate width
  of its surroundings. The label's box is green, the daemon's boxes red. Under the tile: the
  plate's width and the nearest box a detector at :data:`LOW_SCORE` finds (IoU with the
  label's box, score): a box at IoU 0.3-0.5 scored high is a plate found but boxed otherwise
  than its label; no box at all, a plate the network does not see.
  The plates with a text read by eye (the suite's end to end) that are found and read otherwise
  go to their own sheets (``<set>-reads``): the crop the daemon cut, its read and confidence.
* **crop sets**: each crop read otherwise than its text (three views, free decoding), with
  the read and its confidence. ``--country US`` keeps only the scene-crops val plates of that
  country (``tools/eval_data/scene-crops-val-country.csv``; repeatable).

Each set goes to ``OUT/<set>-NNN.png`` with ``OUT/<set>.csv`` saying which file each number is.
"""

from __future__ import annotations

import argparse
import csv
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from plategate.config import RecognitionConfig
from plategate.errors import PlategateError
from plategate.imageio import load_image
from tools.eval.evaluate import iou, match
from tools.eval.groups import COUNTRY_CSV, read_groups
from tools.eval.sheets import PER_SHEET, sheet, tile
from tools.eval.suite import CROP_SETS, SCENE_SETS, WIDE, SceneSet, crop_items, scene_truth

logger = logging.getLogger(__name__)

#: the score from which the second, low detector reports the nearest box to a missed plate
LOW_SCORE = 0.15


@dataclass(frozen=True)
class Loss:
    """One plate lost by a set: what to show and what to write under it."""

    file: str
    image: np.ndarray
    label: str
    read: str
    score: float


def plate_view(frame: np.ndarray, truth: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """*frame* cut around the label's box *truth* (a plate width each side), the label's box
    green and *boxes* red."""
    view = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR) if frame.ndim == 2 else frame[..., :3].copy()
    for box, colour in [(truth, (0, 200, 0)), *((b, (0, 0, 255)) for b in boxes)]:
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        cv2.rectangle(view, (x1, y1), (x2, y2), colour, 1 + view.shape[1] // 800)
    x1, y1, x2, y2 = truth
    pad = max(x2 - x1, 20)
    h, w = view.shape[:2]
    return view[int(max(0, y1 - pad)):int(min(h, y2 + pad)), int(max(0, x1 - pad)):int(min(w, x2 + pad))]


def scene_losses(recognizer, low, data: Path, s: SceneSet) -> tuple[int, list[Loss], list[Loss]]:
    """The plates of photo set *s* that *recognizer*'s detector misses (*low* reports the nearest
    weak box), and the plates with a text read by eye that it finds and reads otherwise (the
    suite's end to end: the daemon's crop and its read).

    Returns:
        (plates counted, plates missed, plates misread).
    """
    from plategate.vision.recognizer import crop_plate

    folder = data / s.folder
    counted, out, misread = 0, [], []
    for name, t in scene_truth(data, s):
        gt = np.array(t.boxes, np.float64).reshape(-1, 4)
        try:
            frame = load_image(folder / name)
        except PlategateError as exc:
            logger.warning("%s", exc)
            continue
        dets = recognizer.detector.detect(frame)
        boxes = np.array([d.box for d in dets], np.float64).reshape(-1, 4)
        _tp, owner = match(boxes, np.array([d.score for d in dets]), gt)
        weak = None
        for j, g in enumerate(gt):
            want = t.texts[j] if j < len(t.texts) else ""
            if want and owner[j] >= 0:
                k = int(owner[j])
                crop = crop_plate(frame, dets[k])
                r = recognizer.reader.read(crop) if k < recognizer.max_plates else None
                if r is None or r.text != want:
                    misread.append(Loss(name, crop, want, r.text if r else "(not read)", r.confidence if r else 0.0))
            if s.wide_only and g[2] - g[0] < WIDE:
                continue
            counted += 1
            if owner[j] >= 0:
                continue
            if weak is None:
                weak = low.detector.detect(frame)
            read, score = "no box", 0.0
            if weak:
                overlaps = iou(np.array([d.box for d in weak], np.float64), g[None])[:, 0]
                k = int(overlaps.argmax())
                read, score = f"near box IoU {overlaps[k]:.2f}", weak[k].score
            out.append(Loss(name, plate_view(frame, g, boxes), f"{g[2] - g[0]:.0f} px", read, score))
    return counted, out, misread


def crop_losses(reader, items: list[tuple[Path, str]]) -> tuple[int, list[Loss]]:
    """The crops *reader* reads otherwise than their text. Returns (crops, losses)."""
    out = []
    for path, text in items:
        try:
            img = load_image(path)
        except PlategateError as exc:
            logger.warning("%s", exc)
            continue
        r = reader.read(img)
        if r.text != text:
            out.append(Loss(path.name, img, text, r.text or "-", r.confidence))
    return len(items), out


def write_sheets(losses: list[Loss], out: Path, stem: str) -> list[Path]:
    """Draw *losses* on sheets ``OUT/STEM-NNN.png`` and list them in ``OUT/STEM.csv``.

    Raises:
        OSError: a file cannot be written.
    """
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with (out / f"{stem}.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["sheet", "number", "file", "label", "read", "score"])
        for k in range(0, len(losses), PER_SHEET):
            path = out / f"{stem}-{k // PER_SHEET:03d}.png"
            part = losses[k : k + PER_SHEET]
            if not cv2.imwrite(str(path), sheet([tile(x.image, n, x.label, x.read, x.score) for n, x in enumerate(part, 1)])):
                raise OSError(f"cannot write {path}")
            w.writerows([path.name, n, x.file, x.label, x.read, round(x.score, 3)] for n, x in enumerate(part, 1))
            written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    names = [s.name for s in SCENE_SETS] + list(CROP_SETS)
    p = argparse.ArgumentParser(prog="python -m tools.eval.misses", description=__doc__.split("\n\n")[0],
                                epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data", type=Path, help="the shared datasets folder")
    p.add_argument("--set", action="append", choices=names, default=[], metavar="NAME",
                   help="a set of the suite (repeatable; default: all): " + ", ".join(names))
    p.add_argument("--out", type=Path, default=Path("work/misses"), help="(default: %(default)s)")
    p.add_argument("--detector", type=Path, help="detector .tflite (default: the shipped one)")
    p.add_argument("--coarse", type=Path, help="the detector's coarse pass .tflite (default: the shipped one)")
    p.add_argument("--reader", type=Path, help="reader .tflite (default: the shipped one)")
    p.add_argument("--threads", type=int, default=2, help="(default: %(default)s)")
    p.add_argument("--country", action="append", type=str.upper, default=[], metavar="CC",
                   help="scene-crops val: only the plates of this country (ISO 3166 alpha-2, repeatable)")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from plategate.vision.recognizer import Recognizer

    models = {"threads": a.threads, "detector_model": a.detector, "coarse_model": a.coarse, "reader_model": a.reader}
    try:
        recognizer = Recognizer.from_config(RecognitionConfig(**models))
        low = Recognizer.from_config(RecognitionConfig(**models, min_detection_score=LOW_SCORE, second_look=False))
    except PlategateError as exc:
        print(f"misses: error: {exc}", file=sys.stderr)
        return 1
    try:
        for name in a.set or names:
            stem = name.replace(" ", "-")
            scene = next((s for s in SCENE_SETS if s.name == name), None)
            if scene is not None:
                if not (a.data / scene.folder / "boxes.csv").is_file():
                    print(f"{name}: {a.data / scene.folder} not found, skipped", file=sys.stderr)
                    continue
                counted, losses, misread = scene_losses(recognizer, low, a.data, scene)
                sheets = write_sheets(misread, a.out, stem + "-reads")
                print(f"{name}: {len(misread)} plates found and read otherwise end to end, on {len(sheets)} sheets in {a.out}")
            else:
                items = crop_items(a.data, name)
                if not items:
                    print(f"{name}: not found under {a.data}, skipped", file=sys.stderr)
                    continue
                if a.country and name == "scene-crops val":
                    countries = read_groups(COUNTRY_CSV)
                    items = [it for it in items if countries.get(it[0].name) in a.country]
                    stem += "-" + "-".join(a.country)
                counted, losses = crop_losses(recognizer.reader, items)
            sheets = write_sheets(losses, a.out, stem)
            print(f"{name}: {len(losses)} of {counted} lost, on {len(sheets)} sheets in {a.out}")
    except (OSError, ValueError) as exc:
        print(f"misses: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
