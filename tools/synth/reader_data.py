"""Training and validation data for the plate reader: synthetic shards and real labelled crops.

Synthetic samples are rendered with :mod:`tools.synth.plates`, turned into camera-like
crops with :mod:`tools.synth.augment` and prepared with the reader's own
:func:`plategate.vision.preprocess.prepare_crop`; they are cached as ``.npz`` shards
(uint8 images + texts) so a resumed run does not render them again.

Real crops come from a folder with ``labels.csv`` (file,text). The br-crops split is
by plate text (all photos of one plate land on the same side) with a fixed seed, so
the validation part is never seen in training.
"""

from __future__ import annotations

import csv
import logging
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from plategate.errors import ImageError, PlategateError
from plategate.types import normalise_plate
from plategate.vision.preprocess import prepare_crop, resize_to
from plategate.vision.reader import plate_shape, two_line_halves
from tools.synth import augment, real_augment
from tools.synth.plate_text import EXTRA_STYLES
from tools.synth.plates import STYLES, render_lines

logger = logging.getLogger(__name__)

#: seed and share of the br-crops split (by plate text); written down in models/README.md
BR_SPLIT_SEED = 20261121
BR_VAL_FRACTION = 0.2

#: share of each plate style among synthetic samples (the real targets are BR and AR, which
#: keep the largest shares); Pakistani, Indian, Gulf, Australian and the two-line pk2, in2
#: and square plates take a quarter of the whole
STYLE_WEIGHTS = {"br": 0.225, "ar": 0.2, "eu": 0.11, "uk": 0.075, "us": 0.135, "moto": 0.05,
                 "pk": 0.05, "in": 0.05, "gulf": 0.03, "au": 0.04, "pk2": 0.035, "in2": 0.02, "square": 0.04}
#: share of one-line samples whose crop box sits off the plate and cuts the characters'
#: bottom (or top): real ar-crops often do (the detector box includes the frame above)
CUT_SHARE = 0.2
#: share of old-format (LLLDDD) Argentine samples cropped tight and nearly head-on
#: (:func:`tools.synth.augment.camera_crop` ``tight``), as real crops of them are
AR_TIGHT_SHARE = 0.5


@dataclass(frozen=True)
class Sample:
    """One labelled real crop."""

    path: Path
    text: str


def load_labelled(folder: Path) -> list[Sample]:
    """Read ``labels.csv`` (file,text) of *folder*; duplicate rows are dropped.

    Raises:
        FileNotFoundError: there is no labels.csv.
    """
    seen: set[str] = set()
    out = []
    with (folder / "labels.csv").open(newline="") as fh:
        for row in csv.DictReader(fh):
            name = row["file"].strip()
            if name in seen:
                continue
            seen.add(name)
            out.append(Sample(folder / name, normalise_plate(row["text"])))
    return out


def split_by_text(samples: list[Sample], seed: int = BR_SPLIT_SEED, val_fraction: float = BR_VAL_FRACTION) -> tuple[list[Sample], list[Sample]]:
    """Split *samples* into (train, val) so that no plate text is on both sides.

    Texts are sorted, shuffled with *seed*, and the first *val_fraction* of them go to
    validation; the result does not depend on the order of the CSV.
    """
    texts = sorted({s.text for s in samples})
    order = np.random.default_rng(seed).permutation(len(texts))
    n_val = int(round(len(texts) * val_fraction))
    val_texts = {texts[i] for i in order[:n_val]}
    train = [s for s in samples if s.text not in val_texts]
    val = [s for s in samples if s.text in val_texts]
    return train, val


@dataclass(frozen=True)
class AuditRow:
    """One row of a label audit (``file,label,verdict,looks_like``, see tools/eval_data/README.md)."""

    file: str
    label: str
    verdict: str
    looks_like: str


