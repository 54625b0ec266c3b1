"""Train the plate reader (CTC, grayscale crops) on synthetic plates plus the br-crops training part.

Run from the repository root (needs the ``[train]`` extra)::

    nice -n 10 python -m tools.train.train_reader --data ../shared/datasets --work work/reader

Synthetic shards are rendered once and cached in ``WORK/data``; checkpoints are written
every epoch to ``WORK/ckpt`` and ``--resume`` continues from the last one; the
trained model is exported to ``WORK/reader.keras`` (input for ``tools.quantize``).
The br-crops validation part (split by plate text, fixed seed) and ar-crops are
never trained on; they are only evaluated at the end of each epoch.

``--init-from`` starts from another reader's weights; ``--teacher`` adds a
distillation loss (:func:`tools.train.reader_model.distillation_loss`) so that a smaller
network (e.g. ``--light-stem``) also learns a trained reader's per-step outputs.
The printed loss is then CTC plus the weighted distillation term.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np

from plategate.errors import PlategateError
from plategate.vision.ctc import ALPHABET, encode, greedy, softmax
from tools.synth import reader_data, real_augment
from tools.train.reader_pool import epoch_pool, real_sets, render_shards
from tools.train.stages import parse_stage_widths
from tools.train.tf_threads import set_threads

logger = logging.getLogger(__name__)

MAX_LEN = 10
VAL_SHARD = 9999  # index of the held-out synthetic shard (calibration / monitoring)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tools.train.train_reader", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=None,
                   help="shared datasets folder (br-crops, chars, us-plate-backgrounds, negatives); "
                        "without it only synthetic plates drawn with system fonts are used")
    p.add_argument("--work", type=Path, default=Path("work/reader"), help="cache, checkpoints and output (default: %(default)s)")
    p.add_argument("--shards", type=int, default=24, help="synthetic shards in all (default: %(default)s)")
    p.add_argument("--first-shards", type=int, default=6,
                   help="shards used in epoch 1; each later epoch adds --grow more (default: %(default)s)")
    p.add_argument("--grow", type=int, default=3, help="shards added per epoch (default: %(default)s)")
    p.add_argument("--steps", type=int, default=1000, help="training steps per epoch (default: %(default)s)")
    p.add_argument("--shard-size", type=int, default=5000, help="samples per synthetic shard (default: %(default)s)")
    p.add_argument("--real-copies", type=int, default=8, help="augmented copies of each br-crops training image (default: %(default)s)")
    p.add_argument("--real-augment", choices=real_augment.KINDS, default="light",
                   help="augmentation of the real crops' copies (tools.synth.real_augment; default: %(default)s)")
    p.add_argument("--real-repeat", type=int, default=2, help="times the real copies are seen per epoch (default: %(default)s)")
    p.add_argument("--recent-from", type=int, default=None, metavar="K",
                   help="synthetic shards K and later (rendered by a newer renderer) are seen --recent-repeat times "
                        "per epoch, so that a fine-tune sees enough of what they add")
    p.add_argument("--recent-repeat", type=int, default=1, metavar="R",
                   help="times shards from --recent-from on are seen per epoch (default: %(default)s)")
    p.add_argument("--recent-styles", type=_style_weights, default=None, metavar="STYLE=SHARE,...",
                   help="plate style shares of the shards from --recent-from on, e.g. ar=0.6 to render mostly "
                        "Argentine plates (styles not named keep tools.synth.reader_data.STYLE_WEIGHTS)")
    p.add_argument("--extra", type=Path, action="append", default=[], metavar="DIR",
                   help="another folder of labelled crops (labels.csv: file,text) trained on like the br-crops "
                        "training part, e.g. pseudo-labels written by tools.train.pseudo_label; repeatable")
    p.add_argument("--focus", type=Path, action="append", default=[], metavar="DIR",
                   help="labelled crops to learn above all (a site's own plates, tools.train.site_tune): trained on "
                        "like --extra but with --focus-copies copies each; repeatable")
    p.add_argument("--focus-copies", type=int, default=96, metavar="N",
                   help="augmented copies of each --focus crop (default: %(default)s)")
    p.add_argument("--label-audit", type=Path, default=None, metavar="CSV",
                   help="label audit of the br-crops training part (file,label,verdict,looks_like, e.g. "
                        "tools/eval_data/br-crops-train-audit.csv): crops marked wrong take their looks_like text; "
                        "unreadable crops and photos of validation plates are dropped")
    p.add_argument("--epochs", type=int, default=12, help="(default: %(default)s)")
    p.add_argument("--batch", type=int, default=64, help="(default: %(default)s)")
    p.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (default: %(default)s)")
    p.add_argument("--val-size", type=int, default=2000, help="held-out synthetic samples scored every epoch (default: %(default)s)")
    p.add_argument("--seed", type=int, default=1, help="seed for data, initialisation and order (default: %(default)s)")
    p.add_argument("--workers", type=int, default=1, help="processes rendering synthetic shards (default: %(default)s)")
    p.add_argument("--threads", type=int, default=1, help="TensorFlow intra/inter-op threads (default: %(default)s)")
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint in WORK/ckpt")
    p.add_argument("--data-only", action="store_true",
                   help="render the synthetic shards (last first, so it can run beside a training run) and stop")
    p.add_argument("--height", type=int, default=32, help="model input height (default: %(default)s)")
    p.add_argument("--width", type=int, default=128, help="model input width; the model emits width/4 steps (default: %(default)s)")
    p.add_argument("--render-width", type=int, default=None, metavar="W",
                   help="synthetic shards are rendered (and cached) W pixels wide and resized to --width when "
                        "loaded, so a narrower model trains on shards already cached (default: --width)")
    p.add_argument("--channels", type=_channels, default=None,
                   help="five comma-separated stage widths of the network (default: tools.train.reader_model.CHANNELS)")
    p.add_argument("--init-from", type=Path, default=None, metavar="KERAS",
                   help="start (not --resume) from a trained reader's weights wherever the networks agree, "
                        "e.g. a --light-stem model from a standard one (tools.train.reader_model.transfer_weights)")
    p.add_argument("--grow-from", type=Path, default=None, metavar="KERAS",
                   help="start (not --resume) a wider network (--channels) from a trained narrower reader: it "
                        "computes exactly what that reader computes until training moves it (tools.train.grow); "
                        "the grown start is also written to WORK/grown-start/reader.keras, for averaging with the result")
    p.add_argument("--light-stem", action="store_true",
                   help="make the second convolution depthwise-separable (a faster model; see tools.train.reader_model)")
    p.add_argument("--context", type=int, default=0, metavar="N",
                   help="add N context blocks (dilated convolutions along the plate) so that each output step sees "
                        "more of it; with --init-from they start as the identity (default: %(default)s)")
    p.add_argument("--teacher", type=Path, default=None, metavar="KERAS",
                   help="a trained reader whose softened per-step outputs the model also learns (distillation)")
    p.add_argument("--distil", type=float, default=1.0, metavar="W",
                   help="weight of the distillation loss next to CTC, with --teacher (default: %(default)s)")
    p.add_argument("--distil-temp", type=float, default=2.0, metavar="T",
                   help="softening temperature of the distillation loss (default: %(default)s)")
    return p.parse_args(argv)


def _style_weights(text: str) -> dict[str, float]:
    try:
        return reader_data.parse_style_weights(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--recent-styles: {exc}") from exc


def _channels(text: str) -> tuple[int, ...]:
    try:
        return parse_stage_widths(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--channels {exc}") from exc


def encode_labels(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Dense (N, MAX_LEN) class ids padded with 0, and the lengths."""
    labels = np.zeros((len(texts), MAX_LEN), np.int32)
    lengths = np.zeros(len(texts), np.int32)
    for i, t in enumerate(texts):
        ids = encode(t[:MAX_LEN])
        labels[i, : len(ids)] = ids
        lengths[i] = len(ids)
    return labels, lengths


