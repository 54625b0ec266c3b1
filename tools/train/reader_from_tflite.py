"""Rebuild a trainable float Keras reader from an int8 reader ``.tflite`` (training only).

The shipped reader is the end of a long chain of fine-tunes, and its float checkpoint
lives in the git-ignored ``work/`` folder of the machine that trained it. On a fresh
machine the chain would have to be re-run from scratch (53 epochs) before the next
fine-tune could start. This tool makes the shipped model itself the checkpoint::

    python -m tools.train.reader_from_tflite models/reader.tflite work/start.keras \\
        --images work/reader/br-split/train

It builds :func:`tools.train.reader_model.build_model` with the stage widths, stem and
number of context blocks read off the model file and fills it with the model's dequantised
weights. Each convolution of the ``.tflite`` carries its BatchNormalization folded in (one
kernel and one bias); the Keras network keeps separate BatchNormalization layers, so each is
set to pass its convolution's output through unchanged except for adding the folded bias,
*with the moving statistics of that output measured on --images*. In inference the rebuilt
network computes the folded one exactly (up to the int8 rounding of weights and
activations); in training mode the batch statistics are close to the stored ones, so
a fine-tune (``tools.train.train_reader --init-from``) starts where the shipped model is
instead of from a network whose normalisation has jumped.

It prints how closely the rebuilt float model follows the int8 one on --images (logit
difference, agreement of the greedy reads) and exits 1 if the reads agree on fewer
than ``--min-agreement`` of them. Beside the ``.keras`` it writes a ``training.json``
holding the model card's training record and the command that rebuilt it, so that a
fine-tune of the rebuilt model (and an average with it) records the whole chain.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np

from plategate.errors import PlategateError
from plategate.vision.ctc import ALPHABET, greedy, softmax
from plategate.vision.preprocess import prepare_crop
from plategate.vision.runtime import load_model, verify
from tools.quantize import image_files
from tools.synth.reader_data import read_image
from tools.train.tf_threads import set_threads
from tools.train.tflite_weights import (
    RebuildError,
    conv_ops,
    keras_conv_pairs,
    load_folded,
    parse_rebuild_args,
    rebuild_parser,
    training_record,
)

logger = logging.getLogger(__name__)

PROG = "python -m tools.train.reader_from_tflite"

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    return parse_rebuild_args(rebuild_parser(
        PROG, __doc__, out_help="the .keras file to write",
        images_help="folder of plate crops for the normalisation statistics and the check (e.g. the br-crops training part)",
        count=400, agreement=0.97,
        agreement_help="fail unless the float and int8 greedy reads agree on this share of the crops"), argv)


def stage_widths(convs: list[dict[str, Any]]) -> tuple[tuple[int, ...], bool, int]:
    """The five stage widths of :func:`tools.train.reader_model.build_model`, its ``light_stem``
    and its number of context blocks, read off *convs*.

    Raises:
        RebuildError: the sequence of convolutions is not one build_model makes.
    """
    kinds = "".join("c" if c["kind"] == "Conv2D" else "d" for c in convs)
    layout = re.fullmatch(r"c(c|dc)(?:dc){4}c((?:dc)*)dcc", kinds)
    if layout is None:
        raise RebuildError(f"the model's convolutions ({kinds}: c full, d depthwise) are not a plategate reader's")
    light, context = layout.group(1) == "dc", len(layout.group(2)) // 2
    full = [c["kernel"].shape[3] for c in convs if c["kind"] == "Conv2D"]
    # full convolutions: stem, stage 2, the pointwise halves of 4 separable blocks, height collapse,
    # the context blocks' pointwise ones, 1 more, logits
    c1, c2, c3, _, c4, _, c5 = full[:7]
    return (int(c1), int(c2), int(c3), int(c4), int(c5)), light, context


def rebuild(model_path: Path, crops: np.ndarray):
    """Build the float Keras reader that computes what the int8 *model_path* computes.

    Args:
        model_path: the int8 reader ``.tflite``.
        crops: (N, H, W, 1) float32 reader inputs in [0, 1] for the moving statistics.

    Returns:
        The ``tf.keras.Model``.

    Raises:
        RebuildError: the model is not a reader of :func:`tools.train.reader_model.build_model`'s
            family, or a weight shape does not fit.
    """
    from tools.train.reader_model import build_model

    convs = conv_ops(model_path)
    channels, light, context = stage_widths(convs)
    height, width = crops.shape[1:3]
    classes = convs[-1]["kernel"].shape[3]
    model = build_model(classes, height, width, channels, light_stem=light, context=context)
    pairs = keras_conv_pairs(model)
    if len(pairs) != len(convs):
        raise RebuildError(f"{model_path}: {len(convs)} convolutions, the rebuilt network has {len(pairs)}")
    try:
        load_folded(model, pairs, convs, crops)  # a chain: the file runs its convolutions in layer order
    except RebuildError as exc:
        raise RebuildError(f"{model_path}: {exc}") from exc
    return model


def compare(model_path: Path, model, crops: np.ndarray, threads: int) -> dict[str, float]:
    """How closely the float *model* follows the int8 *model_path* on *crops*.

    Returns:
        ``agreement`` (share of crops whose greedy reads are equal), ``logit_mae`` (mean
        absolute logit difference) and ``logit_max``.
    """
    loaded = load_model(model_path, threads)
    float_logits = model.predict(crops, batch_size=64, verbose=0)
    same, diffs = 0, []
    for x, fl in zip(crops, float_logits, strict=True):
        ql = loaded.run(x[None])[0][0]
        diffs.append(np.abs(ql - fl))
        same += greedy(softmax(ql))[0] == greedy(softmax(fl))[0]
    d = np.stack(diffs)
    return {"agreement": same / len(crops), "logit_mae": float(d.mean()), "logit_max": float(d.max())}


def load_crops(folder: Path, count: int, height: int, width: int) -> np.ndarray:
    """Up to *count* crops of *folder* (sorted by name), prepared as reader input.

    Raises:
        RebuildError: the folder holds no readable image.
    """
    crops = []
    for path in image_files(folder)[:count]:
        try:
            crops.append(prepare_crop(read_image(path), height, width))
        except PlategateError as exc:
            logger.warning("skipping %s: %s", path, exc)
    if not crops:
        raise RebuildError(f"{folder}: no readable crops")
    return np.stack(crops)[..., None].astype(np.float32)


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        card = verify(a.model)
        if card.task != "reader" or card.alphabet not in (None, ALPHABET):
            raise RebuildError(f"{a.model} is not a 0-9A-Z reader (task {card.task!r})")
        _, height, width, _ = card.input.shape
        crops = load_crops(a.images, a.count, height, width)
        set_threads(a.threads)
        print(f"rebuilding {a.model} as a float Keras reader; statistics on {len(crops)} crops of {a.images}", flush=True)
        model = rebuild(a.model, crops)
        figures = compare(a.model, model, crops, a.threads)
    except PlategateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"float vs int8 on {len(crops)} crops: greedy reads agree on {figures['agreement']:.1%}, "
          f"logits differ by {figures['logit_mae']:.3f} on average ({figures['logit_max']:.2f} at most)")
    if figures["agreement"] < a.min_agreement:
        print(f"error: agreement {figures['agreement']:.1%} is below --min-agreement {a.min_agreement:.0%}; "
              f"not written", file=sys.stderr)
        return 1
    a.out.parent.mkdir(parents=True, exist_ok=True)
    model.save(a.out)
    record = a.out.with_name("training.json")
    record.write_text(json.dumps(training_record(a.model, PROG, argv), indent=1) + "\n")
    print(f"wrote {a.out} and {record}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
