"""The weights of an int8 ``.tflite`` put back into the Keras network it was converted from (training only).

Float checkpoints live in the git-ignored ``work/`` folder of the machine that trained them;
the shipped int8 files are what survives. :mod:`tools.train.reader_from_tflite` and
:mod:`tools.train.detector_from_tflite` rebuild trainable networks from them with these parts:

* :func:`conv_ops` reads every convolution of the file, dequantised, with the tensors it
  reads and writes;
* :func:`tflite_signatures` and :func:`keras_signatures` name each convolution by what it is,
  at which resolution, and by every convolution its output reaches, so that the convolutions of a branching
  network (a feature pyramid, several heads) pair up whatever order the converter ran them in;
* :func:`load_folded` puts the weights in: each convolution of the file carries its
  BatchNormalization folded in (one kernel and one bias), so the Keras BatchNormalization
  after it is set to pass the convolution's output through, adding the folded bias, with
  the moving statistics of that output measured on real inputs. In inference the Keras
  network then computes the folded one; in training mode its batch statistics are close to
  the stored ones, so a fine-tune starts where the int8 model is.
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
from plategate.vision.runtime import interpreter_class

logger = logging.getLogger(__name__)

#: the convolution kinds of a .tflite, in the Keras layer class each becomes
CONV_OPS = {"CONV_2D": "Conv2D", "DEPTHWISE_CONV_2D": "DepthwiseConv2D"}


class RebuildError(PlategateError):
    """The model file is not a network this tool can rebuild."""


def conv_ops(model_path: Path) -> list[dict[str, Any]]:
    """The convolutions of a ``.tflite`` in execution order, dequantised.

    Returns:
        One dict per convolution: ``kind`` (``Conv2D`` / ``DepthwiseConv2D``), ``kernel``
        in Keras layout (``kh, kw, in, out`` or ``kh, kw, channels, 1``), ``bias``
        (float32), ``output`` (its tensor index), ``index`` (the op's), ``out_size``
        (height and width of the output) and ``feeds`` (the op indices of the convolutions that
        read its output, through the ops between them).

    Raises:
        RebuildError: the interpreter cannot list the model's operators, an operator's
            weights are not per-channel int8 with an int32 bias, or there is no convolution.
    """
    ops, interpreter, tensors = _ops(model_path)

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
        output = int(op["outputs"][0])
        out.append({"kind": kind, "kernel": kernel, "bias": dequantised(b_index, 0).reshape(-1),
                    "output": output, "index": int(op["index"]),
                    "out_size": tuple(int(n) for n in tensors[output]["shape"][1:3])})
    if not out:
        raise RebuildError(f"{model_path}: no convolutions found")
    _add_feeds(ops, out)
    return out


def _add_feeds(ops: list[dict], convs: list[dict[str, Any]]) -> None:
    """Set each conv's ``feeds``: the op indices of the convolutions that read its output as data,
    through any other ops (adds, resizes, activations) between them."""
    readers: dict[int, list[dict]] = {}
    for op in ops:
        if op["op_name"] == "DELEGATE":  # a delegate's node stands for ops still listed one by one
            continue
        for t in op["inputs"]:
            readers.setdefault(int(t), []).append(op)
    conv_ops_at = {c["index"] for c in convs}

    def next_convs(tensor: int, seen: set[int]) -> list[int]:
        found = []
        for op in readers.get(tensor, []):
            if int(op["index"]) in seen:
                continue
            seen.add(int(op["index"]))
            if int(op["index"]) in conv_ops_at:
                if int(op["inputs"][0]) == tensor:  # read as data, not as weights
                    found.append(int(op["index"]))
            else:
                for t in op["outputs"]:
                    found += next_convs(int(t), seen)
        return found

    for c in convs:
        c["feeds"] = next_convs(c["output"], set())


def _ops(model_path: Path):
    interpreter = interpreter_class()(model_path=str(model_path))
    interpreter.allocate_tensors()
    try:
        ops = interpreter._get_ops_details()
    except AttributeError as exc:  # pragma: no cover - every LiteRT and tflite_runtime release has it
        raise RebuildError(f"{model_path}: this TFLite runtime cannot list operators") from exc
    return ops, interpreter, {t["index"]: t for t in interpreter.get_tensor_details()}


def _merkle(own: dict[Any, str], children: dict[Any, list[Any]]) -> dict[Any, str]:
    """Each node's hash over its own description and its children's hashes (order-free)."""
    done: dict[Any, str] = {}

    def visit(node) -> str:
        if node not in done:
            kids = sorted(visit(c) for c in children.get(node, ()))
            done[node] = hashlib.sha1((own[node] + "|" + ",".join(kids)).encode()).hexdigest()
        return done[node]

    for node in own:
        visit(node)
    return done


def _description(kind: str, kernel_shape: tuple[int, ...], out_size: tuple[int, ...]) -> str:
    return f"{kind}{tuple(int(n) for n in kernel_shape)}@{tuple(int(n) for n in out_size)}"


def tflite_signatures(convs: list[dict[str, Any]]) -> list[str]:
    """For each of *convs* (:func:`conv_ops`), a hash of its kind, its kernel shape, the height and
    width of its output, and the signatures of the convolutions its output reaches (``feeds``)."""
    own = {c["index"]: _description(c["kind"], c["kernel"].shape, c["out_size"]) for c in convs}
    hashes = _merkle(own, {c["index"]: c["feeds"] for c in convs})
    return [hashes[c["index"]] for c in convs]


def _consumers(model) -> dict[str, list[Any]]:
    """``{layer name: the layers that read its output}`` of a functional Keras *model*."""
    consumers: dict[str, list[Any]] = {}
    for layer in model.layers:
        for node in layer._inbound_nodes:
            for parent in node.parent_nodes:
                consumers.setdefault(parent.operation.name, []).append(layer)
    return consumers


def _is_conv(layer) -> bool:
    return type(layer).__name__ in CONV_OPS.values()


def keras_conv_pairs(model) -> list[tuple[Any, Any]]:
    """The (convolution, BatchNormalization right after it or None) layer pairs of *model*, in layer order."""
    import tensorflow as tf

    consumers = _consumers(model)
    pairs = []
    for layer in model.layers:
        if _is_conv(layer):
            nxt = consumers.get(layer.name, [])
            bn = nxt[0] if len(nxt) == 1 and isinstance(nxt[0], tf.keras.layers.BatchNormalization) else None
            pairs.append((layer, bn))
    return pairs


def keras_signatures(model, pairs: list[tuple[Any, Any]]) -> list[str]:
    """The signatures of :func:`tflite_signatures` for the convolutions of *pairs* in the Keras *model*."""
    consumers = _consumers(model)

    def next_convs(name: str, seen: set[str]) -> list[str]:
        found = []
        for layer in consumers.get(name, []):
            if layer.name in seen:
                continue
            seen.add(layer.name)
            if _is_conv(layer):
                found.append(layer.name)
            else:
                found += next_convs(layer.name, seen)
        return found

    convs = [layer for layer, _ in pairs]
    kind = {layer.name: type(layer).__name__ for layer in convs}
    own = {layer.name: _description(kind[layer.name], tuple(layer.kernel.shape), tuple(layer.output.shape[1:3]))
           for layer in convs}
    children = {layer.name: next_convs(layer.name, set()) for layer in convs}
    hashes = _merkle(own, children)
    return [hashes[layer.name] for layer in convs]


def match(model_path: Path, convs: list[dict[str, Any]], model, pairs: list[tuple[Any, Any]]) -> list[dict[str, Any]]:
    """The convolutions of *convs* reordered to pair with *pairs* of the Keras *model*.

    Raises:
        RebuildError: the networks differ, or two convolutions cannot be told apart.
    """
    if len(convs) != len(pairs):
        raise RebuildError(f"{model_path}: {len(convs)} convolutions, the Keras network has {len(pairs)}")
    theirs = tflite_signatures(convs)
    ours = keras_signatures(model, pairs)
    if len(set(theirs)) != len(theirs) or len(set(ours)) != len(ours):
        raise RebuildError(f"{model_path}: two convolutions have the same shape and the same successors; "
                           "they cannot be told apart")
    by_signature = dict(zip(theirs, convs, strict=True))
    missing = [layer.name for (layer, _), s in zip(pairs, ours, strict=True) if s not in by_signature]
    if missing:
        raise RebuildError(f"{model_path}: no convolution of the file fits Keras layers {', '.join(missing[:5])}")
    return [by_signature[s] for s in ours]


def load_folded(model, pairs: list[tuple[Any, Any]], convs: list[dict[str, Any]], inputs: np.ndarray) -> None:
    """Put the folded weights of *convs* (paired with *pairs*) into *model*, with the BatchNormalization
    statistics measured on *inputs* (a batch of model inputs).

    Raises:
        RebuildError: a kernel shape does not fit its layer.
    """
    import tensorflow as tf

    for (layer, bn), conv in zip(pairs, convs, strict=True):
        if type(layer).__name__ != conv["kind"] or tuple(layer.kernel.shape) != conv["kernel"].shape:
            raise RebuildError(f"{conv['kind']} {conv['kernel'].shape} does not fit layer "
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
    normed = [(layer, bn) for layer, bn in pairs if bn is not None]
    if not normed:
        return
    probe = tf.keras.Model(model.input, [bn.input for _, bn in normed])
    outputs = probe.predict(inputs, batch_size=16, verbose=0)
    outputs = outputs if isinstance(outputs, list) else [outputs]
    for (layer, bn), act in zip(normed, outputs, strict=True):
        flat = act.reshape(-1, act.shape[-1]).astype(np.float64)
        mean, var = flat.mean(axis=0), flat.var(axis=0)
        bias = bn.get_weights()[1]
        # gamma * (x - mean) / sqrt(var + eps) + beta == x + bias
        bn.set_weights([np.sqrt(var + bn.epsilon).astype(np.float32), (mean + bias).astype(np.float32),
                        mean.astype(np.float32), var.astype(np.float32)])
        logger.debug("%s after %s: mean |mean| %.3f, mean var %.3f", bn.name, layer.name, np.abs(mean).mean(), var.mean())


def rebuild_parser(prog: str, doc: str, out_help: str, images_help: str, count: int, agreement: float,
                   agreement_help: str) -> argparse.ArgumentParser:
    """The command line both rebuild tools take: model, out, ``--images``, ``--count``, ``--min-agreement``, ``--threads``."""
    p = argparse.ArgumentParser(prog=prog, description=doc.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=doc)
    p.add_argument("model", type=Path, help="int8 .tflite with its card .json beside it")
    p.add_argument("out", type=Path, help=out_help)
    p.add_argument("--images", type=Path, required=True, help=images_help)
    p.add_argument("--count", type=int, default=count, help="images used from --images (default: %(default)s)")
    p.add_argument("--min-agreement", type=float, default=agreement, help=agreement_help + " (default: %(default)s)")
    p.add_argument("--threads", type=int, default=2, help="TensorFlow / LiteRT threads (default: %(default)s)")
    return p


def parse_rebuild_args(p: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Parse *argv* with :func:`rebuild_parser`'s parser; out-of-range values are usage errors."""
    a = p.parse_args(argv)
    if a.count < 1:
        p.error(f"--count must be at least 1, got {a.count}")
    if not 0.0 <= a.min_agreement <= 1.0:
        p.error(f"--min-agreement must be between 0 and 1, got {a.min_agreement}")
    return a


def training_record(model_path: Path, prog: str, argv: list[str] | None, **extra: Any) -> dict[str, Any]:
    """A rebuilt model's ``training.json``: the file it came from, the command (*prog* and *argv*),
    *extra* fields, and the card's own training record, so that what trains on from it records the chain.

    Raises:
        OSError: the model or its card cannot be read.
    """
    card = json.loads(model_path.with_suffix(".json").read_text())
    return {
        "rebuilt_from": str(model_path),
        "sha256": hashlib.sha256(model_path.read_bytes()).hexdigest(),
        **extra,
        "commands": [f"{prog} " + " ".join(argv if argv is not None else sys.argv[1:])],
        "training": card.get("training", {}),
    }