def load_label_audit(path: Path) -> list[AuditRow]:
    """Read a label audit CSV (``file,label,verdict,looks_like``).

    Raises:
        PlategateError: the file is unreadable, lacks a column, or a ``wrong`` row has no ``looks_like``.
    """
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            rows, columns = list(reader), reader.fieldnames or []
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise PlategateError(f"label audit {path}: cannot read it: {exc}") from exc
    need = {"file", "label", "verdict", "looks_like"}
    if not need <= set(columns):
        raise PlategateError(f"label audit {path}: needs columns {sorted(need)}, has {sorted(columns)}")
    out = []
    for line, row in enumerate(rows, start=2):
        if row["verdict"] == "wrong" and not row["looks_like"]:
            raise PlategateError(f"label audit {path}, line {line}: {row['file']} is marked wrong but has no looks_like")
        out.append(AuditRow(row["file"], normalise_plate(row["label"]), row["verdict"], normalise_plate(row["looks_like"] or "")))
    return out


def audited_training_part(train: list[Sample], val: list[Sample], audit: list[AuditRow]) -> tuple[list[Sample], list[str]]:
    """Apply a label audit of the training part of a split.

    A row applies only where the crop's label is still the one the audit saw. ``wrong``
    crops take their ``looks_like`` text, except when that text is a validation text:
    such a crop is a photo of a validation plate that the split by text let in under its
    wrong label, and it is dropped. ``unreadable`` crops are dropped; other verdicts
    (``ambiguous``) keep the dataset's label.

    Returns:
        The new training list and one line per change (``br00010.jpg AOK3481->AQK3481``,
        ``br00297.jpg dropped: ...``).
    """
    rows = {r.file: r for r in audit}
    val_texts = {s.text for s in val}
    out, changes = [], []
    for s in train:
        r = rows.get(s.path.name)
        if r is None or r.label != s.text or r.verdict not in ("wrong", "unreadable"):
            out.append(s)
        elif r.verdict == "unreadable":
            changes.append(f"{s.path.name} dropped: unreadable")
        elif r.looks_like in val_texts:
            changes.append(f"{s.path.name} dropped: shows {r.looks_like}, a validation text")
        else:
            out.append(Sample(s.path, r.looks_like))
            changes.append(f"{s.path.name} {s.text}->{r.looks_like}")
    return out, changes


def read_image(path: Path) -> np.ndarray:
    """Read an image file as it is stored (any depth and channel count).

    Raises:
        ImageError: the file is missing, empty or cannot be decoded.
    """
    data = np.fromfile(str(path), np.uint8) if path.is_file() else None
    if data is None or data.size == 0:
        raise ImageError(f"{path}: missing or empty file")
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if img is None:
        raise ImageError(f"{path}: not a decodable image")
    return img


def parse_style_weights(spec: str) -> dict[str, float]:
    """:data:`STYLE_WEIGHTS` with the shares named in *spec* (``"ar=0.6,br=0.2"``) replaced.

    A style of :data:`~tools.synth.plate_text.EXTRA_STYLES` (e.g. ``band=0.05``) is added
    with its share; unnamed, it is not drawn.

    Raises:
        ValueError: an unknown style, a malformed or negative share, or no share left above 0.
    """
    weights = dict(STYLE_WEIGHTS)
    known = (*weights, *EXTRA_STYLES)
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, value = item.partition("=")
        if name not in known:
            raise ValueError(f"unknown plate style {name!r} in {spec!r}; expected one of {', '.join(known)}")
        try:
            share = float(value)  # "ar" alone leaves "": no number
        except ValueError:
            share = float("nan")
        if not share >= 0.0:
            raise ValueError(f"share of {name!r} in {spec!r} must be a number >= 0, got {value!r}")
        weights[name] = share
    if sum(weights.values()) <= 0.0:
        raise ValueError(f"style shares {spec!r} leave nothing to render")
    return weights


