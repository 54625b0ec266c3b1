"""Plates seen as close-ups: each labelled plate of a scenes folder cut out of its frame so that it
spans a given share of the picture's width, as a camera a metre or two from the car sees it.

Used by ``python -m tools.eval.evaluate --scenes DIR --close-ups F1,F2,...`` to measure the detector's
close-up pass (``recognition.close_up``; models/README.md, "Validation").
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from plategate.imageio import load_image
from tools.eval.evaluate import SceneTruth, match


def parse_fills(text: str) -> list[float]:
    """``"0.3,0.6"`` -> ``[0.3, 0.6]``.

    Raises:
        argparse.ArgumentTypeError: a value is not a number in (0, 1].
    """
    try:
        fills = [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected comma-separated numbers, e.g. 0.3,0.6") from None
    bad = [f for f in fills if not 0 < f <= 1]
    if bad:
        raise argparse.ArgumentTypeError(f"{text!r}: each share of the width must be in (0, 1], not {bad[0]:g}")
    return fills


def close_up_view(img: np.ndarray, box: list[float], fill: float) -> tuple[np.ndarray, np.ndarray]:
    """Cut a 4:3 picture (taller where the plate needs it) around *box* in which the plate spans *fill* of
    the width, scaled to 640 px wide; returns the picture and the box in its pixels ``(1, 4)``."""
    x1, y1, x2, y2 = box
    w = (x2 - x1) / fill
    h = max(0.75 * w, 1.3 * (y2 - y1))
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    a, c = int(max(0, cx - w / 2)), int(max(0, cy - h / 2))
    crop = img[c:int(min(img.shape[0], cy + h / 2)), a:int(min(img.shape[1], cx + w / 2))]
    scale = 640 / crop.shape[1]
    crop = cv2.resize(crop, (640, max(1, round(crop.shape[0] * scale))), interpolation=cv2.INTER_LINEAR)
    return crop, (np.array([[x1, y1, x2, y2]]) - [a, c, a, c]) * scale


def eval_close_ups(detector, reader, files: list[tuple[Path, SceneTruth]], fills: list[float], min_score: float) -> list[dict]:
    """Recall (and end-to-end reads) of each labelled plate seen as a close-up, one row per fill."""
    from plategate.vision.recognizer import crop_plate

    counts = {fill: [0, 0, 0, 0] for fill in fills}  # found, plates, read right, plates with text
    for path, truth in files:
        img = load_image(path)
        for box, text in zip(truth.boxes, truth.texts, strict=True):
            for fill in fills:
                crop, want = close_up_view(img, box, fill)
                dets = [d for d in detector.detect(crop) if d.score >= min_score]
                _, owner = match(np.array([d.box for d in dets], np.float64).reshape(-1, 4),
                                 np.array([d.score for d in dets]), want)
                c = counts[fill]
                c[0] += int(owner[0] >= 0)
                c[1] += 1
                if text and reader is not None:
                    c[2] += int(owner[0] >= 0 and reader.read(crop_plate(crop, dets[owner[0]])).text == text)
                    c[3] += 1
    rows = []
    for fill, (found, total, read_ok, read_total) in counts.items():
        row = {"fill": fill, "plates": total, "recall": round(found / max(total, 1), 4)}
        if read_total:
            row.update(end_to_end_exact=round(read_ok / read_total, 4), end_to_end_plates=read_total)
        rows.append(row)
    return rows
