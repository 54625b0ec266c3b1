"""What the reader trains on in one epoch: cached synthetic shards, the br-crops training part
and ``--extra`` folders (augmented), and the evaluation sets; used by :mod:`tools.train.train_reader`,
whose arguments (``a``) every function here takes."""

from __future__ import annotations

import argparse
import time
import zlib
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from tools.synth import reader_data


def _shard_job(args: tuple) -> int:
    x, _ = reader_data.synth_shard(*args)
    return len(x)


def render_shards(a: argparse.Namespace, count: int) -> tuple[list[np.ndarray], list[str]]:
    """Render (or load cached) the first *count* synthetic shards, showing progress.

    Returns:
        The shards' images, one array per shard, and all their texts in order.
    """
    cache = a.work / "data"
    recent = a.recent_from if a.recent_from is not None else count
    jobs = [(cache, i, a.shard_size, a.seed, a.height, a.render_width, a.data, a.recent_styles if i >= recent else None)
            for i in range(count)]
    if a.data_only:  # a helper process renders from the far end while training starts at shard 0
        jobs.reverse()
    start = time.time()
    if a.workers > 1:
        with ProcessPoolExecutor(a.workers) as pool:
            for k, _ in enumerate(pool.map(_shard_job, jobs), 1):
                print(f"synthetic shard {k}/{count} ready ({time.time() - start:.0f} s)", flush=True)
    xs, ys = [], []
    for k, job in enumerate(jobs, 1):
        x, y = reader_data.synth_shard(*job)
        xs.append(reader_data.resize_width(x, a.width))
        ys.extend(y)
        if a.workers <= 1:
            print(f"synthetic shard {k}/{count} ready ({time.time() - start:.0f} s)", flush=True)
    return xs, ys


def epoch_pool(shards: list[np.ndarray], texts: list[str], a: argparse.Namespace,
               real: tuple[np.ndarray, list[str]] | None = None) -> tuple[np.ndarray, list[str]]:
    """One epoch's samples in a single array, allocated once.

    The order is: the shards as given; then the shards from ``--recent-from`` on again
    (``--recent-repeat`` copies in all, once those shards are loaded); then
    ``--real-repeat`` copies of *real* (images, texts). Filling one array keeps the
    peak memory at the shards plus the pool; chained concatenations held up to four
    copies of an epoch (about 13 GB for 140 shards with a 20x real share).

    Returns:
        ``(images, texts)`` of the same length.
    """
    parts, labels = list(shards), list(texts)
    if a.recent_from is not None and a.recent_repeat > 1 and a.recent_from < len(shards):
        start = sum(len(s) for s in shards[: a.recent_from])
        parts += shards[a.recent_from :] * (a.recent_repeat - 1)
        labels += texts[start:] * (a.recent_repeat - 1)
    if real is not None:
        parts += [real[0]] * a.real_repeat
        labels += real[1] * a.real_repeat
    pool = np.empty((sum(len(p) for p in parts), *parts[0].shape[1:]), parts[0].dtype)
    pos = 0
    for part in parts:
        pool[pos : pos + len(part)] = part
        pos += len(part)
    return pool, labels


def real_sets(a: argparse.Namespace) -> dict[str, tuple[np.ndarray, list[str]]]:
    """The br-crops train copies (augmented) and the evaluation sets (br val, ar-crops), cached."""
    if a.data is None or not (a.data / "br-crops" / "labels.csv").is_file():
        return {}
    tag = f"_a{zlib.crc32(a.label_audit.read_bytes()):08x}" if a.label_audit is not None else ""
    if a.real_augment != "light":
        tag += f"_{a.real_augment}"
    cache = a.work / "data" / f"real_h{a.height}w{a.width}_c{a.real_copies}_s{a.seed}{tag}.npz"
    if cache.is_file():
        with np.load(cache) as z:
            sets = {k: (z[f"{k}_x"], [str(t) for t in z[f"{k}_y"]]) for k in ("br_train", "br_val", "ar")}
        return _with_extra(a, sets)
    train, val = reader_data.split_by_text(reader_data.load_labelled(a.data / "br-crops"))
    if a.label_audit is not None:
        audit = reader_data.load_label_audit(a.label_audit)
        train, changes = reader_data.audited_training_part(train, val, audit)
        print(f"label audit {a.label_audit}: {len(changes)} training crops changed: {'; '.join(changes)}", flush=True)
    sets = {
        "br_train": reader_data.real_augmented(train, a.real_copies, a.seed, a.height, a.width, a.real_augment),
        "br_val": reader_data.real_augmented(val, 1, 0, a.height, a.width),
    }
    ar = a.data / "ar-crops"
    sets["ar"] = reader_data.real_augmented(reader_data.load_labelled(ar), 1, 0, a.height, a.width) if ar.is_dir() else \
        (np.empty((0, a.height, a.width), np.uint8), [])
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, **{f"{k}_x": v[0] for k, v in sets.items()}, **{f"{k}_y": np.array(v[1]) for k, v in sets.items()})
    print(f"br-crops: {len(train)} train images, {len(val)} validation images (split by text, seed "
          f"{reader_data.BR_SPLIT_SEED})", flush=True)
    return _with_extra(a, sets)


def _with_extra(a: argparse.Namespace, sets: dict[str, tuple[np.ndarray, list[str]]]) -> dict[str, tuple[np.ndarray, list[str]]]:
    """Append the ``--extra`` and ``--focus`` folders (augmented like the br-crops training part) to the training set."""
    xs, ys = [sets["br_train"][0]], list(sets["br_train"][1])
    for folder, copies in [(f, a.real_copies) for f in a.extra] + [(f, a.focus_copies) for f in a.focus]:
        samples = reader_data.load_labelled(folder)
        x, y = reader_data.real_augmented(samples, copies, a.seed, a.height, a.width, a.real_augment)
        print(f"extra training crops: {len(samples)} from {folder}, {copies} copies each", flush=True)
        xs.append(x)
        ys.extend(y)
    return {**sets, "br_train": (np.concatenate(xs), ys)}