def synth_sample(rng: np.random.Generator, height: int, width: int, data_dir: Path | None,
                 backgrounds: list[np.ndarray] | None = None,
                 style_weights: dict[str, float] | None = None) -> tuple[np.ndarray, str]:
    """Render one synthetic training sample, already prepared as uint8 model input.

    *style_weights* (default :data:`STYLE_WEIGHTS`) sets the share of each plate style.
    """
    weights = style_weights or STYLE_WEIGHTS
    styles = list(weights)
    style = styles[int(rng.choice(len(styles), p=np.array(list(weights.values())) / sum(weights.values())))]
    plate_h = int(rng.integers(max(24, height), max(25, int(height * 2.2))))
    plate, text, split = render_lines(style=style, rng=rng, height=plate_h, data_dir=data_dir)
    bg = backgrounds[int(rng.integers(len(backgrounds)))] if backgrounds and rng.random() < 0.5 else None
    tight = style == "ar" and plate_shape(text) == "LLLDDD" and rng.random() < AR_TIGHT_SHARE
    crop = augment.camera_crop(plate, rng, out_height=int(rng.integers(height, 2 * height)), background=bg,
                               ir_probability=0.35, strength=float(rng.uniform(0.4, 1.0)),
                               cut_share=0.0 if split is not None else CUT_SHARE, tight=tight)
    if split is not None:  # a two-line plate is read line by line, as the reader does it
        top = rng.random() < 0.5
        crop = two_line_halves(crop)[0 if top else 1]
        text = text[:split] if top else text[split:]
    return (prepare_crop(crop, height, width) * 255 + 0.5).astype(np.uint8), text


