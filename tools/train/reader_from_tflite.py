"""Rebuild a trainable float Keras reader from an int8 reader ``.tflite`` (training only).

The shipped reader is the end of a long chain of fine-tunes, and its float checkpoint
lives in the git-ignored ``work/`` folder of the machine that trained it. On a fresh
machine the chain would have to be re-run from scratch (53 epochs) before the next
fine-tune could start. This tool makes the shipped model itself the checkpoint::

    python -m tools.train.reader_from_tflite models/reader.tflite work/start.keras \\
        --images work/reader/br-split/train

It builds :func:`tools.train.reader_model.build_model` with the stage widths read off the
model file and fills it with the model's dequantised weights. Each convolution of the
``.tflite`` carries its BatchNormalization folded in (one kernel and one bias); the
Keras network keeps separate BatchNormalization layers, so each is set to pass its
convolution's output through unchanged except for adding the folded bias, *with the
moving statistics of that output measured on --images*. In inference the rebuilt
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
import hashlib
import json
import logging
import sys
from pathlib import Path
from typing import Any

import numpy as np

from plategate.errors import PlategateError
from plategate.vision.ctc import ALPHABET, greedy, softmax
from plategate.vision.preprocess import prepare_crop
from plategate.vision.runtime import interpreter_class, load_model, verify
from tools.quantize import image_files
from tools.synth.reader_data import read_image
from tools.train.tf_threads import set_threads

logger = logging.getLogger(__name__)

#: the convolution kinds of a reader .tflite, in the Keras layer class each becomes
CONV_OPS = {"CONV_2D": "Conv2D", "DEPTHWISE_CONV_2D": "DepthwiseConv2D"}


class RebuildError(PlategateError):
    """The model file is not a reader this tool can rebuild."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tools.train.reader_from_tflite",
                                description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument("model", type=Path, help="int8 reader .tflite with its card .json beside it")
    p.add_argument("out", type=Path, help="the .keras file to write")
    p.add_argument("--images", type=Path, required=True,
                   help="folder of plate crops for the normalisation statistics and the check (e.g. the br-crops training part)")
    p.add_argument("--count", type=int, default=400, help="crops used from --images (default: %(default)s)")
    p.add_argument("--min-agreement", type=float, default=0.97,
                   help="fail unless the float and int8 greedy reads agree on this share of the crops (default: %(default)s)")
    p.add_argument("--threads", type=int, default=2, help="TensorFlow / LiteRT threads (default: %(default)s)")
    a = p.parse_args(argv)
    if a.count < 1:
        p.error(f"--count must be at least 1, got {a.count}")
    if not 0.0 <= a.min_agreement <= 1.0:
        p.error(f"--min-agreement must be between 0 and 1, got {a.min_agreement}")
    return a


def conv_ops(model_path: Path) -> list[dict[str, Any]]:
    """The convolutions of a ``.tflite`` in execution order, dequantised.

    Returns:
        One dict per convolution: ``kind`` (``Conv2D`` / ``DepthwiseConv2D``), ``kernel``
        in Keras layout (``kh, kw, in, out`` or ``kh, kw, channels, 1``) and ``bias``
        (float32).

    Raises:
        RebuildError: the interpreter cannot list the model's operators, or an
            operator's weights are not per-channel int8 with an int32 bias.
    """
    interpreter = interpreter_class()(model_path=str(model_path))
    interpreter.allocate_tensors()
    try:
        ops = interpreter._get_ops_details()
    except AttributeError as exc:  # pragma: no cover - every LiteRT and tflite_runtime release has it
        raise RebuildError(f"{model_path}: this TFLite runtime cannot list operators") from exc
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}

    def dequantised(index: int, axis: int) -> np.ndarray:
        t = tensors[index]
        q = t["quantization_parameters"]
        raw = interpreter.get_tensor(index).astype(np.float32)
        scales = np.asarray(q["scales"], np.float32)
        zeros = np.asarray(q["zero_points"], np.float32)
        if scales.size == 0:
            raise RebuildError(f"{model_path}: tensor {t['name']!r} is not quantised")
        shape = [1] * raw.ndim
        shape[axis] = -1
        if scales.size > 1:
            scales, zeros = scales.reshape(shape), zeros.reshape(shape)
        return (raw - zeros) * scales

    out = []
    for op in ops:
        kind = CONV_OPS.get(op["op_name"])
        if kind is None:
            continue
        _, w_index, b_index = (int(i) for i in op["inputs"])
        if kind == "Conv2D":  # TFLite (out, kh, kw, in) -> Keras (kh, kw, in, out)
            kernel = dequantised(w_index, 0).transpose(1, 2, 3, 0)
        else:  # TFLite (1, kh, kw, channels) -> Keras (kh, kw, channels, 1)
            kernel = dequantised(w_index, 3)[0][..., None]
        out.append({"kind": kind, "kernel": kernel, "bias": dequantised(b_index, 0).reshape(-1)})
    if not out:
        raise RebuildError(f"{model_path}: no convolutions found; is it a reader?")
    return out


