"""CTC decoding in numpy: greedy best path and a small prefix beam search with top-k candidates.

The reader model emits, for each of T horizontal positions, logits over the blank
symbol and the characters of the alphabet. Decoding collapses repeats and removes
blanks. The prefix beam search sums the probability of every alignment of a text,
so the score of a candidate is an estimate of P(text | crop).
"""

from __future__ import annotations

import logging
from collections.abc import Collection

import numpy as np

logger = logging.getLogger(__name__)

#: the characters the reader knows, in class order after the blank
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def softmax(logits: np.ndarray, temperature: float = 1.0, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax of ``logits / temperature`` along *axis*."""
    z = np.asarray(logits, dtype=np.float64) / float(temperature)
    z = z - z.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def encode(text: str, alphabet: str = ALPHABET, blank: int = 0) -> list[int]:
    """Return the class ids of *text* (blank is class *blank*, characters follow in order).

    Raises:
        ValueError: a character is not in the alphabet.
    """
    out = []
    for ch in text:
        idx = alphabet.find(ch)
        if idx < 0:
            raise ValueError(f"character {ch!r} is not in the reader alphabet")
        out.append(idx + (1 if idx >= blank else 0))
    return out


def _label_of(cls: int, alphabet: str, blank: int) -> str:
    return alphabet[cls - 1 if cls > blank else cls]


def greedy(probs: np.ndarray, alphabet: str = ALPHABET, blank: int = 0) -> tuple[str, float]:
    """Best-path decoding of one (T, C) probability matrix.

    Returns:
        ``(text, path_probability)``: the collapsed text and the product of the
        per-step maxima (a lower bound of the text's probability).
    """
    best = probs.argmax(axis=1)
    conf = float(np.prod(probs[np.arange(len(best)), best]))
    chars = []
    prev = blank
    for c in best:
        if c != prev and c != blank:
            chars.append(_label_of(int(c), alphabet, blank))
        prev = c
    return "".join(chars), conf


def beam_search(
    probs: np.ndarray,
    alphabet: str = ALPHABET,
    blank: int = 0,
    beam_width: int = 5,
    top_k: int = 3,
    prune: float = 1e-2,
    max_len: int = 10,
    max_classes: int = 3,
    formats: Collection[str] | None = None,
) -> list[tuple[str, float]]:
    """CTC prefix beam search over one (T, C) probability matrix.

    Args:
        probs: per-step class probabilities (rows sum to 1).
        alphabet: characters of classes other than the blank, in order.
        blank: the blank's class id.
        beam_width: prefixes kept after each step.
        top_k: candidates returned.
        prune: classes below this probability at a step are not extended.
        max_len: longest text considered.
        max_classes: at most this many most likely classes are extended per step.
        formats: optional plate formats as strings of ``L`` (letter) and ``D`` (digit),
            e.g. ``("LLLDDDD", "LLLDLDD")``; only texts of one of these shapes are
            returned (syntax-constrained decoding).

    Returns:
        Up to *top_k* ``(text, probability)`` pairs, best first; probabilities are
        the summed probabilities of all alignments of each text.
    """
    # beams: prefix (tuple of class ids) -> [p ending in blank, p ending in non-blank]
    beams: dict[tuple[int, ...], list[float]] = {(): [1.0, 0.0]}
    k = min(max_classes, probs.shape[1])
    tops = np.argpartition(probs, -k, axis=1)[:, -k:].tolist()
    rows = probs.tolist()
    valid: set[str] | None = None
    shape_of: dict[tuple[int, ...], str] = {(): ""}
    cls_shape: dict[int, str] = {}
    if formats:
        valid = {f[:i] for f in formats for i in range(len(f) + 1)}
        cls_shape = {c: "D" if _label_of(c, alphabet, blank).isdigit() else "L"
                     for c in range(probs.shape[1]) if c != blank}
    for row, top in zip(rows, tops, strict=True):
        p_blank = row[blank]
        candidates = [c for c in top if c != blank and row[c] >= prune] if p_blank < 1.0 - prune else ()
        if not candidates:  # no prefix grows at this step: update the beams in place (same arithmetic)
            for prefix, entry in beams.items():
                pb, pnb = entry
                entry[0] = (pb + pnb) * p_blank
                entry[1] = pnb * row[prefix[-1]] if prefix else 0.0
            continue
        nxt: dict[tuple[int, ...], list[float]] = {}
        for prefix, (pb, pnb) in beams.items():
            total = pb + pnb
            entry = nxt.get(prefix)
            if entry is None:
                entry = nxt[prefix] = [0.0, 0.0]
            entry[0] += total * p_blank
            last = prefix[-1] if prefix else -1
            if last >= 0:
                entry[1] += pnb * row[last]  # a repeat collapses into the same prefix
            if len(prefix) >= max_len:
                continue
            for c in candidates:
                ext_key = prefix + (c,)
                if valid is not None:
                    shape = shape_of[prefix] + cls_shape[c]
                    if shape not in valid:
                        continue
                    shape_of[ext_key] = shape
                ext = nxt.get(ext_key)
                if ext is None:
                    ext = nxt[ext_key] = [0.0, 0.0]
                # a repeated character needs a blank in between
                ext[1] += (pb if c == last else total) * row[c]
        if len(nxt) > beam_width:
            beams = dict(sorted(nxt.items(), key=lambda kv: kv[1][0] + kv[1][1], reverse=True)[:beam_width])
        else:
            beams = nxt
    if valid is not None:
        complete = set(formats or ())
        beams = {k: v for k, v in beams.items() if shape_of.get(k) in complete}
    results = sorted(((sum(v), k) for k, v in beams.items()), reverse=True)
    out = []
    for p, prefix in results[:top_k]:
        text = "".join(_label_of(c, alphabet, blank) for c in prefix)
        out.append((text, float(min(1.0, max(0.0, p)))))
    return out


def sequence_log_confidence(probs: np.ndarray) -> float:
    """Sum of log max-probabilities per step (log of the greedy path probability)."""
    return float(np.sum(np.log(np.maximum(probs.max(axis=1), 1e-12))))


def text_log_probability(probs: np.ndarray, labels: list[int], blank: int = 0) -> float:
    """log P(text | crop): the CTC forward sum over every alignment of the class ids *labels*.

    Args:
        probs: (T, C) per-step probabilities.
        labels: the text's class ids (:func:`encode`).
        blank: the blank class.

    Returns:
        The natural log of the probability; ``-inf`` when no alignment fits in T steps.
    """
    lp = np.log(np.maximum(np.asarray(probs, dtype=np.float64), 1e-30))
    if not len(labels):
        return float(lp[:, blank].sum())
    ext = np.full(2 * len(labels) + 1, blank, dtype=np.int64)
    ext[1::2] = labels
    # an alignment may skip a blank between two different characters
    skip = np.zeros(len(ext), bool)
    skip[3::2] = ext[3::2] != ext[1:-2:2]
    alpha = np.full(len(ext), -np.inf)
    alpha[0] = lp[0, ext[0]]
    alpha[1] = lp[0, ext[1]]
    for t in range(1, len(lp)):
        stay = alpha
        step = np.concatenate(([-np.inf], alpha[:-1]))
        jump = np.where(skip, np.concatenate(([-np.inf, -np.inf], alpha[:-2])), -np.inf)
        alpha = np.logaddexp(np.logaddexp(stay, step), jump) + lp[t, ext]
    return float(np.logaddexp(alpha[-1], alpha[-2]))


__all__ = ["ALPHABET", "beam_search", "encode", "greedy", "softmax", "sequence_log_confidence", "text_log_probability"]