def accuracy(predict, x: np.ndarray, texts: list[str], batch: int = 256) -> float:
    """Exact-match rate of greedy decoding over uint8 images *x*."""
    if len(texts) == 0:
        return float("nan")
    right = 0
    for i in range(0, len(x), batch):
        logits = predict(x[i : i + batch].astype(np.float32)[..., None] / 255.0)
        for row, t in zip(logits, texts[i : i + batch], strict=True):
            right += greedy(softmax(row))[0] == t
    return right / len(texts)


def usage_error(a: argparse.Namespace) -> str | None:
    """The first problem with the arguments that must stop the run before any work, or None."""
    if (a.extra or a.focus) and (a.data is None or not (a.data / "br-crops" / "labels.csv").is_file()):
        return "--extra and --focus need --data with br-crops/labels.csv (their crops join its training part)"
    for flag, folder in [("--extra", f) for f in a.extra] + [("--focus", f) for f in a.focus]:
        if not (folder / "labels.csv").is_file():
            return f"{flag} {folder}: {folder / 'labels.csv'} not found"
    if a.focus_copies < 1:
        return f"--focus-copies must be at least 1, got {a.focus_copies}"
    if a.label_audit is not None:
        if a.data is None:
            return "--label-audit needs --data (it audits the br-crops training part)"
        try:
            reader_data.load_label_audit(a.label_audit)
        except PlategateError as exc:
            return str(exc)
    if a.recent_styles is not None and a.recent_from is None:
        return "--recent-styles needs --recent-from (the shards it renders)"
    if a.render_width is not None and a.render_width < 1:
        return f"--render-width must be positive, got {a.render_width}"
    if a.context < 0:
        return f"--context must be 0 or more, got {a.context}"
    if a.grow_from is not None and (a.init_from is not None or a.light_stem or a.context):
        return "--grow-from widens the same network: it does not go with --init-from, --light-stem or --context"
    if a.grow_from is not None and a.channels is None:
        return "--grow-from needs --channels (the wider network's stage widths)"
    return None


