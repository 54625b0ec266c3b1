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
#: groups with fewer crops than this are pooled as "other" in :func:`group_table`
MIN_SHOWN = 5


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


def exact_by_group(files: Sequence[str], right: Sequence[bool], groups: Mapping[str, str]) -> dict[str, dict]:
    """``{group: {"n": crops, "right": exact reads, "exact": share}}``, largest group first.

    Crops that *groups* does not name fall in :data:`UNKNOWN`.

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
    order = sorted(counts.items(), key=lambda kv: (-kv[1][0], kv[0]))
    return {g: {"n": n, "right": r, "exact": round(r / n, 4)} for g, (n, r) in order}


def group_table(by_group: Mapping[str, Mapping], min_n: int = MIN_SHOWN) -> str:
    """A one-line-per-group Markdown table; groups of fewer than *min_n* crops are pooled as "other"."""
    rows = ["| country | n | exact |", "|---|---|---|"]
    other_n = other_right = 0
    for group, v in by_group.items():
        if v["n"] >= min_n:
            rows.append(f"| {group} | {v['n']} | {100 * v['right'] / v['n']:.1f} |")
        else:
            other_n += v["n"]
            other_right += v["right"]
    if other_n:
        rows.append(f"| other (< {min_n} crops each) | {other_n} | {100 * other_right / other_n:.1f} |")
    return "\n".join(rows)
