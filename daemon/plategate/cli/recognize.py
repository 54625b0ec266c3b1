"""platectl recognize: run the shipped detector + reader on still images.

``platectl recognize [--json] [--plate-crop] IMAGE...`` prints one result per image.
With ``--json`` each line is one JSON object (DESIGN.md, "The recognition contract")::

    {"image": "car.jpg", "width": 1280, "height": 720,
     "plates": [{"text": "AB123CD", "confidence": 0.97, "box": [x1, y1, x2, y2],
                 "candidates": [["AB123CD", 0.97], ["AB123C0", 0.02]]}],
     "timing_ms": {"detect": 4.1, "read": 0.8, "total": 6.0}}

An image that cannot be read gives ``{"image": ..., "error": "..."}`` on its line; the
other images are still processed and the exit status is 1 at the end. A model that
cannot be loaded is an error for the whole run (exit 1, before any image).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import cv2

from ..config import MAX_READER_VIEWS, RecognitionConfig, Roi
from ..errors import PlategateError
from ..imageio import load_image
from ..types import PlateRead

logger = logging.getLogger(__name__)

HELP = "read plates in still images with the shipped models"
DESCRIPTION = ("Run the detector and reader on still images and print the plates found, best first. With --json: one "
               "JSON object per image and line (image, width, height, plates [text, confidence, box, candidates], "
               "timing_ms); an unreadable image gives {\"image\": ..., \"error\": ...} and exit status 1 at the end. "
               "Plates are read as the gate reads them: under recognition.plate_formats, with recognition.reader_views.")


def _roi(text: str) -> tuple[float, float, float, float]:
    try:
        parts = tuple(float(v) for v in text.split(","))
        if len(parts) != 4:
            raise ValueError
        Roi(x1=parts[0], y1=parts[1], x2=parts[2], y2=parts[3])
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: expected x1,y1,x2,y2 fractions with x1<x2, y1<y2 in 0..1") from exc
    return parts  # type: ignore[return-value]


def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files (JPEG, PNG, BMP, TIFF, WebP, PNM)")
    p.add_argument("--json", action="store_true", default=False, help="one JSON object per image and line")
    p.add_argument("--plate-crop", action="store_true", help="each image is an already-cropped plate: run the reader only")
    p.add_argument("--detector", type=Path, metavar="FILE", help="detector model (default: recognition.detector_model or the shipped one)")
    p.add_argument("--reader", type=Path, metavar="FILE", help="reader model (default: recognition.reader_model or the shipped one)")
    p.add_argument("--roi", type=_roi, metavar="X1,Y1,X2,Y2", help="search only this part of each image (fractions; default: recognition.roi)")
    p.add_argument("--min-score", type=float, metavar="S", help="detection threshold (default: recognition.min_detection_score)")
    p.add_argument("--threads", type=int, metavar="N", help="interpreter threads (default: recognition.threads)")
    p.add_argument("--views", type=int, choices=range(1, MAX_READER_VIEWS + 1), metavar="V",
                   help=f"views of each plate read and pooled, 1-{MAX_READER_VIEWS} (default: recognition.reader_views)")
    p.set_defaults(func=run)


def add_parser(subparsers) -> None:
    """Register ``recognize`` on platectl's subparsers."""
    p = subparsers.add_parser("recognize", help=HELP, description=DESCRIPTION)
    _configure(p)


def _recognition_config(args: argparse.Namespace) -> RecognitionConfig:
    """The [recognition] section: from --config / $PLATEGATE_CONFIG when platectl gives one, else defaults."""
    from . import common

    return common.load(args).recognition


def plate_json(read: PlateRead) -> dict:
    """One plate in the contract's JSON shape."""
    return {
        "text": read.text,
        "confidence": round(float(read.confidence), 4),
        "box": [int(v) for v in read.box] if read.box is not None else None,
        "candidates": [[t, round(float(c), 4)] for t, c in read.candidates],
    }


