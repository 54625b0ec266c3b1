"""CTC decoding in numpy: greedy best path and a small prefix beam search with top-k candidates.

The reader model emits, for each of T horizontal positions, logits over the blank
symbol and the characters of the alphabet. Decoding collapses repeats and removes
blanks. The prefix beam search sums the probability of every alignment of a text,
so the score of a candidate is an estimate of P(text | crop).
"""

from __future__ import annotations

import logging

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
    beam_width: int = 8,
    top_k: int = 3,
    prune: float = 1e-3,
    max_len: int = 10,
    max_classes: int = 4,
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

    Returns:
        Up to *top_k* ``(text, probability)`` pairs, best first; probabilities are
        the summed probabilities of all alignments of each text.
    """
    # beams: prefix (tuple of class ids) -> [p ending in blank, p ending in non-blank]
    beams: dict[tuple[int, ...], list[float]] = {(): [1.0, 0.0]}
    for t in range(probs.shape[0]):
        row = probs[t]
        p_blank = float(row[blank])
        if p_blank < 1.0 - prune:
            top = np.argpartition(row, -max_classes)[-max_classes:] if len(row) > max_classes else np.arange(len(row))
            candidates = [int(c) for c in top if c != blank and row[c] >= prune]
        else:
            candidates = []
        nxt: dict[tuple[int, ...], list[float]] = {}
        for prefix, (pb, pnb) in beams.items():
            total = pb + pnb
            entry = nxt.setdefault(prefix, [0.0, 0.0])
            entry[0] += total * p_blank
            last = prefix[-1] if prefix else None
            if last is not None:
                entry[1] += pnb * float(row[last])  # repeat collapses into the same prefix
            for c in candidates:
                pc = float(row[c])
                if c == last:
                    if len(prefix) >= max_len:
                        continue
                    ext = nxt.setdefault(prefix + (c,), [0.0, 0.0])
                    ext[1] += pb * pc  # a repeated character needs a blank in between
                else:
                    if len(prefix) >= max_len:
                        continue
                    ext = nxt.setdefault(prefix + (c,), [0.0, 0.0])
                    ext[1] += total * pc
        ranked = sorted(nxt.items(), key=lambda kv: kv[1][0] + kv[1][1], reverse=True)
        beams = dict(ranked[:beam_width])
    results = sorted(((sum(v), k) for k, v in beams.items()), reverse=True)
    out = []
    for p, prefix in results[:top_k]:
        text = "".join(_label_of(c, alphabet, blank) for c in prefix)
        out.append((text, float(min(1.0, max(0.0, p)))))
    return out


def sequence_log_confidence(probs: np.ndarray) -> float:
    """Sum of log max-probabilities per step (log of the greedy path probability)."""
    return float(np.sum(np.log(np.maximum(probs.max(axis=1), 1e-12))))


__all__ = ["ALPHABET", "beam_search", "encode", "greedy", "softmax", "sequence_log_confidence"]
