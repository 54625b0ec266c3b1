"""Train the plate detector (single-class CenterNet-style heat map + box + corners, stride 4).

Two stages, both seeded and resumable, with everything under ``--work`` (git-ignored):

``data``   writes training patches in shards (``shard_NNNN.npz``): synthetic gate and street
           scenes (:mod:`tools.synth.scenes`), ``ro-dashcam/train`` frames at several zooms and
           training negatives, each letterboxed like the detector does at run time and cut into
           256x256 grayscale patches with boxes and corners. Existing shards are kept.
``train``  trains on whatever shards exist (re-scanned every epoch, so ``data`` may still be
           running), checkpoints every ``--ckpt-every`` steps, ``--resume`` continues, and
           finally writes ``export/detector.weights.h5``. A new run with ``--widths`` and
           ``--grow-from OTHER_WORK`` starts from the trained weights of a narrower network,
           widened so that it first computes exactly what that one did.
``export`` re-estimates BatchNorm and writes SavedModels for ``tools/quantize.py``.

Never trains on ``ro-dashcam/valid`` nor on the held-out negatives. Example::

    nice -n 10 python -m tools.train.train_detector data --data ../shared/datasets --shards 40
    nice -n 10 python -m tools.train.train_detector train --steps 6000 --resume
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

from plategate.vision.detector import STRIDE
from tools.synth.scenes import split_negatives
from tools.train.detector_data import (
    KIND_WEIGHTS,
    REAL_SCENES,
    SHARD_SIZE,
    SWAP_SOURCES,
    ZOOM,
    build_shards,
    load_shards,
    make_batch,
)
from tools.train.detector_model import INPUT_H, INPUT_W, PATCH, WIDTHS, build_model
from tools.train.grow import grow_weights
from tools.train.look_data import mine
from tools.train.stages import parse_stage_widths
from tools.train.tf_threads import set_threads

logger = logging.getLogger(__name__)

DEFAULT_WORK = Path("work/detector")


# --------------------------------------------------------------------------- training
def _losses(tf, heat_true, reg_true, heat_pred, reg_pred):
    p = tf.clip_by_value(heat_pred, 1e-4, 1 - 1e-4)
    pos = tf.cast(heat_true >= 0.999, tf.float32)
    npos = tf.maximum(tf.reduce_sum(pos), 1.0)
    pos_loss = -tf.reduce_sum(pos * tf.pow(1 - p, 2) * tf.math.log(p))
    neg_loss = -tf.reduce_sum((1 - pos) * tf.pow(1 - heat_true, 4) * tf.pow(p, 2) * tf.math.log(1 - p))
    focal = (pos_loss + neg_loss) / npos
    wb, wc = reg_true[..., 12:13], reg_true[..., 13:14]
    err = tf.abs(reg_pred - reg_true[..., :12])
    box = tf.reduce_sum(err[..., :4] * wb) / tf.maximum(tf.reduce_sum(wb) * 4, 1.0)
    cor = tf.reduce_sum(err[..., 4:] * wc) / tf.maximum(tf.reduce_sum(wc) * 8, 1.0)
    return focal, box, cor


def network_widths(work: Path, asked: tuple[int, ...] | None = None) -> tuple[int, ...]:
    """The stage widths of the network trained in *work* (``WORK/network.json``, written by the first training).

    *asked* (``train --widths``) is recorded when the folder has none yet; the default is
    :data:`WIDTHS`.

    Raises:
        ValueError: *asked* differs from the widths the folder's checkpoints were trained with.
    """
    path = work / "network.json"
    if path.is_file():
        widths = tuple(json.loads(path.read_text())["widths"])
        if asked is not None and tuple(asked) != widths:
            raise ValueError(f"{work} holds a network of widths {','.join(map(str, widths))}, not "
                             f"{','.join(map(str, asked))}: use another --work")
        return widths
    widths = tuple(asked or WIDTHS)
    if asked is not None:
        work.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"widths": list(widths)}) + "\n")
    return widths


def train(work: Path, steps: int, batch: int, lr: float, seed: int, resume: bool, ckpt_every: int, size: int = 192,
          box_weight: float = 1.0, widths: tuple[int, ...] | None = None, threads: int = 1,
          grow_from: Path | None = None, invert_plates: float = 0.0) -> Path:
    """Train on *threads* CPU threads; returns the exported weights path.

    *invert_plates* is the probability that a plate of a training batch has its grey levels
    inverted (a dark plate with light characters; :func:`tools.train.detector_data.invert_plates`).

    A new run (no checkpoint in *work*) with *grow_from* starts from the trained weights of
    that work folder (``GROW_FROM/export/detector.weights.h5``), widened to *widths* by
    :func:`tools.train.grow.grow_weights`.

    Raises:
        ValueError: *widths* differ from those of the network already trained in *work*, or
            *grow_from* holds a wider network.
        FileNotFoundError: *grow_from* has no exported weights.
    """
    widths = network_widths(work, widths)
    import tensorflow as tf

    set_threads(threads)
    tf.keras.utils.set_random_seed(seed)
    model = build_model(size, size, widths)
    sched = tf.keras.optimizers.schedules.CosineDecay(lr, steps, alpha=0.02, warmup_target=None)
    opt = tf.keras.optimizers.Adam(sched)
    step_var = tf.Variable(0, dtype=tf.int64)
    ckpt = tf.train.Checkpoint(model=model, opt=opt, step=step_var)
    manager = tf.train.CheckpointManager(ckpt, str(work / "ckpt"), max_to_keep=3)
    if resume and manager.latest_checkpoint:
        ckpt.restore(manager.latest_checkpoint)
        logger.info("resumed from %s at step %d", manager.latest_checkpoint, int(step_var.numpy()))
    else:
        if manager.latest_checkpoint:
            logger.warning("checkpoints exist in %s; starting over (use --resume to continue)", work / "ckpt")
        if grow_from is not None:
            _grow(model, grow_from, size)

    @tf.function
    def train_step(x, ht, rt):
        with tf.GradientTape() as tape:
            hp, bp, cp = model(x, training=True)
            rp = tf.concat([bp, cp], axis=-1)
            focal, box, cor = _losses(tf, ht, rt, hp, rp)
            loss = focal + box_weight * box + 0.5 * cor
        grads = tape.gradient(loss, model.trainable_variables)
        grads, _ = tf.clip_by_global_norm(grads, 10.0)
        opt.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return focal, box, cor

    shards: dict = {}
    pool: list = []
    rng = np.random.default_rng([seed, int(step_var.numpy())])
    t0, start, avg = time.time(), int(step_var.numpy()), np.zeros(3)
    while int(step_var.numpy()) < steps:
        step = int(step_var.numpy())
        if step % 200 == 0 or not pool:
            before = len(shards)
            load_shards(work, shards)
            if len(shards) != before or not pool:
                pool = [(imgs[i], ann) for imgs, anns in shards.values() for i, ann in enumerate(anns)]
                logger.info("training pool: %d patches from %d shards", len(pool), len(shards))
            if not pool:
                raise SystemExit(f"no training shards in {work / 'data'}; run the 'data' stage first")
        x, ht, rt = make_batch(pool, rng, batch, size, invert_plates)
        parts = np.array([float(v) for v in train_step(x, ht, rt)])
        avg = parts if step == start else 0.98 * avg + 0.02 * parts
        step_var.assign_add(1)
        step += 1
        if step % 50 == 0:
            rate = (step - start) / max(time.time() - t0, 1e-6)
            logger.info("step %d/%d  focal %.3f  box %.3f  corner %.3f  %.2f steps/s  eta %.0f min", step, steps, *avg, rate,
                        (steps - step) / max(rate, 1e-6) / 60)
        if step % ckpt_every == 0 or step == steps:
            manager.save(checkpoint_number=step)
            export(model, work)
    return export(model, work)


def weights_file(work: Path) -> Path:
    """Where training in *work* writes its latest weights: ``WORK/export/detector.weights.h5``."""
    return work / "export" / "detector.weights.h5"


def _grow(model, source: Path, size: int) -> None:
    """Load the trained weights of the work folder *source* into *model*, widened to its stage widths."""
    weights = weights_file(source)
    if not weights.is_file():
        raise FileNotFoundError(f"--grow-from {source}: no trained weights at {weights}")
    widths = network_widths(source)
    narrow = build_model(size, size, widths)
    narrow.load_weights(str(weights))
    grow_weights(narrow, model)
    logger.info("started from %s, widened from %s", weights, ",".join(map(str, widths)))


def export(model, work: Path) -> Path:
    """Save the weights for the inference-size model (the architecture is rebuilt from code)."""
    path = weights_file(work)
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save_weights(str(path))
    return path


def recalibrate_batchnorm(weights: Path, work: Path, out: Path, batches: int = 200, size: int = 256, seed: int = 99,
                          batch: int = 16, widths: tuple[int, ...] = WIDTHS) -> Path:
    """Re-estimate BatchNorm moving statistics for the final weights ("precise BN").

    The moving averages lag behind fast-changing weights during training; running
    forward passes in training mode (no weight update) over training patches makes
    inference-mode outputs match training-mode ones. Every batch weighs the same in the
    new statistics (batch *i* updates them with momentum ``1 - 1/i``): with a fixed
    momentum of 0.9 the last ten batches (160 patches) set them, and the recall of the
    int8 model moved by several points from one such estimate to the next.
    """
    model = build_model(size, size, widths)
    model.load_weights(str(weights))
    norms = [layer for layer in model.layers if hasattr(layer, "moving_mean")]
    shards = load_shards(work, {})
    pool = [(imgs[i], ann) for imgs, anns in shards.values() for i, ann in enumerate(anns)]
    rng = np.random.default_rng(seed)
    for i in range(1, batches + 1):
        for layer in norms:
            layer.momentum = 1.0 - 1.0 / i
        x, _h, _r = make_batch(pool, rng, batch, size)
        model(x, training=True)
    model.save_weights(str(out))
    return out


def load_inference_model(weights: Path, widths: tuple[int, ...] = WIDTHS, size: tuple[int, int] = (INPUT_W, INPUT_H)):
    """Build the model for a ``size = (width, height)`` input (default INPUT_W x INPUT_H) and load trained weights into it."""
    model = build_model(size[1], size[0], widths)
    model.load_weights(str(weights))
    return model


def export_savedmodel(work: Path, weights: Path | None = None, seed: int = 1234, steps: int | None = None,
                      data_work: Path | None = None,
                      sizes: tuple[tuple[int, int], ...] = ((INPUT_W, INPUT_H),)) -> list[Path]:
    """Write the inference model as a SavedModel plus its ``training.json`` at each input size.

    BatchNorm is re-estimated once for all sizes. The default input (INPUT_W x INPUT_H) goes to
    ``export/savedmodel`` and ``export/training.json``; another ``(width, height)`` (the same
    weights, e.g. a coarse pass at half the size) to ``export/savedmodel-WxH`` and
    ``export/training-WxH.json``. Returns the SavedModel folders.
    """
    weights = weights or weights_file(work)
    (work / "export").mkdir(parents=True, exist_ok=True)
    widths = network_widths(work)
    calibrated = recalibrate_batchnorm(weights, data_work or work, work / "export" / "detector.bn.weights.h5", seed=seed,
                                       widths=widths)
    commands = _commands(work)
    kinds = sorted(set().union(*(set(c.get("mix") or KIND_WEIGHTS) for c in commands if c["stage"] == "data")))
    real = [f"{REAL_SCENES[k]} (boxes)" for k in REAL_SCENES if k in kinds]
    if "look" in kinds:
        real.append("views of the detector's own unsure boxes on those photos and the training negatives "
                    "(tools.train.look_data)")
    if "swap" in kinds:
        real.append(f"{' and '.join(REAL_SCENES[k] for k in SWAP_SOURCES)} with rendered plates painted over boxed ones "
                    "(tools.synth.swap)")
    if {"gate", "street"} & set(kinds):
        real.append("eu-crops (pasted into synthetic scenes)")
    start = start_record(commands)
    command = f"python -m tools.train.train_detector export --work {work}" + (f" --steps {steps}" if steps else "")
    if tuple(sizes) != ((INPUT_W, INPUT_H),):
        command += "".join(f" --input {w}x{h}" for w, h in sizes)
    outs = []
    for size in sizes:
        suffix = "" if tuple(size) == (INPUT_W, INPUT_H) else f"-{size[0]}x{size[1]}"
        out = work / "export" / f"savedmodel{suffix}"
        load_inference_model(calibrated, widths, size).export(str(out), format="tf_saved_model", verbose=False)
        info = {
            "data": {"synthetic": "tools.synth.scenes gate + street scenes (plates from tools.synth.plates and eu-crops, "
                                  "backgrounds from the training part of negatives)",
                     "real": [*real, "negatives (training part: crc32(name) % 6 != 0)"],
                     "kinds": kinds,
                     "never_trained_on": ["ro-dashcam/valid", "openimages-plates/val", "openlpr-scenes/val",
                                          "negatives held-out part (crc32(name) % 6 == 0)"]},
            "architecture": {"input": [1, size[1], size[0], 1], "widths": list(widths), "stride": STRIDE,
                             "heads": "heat map (sigmoid), box (dx, dy, log w, log h), corners (8 offsets)"},
            "seed": seed, "weights": str(weights),
            "commands": start.get("commands", []) + [c["command"] for c in commands] + [command],
        }
        if start:
            info["started_from"] = {k: start[k] for k in ("rebuilt_from", "sha256", "training") if k in start}
        (work / "export" / f"training{suffix}.json").write_text(json.dumps(info, indent=2))
        outs.append(out)
    return outs


def _commands(work: Path) -> list[dict]:
    """The data and train commands run in *work* (``WORK/commands.json``), oldest first."""
    path = work / "commands.json"
    return json.loads(path.read_text()) if path.is_file() else []


def start_record(commands: list[dict]) -> dict:
    """The training record beside the weights a run was grown from (``--grow-from WORK``), if any.

    :mod:`tools.train.detector_from_tflite` writes one (``WORK/training.json``): the commands
    that rebuilt a shipped detector and that detector's own training record, so an exported
    model's record goes back to the first training.
    """
    for c in commands:
        parts = c["command"].split()
        if c["stage"] == "train" and "--grow-from" in parts[:-1]:
            path = Path(parts[parts.index("--grow-from") + 1]) / "training.json"
            if path.is_file():
                return json.loads(path.read_text())
    return {}


def _record(work: Path, stage: str, argv: list[str], mix: dict | None = None) -> None:
    """Append a data or train command to ``WORK/commands.json`` (once; a resumed run is not a new command)."""
    work.mkdir(parents=True, exist_ok=True)
    command = "nice -n 10 python -m tools.train.train_detector " + " ".join(argv)
    done = _commands(work)
    if all(c["command"].replace(" --resume", "") != command.replace(" --resume", "") for c in done):
        done.append({"stage": stage, "command": command, "mix": mix})
        (work / "commands.json").write_text(json.dumps(done, indent=1))


def _widths_arg(text: str) -> tuple[int, ...]:
    try:
        return parse_stage_widths(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _size_arg(text: str) -> tuple[int, int]:
    w, _, h = text.lower().partition("x")
    if not (w.isdigit() and h.isdigit()) or int(w) % 32 or int(h) % 32 or not int(w) or not int(h):
        raise argparse.ArgumentTypeError(f"needs WxH, both multiples of 32 (the network's largest stride), got {text!r}")
    return int(w), int(h)


def _zoom_arg(text: str) -> tuple[float, float]:
    try:
        zoom = tuple(float(v) for v in text.split(","))
    except ValueError:
        zoom = ()
    if len(zoom) != 2 or not 0 < zoom[0] <= zoom[1]:
        raise argparse.ArgumentTypeError(f"needs LO,HI with 0 < LO <= HI, got {text!r}")
    return zoom


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    ap = argparse.ArgumentParser(prog="python -m tools.train.train_detector", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="stage", required=True)
    d = sub.add_parser("data", help="write training patch shards")
    d.add_argument("--data", type=Path, required=True, help="shared datasets folder")
    d.add_argument("--shards", type=int, default=40, help=f"number of shards of {SHARD_SIZE} patches")
    d.add_argument("--first", type=int, default=0, help="index of the first shard (another mix goes to another range)")
    d.add_argument("--mix", default="", help="sample mix over gate, street, negative, swap (real photos with rendered plates painted over theirs), "
                        "look (views of the boxes tools.train.look_data mined into --work, as the second look sees them) "
                        "and the real scene kinds " + ", ".join(REAL_SCENES) + ", e.g. openimages=0.5,negative=0.5 (default: " + ",".join(f"{k}={v}" for k, v in KIND_WEIGHTS.items()) + ")")
    d.add_argument("--patch", type=int, default=PATCH, help="side of the patches cut from real photos, swaps and negatives")
    d.add_argument("--zoom", type=_zoom_arg, default=ZOOM,
                   help="scale range of those patches relative to the detector's letterbox, LO,HI (default: "
                        + ",".join(map(str, ZOOM)) + ")")
    m = sub.add_parser("mine", help="find the shipped detector's unsure boxes on the training photos (for --mix look)")
    m.add_argument("--data", type=Path, required=True, help="shared datasets folder")
    m.add_argument("--low", type=float, default=0.2, help="mine boxes from this score")
    m.add_argument("--high", type=float, default=0.6, help="up to (below) this score")
    m.add_argument("--threads", type=int, default=2)
    t = sub.add_parser("train", help="train on the shards")
    t.add_argument("--steps", type=int, default=6000)
    t.add_argument("--batch", type=int, default=16)
    t.add_argument("--lr", type=float, default=2e-3)
    t.add_argument("--resume", action="store_true", help="continue from the latest checkpoint")
    t.add_argument("--threads", type=int, default=1,
                   help="CPU threads (default: %(default)s, leaving a core to the reader's training)")
    t.add_argument("--ckpt-every", type=int, default=250)
    t.add_argument("--size", type=int, default=192, help="training crop size (fully convolutional; at most the patch side)")
    t.add_argument("--box-weight", type=float, default=1.0, help="weight of the box regression loss")
    t.add_argument("--invert-plates", type=float, default=0.0, metavar="P",
                   help="probability that a plate in a training batch is shown inverted: light characters on a dark plate")
    t.add_argument("--widths", type=_widths_arg, default=None,
                   help="five stage widths of a new network, e.g. 24,48,96,144,192 (default: "
                        + ",".join(map(str, WIDTHS)) + "; recorded in WORK/network.json)")
    t.add_argument("--grow-from", type=Path, default=None, metavar="WORK",
                   help="start a new run from the trained weights of another work folder, widened to --widths")
    e = sub.add_parser("export", help="write the inference-size SavedModel for tools.quantize")
    e.add_argument("--weights", type=Path, help="weights file (default: WORK/export/detector.weights.h5)")
    e.add_argument("--steps", type=int, help="the --steps the weights were trained with (recorded)")
    e.add_argument("--input", type=_size_arg, action="append", default=[], metavar="WxH",
                   help=f"model input (repeatable; default {INPUT_W}x{INPUT_H}; another size goes to export/savedmodel-WxH)")
    e.add_argument("--data-work", type=Path, default=None, help="work folder whose shards recalibrate BatchNorm (default: --work)")
    for p in (d, m, t, e):
        p.add_argument("--work", type=Path, default=DEFAULT_WORK, help="work folder (git-ignored)")
        p.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.stage == "data":
        mix = {k: float(v) for k, v in (kv.split("=") for kv in args.mix.split(",") if kv)} or None
        kinds = {*KIND_WEIGHTS, *REAL_SCENES, "swap", "look"}
        if mix and not set(mix) <= kinds:
            ap.error(f"--mix: kinds are {', '.join(sorted(kinds))}")
        _record(args.work, "data", [a for a in (argv if argv is not None else sys.argv[1:])], mix)
        build_shards(args.data, args.work, args.shards, args.seed, mix, args.first, args.patch, args.zoom)
    elif args.stage == "mine":
        _record(args.work, "mine", [a for a in (argv if argv is not None else sys.argv[1:])])
        sources = {k: args.data / rel for k, rel in REAL_SCENES.items() if (args.data / rel / "boxes.csv").is_file()}
        n = mine(sources, split_negatives(args.data / "negatives")[0], args.work, args.low, args.high, args.threads)
        logger.info("%d boxes mined into %s", n, args.work)
    elif args.stage == "export":
        sizes = tuple(dict.fromkeys(args.input)) or ((INPUT_W, INPUT_H),)
        for out in export_savedmodel(args.work, args.weights, args.seed, args.steps, args.data_work, sizes):
            logger.info("exported %s", out)
    else:
        try:  # a network of other widths is refused before the command is recorded
            network_widths(args.work, args.widths)
        except ValueError as exc:
            ap.error(str(exc))
        _record(args.work, "train", list(argv if argv is not None else sys.argv[1:]))
        path = train(args.work, args.steps, args.batch, args.lr, args.seed, args.resume, args.ckpt_every, args.size,
                     args.box_weight, args.widths, args.threads, args.grow_from, args.invert_plates)
        logger.info("exported %s", path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
