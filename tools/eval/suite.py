"""The validation suite: every real validation set, read the way the daemon reads, in one table.

``python -m tools.eval.evaluate --suite DATA`` (or ``python -m tools.eval.suite DATA``) runs the
detector and reader with the daemon's default ``[recognition]`` settings (minimum
detection score, close-up and coarse passes, second look, no second detector, reader views, no plate
formats) on:

========================  ====================================================================
scenes                    ``ro-dashcam/valid`` day and night, ``openimages-plates/val``,
                          ``openlpr-scenes/val``: recall at IoU 0.5 (all plates, and plates at
                          least 40 px wide), false boxes per image, whole-frame time (detector
                          and reader), and the exact reads end to end of the plates read by
                          eye (ro-dashcam: its 56 hand-read plates; the photo sets: those with
                          a scene-crops val crop)
negatives                 the held-out part of ``negatives``: false boxes per image
crops                     ``scene-crops`` val (``ok`` + ``unsure``), ``br-crops`` val (split by
                          text), ``ar-crops``, the EU test (``tools/eval_data``): exact and
                          character accuracy, the share of reads >= 0.9 that are right
                          (confident-right), the share of right reads that reach 0.9; for
                          scene-crops also the exact reads end to end (the crop given whole
                          to the recognizer as a frame, as ``platectl recognize`` reads a
                          photo of a plate) and the exact reads by the plate's country
                          (``tools/eval_data/scene-crops-val-country.csv``)
========================  ====================================================================

Each set has one headline figure (``score``): recall of plates >= 40 px wide for the photo
sets (all plates for ro-dashcam, whose frames are the daemon's own kind), ``1 - false
boxes per image`` (floored at 0) for the negatives, exact reads for crops. The macro
average is their mean. The shipping rule: a candidate replaces a shipped model when the
macro average rises and no set's score falls by more than 2 points
(:func:`shipping_verdict`, ``--baseline``).

``openlpr-scenes`` boxes only one plate per photo, so its false boxes per image are not
reported (an unboxed plate would count as one).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from plategate.config import RecognitionConfig
from plategate.errors import PlategateError
from plategate.imageio import load_image
from tools.eval.evaluate import (
    SceneTruth,
    add_box_texts,
    add_texts,
    char_accuracy,
    match,
    read_boxes_csv,
    read_labels_csv,
)
from tools.eval.groups import COUNTRY_CSV, exact_by_group, group_table, read_groups

TOOLS = Path(__file__).resolve().parents[1]
#: plates at least this wide (pixels of the image) are the ones the recall targets name
WIDE = 40
#: reads at or above this confidence are the "confident" ones
CONFIDENT = 0.9
#: a set may fall by at most this much (in score points, 0-1 scale) under the shipping rule
MAX_DROP = 0.02


@dataclass(frozen=True)
class SceneSet:
    """A folder of photos with boxes, optionally only the files that start with *prefix*."""

    name: str
    folder: str
    prefix: str = ""
    fp_meaningful: bool = True
    wide_only: bool = True
    texts: str | None = None
    #: the ``source`` of its photos in ``scene-crops/crops.csv``: the texts of its plates that have
    #: a val crop read by eye (``ok`` + ``unsure``) are read end to end
    crop_source: str | None = None


SCENE_SETS = (
    SceneSet("ro-dashcam day", "ro-dashcam/valid", "dayride_", wide_only=False, texts="ro-dashcam-valid-text.csv"),
    SceneSet("ro-dashcam night", "ro-dashcam/valid", "nightride_", wide_only=False, texts="ro-dashcam-valid-text.csv"),
    SceneSet("openimages val", "openimages-plates/val", crop_source="openimages-plates"),
    SceneSet("openlpr val", "openlpr-scenes/val", fp_meaningful=False, crop_source="openlpr-scenes"),
)
CROP_SETS = ("scene-crops val", "br-crops val", "ar-crops", "eu test")
#: crop sets also read end to end, each crop given whole to the recognizer as a frame. Their crops
#: hold the plate with a margin around it (a quarter of its height above and below), as a photo
#: of a plate does; the other sets' crops end at the plate's edge, where no detector finds one.
WHOLE_FRAME_CROP_SETS = ("scene-crops val",)


def crop_items(data: Path, name: str) -> list[tuple[Path, str]]:
    """``(image, text)`` of one crop set; empty when its folder is absent."""
    from tools.train.real_crops import scene_rows, text_rows

    if name == "scene-crops val":
        folder = data / "scene-crops"
        if not (folder / "crops.csv").is_file():
            return []
        return [(folder / "images" / f, t) for f, t in scene_rows(folder / "crops.csv", "val", max_text=None)]
    if name == "eu test":
        folder = data / "eu-crops"
        return [(folder / f, t) for f, t in text_rows(TOOLS / "eval_data" / "eu-crops-test-text.csv")] if folder.is_dir() else []
    folder = data / name.split()[0]
    if not (folder / "labels.csv").is_file():
        return []
    return read_labels_csv(folder, "val" if name.endswith(" val") else "all")


def eval_crop_set(reader, items: list[tuple[Path, str]], recognizer=None, groups: dict[str, str] | None = None) -> dict:
    """Exact, character accuracy, confident-right and confident share of right reads.

    With *groups* (``{file name: group}``), also the exact reads by group (``by_group``,
    :func:`tools.eval.groups.exact_by_group`).

    With a *recognizer*, also the exact reads end to end: each crop is given whole to the
    recognizer as a frame (``Recognizer.recognize``: found, cut and read), the way ``platectl
    recognize`` reads a photo of a plate; its most confident read counts.
    """
    preds, truths, conf, e2e = [], [], [], []
    for path, text in items:
        try:
            img = load_image(path)
            r = reader.read(img)
        except PlategateError:
            r = img = None
        preds.append(r.text if r else "")
        conf.append(r.confidence if r else 0.0)
        truths.append(text)
        if recognizer is not None:
            e2e.append(img is not None and end_to_end_text(recognizer, img) == text)
    right = np.array([p == t for p, t in zip(preds, truths, strict=True)], bool)
    sure = np.array(conf) >= CONFIDENT
    return {"n": len(items), "exact": round(float(right.mean()), 4) if len(items) else None,
            "char_accuracy": round(char_accuracy(preds, truths), 4) if len(items) else None,
            "confident": int(sure.sum()), "confident_right": int((sure & right).sum()),
            "confident_precision": round(float(right[sure].mean()), 4) if sure.any() else None,
            "right_reaching_0.9": round(float(sure[right].mean()), 4) if right.any() else None,
            **({"end_to_end_exact": _ratio(sum(e2e), len(e2e))} if e2e else {}),
            **({"by_group": exact_by_group([p.name for p, _ in items], right.tolist(), groups)} if groups else {})}


def end_to_end_text(recognizer, image: np.ndarray) -> str:
    """The text of the most confident plate ``recognizer.recognize`` reads in *image* ("" when none)."""
    plates = recognizer.recognize(image).plates
    return plates[0].text if plates else ""


def add_crop_texts(truth: dict, crops_csv: Path, source: str) -> int:
    """Give the boxes of *truth* the texts of their ``scene-crops`` val crops read by eye (``ok`` +
    ``unsure``; :func:`tools.train.real_crops.photo_texts`). Returns how many; 0 when *crops_csv*
    is absent."""
    from tools.train.real_crops import photo_texts

    return add_box_texts(truth, photo_texts(crops_csv, "val", source)) if crops_csv.is_file() else 0


def scene_truth(data: Path, s: SceneSet) -> list[tuple[str, SceneTruth]]:
    """The photos of set *s* with their boxes and, where read by eye, their plates' texts, by name."""
    truth = read_boxes_csv(data / s.folder)
    if s.texts:
        add_texts(truth, TOOLS / "eval_data" / s.texts)
    if s.crop_source:
        add_crop_texts(truth, data / "scene-crops" / "crops.csv", s.crop_source)
    return [(name, t) for name, t in sorted(truth.items()) if name.startswith(s.prefix)]


