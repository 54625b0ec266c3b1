"""Training patches for the plate detector: ``train_detector data`` writes them in shards.

Each shard (``WORK/data/shard_NNNN.npz``) holds SHARD_SIZE grayscale patches with their
plate boxes and corners, cut from frames letterboxed the way the detector letterboxes at run
time: synthetic gate and street scenes (:mod:`tools.synth.scenes`), real photos with boxed
plates (:data:`REAL_SCENES`), the same photos with rendered plates painted over theirs
(``swap``, :mod:`tools.synth.swap`), training negatives, and views of the detector's own
unsure boxes as its second look sees them (``look``, :mod:`tools.train.look_data`).
:func:`make_batch` draws the training batches from them.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import time
from pathlib import Path

import cv2
import numpy as np

from plategate.vision.detector import letterbox
from tools.synth import scenes
from tools.synth.swap import swap_plates
from tools.train.detector_model import INPUT_H, INPUT_W, PATCH, make_targets
from tools.train.look_data import held_out, look_sample, read_candidates

logger = logging.getLogger(__name__)

SHARD_SIZE = 500
#: scale range (relative to the detector's letterbox, log-uniform) of the patches of real
#: photos, swaps and negatives, unless the data stage is given another
ZOOM = (0.7, 1.8)


def _read_boxes(folder: Path) -> dict[str, list[list[float]]]:
    out: dict[str, list[list[float]]] = {}
    with open(folder / "boxes.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            boxes = out.setdefault(row["file"], [])
            if row.get("x1"):
                boxes.append([float(row[k]) for k in ("x1", "y1", "x2", "y2")])
    return out


def _patch(gray: np.ndarray, boxes: np.ndarray, corners: np.ndarray, corner_ok: np.ndarray, rng: np.random.Generator,
           zoom: float, size: int = PATCH) -> dict:
    """Letterbox a frame like the detector does (times *zoom*), cut one *size* x *size* sample."""
    h, w = gray.shape
    base = min(INPUT_W / w, INPUT_H / h) * zoom
    img, geo = letterbox(gray, (max(size, int(w * base)), max(size, int(h * base))))
    s = geo.scale
    b = boxes * s + [geo.pad_x, geo.pad_y, geo.pad_x, geo.pad_y]
    c = corners * s + [geo.pad_x, geo.pad_y]
    H, W = img.shape
    if len(b) and rng.random() < 0.85:
        k = rng.integers(len(b))
        cx, cy = (b[k, 0] + b[k, 2]) / 2, (b[k, 1] + b[k, 3]) / 2
        x0 = int(np.clip(cx - rng.uniform(0.1, 0.9) * size, 0, W - size))
        y0 = int(np.clip(cy - rng.uniform(0.1, 0.9) * size, 0, H - size))
    else:
        x0, y0 = int(rng.integers(0, W - size + 1)), int(rng.integers(0, H - size + 1))
    patch = img[y0:y0 + size, x0:x0 + size]
    b = b - [x0, y0, x0, y0]
    c = c - [x0, y0]
    centre = (b[:, :2] + b[:, 2:]) / 2 if len(b) else np.zeros((0, 2))
    inside = (centre >= 0).all(1) & (centre < size).all(1) if len(b) else np.zeros(0, bool)
    return {"image": patch, "boxes": b[inside].astype(np.float32), "corners": c[inside].astype(np.float32),
            "corner_ok": corner_ok[inside]}


def _sample(kind: str, rng: np.random.Generator, ctx: dict) -> dict:
    if kind == "gate":
        sc = scenes.compose_gate_scene(rng, ctx["source"], ctx["bgs"], size=((1280, 720), (1920, 1080), (640, 480))[rng.choice(3, p=[0.7, 0.15, 0.15])])
        return _patch(cv2.cvtColor(sc.image, cv2.COLOR_BGR2GRAY), sc.boxes, sc.corners, np.ones(len(sc.boxes), bool), rng,
                      float(np.exp(rng.uniform(np.log(0.8), np.log(1.6)))))
    if kind == "street":
        sc = scenes.compose_street_scene(rng, ctx["source"], ctx["bgs"])
        return _patch(cv2.cvtColor(sc.image, cv2.COLOR_BGR2GRAY), sc.boxes, sc.corners, np.ones(len(sc.boxes), bool), rng,
                      float(np.exp(rng.uniform(np.log(0.7), np.log(1.6)))))
    patch, (zlo, zhi) = ctx["patch"], ctx["zoom"]
    if kind == "look":
        return look_sample(rng, ctx, patch)
    if kind in REAL_SCENES or kind == "swap":
        source = kind if kind != "swap" else ctx["swap_sources"][int(rng.integers(len(ctx["swap_sources"])))]
        name, bxs = ctx[source][rng.integers(len(ctx[source]))]
        img = cv2.imread(str(ctx["dirs"][source] / name), cv2.IMREAD_COLOR)
        if kind == "swap":
            img = swap_plates(img, np.array(bxs, np.float32), rng, ctx["data_dir"])
        if rng.random() < 0.5:
            img = scenes.photometric(img, rng, night=bool(rng.random() < 0.3))
        b = np.array(bxs, np.float32).reshape(-1, 4)
        c = np.stack([b[:, [0, 1]], b[:, [2, 1]], b[:, [2, 3]], b[:, [0, 3]]], axis=1)
        return _patch(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), b, c, np.zeros(len(b), bool), rng,
                      float(np.exp(rng.uniform(np.log(zlo), np.log(zhi)))), patch)
    # hard negative: a training negatives photo, maybe with distractor text
    img = ctx["bgs"].draw(rng, 960, 540) if rng.random() < 0.5 else cv2.imread(str(ctx["negs"][rng.integers(len(ctx["negs"]))]))
    if rng.random() < 0.3:
        scenes.add_distractor_text(img, rng, int(rng.integers(1, 4)))
    img = scenes.photometric(img, rng, night=bool(rng.random() < 0.3))
    return _patch(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), np.zeros((0, 4), np.float32), np.zeros((0, 4, 2), np.float32),
                  np.zeros(0, bool), rng, float(np.exp(rng.uniform(np.log(zlo), np.log(zhi)))), patch)


#: real photos with boxed plates: sample kind -> training folder under --data (never a validation part).
#: openlpr-scenes boxes only one plate per photo, so its other plates count as background: it is
#: given a smaller share than the fully boxed sets.
REAL_SCENES = {"dashcam": "ro-dashcam/train", "openimages": "openimages-plates/train", "openlpr": "openlpr-scenes/train"}
#: the real photos whose boxed plates the "swap" kind paints over with rendered ones (tools.synth.swap)
SWAP_SOURCES = ("openimages", "openlpr")
KIND_WEIGHTS = {"gate": 0.35, "street": 0.2, "dashcam": 0.3, "negative": 0.15}


def build_shards(data_dir: Path, work: Path, shards: int, seed: int, kinds_weights: dict[str, float] | None = None,
                 first: int = 0, patch: int = PATCH, zoom: tuple[float, float] = ZOOM) -> None:
    """Write shard files ``first .. first + shards - 1`` of SHARD_SIZE patches each (existing ones are kept).

    *patch* is the side of the patches of real photos, swaps and negatives, *zoom* the range of
    their scale relative to the detector's letterbox (log-uniform): larger patches and smaller
    zooms keep large plates whole in a patch. A photo is never made smaller than the patch
    (it is letterboxed into it instead). Synthetic scenes keep PATCH and their own zooms.
    """
    out = work / "data"
    out.mkdir(parents=True, exist_ok=True)
    train_negs, _held = scenes.split_negatives(data_dir / "negatives")
    weights = kinds_weights or KIND_WEIGHTS
    ctx = {"source": scenes.PlateSource(data_dir), "bgs": scenes.Backgrounds(train_negs), "negs": train_negs, "dirs": {}}
    ctx["data_dir"] = data_dir
    ctx["patch"], ctx["zoom"] = patch, zoom
    for kind, rel in REAL_SCENES.items():
        folder = data_dir / rel
        if weights.get(kind, 0) > 0 or (weights.get("swap", 0) > 0 and kind in SWAP_SOURCES and folder.is_dir()):
            ctx["dirs"][kind] = folder
            ctx[kind] = sorted(_read_boxes(folder).items())
    ctx["swap_sources"] = [k for k in SWAP_SOURCES if k in ctx]
    if weights.get("look", 0) > 0:
        _look_context(ctx, data_dir, work)
    if weights.get("swap", 0) > 0 and not ctx["swap_sources"]:
        raise FileNotFoundError(f"the swap kind needs {' or '.join(REAL_SCENES[k] for k in SWAP_SOURCES)} in {data_dir}")
    kinds, probs = list(weights), np.array(list(weights.values()), np.float64)
    for k in range(first, first + shards):
        path = out / f"shard_{k:04d}.npz"
        if path.exists():
            continue
        rng = np.random.default_rng([seed, k])
        t0 = time.time()
        samples = [_sample(kinds[rng.choice(len(kinds), p=probs / probs.sum())], rng, ctx) for _ in range(SHARD_SIZE)]
        ann = [{"boxes": s["boxes"].tolist(), "corners": s["corners"].tolist(), "corner_ok": s["corner_ok"].tolist()} for s in samples]
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, images=np.stack([s["image"] for s in samples]), ann=json.dumps(ann))
        os.replace(tmp, path)
        logger.info("shard %d (%d..%d) written in %.0f s (%s)", k, first, first + shards - 1, time.time() - t0, path)


def _look_context(ctx: dict, data_dir: Path, work: Path) -> None:
    """What the ``look`` kind draws from: the boxes mined into *work* and every boxed training plate."""
    ctx["look"] = [c for c in read_candidates(work) if not held_out(c["file"])]
    ctx["look_boxes"] = {}
    for kind, rel in REAL_SCENES.items():
        if not (data_dir / rel / "boxes.csv").is_file():
            continue
        ctx["dirs"][kind] = data_dir / rel
        for name, boxes in _read_boxes(data_dir / rel).items():
            ctx["look_boxes"][(kind, name)] = boxes
    ctx["dirs"]["negative"] = data_dir / "negatives"
    ctx["look_plates"] = [(kind, name, boxes) for (kind, name), boxes in sorted(ctx["look_boxes"].items())
                          if boxes and not held_out(name)]
    if not ctx["look_plates"]:
        raise FileNotFoundError(f"the look kind needs boxed plates in {' or '.join(REAL_SCENES.values())} under {data_dir}")
    if not ctx["look"]:
        logger.warning("no boxes were mined into %s: every look view is centred on a boxed plate", work)


def load_shards(work: Path, known: dict) -> dict:
    """Load shards not yet in *known* (path -> (images, annotations)); returns *known*."""
    for path in sorted((work / "data").glob("shard_*.npz")):
        if path.name.endswith(".tmp.npz") or str(path) in known:
            continue
        with np.load(path) as z:
            known[str(path)] = (z["images"], json.loads(str(z["ann"])))
    return known


def invert_plates(img: np.ndarray, boxes: np.ndarray, rng: np.random.Generator, share: float) -> np.ndarray:
    """Invert the grey levels inside each plate box with probability *share* (a copy if any).

    A dark plate with light characters (old British, Pakistani, Malaysian, classic-car plates)
    is rare among the boxed photos; inverting a light plate where it stands makes one in a real
    photo's light and surroundings.
    """
    out = img
    for x1, y1, x2, y2 in boxes:
        if rng.random() >= share:
            continue
        a, b = max(int(round(x1)), 0), min(int(round(x2)), img.shape[1])
        c, d = max(int(round(y1)), 0), min(int(round(y2)), img.shape[0])
        if b - a < 2 or d - c < 2:
            continue
        if out is img:
            out = img.copy()
        out[c:d, a:b] = 255 - out[c:d, a:b]
    return out


def make_batch(pool: list[tuple[np.ndarray, dict]], rng: np.random.Generator, batch: int,
               size: int = PATCH, invert: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pick *batch* samples, random-crop them to *size* and augment: flips, contrast/brightness,
    and with probability *invert* per plate its grey levels inverted (:func:`invert_plates`)."""
    imgs, heats, regs = [], [], []
    for i in rng.integers(0, len(pool), batch):
        img, ann = pool[i]
        b = np.array(ann["boxes"], np.float32).reshape(-1, 4)
        c = np.array(ann["corners"], np.float32).reshape(-1, 4, 2)
        ok = np.array(ann["corner_ok"], bool)
        if size < img.shape[0]:
            if len(b) and rng.random() < 0.8:  # keep a plate in the crop
                k = rng.integers(len(b))
                cx, cy = (b[k, 0] + b[k, 2]) / 2, (b[k, 1] + b[k, 3]) / 2
                x0 = int(np.clip(cx - rng.uniform(0.15, 0.85) * size, 0, img.shape[1] - size))
                y0 = int(np.clip(cy - rng.uniform(0.15, 0.85) * size, 0, img.shape[0] - size))
            else:
                x0, y0 = (int(v) for v in rng.integers(0, img.shape[0] - size + 1, 2))
            img = img[y0:y0 + size, x0:x0 + size]
            b = b - [x0, y0, x0, y0]
            c = c - [x0, y0]
            centre = (b[:, :2] + b[:, 2:]) / 2
            inside = (centre >= 0).all(1) & (centre < size).all(1)
            b, c, ok = b[inside], c[inside], ok[inside]
        if invert > 0 and len(b):
            img = invert_plates(img, b, rng, invert)
        img = img.astype(np.float32)
        if rng.random() < 0.5:
            img = img[:, ::-1]
            b = np.stack([size - b[:, 2], b[:, 1], size - b[:, 0], b[:, 3]], axis=1)
            c = c[:, [1, 0, 3, 2]]
            c[..., 0] = size - c[..., 0]
        img = img * rng.uniform(0.6, 1.4) + rng.uniform(-40, 40)
        heat, reg = make_targets(b, c, ok, size)
        imgs.append(np.clip(img, 0, 255) / 255.0)
        heats.append(heat)
        regs.append(reg)
    return np.stack(imgs)[..., None].astype(np.float32), np.stack(heats), np.stack(regs)
