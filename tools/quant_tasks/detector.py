"""``tools.quantize --task detector``: the CenterNet-style plate detector.

Options (``--task-arg``): ``data=DIR`` (shared datasets folder, used to generate the
representative set from *training* data only: ro-dashcam/train frames, training
negatives and synthetic gate/street scenes).

Validation specs (``--val``): ``DIR`` - a scenes folder with ``boxes.csv``
(file,x1,y1,x2,y2; e.g. ro-dashcam/valid); ``DIR:night`` / ``DIR:day`` keep files whose
names start with ``nightride_`` / do not; ``synth:N[:SEED]`` - N synthetic gate scenes.
Metrics: recall and precision at IoU 0.5 and score 0.55 (``accuracy`` = recall).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from plategate.vision.detector import PAD_VALUE, STRIDE, decode, letterbox, split_outputs, to_gray
from tools.quant_tasks import QuantTask

logger = logging.getLogger(__name__)

MIN_SCORE = 0.55


def prepare_frame(image: np.ndarray, input_shape: Sequence[int]) -> tuple[np.ndarray, Any]:
    """Gray + letterbox a frame as the runtime does; returns the float input (H, W, 1) and the geometry."""
    _, h, w, _ = input_shape
    img, geo = letterbox(to_gray(image), (w, h))
    return (img.astype(np.float32) / 255.0)[..., None], geo


class DetectorTask(QuantTask):
    name = "detector"

    def __init__(self) -> None:
        self.data_dir: Path | None = None
        self.input_shape: tuple[int, ...] | None = None

    def configure(self, options: dict[str, str]) -> None:
        for key, value in options.items():
            if key != "data":
                raise ValueError(f"task 'detector' knows the option 'data' (shared datasets folder), not {key!r}")
            self.data_dir = Path(value)

    def prepare(self, image: np.ndarray, input_shape: Sequence[int]) -> np.ndarray:
        self.input_shape = tuple(input_shape)
        return prepare_frame(image, input_shape)[0]

    def _training_frames(self, rng: np.random.Generator) -> Iterator[np.ndarray]:
        from tools.synth import scenes

        source = scenes.PlateSource(self.data_dir)
        negs: list[Path] = []
        ro: list[Path] = []
        if self.data_dir:
            negs = scenes.split_negatives(self.data_dir / "negatives")[0] if (self.data_dir / "negatives").is_dir() else []
            ro_dir = self.data_dir / "ro-dashcam" / "train"
            ro = scenes.list_images(ro_dir) if ro_dir.is_dir() else []
        bgs = scenes.Backgrounds(negs)
        while True:
            r = rng.random()
            if ro and r < 0.35:
                img = cv2.imread(str(ro[rng.integers(len(ro))]))
                if img is not None:
                    yield img
                    continue
            if negs and r < 0.45:
                img = cv2.imread(str(negs[rng.integers(len(negs))]))
                if img is not None:
                    yield img
                    continue
            yield (scenes.compose_gate_scene(rng, source, bgs) if r < 0.8 else scenes.compose_street_scene(rng, source, bgs)).image

    def generate(self, n: int, seed: int, input_shape: Sequence[int]) -> Iterator[np.ndarray]:
        rng = np.random.default_rng(seed)
        frames = self._training_frames(rng)
        for _ in range(n):
            yield self.prepare(next(frames), input_shape)

    def load_validation(self, spec: str, input_shape: Sequence[int]) -> tuple[list[np.ndarray], list[Any]]:
        from tools.eval.evaluate import read_boxes_csv

        xs: list[np.ndarray] = []
        ys: list[Any] = []
        if spec.startswith("synth:"):
            from tools.synth import scenes

            parts = spec.split(":")
            n, seed = int(parts[1]), int(parts[2]) if len(parts) > 2 else 4321
            rng = np.random.default_rng(seed)
            held = scenes.split_negatives(self.data_dir / "negatives")[1] if self.data_dir else []
            source, bgs = scenes.PlateSource(self.data_dir, real_fraction=0.0), scenes.Backgrounds(held)
            for _ in range(n):
                sc = scenes.compose_gate_scene(rng, source, bgs)
                x, geo = prepare_frame(sc.image, input_shape)
                xs.append(x)
                ys.append(sc.boxes * geo.scale + [geo.pad_x, geo.pad_y, geo.pad_x, geo.pad_y])
            return xs, ys
        path, _, part = spec.partition(":")
        folder = Path(path)
        if not (folder / "boxes.csv").is_file():
            raise ValueError(f"validation set {spec!r}: {folder / 'boxes.csv'} not found")
        for name, truth in sorted(read_boxes_csv(folder).items()):
            night = name.startswith("nightride_")
            if (part == "night" and not night) or (part == "day" and night):
                continue
            img = cv2.imread(str(folder / name))
            if img is None:
                logger.warning("skipping unreadable %s", folder / name)
                continue
            x, geo = prepare_frame(img, input_shape)
            xs.append(x)
            ys.append(np.array(truth.boxes, np.float32).reshape(-1, 4) * geo.scale + [geo.pad_x, geo.pad_y, geo.pad_x, geo.pad_y])
        return xs, ys

    def evaluate(self, outputs: list[list[np.ndarray]], labels: list[Any], output_info: dict) -> dict[str, Any]:
        from tools.eval.evaluate import match

        n_truth = n_pred = tp = 0
        for outs, truth in zip(outputs, labels, strict=True):
            heat, reg = split_outputs(outs)
            boxes, scores, _ = decode(heat, reg, MIN_SCORE)
            hit, _owner = match(boxes, scores, truth)
            n_truth += len(truth)
            n_pred += len(boxes)
            tp += int(hit.sum())
        recall = tp / max(n_truth, 1)
        return {"count": len(labels), "plates": n_truth, "accuracy": recall, "recall_iou50": recall,
                "precision_iou50": tp / max(n_pred, 1), "fp_per_image": (n_pred - tp) / max(len(labels), 1),
                "min_score": MIN_SCORE}

    def card_input(self) -> dict[str, Any]:
        return {"colour": "gray", "resize": f"letterbox: keep aspect ratio, centre, pad with {PAD_VALUE}; shrink by pyrDown halvings then INTER_LINEAR "
                                            "(plategate.vision.detector.letterbox)",
                "normalisation": "grayscale uint8 / 255 -> [0, 1]"}

    def card_output(self, output_info: dict) -> dict[str, Any]:
        h = w = None
        if self.input_shape:
            h, w = self.input_shape[1] // STRIDE, self.input_shape[2] // STRIDE
        return {"decoding": "centernet", "stride": STRIDE,
                "outputs": {"heatmap": {"shape": [1, h, w, 1], "meaning": "sigmoid plate-centre probability per cell"},
                            "box": {"shape": [1, h, w, 4],
                                    "meaning": "dx, dy (centre offset from the cell centre, in cells), log(w / stride), log(h / stride)"},
                            "corners": {"shape": [1, h, w, 8],
                                        "meaning": "TL, TR, BR, BL corner (x, y) offsets from the box centre as fractions of box width / height"}},
                "postprocess": "3x3 local maxima of the heat map >= min_score, greedy NMS at IoU 0.4 "
                               "(plategate.vision.detector.decode)",
                "classes": ["plate"]}


TASK = DetectorTask()
