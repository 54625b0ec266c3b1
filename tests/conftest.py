"""Shared pytest fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATASETS = Path(os.environ.get("PLATEGATE_DATASETS", ROOT.parent / "shared" / "datasets"))


@pytest.fixture
def datasets() -> Path:
    """The shared real-data folder; tests that need it skip cleanly when it is absent."""
    if not DATASETS.is_dir():
        pytest.skip(f"shared datasets not found at {DATASETS}")
    return DATASETS


@pytest.fixture
def boxed_photos(tmp_path) -> Path:
    """A small datasets folder: three noisy 640x480 photos in openimages-plates/train, each with one
    bright 150x40 plate boxed at (250, 300, 400, 340), and eight flat training negatives."""
    import cv2
    import numpy as np

    root = tmp_path / "datasets"
    photos = root / "openimages-plates" / "train"
    photos.mkdir(parents=True)
    rows = ["file,x1,y1,x2,y2"]
    rng = np.random.default_rng(0)
    for i in range(3):
        img = rng.integers(0, 120, (480, 640, 3), dtype=np.uint8)
        img[300:340, 250:400] = 235
        cv2.imwrite(str(photos / f"p{i}.jpg"), img)
        rows.append(f"p{i}.jpg,250,300,400,340")
    (photos / "boxes.csv").write_text("\n".join(rows) + "\n")
    neg = root / "negatives"
    neg.mkdir()
    for i in range(8):
        cv2.imwrite(str(neg / f"n{i}.jpg"), np.full((300, 400, 3), 30 * i, np.uint8))
    return root


# MQTT broker --------------------------------------------------------------------------------

@pytest.fixture
def mosquitto_broker(tmp_path):
    """A running mosquitto on a free port (anonymous, persistence on); yields the Mosquitto object."""
    from tests.brokers import BrokerError, Mosquitto, find_mosquitto

    if find_mosquitto() is None:
        pytest.skip("mosquitto is not installed (tools/test.sh installs it)")
    broker = Mosquitto(tmp_path / "mosquitto")
    try:
        broker.start()
    except BrokerError as exc:
        pytest.fail(str(exc))
    yield broker
    broker.stop()


@pytest.fixture
def mosquitto(mosquitto_broker):
    """``(host, port)`` of a running anonymous mosquitto on a free port."""
    return mosquitto_broker.address
