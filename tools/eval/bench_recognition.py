"""Benchmark recognition latency on synthetic frames; prints percentiles.

Renders ``--count`` gate scenes per frame size (tools.synth.scenes, no dataset needed),
then times, per frame: the detector (gray conversion + letterbox + int8 inference +
decoding), the reader on the detected crops, and the whole ``Recognizer.recognize``.
The raw interpreter invoke time of the detector is printed separately, and so is the detector
on frames without a plate (each frame painted flat in its mean colour), where the close-up pass
(``recognition.close_up``) runs the model a second time. Example::

    python -m tools.eval.bench_recognition --threads 2 --count 60 --sizes 1280x720,1920x1080,640x480
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from plategate.config import MAX_READER_VIEWS, RecognitionConfig
from plategate.vision.detector import to_gray
from plategate.vision.reader import PlateReader
from plategate.vision.recognizer import Recognizer, detector_from_config
from plategate.vision.second_look import SecondLook
from tools.synth import scenes


def _pct(ms: list[float]) -> str:
    a = np.asarray(ms)
    return f"p50 {np.percentile(a, 50):6.2f}  p90 {np.percentile(a, 90):6.2f}  p99 {np.percentile(a, 99):6.2f}  max {a.max():6.2f} ms"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures."""
    ap = argparse.ArgumentParser(prog="python -m tools.eval.bench_recognition", description=__doc__.split("\n\n")[0])
    ap.add_argument("--detector", type=Path, default=None, help="detector .tflite (default: the shipped one)")
    ap.add_argument("--reader", type=Path, default=None, help="reader .tflite (default: the shipped one)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--coarse", type=Path, default=None,
                    help="the detector's coarse pass .tflite (default: the shipped one; recognition.coarse_model)")
    ap.add_argument("--no-coarse", action="store_true", help="time the detector without its coarse pass "
                                                              "(recognition.coarse_pass = false)")
    ap.add_argument("--no-second-look", action="store_true", help="time the detector without second looks at "
                                                                   "its unsure boxes (recognition.second_look = false)")
    ap.add_argument("--look", type=Path, default=None,
                    help="the second look's .tflite (recognition.second_look_model; default: the shipped one)")
    ap.add_argument("--second-detector", type=Path, default=None,
                    help="also time this second detector beside the first (recognition.second_detector; off by default)")
    ap.add_argument("--count", type=int, default=60, help="frames per size")
    ap.add_argument("--sizes", default="1280x720,1920x1080,640x480", help="comma-separated WxH frame sizes")
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--views", type=int, default=None, choices=range(1, MAX_READER_VIEWS + 1),
                    help="views per plate crop (default: the config schema's recognition.reader_views)")
    args = ap.parse_args(argv)
    cfg = RecognitionConfig(threads=args.threads, detector_model=args.detector, reader_model=args.reader,
                            coarse_pass=not args.no_coarse, coarse_model=args.coarse, second_look=not args.no_second_look,
                            second_look_model=args.look,
                            second_detector=args.second_detector is not None, second_detector_model=args.second_detector)
    detector = detector_from_config(cfg)
    views = args.views or cfg.reader_views
    reader = PlateReader(cfg.reader_path(), threads=args.threads, views=views) if cfg.reader_path().exists() else None
    rec = Recognizer(detector, reader) if reader else None
    rng = np.random.default_rng(args.seed)
    source, bgs = scenes.PlateSource(None), scenes.Backgrounds([])
    shown = " + ".join(f"{key.split('.')[1]}={path}" for key, path in cfg.model_paths() if key != "recognition.reader_model")
    print(f"threads={args.threads}  {shown}  reader={cfg.reader_path() if reader else '(none)'}  views={views}")
    x = np.zeros(detector.model.input_shape, np.float32)
    for _ in range(5):
        detector.model.run(x)
    invoke = []
    for _ in range(max(30, args.count)):
        t0 = time.perf_counter()
        detector.model.run(x)
        invoke.append((time.perf_counter() - t0) * 1e3)
    print(f"detector invoke only ({detector.input_size[0]}x{detector.input_size[1]} int8): {_pct(invoke)}")
    for size in args.sizes.split(","):
        w, h = (int(v) for v in size.lower().split("x"))
        frames = [scenes.compose_gate_scene(rng, source, bgs, size=(w, h), plate_width=(0.05 * w, 0.3 * w)).image
                  for _ in range(args.count)]
        for f in frames[:3]:
            detector.detect(f)
        det_ms, read_ms, total_ms, found = [], [], [], []
        for f in frames:
            t0 = time.perf_counter()
            found.append(detector.detect(f))
            det_ms.append((time.perf_counter() - t0) * 1e3)
            if rec:
                res = rec.recognize(f)
                read_ms.append(res.timing_ms["read"])
                total_ms.append(res.timing_ms["total"])
        print(f"{w}x{h} detect (frame in, boxes out): {_pct(det_ms)}")
        empty_ms = []
        for f in frames[: max(10, args.count // 3)]:
            blank = np.full_like(f, f.mean(axis=(0, 1)).astype(f.dtype))  # nothing to find: both passes run
            t0 = time.perf_counter()
            detector.detect(blank)
            empty_ms.append((time.perf_counter() - t0) * 1e3)
        print(f"{w}x{h} detect, no plate in the frame:  {_pct(empty_ms)}")
        if isinstance(detector, SecondLook):
            look_ms = []
            for f, dets in zip(frames, found, strict=True):
                gray = to_gray(f)
                for det in dets[:1]:
                    t0 = time.perf_counter()
                    detector.look(gray, det, (0, 0, w, h))
                    look_ms.append((time.perf_counter() - t0) * 1e3)
            if look_ms:
                worst = float(np.median(empty_ms)) + detector.max_looks * float(np.median(look_ms))
                print(f"{w}x{h} one second look:            {_pct(look_ms)}")
                print(f"{w}x{h} no plate, {detector.max_looks} second looks (p50 sum): {worst:6.2f} ms")
        if rec:
            print(f"{w}x{h} read (crops of one frame):    {_pct(read_ms)}")
            print(f"{w}x{h} recognize total:              {_pct(total_ms)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
