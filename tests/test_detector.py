"""The plate detector: geometry and decoding (pure numpy) and the shipped int8 model on rendered scenes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from plategate.errors import ModelError
from plategate.vision.detector import (
    Detection,
    PlateDetector,
    decode,
    letterbox,
    nms,
    roi_pixels,
    to_gray,
    without_parts,
)
from tools.eval.close_ups import close_up_view
from tools.eval.evaluate import iou
from tools.synth import scenes

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "models" / "detector.tflite"


@pytest.fixture(scope="module")
def detector() -> PlateDetector:
    return PlateDetector(MODEL, threads=2)


def _gate_scenes(n: int, seed: int, **kw) -> list[scenes.Scene]:
    rng = np.random.default_rng(seed)
    source, bgs = scenes.PlateSource(None), scenes.Backgrounds([])
    return [scenes.compose_gate_scene(rng, source, bgs, **kw) for _ in range(n)]


# --------------------------------------------------------------------------- pure parts
def test_letterbox_roundtrip_with_roi():
    gray = np.zeros((720, 1280), np.uint8)
    roi_px = roi_pixels(gray.shape, (0.25, 0.5, 0.75, 1.0))
    assert roi_px == (320, 360, 960, 720)
    img, geo = letterbox(gray, (640, 352), roi_px)
    assert img.shape == (352, 640)
    pts = np.array([[320.0, 360.0], [959.0, 719.0]])
    back = geo.to_frame((pts - [geo.offset_x, geo.offset_y]) * geo.scale + [geo.pad_x, geo.pad_y])
    assert np.allclose(back, pts, atol=1e-3)
    with pytest.raises(ValueError, match="roi must be fractions"):
        roi_pixels(gray.shape, (0.5, 0.5, 0.4, 1.0))


def test_letterbox_fill_centres_a_smaller_image():
    gray = np.full((100, 400), 7, np.uint8)
    img, geo = letterbox(gray, (640, 352), fill=0.4)
    rows, cols = np.nonzero(img == 7)
    assert cols.min() == geo.pad_x and cols.max() - cols.min() + 1 == 256  # 0.4 of the 640 width
    assert abs((geo.pad_x + 128) - 320) <= 1 and abs((rows.min() + rows.max()) / 2 - 175.5) <= 1
    assert np.allclose(geo.to_frame(np.array([[geo.pad_x, geo.pad_y]], np.float32)), [[0, 0]])


def test_to_gray_accepts_gray_bgra_and_16bit():
    assert to_gray(np.zeros((4, 4, 4), np.uint8)).shape == (4, 4)
    assert to_gray(np.full((4, 4), 0xFF00, np.uint16)).max() == 0xFF
    with pytest.raises(ValueError, match="not an image array"):
        to_gray(np.zeros((4, 4, 7), np.uint8))


def test_decode_one_peak_gives_box_and_corners():
    heat = np.zeros((20, 30), np.float32)
    reg = np.zeros((20, 30, 12), np.float32)
    heat[10, 15] = 0.9
    heat[10, 16] = 0.6  # neighbour of the peak: suppressed
    reg[10, 15, :4] = [0.25, -0.25, np.log(40 / 4), np.log(10 / 4)]
    reg[10, 15, 4:] = [-0.5, -0.5, 0.5, -0.5, 0.5, 0.5, -0.5, 0.5]
    boxes, scores, corners = decode(heat, reg, 0.4)
    assert len(boxes) == 1 and scores[0] == pytest.approx(0.9)
    cx, cy = (15.5 + 0.25) * 4, (10.5 - 0.25) * 4
    assert np.allclose(boxes[0], [cx - 20, cy - 5, cx + 20, cy + 5], atol=1e-4)
    assert np.allclose(corners[0], [[cx - 20, cy - 5], [cx + 20, cy - 5], [cx + 20, cy + 5], [cx - 20, cy + 5]], atol=1e-4)
    assert len(decode(heat, reg, 0.95)[0]) == 0


def test_nms_keeps_best_of_overlaps():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], np.float32)
    assert nms(boxes, np.array([0.5, 0.9, 0.7])) == [1, 2]


# --------------------------------------------------------------------------- shipped model
def test_shipped_model_finds_rendered_plates(detector):
    found = 0
    sc = _gate_scenes(12, seed=11)
    for s in sc:
        dets = detector.detect(s.image)
        assert all(isinstance(d, Detection) for d in dets)
        assert [d.score for d in dets] == sorted((d.score for d in dets), reverse=True)
        if dets and iou(np.array([dets[0].box]), s.boxes[:1])[0, 0] >= 0.5:
            found += 1
            assert dets[0].corners is not None and dets[0].corners.shape == (4, 2)
    assert found >= 10, f"best detection matched the plate in only {found}/12 rendered gate scenes"


def test_the_input_table_quantises_every_grey_level_as_the_model_does(detector):
    image = np.arange(256, dtype=np.uint8).reshape(16, 16)
    x = cv2.LUT(image, detector._table).view(np.int8)
    assert np.array_equal(x, detector.model.quantise_input(image.astype(np.float32) * (1.0 / 255.0)))
    assert x.dtype == detector.model.input_details["dtype"]


def test_detect_on_gray_bgra_and_with_roi(detector):
    s = _gate_scenes(1, seed=3, night=False, plate_width=(180, 220))[0]
    truth = s.boxes[:1]
    gray = s.image.mean(axis=2).astype(np.uint8)
    bgra = np.dstack([s.image, np.full(s.image.shape[:2], 255, np.uint8)])
    for frame in (s.image, gray, bgra):
        dets = detector.detect(frame)
        assert dets and iou(np.array([dets[0].box]), truth)[0, 0] >= 0.5
    # an ROI around the plate still gives boxes in whole-frame pixels
    h, w = gray.shape
    x1, y1, x2, y2 = truth[0]
    roi = (max(0.0, (x1 - 150) / w), max(0.0, (y1 - 100) / h), min(1.0, (x2 + 150) / w), min(1.0, (y2 + 100) / h))
    dets = detector.detect(gray, roi)
    assert dets and iou(np.array([dets[0].box]), truth)[0, 0] >= 0.5
    # an ROI away from the plate finds nothing there
    away = (0.0, 0.0, 0.1, 0.1) if x1 > 0.2 * w or y1 > 0.2 * h else (0.8, 0.8, 1.0, 1.0)
    assert all(iou(np.array([d.box]), truth)[0, 0] < 0.5 for d in detector.detect(gray, away))


def test_close_up_plates_are_found_by_the_second_pass(detector):
    """A plate filling 70 % of the image is larger than any the detector trained on: the zoomed-out pass finds it."""
    found = 0
    for s in _gate_scenes(12, seed=5, plate_width=(180, 220)):
        crop, truth = close_up_view(s.image, list(s.boxes[0]), 0.7)
        dets = detector.detect(crop)
        found += bool(dets) and iou(np.array([dets[0].box]), truth)[0, 0] >= 0.5
    assert found >= 6, f"only {found}/12 close-up plates found"


def test_parts_of_a_plate_found_whole_are_dropped():
    whole = Detection(box=(100, 50, 400, 130), score=0.8)
    left = Detection(box=(100, 55, 250, 125), score=0.9)  # inside, half as wide: a part
    same = Detection(box=(110, 52, 390, 128), score=0.7)  # inside but about as wide: not a part
    elsewhere = Detection(box=(500, 50, 600, 90), score=0.9)
    assert without_parts([left, same, elsewhere], [whole]) == [same, elsewhere]
    assert without_parts([left], []) == [left]
    straddling = Detection(box=(350, 50, 500, 130), score=0.9)  # a third inside
    assert without_parts([straddling], [whole]) == [straddling]


def test_close_up_pass_runs_when_the_first_finds_nothing_or_a_large_plate(model_copy, monkeypatch):
    runs: list[int] = []
    for close_up, want in ((True, 2), (False, 1)):
        det = PlateDetector(model_copy, threads=1, close_up=close_up)
        real = det._infer
        monkeypatch.setattr(det, "_infer", lambda image, real=real: runs.append(1) or real(image))
        runs.clear()
        assert det.detect(np.zeros((480, 640), np.uint8)) == []
        assert len(runs) == want
    s = _gate_scenes(1, seed=3, night=False, plate_width=(180, 220))[0]
    runs.clear()
    assert det.detect(s.image) and len(runs) == 1  # a plate found at once: one run
    det.close_up_fill = 0.4
    runs.clear()
    assert det.detect(s.image) and len(runs) == 1  # a sixth of the frame wide: no close-up
    near, _ = close_up_view(s.image, list(s.boxes[0]), 0.5)
    runs.clear()
    dets = det.detect(near)
    assert dets and max(d.box[2] - d.box[0] for d in dets) >= 0.25 * near.shape[1]
    assert len(runs) == 2  # half the frame wide: searched again as a close-up


def test_empty_frames_give_no_plates(detector):
    assert detector.detect(np.zeros((480, 640, 3), np.uint8)) == []
    assert detector.detect(np.full((1080, 1920), 200, np.uint8)) == []
    assert isinstance(detector.detect(np.zeros((3, 5), np.uint8)), list)


# --------------------------------------------------------------------------- refusing bad models
@pytest.fixture
def model_copy(tmp_path) -> Path:
    dst = tmp_path / "detector.tflite"
    shutil.copy(MODEL, dst)
    shutil.copy(MODEL.with_suffix(".json"), dst.with_suffix(".json"))
    return dst


def test_tampered_model_is_refused(model_copy):
    data = bytearray(model_copy.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model_copy.write_bytes(bytes(data))
    with pytest.raises(ModelError, match=r"detector\.tflite was modified or corrupted"):
        PlateDetector(model_copy)


def test_truncated_and_missing_model_are_refused(model_copy):
    full = model_copy.read_bytes()
    model_copy.write_bytes(full[: len(full) // 3])
    with pytest.raises(ModelError, match=r"detector\.tflite is truncated"):
        PlateDetector(model_copy)
    model_copy.unlink()
    with pytest.raises(ModelError, match=r"detector\.tflite is missing"):
        PlateDetector(model_copy)


def test_reader_card_is_not_a_detector(model_copy):
    card = json.loads(model_copy.with_suffix(".json").read_text())
    card["task"] = "reader"
    model_copy.with_suffix(".json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="not a detector"):
        PlateDetector(model_copy)


def test_card_describes_model():
    card = json.loads(MODEL.with_suffix(".json").read_text())
    assert card["task"] == "detector" and card["input"]["dtype"] == "int8"
    assert MODEL.stat().st_size == card["size_bytes"] <= 3 * 1024 * 1024
    assert not any(op.startswith(("CUSTOM", "Flex")) for op in card["ops"])
    assert "ro-dashcam/valid" in json.dumps(card["metrics"]) and card["license"]


# --------------------------------------------------------------------------- the scene compositor
def test_scenes_are_seeded_and_labels_fit_the_plate():
    a = _gate_scenes(2, seed=5)
    b = _gate_scenes(2, seed=5)
    for sa, sb in zip(a, b, strict=True):
        assert np.array_equal(sa.image, sb.image) and np.array_equal(sa.boxes, sb.boxes) and sa.texts == sb.texts
    for s in a:
        h, w = s.image.shape[:2]
        assert (w, h) == (1280, 720) and len(s.boxes) == 1 and s.texts[0]
        box, corners = s.boxes[0], s.corners[0]
        assert 0 <= box[0] < box[2] <= w and 0 <= box[1] < box[3] <= h
        assert np.allclose(corners.min(0), box[:2]) and np.allclose(corners.max(0), box[2:])
    night = _gate_scenes(1, seed=2, night=True)[0].image
    assert np.array_equal(night[..., 0], night[..., 2])  # IR look: gray


def test_negatives_split_is_fixed_and_disjoint(tmp_path):
    for i in range(60):
        (tmp_path / f"neg{i:05d}.jpg").write_bytes(b"x")
    train, held = scenes.split_negatives(tmp_path)
    assert len(train) + len(held) == 60 and not set(train) & set(held)
    assert 4 <= len(held) <= 20
    assert scenes.split_negatives(tmp_path) == (train, held)


def test_crop_plate_rectifies_with_corners():
    from plategate.vision.recognizer import PAD_X, PAD_Y, crop_plate
    from tools.synth.plates import render_plate

    plate, _text = render_plate(style="eu", rng=np.random.default_rng(1), height=64)
    frame = np.full((400, 600, 3), 90, np.uint8)
    corners = np.array([[200, 150], [420, 170], [415, 230], [205, 205]], np.float32)
    scenes.paste_plate(frame, plate, corners)
    box = (200, 150, 420, 230)
    crop = crop_plate(frame, Detection(box=box, score=0.9, corners=corners))
    assert crop.shape[0] > 64 and crop.shape[1] > 3 * 64  # upright, plate-shaped, with a margin
    my, mx = (round(n * p / (1 + 2 * p)) for n, p in ((crop.shape[0], PAD_Y), (crop.shape[1], PAD_X)))
    inner = crop[my:-my, mx:-mx]  # the margin off: the plate alone
    ref = cv2.resize(plate, (inner.shape[1], inner.shape[0]))
    corr = np.corrcoef(cv2.cvtColor(inner, cv2.COLOR_BGR2GRAY).ravel(), cv2.cvtColor(ref, cv2.COLOR_BGR2GRAY).ravel())[0, 1]
    assert corr > 0.8
    # unusable corners: the padded box is cut instead
    bad = Detection(box=box, score=0.9, corners=np.array([[0, 0], [1, 1], [0, 1], [1, 0]], np.float32))
    assert crop_plate(frame, bad).shape[:2] == (230 - 150 + 2 * round(80 * PAD_Y), 420 - 200 + 2 * round(220 * PAD_X))
