"""An immutable in-memory view of the allowlist for lock-free lookups.

The store swaps in a new :class:`AllowlistIndex` after every committed change, so the
decision thread always sees one consistent list (never half of a delta).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .entry import Entry

#: OCR-confusable pairs (DESIGN.md "Decision policy"); a tolerant match allows one of these
#: substitutions at most.
CONFUSABLE_PAIRS: frozenset[frozenset[str]] = frozenset(
    frozenset(p) for p in ("O0", "I1", "B8", "S5", "Z2", "G6", "D0", "Q0")
)
# Every character of a pair maps to one class symbol; plates that can be turned into each
# other by confusable substitutions share the same "shape".
_SHAPE = str.maketrans({"O": "0", "D": "0", "Q": "0", "I": "1", "B": "8", "S": "5", "Z": "2", "G": "6"})


def shape(plate: str) -> str:
    """The plate with every confusable character replaced by its class symbol."""
    return plate.translate(_SHAPE)


def is_confusable(a: str, b: str) -> bool:
    return frozenset((a, b)) in CONFUSABLE_PAIRS


def one_confusable_substitution(read: str, plate: str) -> bool:
    """True when *read* and *plate* differ in exactly one position by a confusable pair."""
    if len(read) != len(plate) or read == plate:
        return False
    diff = [(a, b) for a, b in zip(read, plate, strict=True) if a != b]
    return len(diff) == 1 and is_confusable(*diff[0])


@dataclass(frozen=True)
class AllowlistIndex:
    """Entries by plate and by confusable shape, with the version and hash they belong to."""

    version: int
    hash: str
    by_plate: dict[str, Entry]
    by_shape: dict[str, list[str]] = field(repr=False)  # lists are replaced, never mutated

    @classmethod
    def build(cls, version: int, hash_hex: str, entries: Iterable[Entry]) -> AllowlistIndex:
        by_plate = {e.plate: e for e in entries}
        return cls(version, hash_hex, by_plate, _shapes(by_plate))

    def updated(self, version: int, hash_hex: str, add: Iterable[Entry], remove: Iterable[str]) -> AllowlistIndex:
        """A copy with *remove* dropped and *add* upserted."""
        by_plate = dict(self.by_plate)
        by_shape = dict(self.by_shape)
        for plate in remove:
            if by_plate.pop(plate, None) is not None:
                _shape_discard(by_shape, plate)
        for entry in add:
            if entry.plate not in by_plate:
                key = shape(entry.plate)
                by_shape[key] = [*by_shape.get(key, ()), entry.plate]
            by_plate[entry.plate] = entry
        return AllowlistIndex(version, hash_hex, by_plate, by_shape)

    def tolerant_candidates(self, read: str) -> list[Entry]:
        """Entries that differ from *read* by exactly one confusable substitution."""
        plates = self.by_shape.get(shape(read), ())
        return [self.by_plate[p] for p in plates if one_confusable_substitution(read, p)]


def _shapes(by_plate: dict[str, Entry]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    table = _SHAPE
    for plate in by_plate:
        key = plate.translate(table)
        bucket = out.get(key)
        if bucket is None:
            out[key] = [plate]
        else:
            bucket.append(plate)
    return out


def _shape_discard(by_shape: dict[str, list[str]], plate: str) -> None:
    key = shape(plate)
    rest = [p for p in by_shape.get(key, ()) if p != plate]
    if rest:
        by_shape[key] = rest
    else:
        by_shape.pop(key, None)
