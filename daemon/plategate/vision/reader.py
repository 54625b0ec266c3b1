"""The plate reader: an int8 CTC model that turns a plate crop into text, confidence and candidates."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

import cv2
import numpy as np

from plategate.errors import ImageError, ModelError
from plategate.types import PlateRead, plate_shape
from plategate.vision.ctc import ALPHABET, beam_search, softmax
from plategate.vision.preprocess import prepare_crop_quantised
from plategate.vision.runtime import LoadedModel, load_model

logger = logging.getLogger(__name__)

#: crops narrower than this (width / height) are treated as two-line plates
TWO_LINE_ASPECT = 2.0
#: classes below this probability at a step are not tried by the format-constrained pass.
#: It is far below the free pass's 1e-2: the character a format demands is often a
#: distant runner-up (a worn 6 read as E at 0.99 leaves the 6 at 0.004), and it must
#: still be reachable, or no text fits and the pass falls back to the free read.
FORMAT_PRUNE = 1e-3
#: the crops read for one plate with ``views`` > 1, as margins per side (share of the
#: crop's width, share of its height): the crop as given, padded with its edge pixels,
#: trimmed. The reader's errors on the three differ enough that their mean probability
#: per text is right more often than any one of them (docs/model-development.md).
VIEW_MARGINS: tuple[tuple[float, float], ...] = ((0.0, 0.0), (0.04, 0.08), (-0.03, -0.06))
#: candidates of each view pooled when views are combined
VIEW_POOL = 5
#: a read of the crop as given at this confidence or above is kept without reading the other views
VIEW_SURE = 0.9


def _pad_to_aspect(crop: np.ndarray, aspect: float) -> np.ndarray:
    """Widen *crop* to width/height >= *aspect* by repeating its left and right columns."""
    h, w = crop.shape[:2]
    target = int(h * aspect)
    if target <= w:
        return crop
    left = (target - w) // 2
    return cv2.copyMakeBorder(crop, 0, 0, left, target - w - left, cv2.BORDER_REPLICATE)


def is_two_line(shape: tuple[int, ...], aspect: float = TWO_LINE_ASPECT) -> bool:
    """Whether a crop of *shape* is narrow enough (width below *aspect* times its height) to be read as two lines too."""
    h, w = shape[:2]
    return w < aspect * h and h >= 8


def two_line_halves(crop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split a two-line plate crop into its top and bottom lines, each widened to a one-line shape.

    The halves overlap by a tenth of the height so that a line cut by a loose crop
    is still whole in one of them. Training renders its two-line samples with this
    same function.
    """
    h = crop.shape[0]
    return (_pad_to_aspect(crop[: int(h * 0.55)], 3.0), _pad_to_aspect(crop[int(h * 0.45) :], 3.0))


def crop_view(crop: np.ndarray, margin_x: float, margin_y: float) -> np.ndarray:
    """The crop widened (positive margins: edge pixels repeated) or trimmed (negative) on
    each side by *margin_x* of its width and *margin_y* of its height.

    A trim that would leave fewer than 8 pixels on an axis leaves that axis as it is.
    """
    h, w = crop.shape[:2]
    px, py = int(round(w * margin_x)), int(round(h * margin_y))
    if px < 0 and w + 2 * px >= 8:
        crop = crop[:, -px:w + px]
    if py < 0 and h + 2 * py >= 8:
        crop = crop[-py:h + py]
    if px > 0 or py > 0:
        crop = cv2.copyMakeBorder(crop, max(py, 0), max(py, 0), max(px, 0), max(px, 0), cv2.BORDER_REPLICATE)
    return crop


def combine_views(reads: Sequence[Sequence[tuple[str, float]]], top_k: int) -> list[tuple[str, float]]:
    """Pool the candidates of several views of one plate: each text scores the mean of its
    probability over the views (0 in a view that did not list it), best *top_k* first."""
    score: dict[str, float] = {}
    for candidates in reads:
        for text, p in candidates:
            score[text] = score.get(text, 0.0) + p / len(reads)
    return sorted(score.items(), key=lambda c: c[1], reverse=True)[:top_k]


