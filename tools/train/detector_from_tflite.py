"""Rebuild a trainable float Keras detector from an int8 detector ``.tflite`` (training only).

A shipped detector is the end of hours of training whose float weights live in the
git-ignored ``work/`` folder of the machine that trained them. This tool makes the shipped
file itself the starting point of the next training on any machine::

    python -m tools.train.detector_from_tflite models/detector-street.tflite work/det-start \\
        --images ../shared/datasets/openimages-plates/train
    python -m tools.train.train_detector train --work work/det10 --grow-from work/det-start \\
        --widths 24,48,96,144,192 --size 256 --box-weight 2 ...

It builds :func:`tools.train.detector_model.build_model` with the stage widths of the card
(``training.architecture.widths``) at the file's input size, pairs each convolution of the
file with its Keras layer by what the convolution is and which convolutions its output
reaches (:mod:`tools.train.tflite_weights`; the feature pyramid and the heads branch), and
fills it with the dequantised weights, the folded BatchNormalizations set back up with
statistics measured on frames of ``--images`` (letterboxed as the daemon does).

It writes what ``train_detector train --grow-from`` takes (``OUT/export/detector.weights.h5``
and ``OUT/network.json``), and ``OUT/training.json`` with the card's training record and the
command that rebuilt it. It prints how closely the float model follows the int8 one on those
frames (heat-map difference; share of the int8 model's boxes the float one finds at IoU 0.5,
and of its own the int8 one finds) and exits 1, writing nothing, when either share is below
``--min-agreement``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

import numpy as np

from plategate.errors import PlategateError
from plategate.imageio import load_image
from plategate.vision.detector import PlateDetector, box_iou, decode, letterbox, split_outputs, to_gray
from plategate.vision.runtime import verify
from tools.quantize import image_files
from tools.train.tf_threads import set_threads
from tools.train.tflite_weights import (
    RebuildError,
    conv_ops,
    keras_conv_pairs,
    load_folded,
    match,
    parse_rebuild_args,
    rebuild_parser,
    training_record,
)

logger = logging.getLogger(__name__)

PROG = "python -m tools.train.detector_from_tflite"
#: boxes compared between the int8 and the float model score at least this
MIN_SCORE = 0.5


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    return parse_rebuild_args(rebuild_parser(
        PROG, __doc__, out_help="the work folder to write (export/detector.weights.h5, network.json, training.json)",
        images_help="folder of frames (searched recursively) for the normalisation statistics and the check",
        count=120, agreement=0.9, agreement_help="fail unless this share of each model's boxes is found by the other"),
        argv)


def card_widths(card: dict[str, Any], model_path: Path) -> tuple[int, ...]:
    """The stage widths the card records (``training.architecture.widths``).

    Raises:
        RebuildError: the card does not record five of them.
    """
    widths = ((card.get("training") or {}).get("architecture") or {}).get("widths")
    if not isinstance(widths, list) or len(widths) != 5 or not all(isinstance(w, int) and w > 0 for w in widths):
        raise RebuildError(f"{model_path}: its card records no five stage widths (training.architecture.widths)")
    return tuple(widths)


def load_frames(folder: Path, count: int, size: tuple[int, int]) -> np.ndarray:
    """Up to *count* frames of *folder* (sorted by name), letterboxed to ``size = (width, height)`` as uint8.

    Raises:
        RebuildError: the folder holds no readable image.
    """
    frames = []
    for path in image_files(folder)[:count]:
        try:
            frames.append(letterbox(to_gray(load_image(path)), size)[0])
        except PlategateError as exc:
            logger.warning("skipping %s: %s", path, exc)
    if not frames:
        raise RebuildError(f"{folder}: no readable frames")
    return np.stack(frames)


def rebuild(model_path: Path, widths: tuple[int, ...], frames: np.ndarray):
    """Build the float Keras detector that computes what the int8 *model_path* computes.

    Args:
        model_path: the int8 detector ``.tflite``.
        widths: its five stage widths.
        frames: (N, H, W) uint8 model inputs for the moving statistics.

    Returns:
        The ``tf.keras.Model``.

    Raises:
        RebuildError: the file is not a detector of :func:`tools.train.detector_model.build_model`'s
            family with these widths.
    """
    from tools.train.detector_model import build_model

    convs = conv_ops(model_path)
    model = build_model(frames.shape[1], frames.shape[2], widths)
    pairs = keras_conv_pairs(model)
    paired = match(model_path, convs, model, pairs)
    try:
        load_folded(model, pairs, paired, _as_input(frames))
    except RebuildError as exc:
        raise RebuildError(f"{model_path}: {exc}") from exc
    return model


def _as_input(frames: np.ndarray) -> np.ndarray:
    return frames[..., None].astype(np.float32) / 255.0


def compare(model_path: Path, model, frames: np.ndarray, threads: int) -> dict[str, float]:
    """How closely the float *model* follows the int8 *model_path* on *frames*.

    Returns:
        ``heat_mae`` (mean absolute heat-map difference), ``int8_found`` (share of the int8
        model's boxes scoring >= :data:`MIN_SCORE` that the float model also finds at IoU 0.5),
        ``float_found`` (the other way round) and ``boxes`` (the int8 model's box count).
    """
    detector = PlateDetector(model_path, threads=threads, close_up=False)
    heat_diffs, found, total, back, own = [], 0, 0, 0, 0
    for frame in frames:
        q_heat, q_reg = detector._infer(frame)
        f_heat, f_reg = split_outputs([np.asarray(o) for o in model(_as_input(frame[None]), training=False)])
        heat_diffs.append(float(np.abs(q_heat - f_heat).mean()))
        q_boxes = decode(q_heat, q_reg, MIN_SCORE)[0]
        f_boxes = decode(f_heat, f_reg, MIN_SCORE)[0]
        total, own = total + len(q_boxes), own + len(f_boxes)
        found += sum(len(f_boxes) > 0 and box_iou(b, np.asarray(f_boxes)).max() >= 0.5 for b in q_boxes)
        back += sum(len(q_boxes) > 0 and box_iou(b, np.asarray(q_boxes)).max() >= 0.5 for b in f_boxes)
    return {"heat_mae": float(np.mean(heat_diffs)), "int8_found": found / max(total, 1),
            "float_found": back / max(own, 1), "boxes": total}


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        loaded = verify(a.model)
        if loaded.task != "detector":
            raise RebuildError(f"{a.model} is not a detector (task {loaded.task!r})")
        card = json.loads(a.model.with_suffix(".json").read_text())
        widths = card_widths(card, a.model)
        _, height, width, _ = loaded.input.shape
        frames = load_frames(a.images, a.count, (width, height))
        set_threads(a.threads)
        print(f"rebuilding {a.model} (widths {','.join(map(str, widths))}, input {width}x{height}) as a float "
              f"Keras detector; statistics on {len(frames)} frames of {a.images}", flush=True)
        model = rebuild(a.model, widths, frames)
        figures = compare(a.model, model, frames, a.threads)
    except PlategateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"float vs int8 on {len(frames)} frames: heat maps differ by {figures['heat_mae']:.4f} on average; "
          f"{figures['int8_found']:.1%} of the int8 model's {figures['boxes']} boxes found by the float one, "
          f"{figures['float_found']:.1%} of the float one's by the int8 one")
    worst = min(figures["int8_found"], figures["float_found"])
    if worst < a.min_agreement:
        print(f"error: box agreement {worst:.1%} is below --min-agreement {a.min_agreement:.0%}; not written",
              file=sys.stderr)
        return 1
    from tools.train.train_detector import weights_file

    weights = weights_file(a.out)
    weights.parent.mkdir(parents=True, exist_ok=True)
    model.save_weights(str(weights))
    (a.out / "network.json").write_text(json.dumps({"widths": list(widths)}) + "\n")
    (a.out / "training.json").write_text(json.dumps(training_record(a.model, PROG, argv, widths=list(widths)), indent=1) + "\n")
    print(f"wrote {weights}, {a.out / 'network.json'} and {a.out / 'training.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
