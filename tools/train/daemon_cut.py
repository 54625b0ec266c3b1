"""Cut labelled plates again the way the daemon cuts plates out of frames.

The real training crops (``scene-crops``) were cut from photos by hand-drawn boxes with a
fixed margin (12 % of the plate's width each side, 25 % of its height above and below), at
the photos' full resolution. The daemon never reads such a crop: its detector finds the plate
in a frame and :func:`plategate.vision.recognizer.crop_plate` cuts it, perspective-rectified
and with a thin margin, at the frame's resolution. Two ways to cut such crops, each with the
daemon's detector (the default ``[recognition]`` passes) and ``crop_plate``:

* ``--crops FOLDER`` (``labels.csv``: file,text): each crop is given whole to the detector;
  the detection that overlaps the crop's plate (the crop less its margins) at IoU >= 0.5 is
  cut and written with the crop's text::

    python -m tools.train.daemon_cut --crops work/real/scene-train --out work/real/scene-cut

* ``--photos FOLDER --source NAME``: the photos the crops were cut from (``boxes.csv``); each
  box with a readable ``scene-crops`` train crop (corrections of ``--fixes`` applied) takes
  its text, the detection that matches it at IoU >= 0.5 is cut::

    python -m tools.train.daemon_cut --photos DATA/openimages-plates/train \
        --source openimages-plates --scene-crops DATA/scene-crops --out work/real/photo-cut-oi

Plates the detector does not find are left out: the daemon would not read them either.
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
from tools.eval.evaluate import add_box_texts, read_boxes_csv
from tools.eval.export_crops import cut_labelled, write_labels
from tools.train.real_crops import DEFAULT_FIXES, load_fixes, photo_texts

logger = logging.getLogger(__name__)

#: the margins of the scene-crops cuts: share of the plate's width on each side, of its height above and below
SCENE_MARGINS = (0.12, 0.25)
#: a detection is the crop's plate from this IoU on
IOU = 0.5


def plate_box(shape: tuple[int, ...], margins: tuple[float, float] = SCENE_MARGINS) -> np.ndarray:
    """The plate's ``(x1, y1, x2, y2)`` in a crop of *shape* cut with *margins* around it."""
    h, w = shape[:2]
    mx, my = w * margins[0] / (1 + 2 * margins[0]), h * margins[1] / (1 + 2 * margins[1])
    return np.array([mx, my, w - mx, h - my], np.float64)


def cut(detector, image: np.ndarray, margins: tuple[float, float] = SCENE_MARGINS) -> np.ndarray | None:
    """The crop's plate as the daemon cuts it, or ``None`` when no detection is it."""
    from plategate.vision.detector import box_iou
    from plategate.vision.recognizer import crop_plate

    dets = detector.detect(image)
    if not dets:
        return None
    ious = box_iou(plate_box(image.shape, margins), np.array([d.box for d in dets], np.float64))
    best = int(np.argmax(ious))
    return crop_plate(image, dets[best]) if ious[best] >= IOU else None


def _write(out: Path, file: str, image: np.ndarray) -> str:
    if not cv2.imwrite(str(out / file), image):
        raise OSError(f"cannot write {out / file}")
    return file


def cut_folder(detector, crops: Path, out: Path, margins: tuple[float, float] = SCENE_MARGINS,
               progress=print) -> tuple[int, int]:
    """Cut every crop of *crops* into *out* (PNG files and ``labels.csv``).

    Returns:
        (crops written, crops left out: unreadable or their plate not found).

    Raises:
        OSError: ``labels.csv`` cannot be read or *out* cannot be written.
    """
    with open(crops / "labels.csv", newline="") as fh:
        rows = [(r["file"], r["text"]) for r in csv.DictReader(fh)]
    out.mkdir(parents=True, exist_ok=True)
    kept: list[tuple[str, str]] = []
    for k, (name, text) in enumerate(rows, 1):
        try:
            plate = cut(detector, load_image(crops / name), margins)
        except PlategateError as exc:
            logger.warning("%s: %s", crops / name, exc)
            plate = None
        if plate is not None and min(plate.shape[:2]) >= 4:
            kept.append((_write(out, f"{Path(name).stem}.png", plate), text))
        if k % 500 == 0 or k == len(rows):
            progress(f"{k}/{len(rows)} crops, {len(kept)} cut")
    write_labels(out, kept)
    return len(kept), len(rows) - len(kept)


