"""Split the real two-line plate crops of a labelled folder into their lines, as the reader reads them.

The reader reads a crop narrower than :data:`plategate.vision.reader.TWO_LINE_ASPECT` times its
height twice: whole, and as its top and bottom lines
(:func:`plategate.vision.reader.two_line_halves`), and keeps the more confident read. Rendered
two-line plates are trained in those halves; a real crop carries one text for the whole plate,
so without a split it is trained only as one squeezed line, which is not how it is read.

For each narrow crop of the folder the reader scores every split of the crop's text into a top
and a bottom line by how likely its two halves are to read as those parts (``--rule
likelihood``, the default: the sum of the CTC log-probabilities of the parts,
:func:`plategate.vision.ctc.text_log_probability`). A crop is split only where the best split
reaches ``--min-log-prob`` and beats the next best by :data:`MARGIN` (a one-line plate cut
narrow fits no split that well). ``--rule edits`` instead reads both halves and splits where
the two reads are fewest edits (at most ``--max-edits``) from the parts, at a single best
point. Each part has at least one character. The two halves of a split crop are written as PNG
files with their part of the text (``labels.csv``: file,text). The crops themselves are not
written: train on the new folder beside the old one::

    python -m tools.train.two_lines work/real/scene-train --out work/real/scene-train-lines

Another cut of the same plates (the same file names but for the extension, e.g. the daemon's
cut of them by :mod:`tools.train.daemon_cut`) can take the splits already found with
``--known``; its other crops are split as above::

    python -m tools.train.two_lines work/real/scene-cut --known work/real/scene-train-lines \
        --out work/real/scene-cut-lines

It prints how many crops were narrow, how many were split, and lists the ones left out.
"""

from __future__ import annotations

import argparse
import csv
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from plategate.errors import PlategateError
from plategate.imageio import load_image
from plategate.vision.ctc import encode, softmax, text_log_probability
from plategate.vision.reader import TWO_LINE_ASPECT, is_two_line, two_line_halves
from tools.eval.evaluate import edit_distance
from tools.eval.export_crops import write_labels
from tools.synth.reader_data import load_labelled

logger = logging.getLogger(__name__)

#: reads of the two halves may differ from their parts of the text by this many edits in all (``edits``)
MAX_EDITS = 1
#: the best split's log-probability must reach this (``likelihood``); chosen on contact sheets
#: of the scene-crops training crops: the splits above it were right, one-line plates cut narrow
#: start just below it
MIN_LOG_PROB = -10.0
#: ... and beat the next best split by this much (natural log)
MARGIN = 2.0
RULES = ("likelihood", "edits")


@dataclass(frozen=True)
class Split:
    """Where a two-line crop's text divides: ``text[:at]`` is the top line."""

    at: int
    edits: int = 0
    log_prob: float | None = None


def split_text(text: str, top: str, bottom: str) -> Split | None:
    """The split of *text* into a top and a bottom line that the reads *top* and *bottom* fit best.

    Returns:
        The split with the fewest edits in all, or ``None`` when the text is shorter than two
        characters or two split points fit equally well.
    """
    if len(text) < 2:
        return None
    costs = [(edit_distance(top, text[:k]) + edit_distance(bottom, text[k:]), k) for k in range(1, len(text))]
    costs.sort()
    if len(costs) > 1 and costs[0][0] == costs[1][0]:
        return None
    return Split(at=costs[0][1], edits=costs[0][0])


def likely_split(reader, halves: tuple[np.ndarray, np.ndarray], text: str, min_log_prob: float = MIN_LOG_PROB,
                 margin: float = MARGIN) -> Split | None:
    """The split of *text* whose parts the two *halves* most likely read as (see the module).

    Returns:
        The split, or ``None`` when the text is shorter than two characters, the best split's
        log-probability is below *min_log_prob*, or the next best is within *margin* of it.

    Raises:
        ValueError: *text* has a character the reader does not know.
    """
    if len(text) < 2:
        return None
    probs = [softmax(reader.logits(h), reader.temperature) for h in halves]
    scores = sorted(((text_log_probability(probs[0], encode(text[:k], reader.alphabet, reader.blank), reader.blank)
                      + text_log_probability(probs[1], encode(text[k:], reader.alphabet, reader.blank), reader.blank), k)
                     for k in range(1, len(text))), reverse=True)
    best, at = scores[0]
    if best < min_log_prob or (len(scores) > 1 and best - scores[1][0] < margin):
        return None
    return Split(at=at, log_prob=round(best, 3))


def known_splits(lines: Path) -> dict[str, int]:
    """The split points of a folder this tool wrote: ``{crop name without extension: length of the top line}``.

    Raises:
        OSError: its ``labels.csv`` cannot be read.
    """
    with open(lines / "labels.csv", newline="") as fh:
        return {r["file"][: -len("_top.png")]: len(r["text"]) for r in csv.DictReader(fh) if r["file"].endswith("_top.png")}