def eval_scene_set(recognizer, data: Path, s: SceneSet) -> dict:
    """Detection recall (all / wide), false boxes per image, end-to-end reads, frame time."""
    from plategate.vision.recognizer import crop_plate

    folder = data / s.folder
    files = scene_truth(data, s)
    plates = found = wide = wide_found = fp = e2e = e2e_ok = 0
    frame_ms = []
    for name, t in files:
        try:
            img = load_image(folder / name)
        except PlategateError:
            continue
        t0 = time.perf_counter()
        dets = recognizer.detector.detect(img)
        reads = recognizer.reader.read_batch([crop_plate(img, d) for d in dets[: recognizer.max_plates]]) if dets else []
        frame_ms.append((time.perf_counter() - t0) * 1e3)
        boxes = np.array([d.box for d in dets], np.float64).reshape(-1, 4)
        gt = np.array(t.boxes, np.float64).reshape(-1, 4)
        tp, owner = match(boxes, np.array([d.score for d in dets]), gt)
        widths = gt[:, 2] - gt[:, 0]
        plates += len(gt)
        found += int((owner >= 0).sum())
        wide += int((widths >= WIDE).sum())
        wide_found += int(((owner >= 0) & (widths >= WIDE)).sum())
        fp += int((~tp).sum())
        for j, want in enumerate(t.texts):
            if want:
                e2e += 1
                k = int(owner[j])
                e2e_ok += int(0 <= k < len(reads) and reads[k].text == want)
    out = {"images": len(frame_ms), "plates": plates, "recall": _ratio(found, plates), f"recall_{WIDE}px": _ratio(wide_found, wide),
           "plates_wide": wide, "fp_per_image": round(fp / max(len(frame_ms), 1), 4) if s.fp_meaningful else None,
           "frame_ms_median": round(float(np.median(frame_ms)), 2) if frame_ms else None}
    if e2e:
        out["end_to_end_exact"] = _ratio(e2e_ok, e2e)
    out["score"] = out[f"recall_{WIDE}px"] if s.wide_only else out["recall"]
    return out


