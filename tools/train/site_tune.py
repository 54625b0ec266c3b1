"""Teach the reader a site's own plates: fine-tune it on crops the site recorded, convert it, judge it.

A gate sees one country's plates through one camera in one light, day after day. The plate
crops the daemon saved with its events (``platectl events crops``), their texts checked by a
person, fine-tune the installed reader for that site in about twenty minutes on two cores, and a
check on plates it never trained on says whether it gained (needs the ``[train]`` extra)::

    python -m tools.train.site_tune site-crops --data ../shared/datasets --work work/site

*crops* is a folder with ``labels.csv`` (``file,text``; other columns are ignored, rows with
an empty text are left out). The stages keep their results in ``--work``; a stopped run,
started again with the same arguments, continues where it stopped:

1. **split**: the crops are split by plate text (a hash of it, so the split never changes)
   into a tuning part (about 60 %), a calibration part (15 %) and a check part (25 %) that
   neither trains nor calibrates the reader. A plate seen many times stays in one part.
2. **replay**: the real crops of many countries in ``--data`` (``tools.train.real_crops``),
   trained on beside the site's crops so that the reader keeps reading visitors' plates.
3. **start**: the installed reader rebuilt as a float Keras model
   (``tools.train.reader_from_tflite``).
4. **train**: ``tools.train.train_reader --init-from`` the start, the tuning part as
   ``--focus`` (many copies), the replay as ``--extra``, a few synthetic shards.
5. **average and convert**: the fine-tune's weights averaged with the start's (``--mix``, the
   fine-tune's share; ``tools.train.average_readers``), then ``tools.quantize`` to int8, its
   temperature calibrated on the calibration part and the eu-crops calibration texts.
6. **judge**: the installed and the tuned reader read the check part and the suite's crop sets
   (``tools.eval.suite``); the table and ``verdict.json`` land in ``--work``. The installed
   reader's figures are kept there too (``installed-figures.json``) for the next ``--mix``.

The tuned reader is ``WORK/mix-M/reader.tflite`` (M the ``--mix``) with its card
``reader.json`` beside it; install both and point ``recognition.reader_model`` at the
``.tflite``. Another ``--mix`` on the same ``--work`` reuses the fine-tune.

Exit status: 0 the tuned reader is better: it reads more of the check part, makes no more
mistakes there at confidence >= 0.9, and reads no suite crop set more than 2 points worse;
1 keep the installed reader (the tuned one is still written, and the reasons printed);
2 a usage or data error (message on stderr).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import logging
import sys
import zlib
from pathlib import Path

from plategate.cli.event_accuracy import SURE, ModeScore
from plategate.errors import PlategateError
from plategate.types import normalise_plate, parse_shapes

logger = logging.getLogger(__name__)

#: shares of the plate texts (by hash) in the tuning and calibration parts; the rest is the check part
TUNE_SHARE, CALIB_SHARE = 0.60, 0.15
#: fewest labelled crops, and fewest in the check part, worth a fine-tune
MIN_CROPS, MIN_CHECK = 40, 10
#: most a suite crop set may fall (points) before the tuned reader is refused
MAX_DROP = 2.0
#: the crop sets of the suite the tuned reader is also judged on
SUITE_SETS = ("scene-crops val", "br-crops val", "ar-crops", "eu test")
#: real_crops folders trained on as replay
REPLAY = ("scene-train", "eu-hand")


class SiteTuneError(PlategateError):
    """The site's crops or the working folder cannot be used."""


def part_of(text: str) -> str:
    """``"tune"``, ``"calib"`` or ``"check"``: the part every crop of plate *text* goes to."""
    share = zlib.crc32(text.encode()) % 1000 / 1000
    return "tune" if share < TUNE_SHARE else "calib" if share < TUNE_SHARE + CALIB_SHARE else "check"


def site_rows(crops: Path) -> list[tuple[str, str]]:
    """``(file, text)`` of the crops in *crops*/labels.csv that have a text and an image.

    Raises:
        SiteTuneError: no labels.csv, no ``file``/``text`` columns, or too few usable crops.
    """
    labels = crops / "labels.csv"
    if not labels.is_file():
        raise SiteTuneError(f"{labels}: not found (platectl events crops writes it)")
    with labels.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if not {"file", "text"} <= set(reader.fieldnames or ()):
            raise SiteTuneError(f"{labels}: needs the columns file and text, has {reader.fieldnames}")
        rows, missing = [], []
        for line, row in enumerate(reader, 2):
            text = normalise_plate(row["text"] or "")
            if not text:
                continue
            if not (crops / row["file"]).is_file():
                missing.append(f"line {line}: {row['file']}")
                continue
            rows.append((row["file"], text))
    if missing:
        logger.warning("%s: %d images not found, left out (%s)", labels, len(missing), "; ".join(missing[:3]))
    if len(rows) < MIN_CROPS:
        raise SiteTuneError(f"{labels}: {len(rows)} crops with a text; a fine-tune needs at least {MIN_CROPS}")
    return rows


