"""Model-specific parts of ``tools.quantize``: one module per task, found by name.

A task module ``tools/quant_tasks/NAME.py`` defines ``TASK``, an instance of a
:class:`QuantTask` subclass. ``tools.quantize --task NAME`` imports it on demand, so a
new model kind is added by dropping in a module, without touching ``quantize.py``.

What a task provides (see the methods of :class:`QuantTask`):

* ``prepare(image, input_shape)``: an image file's array (BGR/gray, any depth) ->
  one float32 model input of ``input_shape[1:]``, normalised exactly as at runtime;
* ``generate(n, seed, input_shape)``: representative inputs when no image folder is
  given (e.g. rendered plates);
* ``load_validation(spec, input_shape)``: a validation set named by ``--val SPEC``
  -> (inputs, labels);
* ``evaluate(outputs, labels, output_info)``: model outputs (dequantised float
  arrays, one list per sample) + labels -> metrics dict with at least ``accuracy``;
* ``calibrate(outputs, labels, output_info)``: optional, returns card ``output``
  fields fitted on a calibration set (e.g. a softmax temperature);
* ``card_input()`` / ``card_output(output_info)`` / ``alphabet``: card fields;
* ``configure(options)``: ``--task-arg KEY=VALUE`` options (e.g. a data folder).
"""

from __future__ import annotations

import importlib
import logging
import re
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class QuantTask:
    """Base class of the model-specific hooks used by ``tools.quantize``."""

    name: str = ""
    alphabet: str | None = None

    def configure(self, options: dict[str, str]) -> None:
        """Apply ``--task-arg KEY=VALUE`` options (default: refuse any).

        Raises:
            ValueError: an option the task does not know.
        """
        if options:
            raise ValueError(f"task {self.name!r} takes no options, got {', '.join(options)}")

    def prepare(self, image: np.ndarray, input_shape: Sequence[int]) -> np.ndarray:
        """Turn one decoded image into a float32 model input (without the batch axis)."""
        raise NotImplementedError

    def generate(self, n: int, seed: int, input_shape: Sequence[int]) -> Iterator[np.ndarray]:
        """Yield *n* representative float32 inputs without an image folder.

        Raises:
            NotImplementedError: the task needs ``--rep-dir``.
        """
        raise NotImplementedError(f"task {self.name!r} needs --rep-dir (an image folder)")

    def load_validation(self, spec: str, input_shape: Sequence[int]) -> tuple[list[np.ndarray], list[Any]]:
        """Load the validation set named by *spec* as (inputs, labels)."""
        raise NotImplementedError

    def evaluate(self, outputs: list[list[np.ndarray]], labels: list[Any], output_info: dict) -> dict[str, Any]:
        """Score model outputs against labels; must return at least ``accuracy``."""
        raise NotImplementedError

    def calibrate(self, outputs: list[list[np.ndarray]], labels: list[Any], output_info: dict) -> dict[str, Any]:
        """Return card output fields fitted on a calibration set (none by default)."""
        return {}

    def card_input(self) -> dict[str, Any]:
        """Card ``input`` fields other than shape/dtype/quantisation (colour, normalisation)."""
        return {}

    def card_output(self, output_info: dict) -> dict[str, Any]:
        """Card ``output`` fields (decoding, layout) other than the quantisation parameters."""
        return {}


def get_task(name: str) -> QuantTask:
    """Import ``tools.quant_tasks.NAME`` and return its ``TASK``.

    Raises:
        ValueError: the name is malformed, the module is missing or defines no TASK.
    """
    if not _NAME.match(name):
        raise ValueError(f"invalid task name {name!r}")
    try:
        module = importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"{__name__}.{name}":
            raise ValueError(f"unknown task {name!r}: no module tools/quant_tasks/{name}.py") from exc
        raise
    task = getattr(module, "TASK", None)
    if not isinstance(task, QuantTask):
        raise ValueError(f"tools/quant_tasks/{name}.py defines no TASK (a QuantTask instance)")
    return task