def eval_negatives(detector, data: Path) -> dict:
    from tools.synth.scenes import split_negatives

    folder = data / "negatives"
    if not folder.is_dir():
        return {}
    held = split_negatives(folder)[1]
    boxes, ms = 0, []
    for path in held:
        try:
            img = load_image(path)
        except PlategateError:
            continue
        t0 = time.perf_counter()
        boxes += len(detector.detect(img))
        ms.append((time.perf_counter() - t0) * 1e3)
    fpi = boxes / max(len(ms), 1)
    return {"images": len(ms), "fp_per_image": round(fpi, 4), "frame_ms_median": round(float(np.median(ms)), 2) if ms else None,
            "score": round(max(0.0, 1.0 - fpi), 4)}


def _shown(path: Path) -> str:
    """A shipped model as ``models/NAME`` (the same on every machine), any other by its path."""
    from plategate.config_base import default_models_dir

    path = Path(path)
    return f"models/{path.name}" if path.resolve().parent == default_models_dir().resolve() else str(path)


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def run_suite(data: Path, detector_path: Path | None = None, reader_path: Path | None = None, threads: int = 2,
              progress=print, coarse_path: Path | None = None, second_detector_path: Path | None = None,
              look_path: Path | None = None, look_min_score: float | None = None) -> dict:
    """All sets of the suite (those present under *data*); returns ``{"sets": {...}, "macro": ...}``.

    A *second_detector_path* turns the second detector on (``recognition.second_detector``);
    *look_path* is the second look's network (``recognition.second_look_model``), *look_min_score*
    its threshold (``recognition.second_look_min_score``; default: the schema's).

    Raises:
        ModelError: a model cannot be loaded.
    """
    from plategate.vision.recognizer import Recognizer

    cfg = RecognitionConfig(threads=threads, detector_model=detector_path, reader_model=reader_path, coarse_model=coarse_path,
                            second_detector=second_detector_path is not None, second_detector_model=second_detector_path,
                            second_look_model=look_path,
                            **({} if look_min_score is None else {"second_look_min_score": look_min_score}))
    recognizer = Recognizer.from_config(cfg)
    sets: dict[str, dict] = {}
    for s in SCENE_SETS:
        if (data / s.folder / "boxes.csv").is_file():
            progress(f"suite: {s.name} ...")
            sets[s.name] = eval_scene_set(recognizer, data, s)
    progress("suite: negatives (held out) ...")
    neg = eval_negatives(recognizer.detector, data)
    if neg:
        sets["negatives held out"] = neg
    for name in CROP_SETS:
        items = crop_items(data, name)
        if items:
            progress(f"suite: {name} ...")
            groups = read_groups(COUNTRY_CSV) if name == "scene-crops val" and COUNTRY_CSV.is_file() else None
            res = eval_crop_set(recognizer.reader, items, recognizer if name in WHOLE_FRAME_CROP_SETS else None, groups)
            sets[name] = {**res, "score": res["exact"]}
    scores = [v["score"] for v in sets.values() if v.get("score") is not None]
    return {"sets": sets, "macro": round(float(np.mean(scores)), 4) if scores else None,
            "models": {key.split(".")[1]: _shown(path) for key, path in cfg.model_paths()},
            "settings": {"min_detection_score": cfg.min_detection_score, "close_up": cfg.close_up,
                         "coarse_pass": cfg.coarse_pass, "second_look": cfg.second_look,
                         "second_look_from": cfg.second_look_from, "second_look_min_score": cfg.second_look_min_score,
                         "second_detector": cfg.second_detector,
                         "reader_views": cfg.reader_views, "plate_formats": cfg.plate_formats, "max_plates": cfg.max_plates}}