def text_rows_of(folder: Path) -> list[tuple[str, str]]:
    """``(file, text)`` of *folder*/labels.csv (a part written by this tool)."""
    from tools.train.real_crops import text_rows

    return text_rows(folder / "labels.csv")


def split(rows: list[tuple[str, str]]) -> dict[str, list[tuple[str, str]]]:
    """The rows of each part (see :func:`part_of`).

    Raises:
        SiteTuneError: the check or tuning part would hold too few crops.
    """
    parts: dict[str, list[tuple[str, str]]] = {"tune": [], "calib": [], "check": []}
    for row in rows:
        parts[part_of(row[1])].append(row)
    if len(parts["check"]) < MIN_CHECK or len(parts["tune"]) < MIN_CHECK:
        raise SiteTuneError(f"{len(rows)} crops give {len(parts['tune'])} to tune on and {len(parts['check'])} to "
                            f"check with; each needs at least {MIN_CHECK}: record more plates")
    return parts


def read_set(reader, items: list[tuple[Path, str]]) -> dict:
    """Exact reads, sure right and sure wrong reads of *reader* (a PlateReader) on (image, text) *items*,
    counted as ``platectl events accuracy`` counts them (:class:`plategate.cli.event_accuracy.ModeScore`).

    Raises:
        ImageError: an image cannot be read (named in the message).
    """
    from plategate.imageio import load_image

    score = ModeScore("site")
    for path, text in items:
        score.add(text, reader.read(load_image(path)))
    n = score.crops
    return {"n": n, "exact": round(100 * score.right / n, 1) if n else None, "sure_right": score.sure_right,
            "sure_wrong": score.sure_wrong}


def verdict(installed: dict[str, dict], tuned: dict[str, dict]) -> tuple[bool, list[str]]:
    """Whether the tuned reader beats the installed one on the figures of :func:`read_set`, and why not."""
    reasons = []
    a, b = installed["site check"], tuned["site check"]
    if b["exact"] <= a["exact"]:
        reasons.append(f"site check part: {a['exact']} -> {b['exact']} % exact (does not rise)")
    if b["sure_wrong"] > a["sure_wrong"]:
        reasons.append(f"site check part: {a['sure_wrong']} -> {b['sure_wrong']} wrong reads at >= {SURE}")
    for name in installed:
        if name != "site check" and installed[name]["exact"] is not None and tuned[name]["exact"] is not None \
                and tuned[name]["exact"] < installed[name]["exact"] - MAX_DROP:
            reasons.append(f"{name}: {installed[name]['exact']} -> {tuned[name]['exact']} % (falls more than {MAX_DROP:g})")
    return not reasons, reasons