class PlateReader:
    """Reads plate crops with the shipped (or any compatible) reader model.

    Args:
        model_path: the reader ``.tflite`` file (its card ``.json`` beside it).
        threads: LiteRT interpreter threads.
        beam_width: prefixes kept by the CTC beam search.
        top_k: candidates returned with each read.
        formats: optional plate formats of the site's country as ``L``/``D`` strings
            (e.g. ``("LLLDDDD", "LLLDLDD")`` for Brazil); when given, reads are decoded
            under these shapes first and fall back to free decoding when no shape fits.
        views: how many views of each crop are read (1 to ``len(VIEW_MARGINS)``): 1 reads
            the crop as given; 2 also reads it padded, 3 also trimmed, and the candidates
            are pooled (:func:`combine_views`). Each view costs one more model run and
            decode.

    Raises:
        ModelError: the model is missing, truncated, tampered with, or its card does
            not describe a CTC reader.
        ValueError: a format is not a string of ``L``/``D``, or *views* is out of range.
    """

    def __init__(self, model_path: Path, threads: int = 2, *, beam_width: int = 5, top_k: int = 3,
                 formats: Sequence[str] | None = None, views: int = 1) -> None:
        self.model: LoadedModel = load_model(Path(model_path), threads)
        self.threads = threads
        card = self.model.card
        out = card.output
        if card.task != "reader" or out.get("decoding") != "ctc":
            raise ModelError(f"model file {model_path} is not a CTC reader (task {card.task!r}, decoding {out.get('decoding')!r})")
        _, self.height, self.width, channels = card.input.shape
        if channels != 1:
            raise ModelError(f"model file {model_path}: reader input must have 1 channel, card says {channels}")
        self.alphabet: str = card.alphabet or ALPHABET
        self.blank: int = int(out.get("blank_index", 0))
        self.temperature: float = float(out.get("temperature", 1.0))
        self.max_length: int = int(out.get("max_length", 10))
        self.beam_width = beam_width
        self.top_k = top_k
        bad = [f for f in formats or () if not f or set(f) - {"L", "D"} or len(f) > self.max_length]
        if bad:
            raise ValueError(f"plate formats must be strings of L and D of at most {self.max_length}, got {bad}")
        self.formats = tuple(formats or ())
        if not 1 <= views <= len(VIEW_MARGINS):
            raise ValueError(f"views must be 1 to {len(VIEW_MARGINS)}, got {views}")
        self.views = views
        self._pool = top_k if views == 1 else max(top_k, VIEW_POOL)  # candidates kept per view

    def logits(self, crop: np.ndarray) -> np.ndarray:
        """Return the model's (T, C) logits for one crop.

        Raises:
            ImageError: the crop is not a usable image array.
        """
        x = prepare_crop_quantised(crop, self.height, self.width, self.model.quantise_input)[None, :, :, None]
        return self.model.run(x)[0][0]

    def _decode(self, logits: np.ndarray, formats: Sequence[str] | None = None) -> list[tuple[str, float]]:
        probs = softmax(logits, self.temperature)
        if formats:
            found = beam_search(probs, self.alphabet, self.blank, 2 * self.beam_width, self._pool,
                                prune=FORMAT_PRUNE, max_len=self.max_length, max_classes=6, formats=formats)
            if found:
                return found
        return beam_search(probs, self.alphabet, self.blank, self.beam_width, self._pool, max_len=self.max_length)

    def _fits(self, text: str) -> bool:
        return not self.formats or plate_shape(text) in self.formats

    def read(self, crop: np.ndarray) -> PlateRead:
        """Read one plate crop (BGR, BGRA or grayscale; 8 or 16 bit).

        Crops much narrower than a one-line plate are also read as two lines (top
        and bottom halves); the more confident reading wins. With ``views`` > 1, a read
        below :data:`VIEW_SURE` is repeated on the padded (and trimmed) crop and the
        candidates of all views are pooled by :func:`combine_views`.

        Returns:
            A :class:`PlateRead` with ``box=None``; text ``""`` and confidence 0 when
            nothing was read.

        Raises:
            ImageError: the crop is empty or of an unsupported shape or dtype.
        """
        if not isinstance(crop, np.ndarray) or crop.ndim < 2 or crop.size == 0:
            raise ImageError(f"cannot read an empty or malformed crop ({getattr(crop, 'shape', type(crop).__name__)})")
        candidates = self._candidates(crop)
        if self.views > 1 and (not candidates or candidates[0][1] < VIEW_SURE):
            others = [self._candidates(crop_view(crop, *m)) for m in VIEW_MARGINS[1 : self.views]]
            candidates = combine_views([candidates, *others], self.top_k)
        candidates = candidates[: self.top_k]
        if not candidates:
            return PlateRead(text="", confidence=0.0, candidates=())
        text, conf = candidates[0]
        return PlateRead(text=text, confidence=round(conf, 4), candidates=tuple((t, round(p, 4)) for t, p in candidates))

    def _candidates(self, crop: np.ndarray) -> list[tuple[str, float]]:
        """The non-empty candidate texts of one view, best first (one line, or two when narrow)."""
        candidates = self._decode(self.logits(crop), self.formats)
        if is_two_line(crop.shape):
            two = self._two_lines(crop)
            if two and (not candidates or two[0][1] > candidates[0][1]
                        or (self._fits(two[0][0]) and not self._fits(candidates[0][0]))):
                candidates = two
        return [c for c in candidates if c[0]]

    def _two_lines(self, crop: np.ndarray) -> list[tuple[str, float]]:
        """Read the top and bottom halves separately and join the best of each."""
        top_crop, bottom_crop = two_line_halves(crop)
        top = self._decode(self.logits(top_crop))
        bottom = self._decode(self.logits(bottom_crop))
        out = []
        for t1, p1 in top[:2]:
            for t2, p2 in bottom[:2]:
                if t1 and t2 and len(t1) + len(t2) <= self.max_length:
                    out.append((t1 + t2, p1 * p2))
        fitting = [c for c in out if self._fits(c[0])]
        return sorted(fitting or out, key=lambda c: c[1], reverse=True)[: self._pool]

    def read_batch(self, crops: Iterable[np.ndarray]) -> list[PlateRead]:
        """Read several crops, in order.

        Raises:
            ImageError: a crop is unusable; the message names its index.
        """
        reads = []
        for i, crop in enumerate(crops):
            try:
                reads.append(self.read(crop))
            except ImageError as exc:
                raise ImageError(f"crop {i}: {exc}") from exc
        return reads