def stage_widths(convs: list[dict[str, Any]]) -> tuple[tuple[int, ...], bool]:
    """The five stage widths of :func:`tools.train.reader_model.build_model` and its ``light_stem``, read off *convs*.

    Raises:
        RebuildError: the sequence of convolutions is not one build_model makes.
    """
    kinds = "".join("c" if c["kind"] == "Conv2D" else "d" for c in convs)
    layouts = {"cc" + "dc" * 4 + "c" + "dc" + "c": False, "cdc" + "dc" * 4 + "c" + "dc" + "c": True}
    if kinds not in layouts:
        raise RebuildError(f"the model's convolutions ({kinds}: c full, d depthwise) are not a plategate reader's")
    light = layouts[kinds]
    full = [c["kernel"].shape[3] for c in convs if c["kind"] == "Conv2D"]
    # full convolutions: stem, stage 2, then the pointwise halves of 4 separable blocks, height collapse, 1 more, logits
    c1, c2, c3, _, c4, _, c5, _, _ = full
    return (int(c1), int(c2), int(c3), int(c4), int(c5)), light


def keras_convs(model) -> list[tuple[Any, Any]]:
    """The (convolution, following BatchNormalization or None) layer pairs of a reader, input first."""
    import tensorflow as tf

    layers = [layer for layer in model.layers if layer.weights]
    pairs = []
    for i, layer in enumerate(layers):
        if isinstance(layer, tf.keras.layers.Conv2D | tf.keras.layers.DepthwiseConv2D):
            nxt = layers[i + 1] if i + 1 < len(layers) else None
            pairs.append((layer, nxt if isinstance(nxt, tf.keras.layers.BatchNormalization) else None))
    return pairs


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
    import tensorflow as tf

    from tools.train.reader_model import build_model

    convs = conv_ops(model_path)
    channels, light = stage_widths(convs)
    height, width = crops.shape[1:3]
    classes = convs[-1]["kernel"].shape[3]
    model = build_model(classes, height, width, channels, light_stem=light)
    pairs = keras_convs(model)
    if len(pairs) != len(convs):
        raise RebuildError(f"{model_path}: {len(convs)} convolutions, the rebuilt network has {len(pairs)}")
    for (layer, bn), conv in zip(pairs, convs, strict=True):
        if type(layer).__name__ != conv["kind"] or tuple(layer.kernel.shape) != conv["kernel"].shape:
            raise RebuildError(f"{model_path}: {conv['kind']} {conv['kernel'].shape} does not fit layer "
                               f"{layer.name} {tuple(layer.kernel.shape)}")
        if bn is None:
            layer.set_weights([conv["kernel"], conv["bias"]])
        else:  # identity for now: gamma 1, beta = folded bias, mean 0, variance 1 - epsilon
            layer.set_weights([conv["kernel"]])
            n = conv["bias"].size
            bn.set_weights([np.ones(n, np.float32), conv["bias"], np.zeros(n, np.float32),
                            np.full(n, 1.0 - bn.epsilon, np.float32)])
    # the BatchNormalization layers are identities in inference, so every convolution's output
    # (their input) is already what the folded network computes: measure all of them at once
    bns = [bn for _, bn in pairs if bn is not None]
    probe = tf.keras.Model(model.input, [bn.input for bn in bns])
    outputs = probe.predict(crops, batch_size=64, verbose=0)
    for bn, (layer, _), act in zip(bns, [p for p in pairs if p[1] is not None], outputs, strict=True):
        flat = act.reshape(-1, act.shape[-1]).astype(np.float64)
        mean, var = flat.mean(axis=0), flat.var(axis=0)
        bias = bn.get_weights()[1]
        # gamma * (x - mean) / sqrt(var + eps) + beta == x + bias
        bn.set_weights([np.sqrt(var + bn.epsilon).astype(np.float32), (mean + bias).astype(np.float32),
                        mean.astype(np.float32), var.astype(np.float32)])
        logger.debug("%s after %s: mean |mean| %.3f, mean var %.3f", bn.name, layer.name, np.abs(mean).mean(), var.mean())
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
    record.write_text(json.dumps(training_record(a.model, argv), indent=1) + "\n")
    print(f"wrote {a.out} and {record}")
    return 0


def training_record(model_path: Path, argv: list[str] | None) -> dict[str, Any]:
    """The rebuilt model's ``training.json``: where it came from and the card's own training record."""
    card = json.loads(model_path.with_suffix(".json").read_text())
    command = "python -m tools.train.reader_from_tflite " + " ".join(argv if argv is not None else sys.argv[1:])
    return {
        "rebuilt_from": str(model_path),
        "sha256": hashlib.sha256(model_path.read_bytes()).hexdigest(),
        "commands": [command],
        "training": card.get("training", {}),
    }


if __name__ == "__main__":
    sys.exit(main())