def table(installed: dict[str, dict], tuned: dict[str, dict]) -> str:
    """The judge's figures as a Markdown table."""
    lines = ["| set | crops | installed exact | tuned exact | installed right / wrong >= 0.9 | tuned right / wrong >= 0.9 |",
             "|---|---|---|---|---|---|"]
    for name, a in installed.items():
        b = tuned[name]
        lines.append(f"| {name} | {a['n']} | {a['exact']} | {b['exact']} | {a['sure_right']} / {a['sure_wrong']} | "
                     f"{b['sure_right']} / {b['sure_wrong']} |")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tools.train.site_tune", description=__doc__.split("\n\n")[0],
                                epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("crops", type=Path, help="folder of the site's plate crops with labels.csv (file,text)")
    p.add_argument("--data", type=Path, required=True,
                   help="shared datasets folder (br-crops, scene-crops, eu-crops, chars, ...): the reader keeps them")
    p.add_argument("--work", type=Path, default=Path("work/site"), help="results and checkpoints (default: %(default)s)")
    p.add_argument("--reader", type=Path, default=None, help="the reader to tune (default: the shipped models/reader.tflite)")
    p.add_argument("--steps", type=int, default=600, help="training steps (batches of 64; default: %(default)s)")
    p.add_argument("--lr", type=float, default=1e-4, help="peak learning rate (default: %(default)s)")
    p.add_argument("--copies", type=int, default=96, help="augmented copies of each tuning crop (default: %(default)s)")
    p.add_argument("--mix", type=float, default=0.5,
                   help="share of the fine-tune in the weight average with the installed reader; 1 = the fine-tune "
                        "alone (default: %(default)s)")
    p.add_argument("--shards", type=int, default=6, help="synthetic shards rendered and trained on (default: %(default)s)")
    p.add_argument("--formats", default="", metavar="SHAPES",
                   help="the site's recognition.plate_formats, comma-separated (e.g. LLLDDDD,LLLDLDD): the check "
                        "part is read with them, as the daemon reads (default: free decoding)")
    p.add_argument("--seed", type=int, default=1, help="(default: %(default)s)")
    p.add_argument("--threads", type=int, default=2, help="(default: %(default)s)")
    p.add_argument("--shard-size", type=int, default=5000, help=argparse.SUPPRESS)  # tests: fewer renders
    p.add_argument("--replay-copies", type=int, default=8, help=argparse.SUPPRESS)
    p.add_argument("--batch", type=int, default=64, help=argparse.SUPPRESS)
    p.add_argument("--min-agreement", default="0.97", help=argparse.SUPPRESS)  # tests: a barely trained reader
    a = p.parse_args(argv)
    for flag in ("steps", "copies", "threads", "shard_size", "replay_copies", "batch", "shards"):
        if getattr(a, flag) < 1:
            p.error(f"--{flag.replace('_', '-')} must be at least 1, got {getattr(a, flag)}")
    if not 0 < a.mix <= 1:
        p.error(f"--mix must be above 0 and at most 1, got {a.mix}")
    return a


def _run(stage: str, main, argv: list[str]) -> None:
    """Run one tool's ``main(argv)``; a non-zero status stops the tune."""
    print(f"site_tune: {stage}: {main.__module__} {' '.join(argv)}", flush=True)
    status = main(argv)
    if status != 0:
        raise SiteTuneError(f"{stage} failed ({main.__module__} exited {status}); its message is above")


def lay_out(a: argparse.Namespace) -> dict[str, Path]:
    """Stages 1 and 2: the site's parts and the replay folders under ``WORK``; their folders by name."""
    from tools.train import real_crops

    parts = split(site_rows(a.crops))
    folders = {}
    for name, rows in parts.items():
        folders[name] = a.work / "site" / name
        real_crops.write_folder(folders[name], a.crops, rows)
        print(f"site_tune: {name} part: {len(rows)} crops of {len({t for _, t in rows})} plates", flush=True)
    replay = a.work / "replay"
    if not (a.data / "scene-crops").is_dir() and not (a.data / "eu-crops").is_dir():
        logger.warning("%s holds neither scene-crops nor eu-crops: only br-crops and renders are replayed", a.data)
    elif not all((replay / n / "labels.csv").is_file() for n in REPLAY):
        _run("replay", real_crops.main, ["--data", str(a.data), "--out", str(replay), "--calib-share", "0"])
    folders.update({n: replay / n for n in (*REPLAY, "eu-calib") if (replay / n / "labels.csv").is_file()})
    return folders


