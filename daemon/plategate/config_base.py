"""What every configuration section shares: strict types, the section base class, the
region of interest, and where the shipped models live.

Sections are pydantic models with ``extra="forbid"`` (a misspelt key is an error) and
``strict=True`` (a string is not a number or a boolean: ``pulse_ms = "500"`` and
``enabled = "yes"`` are errors naming their key; an integer is accepted for a float).
Paths are the exception: TOML has no path type, so path keys take strings.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

PosInt = Annotated[int, Field(gt=0)]
PosFloat = Annotated[float, Field(gt=0)]
Fraction = Annotated[float, Field(ge=0, le=1)]
GpioPin = Annotated[int | str, Field(description="BCM number (17) or a gpiozero pin name ('GPIO17', 'BOARD11')")]
#: a filesystem path, written as a TOML string
PathStr = Annotated[Path, Field(strict=False)]
#: the most views of a crop the reader can pool (``len(plategate.vision.reader.VIEW_MARGINS)``,
#: which a test keeps equal; written here so that loading a config does not import OpenCV)
MAX_READER_VIEWS = 3


class Section(BaseModel):
    """Base of every section: unknown keys and values of the wrong type are errors."""

    model_config = ConfigDict(extra="forbid", validate_default=True, strict=True)


def _package_root() -> Path:
    return Path(__file__).resolve().parent


def default_models_dir() -> Path:
    """Where the shipped models live: the source tree's ``models/`` or the installed copy."""
    candidates = [
        _package_root().parent.parent / "models",  # source checkout / editable install
        Path(sys.prefix) / "share" / "plategate" / "models",  # pip install .
        Path("/usr/share/plategate/models"),
    ]
    for cand in candidates:
        if (cand / "reader.tflite").exists() or (cand / "detector.tflite").exists():
            return cand
    return candidates[0]


class Roi(Section):
    """A region of interest as fractions of the frame (0..1)."""

    x1: Fraction = 0.0
    y1: Fraction = 0.0
    x2: Fraction = 1.0
    y2: Fraction = 1.0

    @model_validator(mode="after")
    def _ordered(self) -> Roi:
        if self.x2 <= self.x1 or self.y2 <= self.y1:
            raise ValueError("x2 must be greater than x1 and y2 greater than y1")
        return self


def check_topic_prefix(value: str) -> str:
    """An MQTT topic prefix: no wildcards, no NUL, no leading or trailing ``/``.

    Raises:
        ValueError: it is empty or breaks one of those rules (pydantic names the key).
    """
    if not value or any(c in value for c in "#+\x00") or value.startswith("/") or value.endswith("/"):
        raise ValueError(f"invalid topic prefix {value!r} (no wildcards, no leading/trailing '/')")
    return value