def _grow(source: Path, model, out: Path, channels: tuple[int, ...]) -> Path:
    """Grow the trained reader in *source* (.keras) into the wider *model*; save that start as
    ``out/reader.keras`` with a ``training.json`` naming where it came from; return its path.

    Raises:
        OSError: *source* cannot be read or *out* written.
        ValueError: *model* is not a wider copy of *source*'s network.
    """
    import tensorflow as tf

    from tools.train.grow import grow_weights

    grow_weights(tf.keras.models.load_model(source, compile=False), model)
    out.mkdir(parents=True, exist_ok=True)
    model.save(out / "reader.keras")
    before = source.with_name("training.json")
    record = {"grown_from": str(source), "channels": list(channels),
              "method": "function-preserving widening (tools.train.grow.grow_weights)",
              "source_training": json.loads(before.read_text()) if before.is_file() else None}
    (out / "training.json").write_text(json.dumps(record, indent=1) + "\n")
    return out / "reader.keras"


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    error = usage_error(a)
    if error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if a.render_width is None:
        a.render_width = a.width
    a.work.mkdir(parents=True, exist_ok=True)
    x_val, y_val = reader_data.synth_shard(a.work / "data", VAL_SHARD, a.val_size, a.seed, a.height, a.render_width, a.data)
    x_val = reader_data.resize_width(x_val, a.width)
    if a.data_only:
        _, y_syn = render_shards(a, a.shards)
        print(f"rendered {len(y_syn)} synthetic samples + {len(y_val)} held out", flush=True)
        return 0
    real = real_sets(a)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    from tools.train.reader_model import build_model, distillation_loss, transfer_weights

    set_threads(a.threads)
    tf.keras.utils.set_random_seed(a.seed)

    steps_per_epoch = a.steps

    model = build_model(len(ALPHABET) + 1, a.height, a.width, light_stem=a.light_stem, context=a.context,
                        **({"channels": a.channels} if a.channels else {}))
    total = steps_per_epoch * a.epochs
    schedule = tf.keras.optimizers.schedules.CosineDecay(0.0, total - min(1000, total // 10), alpha=0.02,
                                                         warmup_target=a.lr, warmup_steps=min(1000, total // 10))
    opt = tf.keras.optimizers.Adam(schedule, clipnorm=5.0)
    epoch_var = tf.Variable(0, dtype=tf.int64)
    ckpt = tf.train.Checkpoint(model=model, optimizer=opt, epoch=epoch_var)
    manager = tf.train.CheckpointManager(ckpt, str(a.work / "ckpt"), max_to_keep=2)
    if a.resume and manager.latest_checkpoint:
        ckpt.restore(manager.latest_checkpoint)
        print(f"resumed from {manager.latest_checkpoint} after epoch {int(epoch_var.numpy())}", flush=True)
    elif manager.latest_checkpoint and not a.resume:
        print(f"refusing to overwrite checkpoints in {a.work / 'ckpt'}; pass --resume or remove them", file=sys.stderr)
        return 2
    elif a.grow_from is not None:
        try:
            start = _grow(a.grow_from, model, a.work / "grown-start", a.channels)
        except (OSError, ValueError) as exc:
            print(f"cannot grow from {a.grow_from}: {exc}", file=sys.stderr)
            return 2
        print(f"grown from {a.grow_from} (written as {start})", flush=True)
    elif a.init_from is not None:
        try:
            source = tf.keras.models.load_model(a.init_from, compile=False)
            fresh = transfer_weights(source, model)
        except (OSError, ValueError) as exc:
            print(f"cannot start from {a.init_from}: {exc}", file=sys.stderr)
            return 2
        print(f"started from {a.init_from}; fresh layers: {', '.join(fresh) or 'none'}", flush=True)
    teacher = None
    if a.teacher is not None:
        try:
            teacher = tf.keras.models.load_model(a.teacher, compile=False)
            teacher.trainable = False
            if tuple(teacher.output_shape[1:]) != tuple(model.output_shape[1:]):
                raise ValueError(f"its outputs {teacher.output_shape[1:]} differ from the model's {model.output_shape[1:]}")
        except (OSError, ValueError) as exc:
            print(f"cannot use teacher {a.teacher}: {exc}", file=sys.stderr)
            return 2
        print(f"distilling from {a.teacher} (weight {a.distil}, temperature {a.distil_temp})", flush=True)
    steps_t = a.width // 4

    @tf.function(reduce_retracing=True)
    def train_step(x, y, ylen):
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            loss = tf.reduce_mean(tf.nn.ctc_loss(y, logits, ylen, tf.fill([tf.shape(x)[0]], steps_t),
                                                 logits_time_major=False, blank_index=0))
            if teacher is not None:
                loss += a.distil * distillation_loss(logits, teacher(x, training=False), a.distil_temp)
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    @tf.function(reduce_retracing=True)
    def predict(x):
        return model(x, training=False)

    history_path = a.work / "history.json"
    history = json.loads(history_path.read_text()) if a.resume and history_path.is_file() else []
    for epoch in range(int(epoch_var.numpy()), a.epochs):
        n_shards = min(a.shards, a.first_shards + epoch * a.grow)
        x_all, y_all = epoch_pool(*render_shards(a, n_shards), a, real.get("br_train"))
        labels, lengths = encode_labels(y_all)
        print(f"epoch {epoch + 1}: {n_shards} synthetic shards + real = {len(x_all)} samples, "
              f"{steps_per_epoch} steps of {a.batch}", flush=True)
        rng = np.random.default_rng([a.seed, epoch])
        order = np.concatenate([rng.permutation(len(x_all)) for _ in range(-(-steps_per_epoch * a.batch // len(x_all)))])
        start, running = time.time(), 0.0
        for step in range(steps_per_epoch):
            idx = np.sort(order[step * a.batch : (step + 1) * a.batch])
            xb = x_all[idx].astype(np.float32)[..., None] / 255.0
            loss = float(train_step(xb, labels[idx], lengths[idx]))
            running = loss if step == 0 else 0.98 * running + 0.02 * loss
            if step % 200 == 0 or step == steps_per_epoch - 1:
                rate = (step + 1) / max(1e-6, time.time() - start)
                print(f"epoch {epoch + 1}/{a.epochs} step {step + 1}/{steps_per_epoch} loss {running:.3f} "
                      f"({rate:.1f} steps/s, eta {(steps_per_epoch - step - 1) / rate / 60:.1f} min)", flush=True)
        del x_all, order  # free the pool before the next epoch builds its own
        epoch_var.assign(epoch + 1)
        manager.save()
        model.save(a.work / "reader.keras")

        def pred(xb):
            return predict(xb).numpy()

        row = {"epoch": epoch + 1, "loss": running, "synth_val": accuracy(pred, x_val, y_val)}
        for name in ("br_val", "ar"):
            if real:
                row[name] = accuracy(pred, *real[name])
        history.append(row)
        history_path.write_text(json.dumps(history, indent=1))
        print("epoch " + " ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()), flush=True)
    info = training_info(a, history, argv)
    (a.work / "training.json").write_text(json.dumps(info, indent=1))
    print(f"model written to {a.work / 'reader.keras'}; training record in {a.work / 'training.json'}", flush=True)
    return 0


def training_info(a: argparse.Namespace, history: list[dict], argv: list[str] | None) -> dict:
    """What trained the model, for its card (``tools.quantize --training``)."""
    data = [f"synthetic: {a.shards} shards x {a.shard_size} rendered plates (tools/synth, seed {a.seed})"]
    if a.recent_from is not None and a.recent_repeat > 1:
        data.append(f"synthetic shards {a.recent_from}-{a.shards - 1} seen {a.recent_repeat} times per epoch")
    if a.recent_styles is not None and a.recent_from is not None:
        shares = ", ".join(f"{k} {v:g}" for k, v in a.recent_styles.items())
        data.append(f"synthetic shards {a.recent_from}-{a.shards - 1} rendered with style shares {shares}")
    if a.data is not None:
        data += [
            f"br-crops training part: split by plate text, seed {reader_data.BR_SPLIT_SEED}, "
            f"{100 * (1 - reader_data.BR_VAL_FRACTION):.0f} % of the texts, {a.real_copies} {a.real_augment}-augmented copies each",
            "chars/gb, chars/br (glyphs), us-plate-backgrounds, negatives (backgrounds) in synthetic plates",
        ]
    if a.label_audit is not None:
        data.append(f"br-crops training part under the label audit {a.label_audit} (wrong labels replaced; "
                    "unreadable crops and photos of validation plates dropped)")
    data += [f"extra labelled crops: {folder} ({a.real_copies} {a.real_augment}-augmented copies each)" for folder in a.extra]
    data += [f"focus crops: {folder} ({a.focus_copies} {a.real_augment}-augmented copies each)" for folder in a.focus]
    command = "nice -n 10 python -m tools.train.train_reader " + " ".join(argv if argv is not None else sys.argv[1:])
    previous = a.work / "training.json"
    before = json.loads(previous.read_text()) if a.resume and previous.is_file() else {}
    commands = before.get("commands", [])
    start = a.init_from if a.init_from is not None else a.grow_from
    init_from = str(a.init_from) if a.init_from is not None else before.get("init_from")  # a resumed run keeps it
    grow_from = str(a.grow_from) if a.grow_from is not None else before.get("grow_from")
    source = start.with_name("training.json") if start is not None else None
    start_training = before.get("start_training")
    if not before and source is not None and source.is_file():  # first run here: the record behind the starting weights
        start_training = json.loads(source.read_text())
        commands = start_training.get("commands", [])
    return {
        "data": data,
        "never_trained_on": ["br-crops validation part", "ar-crops"],
        "commands": [*commands, command],
        "seed": a.seed,
        "epochs": a.epochs,
        "steps_per_epoch": a.steps,
        "batch": a.batch,
        "input": [a.height, a.width],
        "render_width": a.render_width,
        "channels": list(a.channels) if a.channels else None,
        "light_stem": a.light_stem,
        "context": a.context,
        "init_from": init_from,
        "grow_from": grow_from,
        "teacher": {"model": str(a.teacher), "weight": a.distil, "temperature": a.distil_temp} if a.teacher else before.get("teacher"),
        "start_training": start_training,
        "history": history,
    }


if __name__ == "__main__":
    sys.exit(main())
