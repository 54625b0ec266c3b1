"""Contact sheets: images drawn in numbered tiles with a label and a read under each, a PNG per sheet.

Shared by the tools that put crops or scenes in front of a person: label checks
(:mod:`tools.train.label_sheets`) and what the validation suite loses (:mod:`tools.eval.misses`).
"""

from __future__ import annotations

import cv2
import numpy as np

PER_SHEET = 16
COLUMNS = 4
TILE_W, TILE_H = 360, 150


def tile(img: np.ndarray, number: int, label: str, read: str, conf: float) -> np.ndarray:
    """One crop scaled into a tile with its number, label and read written below it."""
    out = np.full((TILE_H, TILE_W, 3), 255, np.uint8)
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    h, w = img.shape[:2]
    scale = min((TILE_W - 10) / w, (TILE_H - 52) / h)
    small = cv2.resize(img, (max(1, int(w * scale)), max(1, int(h * scale))),
                       interpolation=cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA)
    x0 = (TILE_W - small.shape[1]) // 2
    out[4 : 4 + small.shape[0], x0 : x0 + small.shape[1]] = small
    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.putText(out, f"#{number}", (4, TILE_H - 28), font, 0.6, (0, 0, 200), 2, cv2.LINE_AA)
    cv2.putText(out, f"label {label}", (60, TILE_H - 28), font, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(out, f"read  {read} ({conf:.2f})", (60, TILE_H - 8), font, 0.55, (90, 90, 90), 1, cv2.LINE_AA)
    cv2.rectangle(out, (0, 0), (TILE_W - 1, TILE_H - 1), (200, 200, 200), 1)
    return out


def sheet(tiles: list[np.ndarray]) -> np.ndarray:
    """Tiles in rows of COLUMNS (blank tiles fill the last row)."""
    blank = np.full((TILE_H, TILE_W, 3), 255, np.uint8)
    tiles = tiles + [blank] * (-len(tiles) % COLUMNS)
    return np.vstack([np.hstack(tiles[i : i + COLUMNS]) for i in range(0, len(tiles), COLUMNS)])


__all__ = ["COLUMNS", "PER_SHEET", "TILE_H", "TILE_W", "sheet", "tile"]
