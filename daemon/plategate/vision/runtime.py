"""Loading TFLite models with LiteRT, checked against their JSON model cards.

Every model file ``NAME.tflite`` has a card ``NAME.json`` beside it that says what the
model expects and produces (input shape and normalisation, output decoding,
alphabet), where it came from (training data, command, license), how good it is
(metrics), and the file's size and sha256. :func:`load_model` refuses a model whose
file is missing, truncated or different from what its card describes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from plategate.errors import ModelError
from plategate.validation import describe

logger = logging.getLogger(__name__)


class InputSpec(BaseModel):
    """What the model's input tensor holds."""

    model_config = ConfigDict(extra="allow")

    shape: list[int] = Field(description="input tensor shape, batch first, e.g. [1, 32, 128, 1]")
    dtype: str = Field("int8", description="tensor dtype: int8, uint8 or float32")
    colour: str = Field("gray", description="gray or bgr / rgb")
    normalisation: str = Field(description="how pixels become values before quantisation, e.g. 'percentile_2_98 to [0,1]'")
    scale: float | None = Field(None, description="quantisation scale of the input tensor")
    zero_point: int | None = Field(None, description="quantisation zero point of the input tensor")


class ModelCard(BaseModel):
    """The JSON card that describes one model file."""

    model_config = ConfigDict(extra="allow")

    name: str
    task: str = Field(description="reader or detector")
    file: str = Field(description="model file name, relative to the card")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size_bytes: int = Field(gt=0)
    input: InputSpec
    output: dict[str, Any] = Field(description="output layout and decoding (e.g. ctc, alphabet, blank index, temperature)")
    alphabet: str | None = None
    training: dict[str, Any] = Field(default_factory=dict, description="data, commands, seed")
    metrics: dict[str, Any] = Field(default_factory=dict)
    license: str
    created: str | None = None

    @classmethod
    def load(cls, path: Path) -> ModelCard:
        """Read and validate a card.

        Raises:
            ModelError: the card is missing, not JSON, or lacks / mistypes a field.
        """
        if not path.is_file():
            raise ModelError(f"model card {path} is missing")
        try:
            return cls.model_validate(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelError(f"model card {path} cannot be read: {exc}") from exc
        except ValidationError as exc:
            problems = "; ".join(describe(e) for e in exc.errors())
            raise ModelError(f"model card {path} is invalid: {problems}") from exc


def card_path(model_path: Path) -> Path:
    """The card that belongs to *model_path* (same name, ``.json``)."""
    return Path(model_path).with_suffix(".json")


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file's content."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def interpreter_class():
    """The TFLite interpreter class: LiteRT's, else tflite_runtime's.

    Raises:
        ModelError: neither is installed.
    """
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter
        except ImportError as exc:
            raise ModelError("no TFLite runtime: install ai-edge-litert (or tflite-runtime)") from exc
    return Interpreter


@dataclass
class LoadedModel:
    """A verified model with its interpreter.

    ``run`` quantises a float input with the input tensor's scale and zero point,
    invokes the interpreter and returns the dequantised outputs. It is safe to call
    from several threads (calls are serialised).
    """

    path: Path
    card: ModelCard
    interpreter: Any
    input_details: dict
    output_details: list[dict]
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(v) for v in self.input_details["shape"])

    def quantise_input(self, x: np.ndarray) -> np.ndarray:
        """Convert a float input (already normalised) to the input tensor's dtype."""
        dtype = self.input_details["dtype"]
        if dtype == np.float32:
            return x.astype(np.float32)
        scale, zero = self.input_details["quantization"]
        info = np.iinfo(dtype)
        return np.clip(np.round(x / scale + zero), info.min, info.max).astype(dtype)

    def run(self, x: np.ndarray) -> list[np.ndarray]:
        """Run the model on one input of the input tensor's shape: a float input is
        quantised first, one already of the tensor's dtype (:meth:`quantise_input`) is used as is.

        Raises:
            ModelError: the input has the wrong shape or the interpreter fails.
        """
        if tuple(x.shape) != self.input_shape:
            raise ModelError(f"{self.path.name}: input shape {tuple(x.shape)} != model input {self.input_shape}")
        q = x if x.dtype == self.input_details["dtype"] else self.quantise_input(x)
        with self._lock:
            try:
                self.interpreter.set_tensor(self.input_details["index"], q)
                self.interpreter.invoke()
                raw = [self.interpreter.get_tensor(d["index"]) for d in self.output_details]
            except (RuntimeError, ValueError) as exc:
                raise ModelError(f"{self.path.name}: inference failed: {exc}") from exc
        outs = []
        for d, r in zip(self.output_details, raw, strict=True):
            scale, zero = d["quantization"]
            outs.append((r.astype(np.float32) - zero) * scale if scale else r.astype(np.float32))
        return outs


def verify(path: Path) -> ModelCard:
    """Check *path* against its card without loading it.

    Returns:
        The card.

    Raises:
        ModelError: the file or card is missing, the file is empty or truncated (size
            differs from the card), or its sha256 differs (tampered or corrupted).
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"model file {path} is missing")
    card = ModelCard.load(card_path(path))
    size = path.stat().st_size
    if size == 0:
        raise ModelError(f"model file {path} is empty (0 bytes)")
    if size != card.size_bytes:
        what = "truncated" if size < card.size_bytes else "larger than expected"
        raise ModelError(f"model file {path} is {what}: {size} bytes, its card says {card.size_bytes}")
    digest = sha256_of(path)
    if digest != card.sha256:
        raise ModelError(f"model file {path} was modified or corrupted: sha256 {digest[:16]}... does not match "
                         f"its card ({card.sha256[:16]}...)")
    return card


def load_model(path: Path, threads: int = 2) -> LoadedModel:
    """Verify and load a TFLite model.

    Args:
        path: the ``.tflite`` file; its card is the ``.json`` beside it.
        threads: interpreter threads.

    Returns:
        The loaded model.

    Raises:
        ModelError: see :func:`verify`; also when the runtime cannot load the file or
            its input shape differs from the card's.
    """
    path = Path(path)
    card = verify(path)
    interpreter_cls = interpreter_class()
    try:
        interpreter = interpreter_cls(model_path=str(path), num_threads=max(1, int(threads)))
        interpreter.allocate_tensors()
    except (RuntimeError, ValueError) as exc:
        raise ModelError(f"model file {path} cannot be loaded by LiteRT: {exc}") from exc
    inputs = interpreter.get_input_details()
    if len(inputs) != 1:
        raise ModelError(f"model file {path} has {len(inputs)} inputs; expected 1")
    shape = [int(v) for v in inputs[0]["shape"]]
    if shape != list(card.input.shape):
        raise ModelError(f"model file {path} has input shape {shape}, its card says {card.input.shape}")
    logger.info("loaded %s (%s, %s bytes, %s threads)", path, card.task, card.size_bytes, threads)
    return LoadedModel(path, card, interpreter, inputs[0], interpreter.get_output_details())
