"""Training views for the second look (``plategate.vision.second_look``): the detector's own
unsure boxes on the training photos, seen the way the second look sees them.

:func:`mine` (``train_detector mine``) runs the shipped detector over the training photos (``ro-dashcam/train``,
``openimages-plates/train``, ``openlpr-scenes/train``) and the training negatives, and writes
every box it scores from ``--low`` up to ``--high`` to ``WORK/look-candidates.csv``, marked
``plate`` (IoU >= 0.5 with a boxed plate) or ``none`` (IoU < 0.2 with every boxed plate, in a
set where every plate is boxed); the boxes in between are left out, and so are openlpr-scenes
boxes away from its one boxed plate (its other plates are not boxed). Then
``train_detector data --mix look=...`` cuts training patches around them with
:func:`look_sample`: the photo scaled as a second look scales it (a view of 2.2-4.5 box widths
to the looking network's input width), the boxed plates as targets. Half the views are centred
on a boxed plate, its box jittered the way the detector's boxes miss it. A fifth of the
photos (:func:`held_out`) never give a view: the looking network's threshold is chosen on them.
Example::

    python -m tools.train.train_detector mine --data ../shared/datasets --work work/look1
    python -m tools.train.train_detector data --data ../shared/datasets --work work/look1 --mix look=1
"""

from __future__ import annotations

import csv
import logging
import zlib
from pathlib import Path

import cv2
import numpy as np

from tools.eval.evaluate import iou

logger = logging.getLogger(__name__)

CANDIDATES = "look-candidates.csv"
#: the second look's input width (the coarse network's): a view is scaled to it
LOOK_INPUT_W = 320
#: the views' width, in box widths (log-uniform)
VIEW_WIDTHS = (2.2, 4.5)
#: the share of views centred on a boxed plate rather than on a mined box
PLATE_SHARE = 0.5
#: the training sets whose every plate is boxed: their unmatched boxes are plate-free views
FULLY_BOXED = ("dashcam", "openimages")
PAD = 114
#: one training photo in this many is held out of the look views
HOLD_OUT = 5


def held_out(name: str) -> bool:
    """Whether a training photo is kept out of the look views (about a fifth of them, by the crc32
    of the name; no openlpr-scenes name falls in it): on those the looking network's threshold is
    chosen (``tools.eval.look_threshold``)."""
    return zlib.crc32(name.encode()) % HOLD_OUT == 0


def read_candidates(work: Path) -> list[dict]:
    """The mined boxes of ``WORK/look-candidates.csv``.

    Raises:
        FileNotFoundError: nothing was mined into *work* yet.
    """
    path = work / CANDIDATES
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run python -m tools.train.train_detector mine --work {work} first")
    with open(path, newline="") as fh:
        return [{"source": r["source"], "file": r["file"], "box": [float(r[k]) for k in ("x1", "y1", "x2", "y2")],
                 "score": float(r["score"]), "label": r["label"]} for r in csv.DictReader(fh)]


def view_patch(gray: np.ndarray, box: np.ndarray, plates: np.ndarray, rng: np.random.Generator, size: int) -> dict:
    """A *size* x *size* patch around *box*, scaled as a second look of a random width scales it,
    with the *plates* inside it as targets (the shard format of ``tools.train.detector_data``)."""
    bw = max(float(box[2] - box[0]), 6.0)
    view_w = bw * float(np.exp(rng.uniform(*np.log(VIEW_WIDTHS))))
    scale = LOOK_INPUT_W / view_w
    side = size / scale  # the patch's side in photo pixels
    cx = (box[0] + box[2]) / 2 + rng.uniform(-0.3, 0.3) * side
    cy = (box[1] + box[3]) / 2 + rng.uniform(-0.3, 0.3) * side
    x0, y0 = cx - side / 2, cy - side / 2
    m = np.array([[scale, 0, -x0 * scale], [0, scale, -y0 * scale]], np.float64)
    small = scale < 0.5
    src = cv2.GaussianBlur(gray, (0, 0), 0.5 / scale) if small else gray  # no aliasing where the view shrinks the photo
    patch = cv2.warpAffine(src, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=PAD)
    b = (np.asarray(plates, np.float64).reshape(-1, 4) - [x0, y0, x0, y0]) * scale
    centre = (b[:, :2] + b[:, 2:]) / 2
    inside = (centre >= 0).all(1) & (centre < size).all(1)
    b = b[inside].astype(np.float32)
    corners = np.stack([b[:, [0, 1]], b[:, [2, 1]], b[:, [2, 3]], b[:, [0, 3]]], axis=1) if len(b) else np.zeros((0, 4, 2), np.float32)
    return {"image": patch, "boxes": b, "corners": corners.astype(np.float32), "corner_ok": np.zeros(len(b), bool)}


