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
