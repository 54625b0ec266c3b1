"""``tools.quantize --task reader``: the CTC plate reader.

Validation specs (``--val``):

* ``PATH`` - every crop listed in ``PATH/labels.csv`` (file,text);
* ``PATH:train`` / ``PATH:val`` - the training / validation part of the fixed
  split by plate text (:func:`tools.synth.reader_data.split_by_text`);
* ``synth:N`` or ``synth:N:SEED`` - N rendered plates turned into camera crops.

Calibration fits the softmax temperature so that the beam-search probability of the
best text can be trusted: the temperature minimises the log loss of "the read is
exactly right", then is raised until reads scoring >= 0.9 are right at least as often
as the target precision (``--task-arg precision=P``, default 0.995) on the
calibration set. Calibrate on real crops cut as the daemon cuts them (a crops folder
written by ``tools.eval.export_crops``), never on a validation set: rendered crops are a
poor proxy for the tail where wrong reads score high.

Task options (``--task-arg KEY=VALUE``): ``data`` (the shared datasets folder, for
glyphs and backgrounds of rendered plates), ``precision`` and ``temperature``: a
fixed temperature that replaces the calibrated one (the calibration still runs and
prints what it would have chosen, so the card and the log show both).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from plategate.vision.ctc import ALPHABET, beam_search, greedy, softmax
from plategate.vision.preprocess import prepare_crop
from tools.quant_tasks import QuantTask
from tools.synth import reader_data

logger = logging.getLogger(__name__)

CONFIDENT = 0.9
TARGET_PRECISION = 0.995


def _reads(outputs: list[list[np.ndarray]], temperature: float, beam: bool = True) -> list[tuple[str, float]]:
    out = []
    for o in outputs:
        probs = softmax(o[0].reshape(o[0].shape[-2], o[0].shape[-1]), temperature)
        if beam:
            cands = beam_search(probs, ALPHABET, 0, top_k=1)  # the runtime's defaults
            out.append(cands[0] if cands else ("", 0.0))
        else:
            out.append(greedy(probs))
    return out


def score(reads: list[tuple[str, float]], labels: list[str], threshold: float = CONFIDENT) -> dict[str, Any]:
    """Exact-match accuracy, and precision / coverage of reads with confidence >= threshold."""
    right = np.array([t == y for (t, _), y in zip(reads, labels, strict=True)])
    conf = np.array([c for _, c in reads])
    sure = conf >= threshold
    return {
        "count": len(labels),
        "accuracy": float(right.mean()) if len(labels) else float("nan"),
        f"precision_at_{threshold}": float(right[sure].mean()) if sure.any() else None,
        f"coverage_at_{threshold}": float(sure.mean()) if len(labels) else None,
        "wrong_but_confident": int((sure & ~right).sum()),
    }


def _number(key: str, value: str, lo: float, hi: float) -> float:
    """Parse a numeric task option.

    Raises:
        ValueError: *value* is not a number in [lo, hi]; the message names *key*.
    """
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not lo <= number <= hi:
        raise ValueError(f"task 'reader': {key} must be a number in [{lo:g}, {hi:g}], got {value!r}")
    return number


class ReaderTask(QuantTask):
    name = "reader"
    alphabet = ALPHABET

    def __init__(self) -> None:
        self.data_dir: Path | None = None
        self.precision = TARGET_PRECISION
        self.temperature: float | None = None

    def configure(self, options: dict[str, str]) -> None:
        for key, value in options.items():
            if key == "data":
                self.data_dir = Path(value)
            elif key == "precision":
                self.precision = _number(key, value, 0.5, 1.0)
            elif key == "temperature":
                self.temperature = _number(key, value, 0.1, 10.0)
            else:
                raise ValueError(f"task 'reader' knows the options 'data' (shared datasets folder), "
                                 f"'precision' (calibration target) and 'temperature' (fixed), not {key!r}")

    def prepare(self, image: np.ndarray, input_shape: Sequence[int]) -> np.ndarray:
        _, h, w, _ = input_shape
        return prepare_crop(image, h, w)[..., None]

    def generate(self, n: int, seed: int, input_shape: Sequence[int]) -> Iterator[np.ndarray]:
        _, h, w, _ = input_shape
        rng = np.random.default_rng(seed)
        for _ in range(n):
            x, _ = reader_data.synth_sample(rng, h, w, self.data_dir)
            yield x.astype(np.float32)[..., None] / 255.0

    def load_validation(self, spec: str, input_shape: Sequence[int]) -> tuple[list[np.ndarray], list[Any]]:
        _, h, w, _ = input_shape
        if spec.startswith("synth:"):
            parts = spec.split(":")
            n, seed = int(parts[1]), int(parts[2]) if len(parts) > 2 else 12345
            rng = np.random.default_rng(seed)
            xs, ys = [], []
            for _ in range(n):
                x, t = reader_data.synth_sample(rng, h, w, self.data_dir)
                xs.append(x.astype(np.float32)[..., None] / 255.0)
                ys.append(t)
            return xs, ys
        path, _, part = spec.partition(":")
        folder = Path(path)
        if not (folder / "labels.csv").is_file():
            raise ValueError(f"validation set {spec!r}: {folder / 'labels.csv'} not found")
        samples = reader_data.load_labelled(folder)
        if part:
            train, val = reader_data.split_by_text(samples)
            if part not in ("train", "val"):
                raise ValueError(f"validation set {spec!r}: part must be 'train' or 'val'")
            samples = train if part == "train" else val
        xs, ys = [], []
        for s in samples:
            try:
                img = reader_data.read_image(s.path)
            except Exception as exc:  # noqa: BLE001 - reported and skipped, the set goes on
                logger.warning("skipping %s: %s", s.path, exc)
                continue
            xs.append(self.prepare(img, input_shape))
            ys.append(s.text)
        return xs, ys

    def evaluate(self, outputs: list[list[np.ndarray]], labels: list[Any], output_info: dict) -> dict[str, Any]:
        t = float(output_info.get("temperature", 1.0))
        metrics = score(_reads(outputs, t), labels)
        metrics["greedy_accuracy"] = score(_reads(outputs, t, beam=False), labels)["accuracy"]
        return metrics

    def calibrate(self, outputs: list[list[np.ndarray]], labels: list[Any], output_info: dict) -> dict[str, Any]:
        grid = [round(v, 2) for v in np.arange(0.6, 4.01, 0.1)]
        best_t, best_loss = 1.0, float("inf")
        for t in grid:
            reads = _reads(outputs, t)
            right = np.array([r[0] == y for r, y in zip(reads, labels, strict=True)], np.float64)
            conf = np.clip(np.array([r[1] for r in reads]), 1e-6, 1 - 1e-6)
            loss = float(-np.mean(right * np.log(conf) + (1 - right) * np.log(1 - conf)))
            if loss < best_loss:
                best_t, best_loss = t, loss
        t = best_t
        while t < grid[-1]:
            prec = score(_reads(outputs, t), labels)[f"precision_at_{CONFIDENT}"]
            if prec is None or prec >= self.precision:
                break
            t = round(t + 0.1, 2)
        print(f"calibration: temperature {t} (log-loss optimum {best_t}, reads >= {CONFIDENT} right at least "
              f"{self.precision:.1%} of the time, {len(labels)} samples)", flush=True)
        if self.temperature is not None:
            print(f"calibration: temperature fixed at {self.temperature} by --task-arg temperature", flush=True)
            return {"temperature": self.temperature, "calibrated_temperature": t}
        return {"temperature": t}

    def card_input(self) -> dict[str, Any]:
        return {"colour": "gray", "resize": "stretch to the input size (aspect ratio not kept), INTER_AREA when shrinking",
                "normalisation": "grayscale, then grey levels stretched so the 2nd/98th percentiles map to 0/1 "
                                 "(span at least 16 levels), clipped to [0, 1]: plategate.vision.preprocess.prepare_crop"}

    def card_output(self, output_info: dict) -> dict[str, Any]:
        return {"decoding": "ctc", "layout": "[1, steps, classes] logits", "blank_index": 0,
                "steps": int(output_info["shape"][1]), "classes": int(output_info["shape"][2]), "max_length": 10,
                "confidence": "CTC prefix beam search probability of the best text, softmax(logits / temperature)"}


TASK = ReaderTask()