def cut_photos(detector, photos: Path, texts: dict[str, dict[int, str]], out: Path) -> tuple[int, list[str]]:
    """Cut the plates of *photos* (``boxes.csv``) that *texts* names (``{photo: {box: text}}``) into
    *out* (:func:`tools.eval.export_crops.cut_labelled`, files ``STEM_pN.png``, and ``labels.csv``).

    Returns:
        (crops written, descriptions of the labelled plates of *photos* left out: photo unreadable
        or plate not found).

    Raises:
        OSError: ``boxes.csv`` cannot be read or *out* cannot be written.
    """
    truth = read_boxes_csv(photos)
    for t in truth.values():  # only the crops' texts, never a text column of boxes.csv
        t.texts = [""] * len(t.boxes)
    add_box_texts(truth, texts)
    rows, skipped = cut_labelled(detector, photos, truth, out, 0.0, file_name=lambda stem, j: f"{stem}_p{j}.png")
    write_labels(out, rows)
    return len(rows), skipped


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.train.daemon_cut", description=__doc__.split("\n\n")[0],
                                epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--crops", type=Path, help="folder of crops with labels.csv (file,text)")
    src.add_argument("--photos", type=Path, help="folder of photos with boxes.csv whose plates have scene-crops crops")
    p.add_argument("--source", help="with --photos: the photos' name in scene-crops/crops.csv (e.g. openimages-plates)")
    p.add_argument("--scene-crops", type=Path, help="with --photos: the scene-crops folder (its crops.csv)")
    p.add_argument("--fixes", type=Path, default=DEFAULT_FIXES,
                   help="with --photos: corrections of scene-crops training labels (default: %(default)s)")
    p.add_argument("--out", type=Path, required=True, help="folder to write (PNG crops + labels.csv)")
    p.add_argument("--margins", default=",".join(map(str, SCENE_MARGINS)), metavar="X,Y",
                   help="the crops' margins around their plate: share of its width each side, of its height "
                        "above and below (default: %(default)s, scene-crops)")
    p.add_argument("--threads", type=int, default=2, help="(default: %(default)s)")
    a = p.parse_args(argv)
    try:
        margins = tuple(float(v) for v in a.margins.split(","))
        if len(margins) != 2 or not all(0 <= m < 1 for m in margins):
            raise ValueError
    except ValueError:
        p.error(f"--margins must be two shares from 0 to 1 such as 0.12,0.25, got {a.margins!r}")
    if a.crops is not None and not (a.crops / "labels.csv").is_file():
        print(f"daemon_cut: error: {a.crops / 'labels.csv'} not found", file=sys.stderr)
        return 2
    if a.photos is not None:
        if not a.source or a.scene_crops is None:
            p.error("--photos needs --source and --scene-crops")
        for need in (a.photos / "boxes.csv", a.scene_crops / "crops.csv"):
            if not need.is_file():
                print(f"daemon_cut: error: {need} not found", file=sys.stderr)
                return 2
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        from plategate.config import RecognitionConfig
        from plategate.vision.recognizer import detector_from_config

        detector = detector_from_config(RecognitionConfig(threads=a.threads))
        say = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
        if a.crops is not None:
            written, left = cut_folder(detector, a.crops, a.out, margins, progress=say)
        else:
            fixes = load_fixes(a.fixes) if a.fixes.is_file() else {}
            texts = photo_texts(a.scene_crops / "crops.csv", "train", a.source, fixes)
            written, skipped = cut_photos(detector, a.photos, texts, a.out)
            for line in skipped:
                print(f"skipped {line}", file=sys.stderr)
            left = sum(len(v) for v in texts.values()) - written
    except (PlategateError, OSError) as exc:
        print(f"daemon_cut: error: {exc}", file=sys.stderr)
        return 1
    print(f"{written} crops cut into {a.out} ({left} left out: unreadable or not found)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