def split_folder(reader, crops: Path, out: Path, max_edits: int = MAX_EDITS, known: dict[str, int] | None = None,
                 aspect: float = TWO_LINE_ASPECT, progress=print, rule: str = "likelihood",
                 min_log_prob: float = MIN_LOG_PROB) -> tuple[int, list[str]]:
    """Write the halves of the two-line crops of *crops* whose text splits (see the module) into *out*.

    Args:
        reader: a :class:`plategate.vision.reader.PlateReader` (its best read of each half is used).
        crops: a folder with ``labels.csv`` (file,text).
        out: the folder to write (``NAME_top.png``, ``NAME_bottom.png``, ``labels.csv``).
        max_edits: the most edits the two reads may be from their parts of the text (``edits``).
        known: split points already found (:func:`known_splits`), used as they are for the crops they name.
        aspect: crops narrower than this (width / height) are the two-line ones (the reader's by default).
        progress: called with a line of progress now and then.
        rule: ``likelihood`` or ``edits`` (see the module).
        min_log_prob: the least log-probability of a split (``likelihood``).

    Returns:
        (crops split, descriptions of the narrow crops left out).

    Raises:
        OSError: ``labels.csv`` cannot be read or *out* cannot be written.
        ValueError: *rule* is unknown.
    """
    if rule not in RULES:
        raise ValueError(f"rule must be one of {', '.join(RULES)}, got {rule!r}")
    samples = load_labelled(crops)
    out.mkdir(parents=True, exist_ok=True)
    kept: list[tuple[str, str]] = []
    left: list[str] = []
    narrow = 0
    for k, sample in enumerate(samples, 1):
        name, text = sample.path.name, sample.text
        try:
            crop = load_image(sample.path)
        except PlategateError as exc:
            logger.warning("%s: %s", sample.path, exc)
            continue
        if is_two_line(crop.shape, aspect):
            narrow += 1
            halves = two_line_halves(crop)
            at = (known or {}).get(Path(name).stem)
            top = bottom = ""
            if at is not None and 0 < at < len(text):
                split = Split(at=at)
            elif rule == "edits":
                top, bottom = (reader.read(h).text for h in halves)
                split = split_text(text, top, bottom)
            else:
                split = likely_split(reader, halves, text, min_log_prob)
            if split is None or split.edits > max_edits:
                why = f"halves read {top!r} / {bottom!r}" if rule == "edits" else "no split likely enough"
                left.append(f"{name} {text}: {why}")
            else:
                for part, half, tag in ((text[: split.at], halves[0], "top"), (text[split.at :], halves[1], "bottom")):
                    file = f"{Path(name).stem}_{tag}.png"
                    if not cv2.imwrite(str(out / file), np.ascontiguousarray(half)):
                        raise OSError(f"cannot write {out / file}")
                    kept.append((file, part))
        if k % 500 == 0 or k == len(samples):
            progress(f"{k}/{len(samples)} crops, {narrow} narrow, {len(kept) // 2} split")
    write_labels(out, kept)
    return len(kept) // 2, left


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.train.two_lines", description=__doc__.split("\n\n")[0],
                                epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("crops", type=Path, help="folder of crops with labels.csv (file,text)")
    p.add_argument("--out", type=Path, required=True, help="folder to write (PNG halves + labels.csv)")
    p.add_argument("--reader", type=Path, default=Path("models/reader.tflite"),
                   help="the reader that reads the halves (default: %(default)s)")
    p.add_argument("--rule", choices=RULES, default="likelihood",
                   help="how a split is chosen (see above; default: %(default)s)")
    p.add_argument("--min-log-prob", type=float, default=MIN_LOG_PROB,
                   help="likelihood: the least log-probability of a split (default: %(default)s)")
    p.add_argument("--max-edits", type=int, default=MAX_EDITS,
                   help="edits: edits allowed between the halves' reads and the text's parts (default: %(default)s)")
    p.add_argument("--known", type=Path, help="a folder this tool wrote for another cut of the same crops: "
                   "its splits are taken as they are")
    p.add_argument("--aspect", type=float, default=TWO_LINE_ASPECT,
                   help="crops narrower than this (width / height) are two-line ones (default: the reader's, %(default)s)")
    p.add_argument("--threads", type=int, default=2, help="(default: %(default)s)")
    a = p.parse_args(argv)
    if not (a.crops / "labels.csv").is_file():
        print(f"two_lines: error: {a.crops / 'labels.csv'} not found", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        from plategate.vision.reader import PlateReader

        reader = PlateReader(a.reader, threads=a.threads, views=1)
        known = known_splits(a.known) if a.known is not None else None
        split, left = split_folder(reader, a.crops, a.out, a.max_edits, known, a.aspect,
                                   progress=lambda m: print(m, file=sys.stderr, flush=True), rule=a.rule,
                                   min_log_prob=a.min_log_prob)
    except (PlategateError, OSError, ValueError) as exc:
        print(f"two_lines: error: {exc}", file=sys.stderr)
        return 1
    for line in left:
        print(f"left out {line}", file=sys.stderr)
    print(f"{split} two-line crops split into {a.out} ({len(left)} narrow crops left out: no clear split)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