def _human(result: dict) -> str:
    if "error" in result:
        return f"{result['image']}: error: {result['error']}"
    head = f"{result['image']} ({result['width']}x{result['height']})"
    t = result["timing_ms"]
    timing = f"detect {t['detect']:.1f} ms, read {t['read']:.1f} ms, total {t['total']:.1f} ms"
    if not result["plates"]:
        return f"{head}: no plate found  [{timing}]"
    lines = [f"{head}  [{timing}]"]
    for p in result["plates"]:
        alts = ", ".join(f"{c[0]} {c[1]:.2f}" for c in p["candidates"][1:3])
        lines.append(f"  {p['text'] or '?':<10} {p['confidence']:.2f}  box {p['box']}" + (f"  (or {alts})" if alts else ""))
    return "\n".join(lines)


class Pipeline:
    """The models for one run: reader always, detector unless --plate-crop."""

    def __init__(self, args: argparse.Namespace) -> None:
        from ..vision.reader import PlateReader
        from ..vision.recognizer import Recognizer, detector_from_config

        cfg = _recognition_config(args)
        threads = args.threads or cfg.threads
        reader_path = args.reader or cfg.reader_path()
        views = args.views or cfg.reader_views
        self.reader = PlateReader(reader_path, threads=threads, formats=cfg.plate_formats or None, views=views)
        self.plate_crop = bool(args.plate_crop)
        self.recognizer = None
        if not self.plate_crop:
            from ..vision.detector import PlateDetector

            min_score = cfg.min_detection_score if args.min_score is None else args.min_score
            if args.detector is None:
                detector = detector_from_config(cfg.model_copy(update={"threads": threads, "min_detection_score": min_score}))
            else:  # an explicit --detector is run alone
                detector = PlateDetector(args.detector, threads=threads, min_score=min_score, close_up=cfg.close_up)
            self.recognizer = Recognizer(detector, self.reader, max_plates=cfg.max_plates)
        roi = args.roi or (cfg.roi.x1, cfg.roi.y1, cfg.roi.x2, cfg.roi.y2)
        self.roi = None if roi == (0.0, 0.0, 1.0, 1.0) else roi

    def process(self, path: str) -> dict:
        """Recognise one image file; problems with the file become an ``error`` entry."""
        try:
            frame = load_image(path)
            h, w = frame.shape[:2]
            if self.recognizer is None:
                t0 = time.perf_counter()
                read = self.reader.read(frame)
                ms = round((time.perf_counter() - t0) * 1e3, 2)
                plates = [plate_json(PlateRead(read.text, read.confidence, read.candidates, (0, 0, w, h)))] if read.text else []
                timing = {"detect": 0.0, "read": ms, "total": ms}
            else:
                res = self.recognizer.recognize(frame, self.roi)
                plates = [plate_json(p) for p in res.plates]
                timing = res.timing_ms
        except (PlategateError, ValueError, cv2.error, MemoryError) as exc:
            logger.debug("%s failed", path, exc_info=True)
            return {"image": path, "error": str(exc).removeprefix(f"{path}: ") or type(exc).__name__}
        return {"image": path, "width": w, "height": h, "plates": plates, "timing_ms": timing}


def run(args: argparse.Namespace) -> int:
    """Process every image; return 1 if any failed, else 0.

    Raises:
        ModelError: a model cannot be loaded (nothing is processed).
        ConfigError: the config file is invalid.
    """
    pipeline = Pipeline(args)
    failed = 0
    as_json = bool(getattr(args, "json", False))
    for path in args.images:
        result = pipeline.process(path)
        failed += "error" in result
        if as_json:
            print(json.dumps(result, ensure_ascii=False), flush=True)
        else:
            print(_human(result), file=sys.stderr if "error" in result else sys.stdout, flush=True)
    if failed and not as_json:
        print(f"{failed} of {len(args.images)} images could not be processed", file=sys.stderr)
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m plategate.cli.recognize``: the same as ``platectl recognize``."""
    p = argparse.ArgumentParser(prog="platectl recognize", description=DESCRIPTION)
    _configure(p)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return run(args)
    except PlategateError as exc:
        print(f"platectl recognize: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
