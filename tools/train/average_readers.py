"""Average the weights of trained Keras models of one network (a "model soup").

Readers fine-tuned from the same start lie in one basin of the loss; the average of
their weights is often better on data unlike either fine-tune's than each of them,
at no cost at the gate (the network is unchanged). Every weight is averaged, the
BatchNorm moving statistics included.

A reader of another input size (a start that a taller or wider fine-tune grew from) is
first carried over to the last model's network (:func:`tools.train.reader_model.transfer_weights`:
the same weights, the height-collapsing convolution resampled for another height; the
convolutions do not depend on the width; context blocks the model lacks start as the
identity), as the fine-tune itself was started, so that a start and its fine-tune can be
averaged.

Example::

    python -m tools.train.average_readers work/seed1/reader.keras work/seed2/reader.keras \\
        work/seed3/reader.keras --out work/average/reader.keras

The output is a ``.keras`` file for ``tools.quantize``; a ``training.json`` is written
beside it that records the inputs (path, sha256, mix) and each input's own training
record when one lies beside it, so the model card tells how every part was trained.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
from pathlib import Path

import numpy as np

from plategate.errors import PlategateError

logger = logging.getLogger(__name__)


class AverageError(PlategateError):
    """The models cannot be averaged (missing, unreadable, or of different networks)."""


def parse_mix(text: str, count: int) -> list[float]:
    """``"0.5,0.5"`` -> the weight of each of *count* models (normalised to sum 1).

    Raises:
        AverageError: not *count* non-negative numbers with a positive sum.
    """
    try:
        mix = [float(v) for v in text.split(",")]
    except ValueError:
        raise AverageError(f"--mix needs numbers separated by commas, got {text!r}") from None
    if len(mix) != count or min(mix) < 0 or sum(mix) <= 0 or not all(np.isfinite(mix)):
        raise AverageError(f"--mix needs {count} non-negative numbers with a positive sum, got {text!r}")
    return [m / sum(mix) for m in mix]


def average_weights(weight_lists: list[list[np.ndarray]], mix: list[float]) -> list[np.ndarray]:
    """The weighted average, array by array, of models' weight lists (``model.get_weights()``).

    Raises:
        AverageError: the lists differ in length or in an array's shape (different networks).
    """
    if len(weight_lists) != len(mix) or not weight_lists:
        raise AverageError(f"{len(weight_lists)} weight lists but {len(mix)} mix weights")
    first = weight_lists[0]
    for k, other in enumerate(weight_lists[1:], start=2):
        if len(other) != len(first):
            raise AverageError(f"model {k} has {len(other)} weight arrays, model 1 has {len(first)}: not the same network")
        for i, (a, b) in enumerate(zip(first, other, strict=True)):
            if a.shape != b.shape:
                raise AverageError(f"model {k}, weight array {i}: shape {b.shape} != model 1's {a.shape}: "
                                   "not the same network")
    out = []
    for arrays in zip(*weight_lists, strict=True):
        acc = sum(np.float64(m) * a.astype(np.float64) for m, a in zip(mix, arrays, strict=True))
        out.append(acc.astype(arrays[0].dtype))
    return out


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _load(path: Path):
    import tensorflow as tf

    if not path.is_file():
        raise AverageError(f"model {path} not found")
    try:
        return tf.keras.models.load_model(path, compile=False)
    except (OSError, ValueError) as exc:
        raise AverageError(f"model {path}: cannot load it: {exc}") from exc


def _context(model) -> list[str]:
    from tools.train.reader_model import is_context_layer

    return [layer.name for layer in model.layers if is_context_layer(layer.name) and layer.weights]


def training_record(paths: list[Path], mix: list[float]) -> dict:
    """The ``training.json`` of the average: its inputs with their checksums and own training records."""
    parts = []
    for path, m in zip(paths, mix, strict=True):
        part = {"model": str(path), "sha256": _sha256(path), "mix": m}
        own = path.with_name("training.json")
        if own.is_file():
            try:
                part["training"] = json.loads(own.read_text())
            except (OSError, ValueError) as exc:
                raise AverageError(f"training record {own}: cannot read it: {exc}") from exc
        parts.append(part)
    return {"averaged_from": parts,
            "method": "weighted average of every weight, BatchNorm moving statistics included (tools.train.average_readers)"}


def carry_over(models: list, paths: list[Path]) -> list[str]:
    """Carry every model of another input size, or without the last model's context blocks,
    over to the last model's network (in place in *models*).

    Returns one note per model carried over, for the training record.

    Raises:
        AverageError: a model cannot be carried over whole (a layer other than a context
            block, which starts as the identity, would stay untrained, or the model has
            context blocks the last one lacks).
    """
    import tensorflow as tf

    from tools.train.reader_model import is_context_layer, transfer_weights

    reference = models[-1]
    blocks_there = _context(reference)
    notes = []
    for i, path in enumerate(paths[:-1]):
        model = models[i]
        blocks_here = _context(model)
        if tuple(model.input_shape) == tuple(reference.input_shape) and blocks_here == blocks_there:
            continue
        extra = sorted(set(blocks_here) - set(blocks_there))
        if extra:
            raise AverageError(f"model {path} has context-block layers {paths[-1]} lacks ({', '.join(extra)}): "
                               "give the model with the most context blocks last")
        target = tf.keras.models.clone_model(reference)
        try:
            fresh = transfer_weights(model, target)
        except ValueError as exc:
            raise AverageError(f"model {path}: cannot carry it over to {paths[-1]}'s network: {exc}") from exc
        untrained = [name for name in fresh if not is_context_layer(name)]
        if untrained:
            raise AverageError(f"model {path}: input {model.input_shape[1:3]} differs from {paths[-1]}'s "
                               f"{reference.input_shape[1:3]} by more than the height-collapsing convolution "
                               f"({', '.join(untrained)} would stay untrained): not the same network")
        models[i] = target
        blocks = f", its {len(fresh)} missing context-block layers as the identity" if fresh else ""
        notes.append(f"{path}: input {model.input_shape[1]}x{model.input_shape[2]} carried over to "
                     f"{reference.input_shape[1]}x{reference.input_shape[2]}{blocks} "
                     "(tools.train.reader_model.transfer_weights)")
    return notes


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tools.train.average_readers", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="+", type=Path, help="two or more .keras models of the same network (earlier ones may differ "
                   "in input height and width and lack its context blocks; they are carried over to the last one's)")
    p.add_argument("--out", type=Path, required=True, help="the averaged .keras model to write")
    p.add_argument("--mix", default="", help="weight of each model, e.g. 0.7,0.3 (default: equal)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        if len(a.models) < 2:
            raise AverageError("give at least two models to average")
        mix = parse_mix(a.mix, len(a.models)) if a.mix else [1.0 / len(a.models)] * len(a.models)
        models = []
        for i, path in enumerate(a.models, start=1):
            print(f"loading model {i}/{len(a.models)}: {path}", flush=True)
            models.append(_load(path))
        notes = carry_over(models, a.models)
        averaged = average_weights([m.get_weights() for m in models], mix)
        record = training_record(a.models, mix)
        if notes:
            record["carried_over"] = notes
        out = models[-1]
        out.set_weights(averaged)
        a.out.parent.mkdir(parents=True, exist_ok=True)
        out.save(a.out)
        (a.out.parent / "training.json").write_text(json.dumps(record, indent=1) + "\n")
    except (AverageError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"averaged {len(a.models)} models ({', '.join(f'{m:.3g}' for m in mix)}) into {a.out}; "
          f"training record in {a.out.parent / 'training.json'}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