def tune(a: argparse.Namespace, reader: Path, folders: dict[str, Path]) -> Path:
    """Stages 3 to 5: rebuild, fine-tune and convert; returns the tuned ``.tflite``."""
    from plategate.vision.runtime import verify
    from tools import quantize
    from tools.train import average_readers, reader_from_tflite, train_reader
    from tools.train.tflite_weights import conv_ops

    start, mixed = a.work / "start.keras", a.work / f"mix-{a.mix:g}"
    out = mixed / "reader.tflite"
    if not start.with_name("training.json").is_file():  # written after the model: both are whole
        _run("start", reader_from_tflite.main, [str(reader), str(start), "--images", str(folders.get("scene-train", folders["tune"])),
                                                "--threads", str(a.threads), "--min-agreement", a.min_agreement])
    train = a.work / "train"
    if not (train / "reader.keras").is_file():
        _, height, width, _ = verify(reader).input.shape
        channels, light, context = reader_from_tflite.stage_widths(conv_ops(reader))
        argv = ["--data", str(a.data), "--work", str(train), "--init-from", str(start),
                "--height", str(height), "--width", str(width), "--channels", ",".join(map(str, channels)),
                "--context", str(context), *(["--light-stem"] if light else []),
                "--focus", str(folders["tune"]), "--focus-copies", str(a.copies),
                *[x for n in REPLAY if n in folders for x in ("--extra", str(folders[n]))],
                "--real-copies", str(a.replay_copies), "--real-augment", "strong", "--real-repeat", "1",
                "--shards", str(a.shards), "--first-shards", str(a.shards), "--grow", "0", "--shard-size", str(a.shard_size),
                "--val-size", "200", "--epochs", "1", "--steps", str(a.steps), "--batch", str(a.batch), "--lr", str(a.lr),
                "--seed", str(a.seed), "--workers", str(a.threads), "--threads", str(a.threads)]
        if (train / "ckpt").is_dir():
            argv.append("--resume")
        _run("train", train_reader.main, argv)
    keras, record = train / "reader.keras", train / "training.json"
    if a.mix < 1:  # the weight average of the start and the fine-tune keeps more of what the start read
        keras, record = mixed / "reader.keras", mixed / "training.json"
        if not record.is_file():  # written after the average
            _run("average", average_readers.main, [str(start), str(train / "reader.keras"), "--out", str(keras),
                                                   "--mix", f"{1 - a.mix:g},{a.mix:g}"])
    if not out.with_suffix(".json").is_file():  # the card is written last
        calib = [x for n in ("calib", "eu-calib") if n in folders for x in ("--calibrate", str(folders[n]))]
        _run("convert", quantize.main, [
            str(keras), "--task", "reader", "--out", str(out), "--task-arg", f"data={a.data}",
            "--rep-dir", str(folders["tune"]), "--rep-count", "300", *calib, "--val", str(folders["check"]),
            "--license", "AGPL-3.0-only", "--training", str(record), "--threads", str(a.threads)])
    return out


def judge(a: argparse.Namespace, installed: Path, tuned: Path, check: Path, formats: list[str]) -> tuple[dict, dict]:
    """Stage 6: both readers on the check part (under the site's *formats*, if any) and the suite's crop
    sets (as the daemon reads: 3 views)."""
    from plategate.vision.reader import PlateReader
    from tools.eval.suite import crop_items

    sets = {"site check": [(check / f, t) for f, t in text_rows_of(check)]}
    for name in SUITE_SETS:
        try:
            sets[name] = crop_items(a.data, name)
        except (OSError, PlategateError) as exc:
            logger.warning("%s: not judged (%s)", name, exc)

    def figures_of(model: Path) -> dict:
        free = PlateReader(model, threads=a.threads, views=3)
        site = PlateReader(model, threads=a.threads, views=3, formats=formats) if formats else free
        out = {name: read_set(site if name == "site check" else free, items) for name, items in sets.items() if items}
        print(f"site_tune: judged {model}", flush=True)
        return out

    # The installed reader's figures change only with it, the formats and the sets: kept in --work.
    key = {"model": hashlib.sha256(installed.read_bytes()).hexdigest(), "formats": formats,
           "sets": {name: sorted(f"{p.name}={t}" for p, t in items) for name, items in sets.items()}}
    cache = a.work / "installed-figures.json"
    try:
        kept = json.loads(cache.read_text())
    except (OSError, ValueError):
        kept = {}
    if kept.get("key") == key:
        print(f"site_tune: the installed reader's figures from {cache}", flush=True)
        before = kept["figures"]
    else:
        before = figures_of(installed)
        cache.write_text(json.dumps({"key": key, "figures": before}) + "\n")
    return before, figures_of(tuned)


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from plategate.config_base import default_models_dir

    installed = a.reader or default_models_dir() / "reader.tflite"
    try:
        shapes = parse_shapes(a.formats)
    except ValueError as exc:
        print(f"error: --formats: {exc}", file=sys.stderr)
        return 2
    try:
        if not (a.data / "br-crops" / "labels.csv").is_file():
            raise SiteTuneError(f"--data {a.data}: no br-crops/labels.csv (the shared datasets folder is needed)")
        folders = lay_out(a)
        tuned = tune(a, installed, folders)
        before, after = judge(a, installed, tuned, folders["check"], shapes)
    except (PlategateError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    ok, reasons = verdict(before, after)
    text = table(before, after)
    (a.work / "verdict.json").write_text(json.dumps({"installed": str(installed), "tuned": str(tuned), "better": ok,
                                                     "reasons": reasons, "figures": {"installed": before, "tuned": after}},
                                                    indent=1) + "\n")
    print(text)
    if ok:
        print(f"the tuned reader is better: install {tuned} and {tuned.with_suffix('.json')} and set "
              f"recognition.reader_model to the .tflite (then restart the daemon)")
        return 0
    print("keep the installed reader: " + "; ".join(reasons))
    return 1


if __name__ == "__main__":
    sys.exit(main())
