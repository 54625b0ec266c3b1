"""Exact reads of a crop set by group: the country of each ``scene-crops`` val plate.

``tools/eval_data/scene-crops-val-country.csv`` (``file,country,certainty``) names the
country that issued each scored ``scene-crops`` val plate (ISO 3166 alpha-2, ``XX`` when
the plate's look does not tell), judged by eye from the plate's colours, layout and marks;
``certainty`` is ``sure`` or ``guess``. The suite splits that set's exact reads by it, so
that a weak country shows even when the whole set reads well.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path

#: the country of each scored scene-crops val plate
COUNTRY_CSV = Path(__file__).resolve().parents[1] / "eval_data" / "scene-crops-val-country.csv"
#: the group of a crop the groups file does not name
UNKNOWN = "?"
#: groups with fewer crops than this are pooled as :data:`OTHER`
MIN_SHOWN = 5
#: the pooled small groups
OTHER = "other"


def read_groups(path: Path) -> dict[str, str]:
    """``{file: group}`` from a CSV with the columns ``file`` and ``country``.

    Raises:
        OSError: the file cannot be read.
        ValueError: a column is missing, or a row has an empty file or country (named by line).
    """
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        missing = {"file", "country"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: no column {', '.join(sorted(missing))} (expected file,country,...)")
        groups = {}
        for line, row in enumerate(reader, start=2):
            name, group = (row.get("file") or "").strip(), (row.get("country") or "").strip()
            if not name or not group:
                raise ValueError(f"{path}:{line}: empty file or country")
            groups[name] = group
    return groups


def exact_by_group(files: Sequence[str], right: Sequence[bool], groups: Mapping[str, str],
                   min_n: int = MIN_SHOWN) -> dict[str, dict]:
    """``{group: {"n": crops, "right": exact reads, "exact": share}}``, largest group first.

    Crops that *groups* does not name fall in :data:`UNKNOWN`; groups of fewer than *min_n*
    crops are pooled, last, as :data:`OTHER`.

    Raises:
        ValueError: *files* and *right* differ in length.
    """
    if len(files) != len(right):
        raise ValueError(f"{len(files)} files but {len(right)} results")
    counts: dict[str, list[int]] = {}
    for name, ok in zip(files, right, strict=True):
        c = counts.setdefault(groups.get(name, UNKNOWN), [0, 0])
        c[0] += 1
        c[1] += bool(ok)
    shown = sorted(((g, c) for g, c in counts.items() if c[0] >= min_n), key=lambda kv: (-kv[1][0], kv[0]))
    small = [c for c in counts.values() if c[0] < min_n]
    if small:
        shown.append((OTHER, [sum(c[0] for c in small), sum(c[1] for c in small)]))
    return {g: {"n": n, "right": r, "exact": round(r / n, 4)} for g, (n, r) in shown}


def group_table(by_group: Mapping[str, Mapping]) -> str:
    """:func:`exact_by_group`'s result as a Markdown table, one line per group."""
    rows = ["| country | n | exact |", "|---|---|---|"]
    rows += [f"| {group} | {v['n']} | {100 * v['right'] / v['n']:.1f} |" for group, v in by_group.items()]
    return "\n".join(rows)