def light_text_share(images: list[np.ndarray]) -> float:
    """The share of prepared reader inputs (uint8, model size) whose characters are lighter than their plate.

    The centre of each image (the characters' band) is split into two grey levels by
    Otsu's threshold; the characters are the smaller part, so an image whose bright part
    covers less than half of the centre shows light characters on a darker plate. This
    compares the polarity of rendered crops with that of real ones (red Brazilian plates,
    inverted infrared looks).

    Raises:
        ValueError: *images* is empty.
    """
    if not images:
        raise ValueError("no images to measure")
    light = 0
    for img in images:
        h, w = img.shape[:2]
        centre = np.ascontiguousarray(img[h // 4: h - h // 4, w // 10: w - w // 10])
        _, binary = cv2.threshold(centre, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        light += int(np.count_nonzero(binary) < binary.size / 2)
    return light / len(images)


def load_backgrounds(data_dir: Path | None, limit: int = 200) -> list[np.ndarray]:
    """Load up to *limit* scene images from ``negatives/`` (none without data)."""
    if data_dir is None or not (Path(data_dir) / "negatives").is_dir():
        return []
    out = []
    for p in sorted((Path(data_dir) / "negatives").glob("*.jpg"))[:limit]:
        img = cv2.imread(str(p), cv2.IMREAD_COLOR)
        if img is not None:
            out.append(img)
    return out


def synth_shard(cache: Path, index: int, size: int, seed: int, height: int, width: int,
                data_dir: Path | None, style_weights: dict[str, float] | None = None) -> tuple[np.ndarray, list[str]]:
    """Return synthetic shard *index* (render and cache it when it is not cached yet).

    The shard's content depends only on (seed, index, size, height, width, data_dir set
    or not, style weights); weights other than :data:`STYLE_WEIGHTS` are part of its name.
    """
    tag = f"s{seed}_h{height}w{width}_{'d' if data_dir else 'n'}_{size}"
    if style_weights and style_weights != STYLE_WEIGHTS:
        tag += "_" + "-".join(f"{k}{v:g}" for k, v in style_weights.items())
    path = cache / f"synth_{tag}_{index:04d}.npz"
    if path.is_file():
        with np.load(path) as z:
            return z["x"], [str(t) for t in z["y"]]
    rng = np.random.default_rng([seed, index, zlib.crc32(tag.encode())])
    backgrounds = load_backgrounds(data_dir)
    xs = np.empty((size, height, width), np.uint8)
    ys = []
    for i in range(size):
        xs[i], text = synth_sample(rng, height, width, data_dir, backgrounds, style_weights)
        ys.append(text)
    cache.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, x=xs, y=np.array(ys))
    tmp.replace(path)
    return xs, ys


def resize_width(images: np.ndarray, width: int) -> np.ndarray:
    """Resize prepared (N, H, W) uint8 images to *width* columns, as the reader resizes a crop
    (:func:`plategate.vision.preprocess.resize_to`: area averaging when narrowing).

    A shard cached for one input width then trains a model of another. Narrowing an
    image that is already contrast-stretched stands in for stretching the narrowed crop;
    the two differ only where the stretch clipped.

    Raises:
        ValueError: *width* is not positive.
    """
    if width < 1:
        raise ValueError(f"width must be positive, got {width}")
    if images.shape[2] == width:
        return images
    out = np.empty((len(images), images.shape[1], width), images.dtype)
    for i, img in enumerate(images):
        out[i] = resize_to(img, images.shape[1], width)
    return out


def real_augmented(samples: list[Sample], copies: int, seed: int, height: int, width: int,
                   augmentation: str = "light") -> tuple[np.ndarray, list[str]]:
    """Prepare real crops with *copies* augmentations each (copy 0 is unaugmented), of the kind
    *augmentation* names (:data:`tools.synth.real_augment.KINDS`).

    Unreadable files are skipped with a warning.

    Raises:
        ValueError: *augmentation* is not a known kind.
    """
    augment_one = real_augment.augmenter(augmentation)
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for s in samples:
        try:
            img = read_image(s.path)
        except ImageError as exc:
            logger.warning("skipping %s", exc)
            continue
        for k in range(copies):
            crop = img if k == 0 else augment_one(img if img.ndim == 3 else cv2.cvtColor(img, cv2.COLOR_GRAY2BGR), rng)
            xs.append((prepare_crop(crop, height, width) * 255 + 0.5).astype(np.uint8))
            ys.append(s.text)
    return np.stack(xs) if xs else np.empty((0, height, width), np.uint8), ys


__all__ = ["STYLES", "Sample", "load_labelled", "split_by_text", "synth_shard", "real_augmented", "read_image"]


def export_split(folder: Path, out: Path) -> tuple[int, int]:
    """Write ``out/train`` and ``out/val``: symlinks to the crops of each part and a labels.csv each.

    Returns:
        (number of training crops, number of validation crops).
    """
    train, val = split_by_text(load_labelled(folder))
    for name, part in (("train", train), ("val", val)):
        d = out / name
        d.mkdir(parents=True, exist_ok=True)
        with (d / "labels.csv").open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["file", "text"])
            for s in part:
                link = d / s.path.name
                if not link.exists():
                    link.symlink_to(s.path.resolve())
                writer.writerow([s.path.name, s.text])
    return len(train), len(val)


def main(argv: list[str] | None = None) -> int:
    """``python -m tools.synth.reader_data FOLDER OUT``: export the fixed train/val split of a labelled crop folder."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m tools.synth.reader_data",
                                description=f"Export the fixed split by plate text (seed {BR_SPLIT_SEED}, "
                                            f"{100 * BR_VAL_FRACTION:.0f} % of the texts for validation) of a labelled "
                                            "crop folder as OUT/train and OUT/val (symlinks + labels.csv).")
    p.add_argument("folder", type=Path, help="folder with labels.csv (file,text), e.g. DATA/br-crops")
    p.add_argument("out", type=Path, help="output folder")
    a = p.parse_args(argv)
    if not (a.folder / "labels.csv").is_file():
        print(f"error: {a.folder / 'labels.csv'} not found", file=sys.stderr)
        return 1
    n_train, n_val = export_split(a.folder, a.out)
    print(f"{a.out / 'train'}: {n_train} crops, {a.out / 'val'}: {n_val} crops")
    return 0


if __name__ == "__main__":
    sys.exit(main())
