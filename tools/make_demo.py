"""Render demo footage: vehicles approaching a barrier, day and IR night.

Each vehicle drives up the lane towards the camera, stops at the barrier, waits and
drives off to the side; its plate is rendered by ``tools.synth.plates``. Some plates
are on ``config/demo-allowlist.csv`` (granted), one is blocklisted, the others are
unknown. Frames go to a folder of JPEGs (what the replay camera reads) together
with ``manifest.json`` saying which vehicle shows at which frame and what the gate
should decide.

Usage::

    python -m tools.make_demo --out demo/footage [--fps 10] [--seed 7]
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from tools.synth.plates import render_plate

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
ALLOWLIST = ROOT / "config" / "demo-allowlist.csv"
W, H = 1280, 720
FOOTAGE_VERSION = 3


@dataclass(frozen=True)
class Vehicle:
    plate: str
    style: str
    colour: tuple[int, int, int]
    night: bool
    expect: str  # granted / denied


VEHICLES = (
    Vehicle("AB12CDE", "uk", (40, 40, 160), False, "granted"),
    Vehicle("KX934PL", "eu", (150, 150, 150), False, "denied"),
    Vehicle("BRA2E19", "br", (30, 30, 30), False, "granted"),
    Vehicle("MH27XTR", "uk", (120, 60, 20), True, "granted"),
    Vehicle("ZZ999ZZ", "uk", (200, 200, 200), True, "denied"),
    Vehicle("AD054JI", "ar", (40, 110, 40), False, "denied"),
)


def read_allowlist(path: Path = ALLOWLIST) -> dict[str, str]:
    """plate -> kind (allow/block) from the demo allowlist CSV."""
    with path.open(newline="") as fh:
        rows = [r for r in csv.reader(fh) if r and not r[0].startswith("#")]
    header = [c.strip().lower() for c in rows[0]]
    out = {}
    for row in rows[1:]:
        rec = dict(zip(header, row, strict=False))
        out[rec["plate"].strip().upper()] = (rec.get("kind") or "allow").strip().lower()
    return out


def background(night: bool, rng: np.random.Generator) -> np.ndarray:
    """A driveway seen from a camera on a post beside the barrier."""
    img = np.zeros((H, W, 3), np.uint8)
    img[:260] = (200, 170, 140)  # sky / far wall
    cv2.rectangle(img, (0, 150), (W, 260), (90, 110, 100), -1)  # hedge
    road = np.array([[560, 260], [720, 260], [W + 300, H], [-300, H]], np.int32)
    cv2.fillPoly(img, [road], (95, 95, 100))
    cv2.fillPoly(img, [np.array([[0, 260], [560, 260], [-300, H], [0, H]], np.int32)], (80, 120, 80))
    cv2.fillPoly(img, [np.array([[720, 260], [W, 260], [W, H], [W + 300, H]], np.int32)], (80, 120, 80))
    for y in range(300, H, 70):  # lane markings
        t = (y - 260) / (H - 260)
        cv2.line(img, (640, y), (640, y + int(30 * t) + 5), (220, 220, 220), max(1, int(6 * t)))
    cv2.rectangle(img, (1060, 360), (1090, 640), (60, 60, 60), -1)  # barrier post
    cv2.rectangle(img, (300, 345), (1075, 365), (30, 30, 220), -1)  # barrier arm
    for x in range(300, 1075, 80):
        cv2.rectangle(img, (x, 345), (x + 40, 365), (240, 240, 240), -1)
    noise = rng.normal(0, 4, img.shape)
    img = np.clip(img.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    return to_night(img) if night else img


def to_night(img: np.ndarray) -> np.ndarray:
    """IR-night look: monochrome, dark, with a hot spot of IR illumination."""
    gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).astype(np.float32)
    yy, xx = np.mgrid[0:H, 0:W]
    spot = np.exp(-(((xx - 640) / 500.0) ** 2 + ((yy - 520) / 260.0) ** 2))
    out = gray * (0.15 + 0.55 * spot)
    return cv2.cvtColor(np.clip(out, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)


def draw_vehicle(frame: np.ndarray, v: Vehicle, plate_img: np.ndarray, cx: float, bottom: float,
                 scale: float) -> tuple[int, int, int, int] | None:
    """Draw a car seen from the front with its plate; *scale* 1.0 is about 620 px wide."""
    w, h = 620 * scale, 330 * scale
    x1, x2 = int(cx - w / 2), int(cx + w / 2)
    y2, y1 = int(bottom), int(bottom - h)
    colour = v.colour
    body = np.array([[x1, y2 - int(0.08 * h)], [x1 + int(0.04 * w), y1 + int(0.45 * h)],
                     [x1 + int(0.2 * w), y1], [x2 - int(0.2 * w), y1], [x2 - int(0.04 * w), y1 + int(0.45 * h)],
                     [x2, y2 - int(0.08 * h)], [x2, y2], [x1, y2]], np.int32)
    cv2.fillPoly(frame, [body], colour, lineType=cv2.LINE_AA)
    glass = np.array([[x1 + int(0.24 * w), y1 + int(0.06 * h)], [x2 - int(0.24 * w), y1 + int(0.06 * h)],
                      [x2 - int(0.1 * w), y1 + int(0.42 * h)], [x1 + int(0.1 * w), y1 + int(0.42 * h)]], np.int32)
    cv2.fillPoly(frame, [glass], (70, 60, 50), lineType=cv2.LINE_AA)
    for lx in (x1 + int(0.1 * w), x2 - int(0.22 * w)):
        cv2.rectangle(frame, (lx, y1 + int(0.52 * h)), (lx + int(0.12 * w), y1 + int(0.62 * h)), (230, 240, 250), -1)
    cv2.rectangle(frame, (x1 + int(0.3 * w), y1 + int(0.55 * h)), (x2 - int(0.3 * w), y1 + int(0.66 * h)),
                  (25, 25, 25), -1)  # grille
    for wx in (x1 + int(0.04 * w), x2 - int(0.16 * w)):
        cv2.rectangle(frame, (wx, y2 - int(0.05 * h)), (wx + int(0.12 * w), y2 + int(0.06 * h)), (15, 15, 15), -1)
    pw = max(8, int(0.34 * w))
    ph = max(4, int(pw * plate_img.shape[0] / plate_img.shape[1]))
    px, py = int(cx - pw / 2), y1 + int(0.72 * h)
    if px < 0 or py < 0 or px + pw > W or py + ph > H:
        return None
    frame[py:py + ph, px:px + pw] = cv2.resize(plate_img, (pw, ph), interpolation=cv2.INTER_AREA)
    return px, py, px + pw, py + ph


def vehicle_frames(v: Vehicle, plate_img: np.ndarray, bg: np.ndarray, fps: float, rng) -> list[np.ndarray]:
    """Frames of one vehicle: approach (2.5 s), stop at the barrier (1.5 s), leave (1 s), empty (1 s)."""
    frames = []
    noises = [rng.normal(0, 3, bg.shape).astype(np.int16) for _ in range(4)]
    n_in, n_stop, n_out, n_empty = int(2.5 * fps), int(1.5 * fps), int(1.0 * fps), int(1.0 * fps)
    for i in range(n_in + n_stop + n_out + n_empty):
        frame = bg.copy()
        if i < n_in:
            t = i / max(1, n_in - 1)
            scale, bottom, cx = 0.25 + 0.7 * t, 300 + 360 * t, 640
        elif i < n_in + n_stop:
            scale, bottom, cx = 0.95, 660, 640
        elif i < n_in + n_stop + n_out:
            t = (i - n_in - n_stop + 1) / n_out
            scale, bottom, cx = 0.95 + 0.2 * t, 660 + 40 * t, 640 + 900 * t
        else:
            scale = 0
        if scale:
            car = frame.copy() if not v.night else cv2.cvtColor(
                cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
            box = draw_vehicle(car, v, plate_img, cx, bottom, scale)
            if v.night:  # the car body dark, the retro-reflective plate bright under IR
                gray = cv2.cvtColor(car, cv2.COLOR_BGR2GRAY).astype(np.float32)
                diff = np.any(car != frame, axis=2)
                gray[diff] *= 0.55
                if box is not None:
                    x1, y1, x2, y2 = box
                    gray[y1:y2, x1:x2] = np.clip(gray[y1:y2, x1:x2] / 0.55 * 1.25, 0, 255)
                car = cv2.cvtColor(np.clip(gray, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)
            frame = car
        noise = noises[i % len(noises)] * (1 if not v.night else 2)
        frames.append(np.clip(frame.astype(np.int16) + noise, 0, 255).astype(np.uint8))
    return frames


def render(out: Path, fps: float = 10.0, seed: int = 7, vehicles: tuple[Vehicle, ...] = VEHICLES) -> dict:
    """Write the footage and its manifest into *out*; returns the manifest."""
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("frame_*.jpg"):
        old.unlink()
    allow = read_allowlist()
    manifest = {"version": FOOTAGE_VERSION, "fps": fps, "size": [W, H], "seed": seed, "vehicles": []}
    index = 0
    empty = background(False, rng)
    for _ in range(int(fps)):  # a second of empty scene so motion detection settles
        cv2.imwrite(str(out / f"frame_{index:05d}.jpg"), empty, [cv2.IMWRITE_JPEG_QUALITY, 90])
        index += 1
    for v in vehicles:
        kind = allow.get(v.plate)
        expect = "granted" if kind == "allow" else "denied"
        if expect != v.expect:
            raise SystemExit(f"config/demo-allowlist.csv disagrees with the demo for {v.plate}: expected {v.expect}")
        plate_img, text = render_plate(v.plate, v.style, rng, height=96)
        bg = background(v.night, rng)
        start = index
        for frame in vehicle_frames(v, plate_img, bg, fps, rng):
            cv2.imwrite(str(out / f"frame_{index:05d}.jpg"), frame, [cv2.IMWRITE_JPEG_QUALITY, 90])
            index += 1
        manifest["vehicles"].append({"plate": text, "style": v.style, "night": v.night, "expect": expect,
                                     "frames": [start, index - 1], "listed": kind})
        logger.info("vehicle %s (%s, %s): frames %d-%d", text, v.style, "night" if v.night else "day", start, index - 1)
    manifest["frames"] = index
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.make_demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "demo" / "footage", help="output folder (default demo/footage)")
    parser.add_argument("--fps", type=float, default=10.0, help="frame rate the footage is made for")
    parser.add_argument("--seed", type=int, default=7, help="random seed")
    parser.add_argument("--vehicles", type=int, default=len(VEHICLES), help="render only the first N vehicles")
    parser.add_argument("--force", action="store_true", help="render again even if up to date")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    manifest_path = args.out / "manifest.json"
    if not args.force and manifest_path.exists():
        try:
            old = json.loads(manifest_path.read_text())
            if (old.get("version") == FOOTAGE_VERSION and old.get("seed") == args.seed and old.get("fps") == args.fps
                    and len(old.get("vehicles", [])) == args.vehicles):
                print(f"demo footage in {args.out} is up to date ({old['frames']} frames)")
                return 0
        except (OSError, ValueError):
            pass
    manifest = render(args.out, args.fps, args.seed, VEHICLES[:args.vehicles])
    print(f"wrote {manifest['frames']} frames of {len(manifest['vehicles'])} vehicles to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
