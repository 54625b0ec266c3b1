"""Synthetic detector scenes: licence plates composited into whole camera frames.

Two looks are produced:

* **gate** frames (1280x720 by default): one vehicle front or rear, drawn as a simple
  car-like body around the plate, close to the camera (plate 60-400 px wide), in day
  colour or in an IR-night grayscale look (dark scene, bright retro-reflective plate);
* **street** frames (dashcam-like, 960x540 by default): several small plates pasted on
  a background photograph at many scales.

Plates come from the project's renderer (:mod:`tools.synth.plates`) and, when a data
folder is given, from real crops in ``eu-crops``. Every plate is warped with a random
3-D pose so each scene carries exact plate corners (TL, TR, BR, BL) as well as boxes.
Backgrounds are photographs from ``negatives`` (the training part only, see
:func:`split_negatives`) or generated clutter when no data folder is given.

Run as a tool to write a labelled scene folder (``boxes.csv`` with file,x1,y1,x2,y2,text)
that ``tools.eval.evaluate`` reads::

    python -m tools.synth.scenes --out work/scenes --count 200 --seed 7 --data ../shared/datasets
"""

from __future__ import annotations

import argparse
import csv
import logging
import math
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from tools.synth import plates

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
HELDOUT_MODULUS = 6  # one negatives file in six (by CRC32 of its name) is held out, never trained on


@dataclass
class Scene:
    """One composited frame and its ground truth.

    Attributes:
        image: BGR uint8 frame.
        boxes: ``(n, 4)`` float32 axis-aligned plate boxes ``x1, y1, x2, y2`` in pixels.
        corners: ``(n, 4, 2)`` float32 plate corners TL, TR, BR, BL in pixels.
        texts: plate text per box (``""`` when unknown, e.g. a real unlabeled crop).
    """

    image: np.ndarray
    boxes: np.ndarray
    corners: np.ndarray
    texts: list[str] = field(default_factory=list)


def list_images(folder: Path) -> list[Path]:
    """Image files in *folder*, sorted by name."""
    return sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def is_heldout_negative(name: str) -> bool:
    """Whether a negatives file is in the fixed held-out part (never used for training)."""
    return zlib.crc32(name.encode()) % HELDOUT_MODULUS == 0


def split_negatives(folder: Path) -> tuple[list[Path], list[Path]]:
    """Split the negatives folder into (training, held-out) file lists, stable across runs."""
    files = list_images(folder)
    held = [p for p in files if is_heldout_negative(p.name)]
    train = [p for p in files if not is_heldout_negative(p.name)]
    return train, held


class PlateSource:
    """Draws plate images: rendered (known text) or real crops (unknown text).

    Args:
        data_dir: the shared datasets folder (``eu-crops`` and glyphs are used when present).
        real_fraction: share of plates taken from real ``eu-crops`` when available.
    """

    def __init__(self, data_dir: Path | None = None, real_fraction: float = 0.4) -> None:
        self.data_dir = Path(data_dir) if data_dir else None
        self.real: list[Path] = []
        if self.data_dir and (self.data_dir / "eu-crops").is_dir():
            self.real = list_images(self.data_dir / "eu-crops")
        self.real_fraction = real_fraction if self.real else 0.0

    def draw(self, rng: np.random.Generator, height: int = 64) -> tuple[np.ndarray, str]:
        """Return one upright BGR plate image and its text (``""`` for a real crop)."""
        if self.real and rng.random() < self.real_fraction:
            img = cv2.imread(str(self.real[rng.integers(len(self.real))]), cv2.IMREAD_COLOR)
            if img is not None and img.size:
                return img, ""
        style = plates.STYLES[rng.integers(len(plates.STYLES))]
        img, text = plates.render_plate(style=style, rng=rng, height=height, data_dir=self.data_dir)
        return img, text


