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