def jitter(box: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """*box* moved and resized the way the detector's unsure boxes miss a plate."""
    w, h = box[2] - box[0], box[3] - box[1]
    cx, cy = (box[0] + box[2]) / 2 + rng.normal(0, 0.12) * w, (box[1] + box[3]) / 2 + rng.normal(0, 0.12) * h
    w, h = w * float(np.exp(rng.normal(0, 0.2))), h * float(np.exp(rng.normal(0, 0.2)))
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])


def look_sample(rng: np.random.Generator, ctx: dict, size: int) -> dict:
    """One training patch of the ``look`` kind: a view around a boxed plate or a mined box.

    *ctx* holds ``look`` (the mined boxes), ``look_plates`` (``(source, file, boxes)`` of every
    photo with a boxed plate) and ``dirs`` (source -> folder, ``negative`` -> the negatives folder).
    """
    if rng.random() < PLATE_SHARE or not ctx["look"]:
        source, name, boxes = ctx["look_plates"][int(rng.integers(len(ctx["look_plates"])))]
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        box = jitter(boxes[int(rng.integers(len(boxes)))], rng)
    else:
        cand = ctx["look"][int(rng.integers(len(ctx["look"])))]
        source, name, box = cand["source"], cand["file"], np.asarray(cand["box"], np.float64)
        boxes = np.asarray(ctx["look_boxes"].get((source, name), []), np.float64).reshape(-1, 4)
    gray = cv2.imread(str(ctx["dirs"][source] / name), cv2.IMREAD_GRAYSCALE)
    if gray is None:
        raise FileNotFoundError(f"cannot read {ctx['dirs'][source] / name}")
    return view_patch(gray, box, boxes, rng, size)


def label_of(box: np.ndarray, plates: np.ndarray, source: str) -> str | None:
    """``plate``, ``none`` or ``None`` (left out) for a mined *box* among the photo's boxed *plates*."""
    best = float(iou(box[None], plates).max()) if len(plates) else 0.0
    if best >= 0.5:
        return "plate"
    if source == "negative" or (source in FULLY_BOXED and best < 0.2):
        return "none"
    return None


def mine(sources: dict[str, Path], negatives: list[Path], work: Path, low: float, high: float, threads: int = 2) -> int:
    """Write ``WORK/look-candidates.csv`` (see the module docstring); returns the number of boxes written.

    Args:
        sources: sample kind (``dashcam``, ``openimages``, ``openlpr``) -> training folder with ``boxes.csv``.
        negatives: the training negatives.
        work: the detector work folder.
        low, high: the score range mined.
        threads: the detector's threads.
    """
    from plategate.config import RecognitionConfig
    from plategate.imageio import load_image
    from plategate.vision.detector import PlateDetector
    from plategate.vision.recognizer import with_more_passes
    from tools.eval.evaluate import read_boxes_csv

    cfg = RecognitionConfig(threads=threads, second_look=False)
    first = PlateDetector(cfg.detector_path(), threads=threads, min_score=low, close_up=cfg.close_up,
                          close_up_below=cfg.min_detection_score)
    detector = with_more_passes(first, cfg)
    photos: list[tuple[str, Path, np.ndarray]] = []
    for source, folder in sources.items():
        for name, truth in sorted(read_boxes_csv(folder).items()):
            photos.append((source, folder / name, np.asarray(truth.boxes, np.float64).reshape(-1, 4)))
    photos += [("negative", path, np.zeros((0, 4))) for path in negatives]
    work.mkdir(parents=True, exist_ok=True)
    tmp = work / (CANDIDATES + ".tmp")
    written = 0
    with open(tmp, "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["source", "file", "x1", "y1", "x2", "y2", "score", "label"])
        for k, (source, path, plates) in enumerate(photos):
            for det in detector.detect(load_image(path)):
                if not low <= det.score < high:
                    continue
                label = label_of(np.asarray(det.box, np.float64), plates, source)
                if label is not None:
                    out.writerow([source, path.name, *det.box, round(det.score, 3), label])
                    written += 1
            if (k + 1) % 500 == 0:
                logger.info("mined %d of %d photos, %d boxes", k + 1, len(photos), written)
    tmp.replace(work / CANDIDATES)
    return written