class Backgrounds:
    """Background photographs (training negatives) or generated clutter."""

    def __init__(self, files: list[Path] | None = None) -> None:
        self.files = list(files or [])

    def draw(self, rng: np.random.Generator, width: int, height: int) -> np.ndarray:
        """A BGR background of exactly ``width`` x ``height`` (random crop + resize)."""
        img = None
        if self.files and rng.random() < 0.85:
            img = cv2.imread(str(self.files[rng.integers(len(self.files))]), cv2.IMREAD_COLOR)
        if img is None:
            return _clutter(rng, width, height)
        h, w = img.shape[:2]
        scale = rng.uniform(0.6, 1.0)
        cw, ch = int(w * scale), int(h * scale)
        x0, y0 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        img = img[y0:y0 + ch, x0:x0 + cw]
        if rng.random() < 0.5:
            img = img[:, ::-1]
        return cv2.resize(img, (width, height), interpolation=cv2.INTER_LINEAR)


def _clutter(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """Generated background: gradient, rectangles, lines and stray text."""
    base = rng.uniform(30, 200, 3)
    img = np.empty((height, width, 3), np.float32)
    img[:] = base
    img *= np.linspace(rng.uniform(0.6, 1.2), rng.uniform(0.6, 1.2), height, dtype=np.float32)[:, None, None]
    img = img.clip(0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(5, 25))):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        w, h = int(rng.integers(10, width // 2)), int(rng.integers(10, height // 2))
        if rng.random() < 0.6:
            cv2.rectangle(img, (x, y), (x + w, y + h), colour, -1)
        else:
            cv2.line(img, (x, y), (x + w, y + h), colour, int(rng.integers(1, 6)))
    return img


def add_distractor_text(img: np.ndarray, rng: np.random.Generator, count: int) -> None:
    """Write non-plate text (words, numbers, signs) into *img* in place: hard negatives."""
    h, w = img.shape[:2]
    words = ("OPEN", "EXIT", "PARKING", "NO ENTRY", "SALE 50%", "CAFE", "STOP", "TAXI", "HOTEL", "P+R 24H")
    for _ in range(count):
        text = words[rng.integers(len(words))] if rng.random() < 0.7 else str(int(rng.integers(1, 99999)))
        scale = rng.uniform(0.4, 2.5)
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        org = (int(rng.integers(0, max(1, w - 50))), int(rng.integers(20, h)))
        cv2.putText(img, text, org, int(rng.choice([0, 1, 2, 3, 4, 6, 7])), scale, colour, int(rng.integers(1, 4)), cv2.LINE_AA)


def plate_corners(center: tuple[float, float], width: float, aspect: float, rng: np.random.Generator,
                  max_yaw: float = 35.0, max_pitch: float = 20.0, max_roll: float = 8.0) -> np.ndarray:
    """Corners TL, TR, BR, BL of a plate of *width* px seen under a random 3-D pose."""
    yaw, pitch, roll = (math.radians(rng.uniform(-m, m)) for m in (max_yaw, max_pitch, max_roll))
    hw, hh = width / 2.0, width / aspect / 2.0
    pts = np.array([[-hw, -hh, 0], [hw, -hh, 0], [hw, hh, 0], [-hw, hh, 0]], np.float64)
    cy, sy, cp, sp, cr, sr = math.cos(yaw), math.sin(yaw), math.cos(pitch), math.sin(pitch), math.cos(roll), math.sin(roll)
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rx = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    rz = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    pts = pts @ (rz @ rx @ ry).T
    focal = width * rng.uniform(2.0, 6.0)
    z = pts[:, 2] + focal
    proj = pts[:, :2] * (focal / z)[:, None]
    proj *= width / max(1e-6, np.ptp(proj[:, 0]))  # keep the apparent width as asked
    return (proj + np.asarray(center)).astype(np.float32)


def paste_plate(canvas: np.ndarray, plate: np.ndarray, corners: np.ndarray, gain: float = 1.0) -> None:
    """Warp *plate* onto *canvas* (in place) so that its corners land on *corners*."""
    h, w = canvas.shape[:2]
    x0, y0 = np.floor(corners.min(0)).astype(int) - 2
    x1, y1 = np.ceil(corners.max(0)).astype(int) + 2
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if x1 <= x0 or y1 <= y0:
        return
    ph, pw = plate.shape[:2]
    src = np.array([[0, 0], [pw, 0], [pw, ph], [0, ph]], np.float32)
    mat = cv2.getPerspectiveTransform(src, (corners - [x0, y0]).astype(np.float32))
    size = (x1 - x0, y1 - y0)
    warped = cv2.warpPerspective(plate, mat, size, flags=cv2.INTER_AREA if pw > size[0] else cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(np.ones((ph, pw), np.float32), mat, size, flags=cv2.INTER_LINEAR)[..., None]
    roi = canvas[y0:y1, x0:x1].astype(np.float32)
    out = roi * (1 - mask) + warped.astype(np.float32) * gain * mask
    canvas[y0:y1, x0:x1] = out.clip(0, 255).astype(np.uint8)


def draw_vehicle(canvas: np.ndarray, plate_center: tuple[float, float], plate_w: float, rng: np.random.Generator) -> None:
    """Draw a simple car front or rear around where a plate will go (in place)."""
    cx, cy = plate_center
    body_w = plate_w * rng.uniform(3.2, 4.4)
    body_top = cy - plate_w * rng.uniform(1.2, 2.2)
    body_bot = cy + plate_w * rng.uniform(0.35, 0.7)
    colour = np.array(rng.integers(0, 256, 3), np.float64)
    if rng.random() < 0.4:
        colour[:] = rng.integers(10, 250)  # gray/white/black cars are common
    x1, x2 = int(cx - body_w / 2), int(cx + body_w / 2)
    y1, y2 = int(body_top), int(body_bot)
    radius = int(plate_w * 0.3)
    cv2.rectangle(canvas, (x1 + radius, y1), (x2 - radius, y2), colour.tolist(), -1)
    cv2.rectangle(canvas, (x1, y1 + radius), (x2, y2), colour.tolist(), -1)
    cv2.circle(canvas, (x1 + radius, y1 + radius), radius, colour.tolist(), -1)
    cv2.circle(canvas, (x2 - radius, y1 + radius), radius, colour.tolist(), -1)
    # windscreen / rear window
    win_b = int(body_top + (cy - body_top) * rng.uniform(0.35, 0.5))
    win_t = int(body_top - plate_w * rng.uniform(0.6, 1.0))
    glass = (colour * rng.uniform(0.1, 0.4)).tolist()
    inset = body_w * rng.uniform(0.08, 0.16)
    poly = np.array([[x1 + inset, win_b], [x2 - inset, win_b], [x2 - inset * 1.8, win_t], [x1 + inset * 1.8, win_t]], np.int32)
    cv2.fillPoly(canvas, [poly], glass)
    # lights
    light = (rng.uniform(150, 255), rng.uniform(150, 255), 255) if rng.random() < 0.5 else (40, 40, 230)
    ly = int(cy - plate_w * rng.uniform(0.5, 1.0))
    for lx in (x1 + body_w * 0.13, x2 - body_w * 0.13):
        cv2.ellipse(canvas, (int(lx), ly), (int(plate_w * 0.35), int(plate_w * 0.14)), 0, 0, 360, light, -1)
    # grille / bumper line
    if rng.random() < 0.5:
        for k in range(int(rng.integers(2, 6))):
            gy = int(cy - plate_w * 0.3 - k * plate_w * 0.09)
            cv2.line(canvas, (int(cx - plate_w * 0.8), gy), (int(cx + plate_w * 0.8), gy), (colour * 0.3).tolist(), max(1, int(plate_w * 0.02)))
    cv2.line(canvas, (x1, int(cy + plate_w * 0.25)), (x2, int(cy + plate_w * 0.25)), (colour * 0.5).tolist(), max(1, int(plate_w * 0.03)))


def motion_blur(img: np.ndarray, rng: np.random.Generator, max_len: int = 9) -> np.ndarray:
    """Linear motion blur with a random direction and length."""
    length = int(rng.integers(3, max_len + 1))
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1.0
    rot = cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5), float(rng.uniform(0, 180)), 1.0)
    kernel = cv2.warpAffine(kernel, rot, (length, length))
    kernel /= max(kernel.sum(), 1e-6)
    return cv2.filter2D(img, -1, kernel)


def photometric(img: np.ndarray, rng: np.random.Generator, night: bool) -> np.ndarray:
    """Lighting, blur, noise and JPEG artefacts over a whole frame."""
    if night:
        out = cv2.cvtColor(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    else:
        levels = np.arange(256, dtype=np.float32) * rng.uniform(0.5, 1.3) + rng.uniform(-30, 30)
        levels = 255.0 * (levels.clip(0, 255) / 255.0) ** rng.uniform(0.7, 1.4)
        out = cv2.LUT(img, levels.clip(0, 255).astype(np.uint8))
        if rng.random() < 0.3:  # smooth shadow / gradient across the frame
            h, w = out.shape[:2]
            a, b = rng.uniform(0.4, 1.0), rng.uniform(0.8, 1.2)
            ramp = np.linspace(a, b, w, dtype=np.float32)[None, :] if rng.random() < 0.5 else np.linspace(a, b, h, dtype=np.float32)[:, None]
            ramp = cv2.resize(np.broadcast_to(ramp, (h, w)).copy(), (w, h))
            out = cv2.multiply(out, cv2.merge([ramp, ramp, ramp]), dtype=cv2.CV_8U)
    if rng.random() < 0.35:
        out = motion_blur(out, rng)
    if rng.random() < 0.3:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.5, 1.6))
    if rng.random() < 0.6 or night:
        sigma = rng.uniform(4, 14) if night else rng.uniform(1, 8)
        noise = np.empty(out.shape, np.int16)
        cv2.setRNGSeed(int(rng.integers(2**31)))
        cv2.randn(noise, 0, sigma)
        out = cv2.add(out.astype(np.int16), noise, dtype=cv2.CV_16S).clip(0, 255).astype(np.uint8)
    if rng.random() < 0.7:
        ok, enc = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(35, 95))])
        if ok:
            out = cv2.imdecode(enc, cv2.IMREAD_COLOR)
    if night:  # an IR camera gives one channel: keep the frame exactly gray
        out = cv2.cvtColor(cv2.cvtColor(out, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    return out


def _finish(canvas: np.ndarray, corners: list[np.ndarray], texts: list[str], rng: np.random.Generator, night: bool) -> Scene:
    image = photometric(canvas, rng, night)
    cs = np.array(corners, np.float32).reshape(-1, 4, 2)
    h, w = image.shape[:2]
    cs[..., 0] = cs[..., 0].clip(0, w - 1)
    cs[..., 1] = cs[..., 1].clip(0, h - 1)
    boxes = np.concatenate([cs.min(1), cs.max(1)], axis=1) if len(cs) else np.zeros((0, 4), np.float32)
    return Scene(image=image, boxes=boxes.astype(np.float32), corners=cs, texts=texts)


def compose_gate_scene(rng: np.random.Generator, source: PlateSource, backgrounds: Backgrounds,
                       size: tuple[int, int] = (1280, 720), night: bool | None = None,
                       plate_width: tuple[float, float] = (60, 400)) -> Scene:
    """A gate-camera frame: one vehicle with its plate, day colour or IR night.

    Args:
        rng: random generator (the scene is a pure function of its state).
        source: where plates come from.
        backgrounds: background photographs.
        size: frame ``(width, height)``.
        night: IR-night look; ``None`` chooses at random (40 %).
        plate_width: range of plate widths in pixels.
    """
    w, h = size
    night = bool(rng.random() < 0.4) if night is None else night
    canvas = backgrounds.draw(rng, w, h)
    if night:
        canvas = (canvas.astype(np.float32) * rng.uniform(0.1, 0.45)).astype(np.uint8)
    if rng.random() < 0.3:
        add_distractor_text(canvas, rng, int(rng.integers(1, 4)))
    plate, text = source.draw(rng)
    pw = float(np.exp(rng.uniform(np.log(plate_width[0]), np.log(plate_width[1]))))
    aspect = plate.shape[1] / plate.shape[0]
    cx = rng.uniform(0.15, 0.85) * w
    cy = rng.uniform(0.35, 0.9) * h
    if night:
        canvas_car = canvas.copy()
        draw_vehicle(canvas_car, (cx, cy), pw, rng)
        canvas = cv2.addWeighted(canvas, 0.3, canvas_car, 0.3, 0)
    else:
        draw_vehicle(canvas, (cx, cy), pw, rng)
    corners = plate_corners((cx, cy), pw, aspect, rng, max_yaw=30, max_pitch=25, max_roll=6)
    gain = rng.uniform(1.4, 2.6) if night else rng.uniform(0.5, 1.15)
    paste_plate(canvas, plate, corners, gain)
    return _finish(canvas, [corners], [text], rng, night)


def compose_street_scene(rng: np.random.Generator, source: PlateSource, backgrounds: Backgrounds,
                         size: tuple[int, int] = (960, 540), max_plates: int = 4) -> Scene:
    """A dashcam-like frame: a background with zero to *max_plates* small plates."""
    w, h = size
    night = bool(rng.random() < 0.25)
    canvas = backgrounds.draw(rng, w, h)
    if night:
        canvas = (canvas.astype(np.float32) * rng.uniform(0.15, 0.5)).astype(np.uint8)
    if rng.random() < 0.5:
        add_distractor_text(canvas, rng, int(rng.integers(1, 5)))
    corners: list[np.ndarray] = []
    texts: list[str] = []
    taken: list[tuple[float, float, float, float]] = []
    for _ in range(int(rng.integers(0, max_plates + 1))):
        plate, text = source.draw(rng)
        pw = float(np.exp(rng.uniform(np.log(22), np.log(240))))
        cx, cy = rng.uniform(0.05, 0.95) * w, rng.uniform(0.2, 0.95) * h
        c = plate_corners((cx, cy), pw, plate.shape[1] / plate.shape[0], rng)
        b = (*c.min(0), *c.max(0))
        if any(b[0] < t[2] + 10 and t[0] < b[2] + 10 and b[1] < t[3] + 10 and t[1] < b[3] + 10 for t in taken):
            continue
        if b[0] < 0 or b[1] < 0 or b[2] >= w or b[3] >= h:
            continue
        if rng.random() < 0.5:  # a car-ish patch behind the plate
            car = (int(b[0] - pw * 0.8), int(b[1] - pw * 0.9), int(b[2] + pw * 0.8), int(b[3] + pw * 0.3))
            cv2.rectangle(canvas, car[:2], car[2:], tuple(int(v) for v in rng.integers(0, 256, 3)), -1)
        paste_plate(canvas, plate, c, rng.uniform(1.0, 1.6) if night else rng.uniform(0.5, 1.15))
        taken.append(b)
        corners.append(c)
        texts.append(text)
    return _finish(canvas, corners, texts, rng, night)


def write_scene_folder(out: Path, count: int, seed: int, data_dir: Path | None, kind: str = "gate") -> Path:
    """Write *count* scenes as JPEGs plus ``boxes.csv`` (file,x1,y1,x2,y2,text); returns the CSV path."""
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    source = PlateSource(data_dir, real_fraction=0.0)  # known text only
    negs = split_negatives(data_dir / "negatives")[1] if data_dir and (data_dir / "negatives").is_dir() else []
    bgs = Backgrounds(negs)  # held-out backgrounds: evaluation scenes never share training backgrounds
    csv_path = out / "boxes.csv"
    with open(csv_path, "w", newline="") as fh:
        wr = csv.writer(fh)
        wr.writerow(["file", "x1", "y1", "x2", "y2", "text"])
        for i in range(count):
            scene = compose_gate_scene(rng, source, bgs) if kind == "gate" else compose_street_scene(rng, source, bgs)
            name = f"{kind}{i:05d}.jpg"
            cv2.imwrite(str(out / name), scene.image, [cv2.IMWRITE_JPEG_QUALITY, 92])
            if not len(scene.boxes):
                wr.writerow([name, "", "", "", "", ""])
            for box, text in zip(scene.boxes, scene.texts, strict=True):
                wr.writerow([name, *(f"{v:.1f}" for v in box), text])
    return csv_path


def main(argv: list[str] | None = None) -> int:
    """Write a labelled folder of synthetic scenes."""
    ap = argparse.ArgumentParser(prog="python -m tools.synth.scenes", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="output folder (created)")
    ap.add_argument("--count", type=int, default=100, help="number of scenes")
    ap.add_argument("--seed", type=int, default=7, help="random seed")
    ap.add_argument("--data", type=Path, default=None, help="shared datasets folder (held-out negatives as backgrounds)")
    ap.add_argument("--kind", choices=("gate", "street"), default="gate", help="scene look")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    path = write_scene_folder(args.out, args.count, args.seed, args.data, args.kind)
    logger.info("wrote %d scenes and %s", args.count, path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
