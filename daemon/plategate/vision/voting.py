"""Combine the reads of one plate across the frames of a burst.

Reads vote for a length first (the length with the most confidence behind it),
then per character position, each read weighted by its confidence. The voted
read's confidence stays conservative: reads that agree reinforce each other,
reads that disagree pull the confidence down, so that a gate opening on
confidence stays safe.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from ..types import PlateRead


def vote(reads: Sequence[PlateRead], max_candidates: int = 5) -> PlateRead | None:
    """Vote over *reads* (one per frame) and return the combined read, or ``None`` if empty.

    The box of the returned read is the box of the most confident agreeing read.
    """
    reads = [r for r in reads if r.text]
    if not reads:
        return None
    by_length: dict[int, list[PlateRead]] = defaultdict(list)
    for r in reads:
        by_length[len(r.text)].append(r)
    length = max(by_length, key=lambda n: (sum(r.confidence for r in by_length[n]), len(by_length[n])))
    group = by_length[length]
    total = sum(r.confidence for r in reads) or 1e-9

    chars = []
    agreement = 1.0
    for pos in range(length):
        weights: dict[str, float] = defaultdict(float)
        for r in group:
            weights[r.text[pos]] += r.confidence
        best = max(weights, key=weights.get)
        chars.append(best)
        agreement *= weights[best] / (sum(weights.values()) or 1e-9)
    text = "".join(chars)

    agreeing = [r for r in reads if r.text == text]
    if agreeing:
        miss = 1.0
        for r in agreeing:
            miss *= 1.0 - min(r.confidence, 0.999)
        confidence = (1.0 - miss) * (sum(r.confidence for r in agreeing) / total)
        confidence = min(confidence, max(r.confidence for r in agreeing) if len(agreeing) == 1 else 0.9999)
        source = max(agreeing, key=lambda r: r.confidence)
    else:  # a character-wise composite no single frame read: trust it less
        confidence = agreement * sum(r.confidence for r in group) / len(group) * 0.9
        source = max(group, key=lambda r: r.confidence)

    scores: dict[str, float] = defaultdict(float)
    for r in reads:
        for cand, p in r.candidates or ((r.text, r.confidence),):
            scores[cand] += p / len(reads)
    scores[text] = max(scores.get(text, 0.0), confidence)
    candidates = tuple(sorted(scores.items(), key=lambda kv: -kv[1])[:max_candidates])
    candidates = tuple((c, round(p, 4)) for c, p in candidates)
    return PlateRead(text, round(float(confidence), 4), candidates, source.box, source.detection_score)