def shipping_verdict(candidate: dict, baseline: dict, max_drop: float = MAX_DROP) -> tuple[bool, list[str]]:
    """Whether *candidate* may replace *baseline* (both :func:`run_suite` results), and why.

    The macro average must rise and no set present in both may fall by more than *max_drop*.
    """
    reasons = []
    ok = candidate["macro"] is not None and baseline["macro"] is not None and candidate["macro"] > baseline["macro"]
    reasons.append(f"macro {baseline['macro']} -> {candidate['macro']} ({'rises' if ok else 'does not rise'})")
    for name, base in baseline["sets"].items():
        cand = candidate["sets"].get(name)
        if cand is None or cand.get("score") is None or base.get("score") is None:
            continue
        if cand["score"] < base["score"] - max_drop:
            ok = False
            reasons.append(f"{name} falls {base['score']} -> {cand['score']} (more than {max_drop * 100:.0f} points)")
    return ok, reasons


def _pct(v) -> str:
    return "" if v is None else f"{100 * v:.1f}"


def table(result: dict) -> str:
    """The suite as a Markdown table (one row per set, then the macro average)."""
    rows = ["| set | n | score | recall | recall >= 40 px | false boxes / image | exact | char acc | "
            "confident right | right reads >= 0.9 | end to end | frame ms |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, v in result["sets"].items():
        conf = f"{v['confident_right']}/{v['confident']}" if "confident" in v else ""
        n = v.get("plates", v.get("n", v.get("images")))
        rows.append(f"| {name} | {n} | **{_pct(v.get('score'))}** | {_pct(v.get('recall'))} | {_pct(v.get(f'recall_{WIDE}px'))} | "
                    f"{'' if v.get('fp_per_image') is None else v['fp_per_image']} | {_pct(v.get('exact'))} | "
                    f"{_pct(v.get('char_accuracy'))} | {conf} | {_pct(v.get('right_reaching_0.9'))} | {_pct(v.get('end_to_end_exact'))} | "
                    f"{'' if v.get('frame_ms_median') is None else v['frame_ms_median']} |")
    rows.append(f"| **macro average** | | **{_pct(result['macro'])}** | | | | | | | | | |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.eval.suite", description=__doc__.split("\n\n")[0], epilog=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data", type=Path, help="the shared datasets folder")
    p.add_argument("--detector", type=Path, help="detector .tflite (default: the shipped one)")
    p.add_argument("--coarse", type=Path,
                   help="the detector's coarse pass .tflite (its network at a 320x192 input; default: the shipped one)")
    p.add_argument("--second-detector", type=Path,
                   help="also run this second detector beside the first (recognition.second_detector; off by default)")
    p.add_argument("--look", type=Path, help="the second look's .tflite (a 320x192 detector; default: the shipped one)")
    p.add_argument("--look-min-score", type=float, help="the second look's threshold (recognition.second_look_min_score)")
    p.add_argument("--reader", type=Path, help="reader .tflite (default: the shipped one)")
    p.add_argument("--threads", type=int, default=2, help="(default: %(default)s)")
    p.add_argument("--json-out", type=Path, help="also write the results as JSON")
    p.add_argument("--baseline", type=Path, metavar="JSON",
                   help="a --json-out of the shipped models: also print the shipping rule's verdict")
    p.add_argument("--update-card", type=Path, action="append", default=[], metavar="CARD",
                   help="store the results in this model card's metrics.suite (repeatable)")
    a = p.parse_args(argv)
    if not a.data.is_dir():
        print(f"suite: error: {a.data}: not a folder", file=sys.stderr)
        return 2
    try:
        baseline = json.loads(a.baseline.read_text()) if a.baseline else None
        result = run_suite(a.data, a.detector, a.reader, a.threads, progress=lambda m: print(m, file=sys.stderr, flush=True),
                           coarse_path=a.coarse, second_detector_path=a.second_detector, look_path=a.look,
                           look_min_score=a.look_min_score)
    except (PlategateError, OSError, ValueError) as exc:
        print(f"suite: error: {exc}", file=sys.stderr)
        return 1
    if not result["sets"]:
        print(f"suite: error: {a.data} holds none of the suite's sets", file=sys.stderr)
        return 2
    print(table(result))
    for name, v in result["sets"].items():
        if v.get("by_group"):
            print(f"\n{name} by country ({COUNTRY_CSV.relative_to(TOOLS.parent)}):\n{group_table(v['by_group'])}")
    if a.json_out:
        a.json_out.write_text(json.dumps(result, indent=1) + "\n")
    for card_path in a.update_card:
        card = json.loads(card_path.read_text())
        card.setdefault("metrics", {})["suite"] = {"command": "python -m tools.eval.evaluate --suite DATA", **result}
        card_path.write_text(json.dumps(card, indent=2) + "\n")
    if baseline is not None:
        ok, reasons = shipping_verdict(result, baseline)
        print(f"\nshipping rule: {'SHIP' if ok else 'KEEP THE SHIPPED MODEL'}: " + "; ".join(reasons))
    return 0


if __name__ == "__main__":
    sys.exit(main())
