"""Ranks and marks of printed numbers: best/second per column, competition ranks, and which rows compete.

Numbers are compared as printed (rounded to the digits shown), so numbers that read the same tie; only the
rows on a table's most common training data compete for the marks. Tables, the leaderboard pages and the
tables with intervals all mark through these functions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

#: ``rank_marks`` codes
NONE, BEST, SECOND = 0, 1, 2


def comparable_rows(training: Sequence[Sequence[str]]) -> tuple[tuple[str, ...] | None, list[bool]]:
    """Which rows compete for best/second: those trained on the table's most common training data.

    ``training`` holds each row's declared training sets (empty for a method that declares none, such as a
    hand-crafted one). The *common* set is the one most rows declare (ties: the first to appear). Rows on
    the common set and rows that declare none are comparable; rows trained on any other data are not (more
    or other training data is not the same contest). When the declared sets all agree, every row is.
    Training data described in words rather than given as dataset names ("as released by the authors")
    cannot be compared with anything: such rows count as declaring none (:func:`declared_training`).

    Returns
    -------
    common : tuple of str or None
        The common training data; None when every row is comparable.
    comparable : list of bool
        One flag per row.
    """
    sets = [declared_training(t) for t in training]
    declared = [t for t in sets if t]
    distinct = list(dict.fromkeys(declared))
    if len(distinct) < 2:
        return None, [True] * len(sets)
    common = max(distinct, key=lambda t: (declared.count(t), -distinct.index(t)))
    return common, [not t or t == common for t in sets]


def declared_training(training: Sequence[str]) -> tuple[str, ...]:
    """``training`` when it is given as dataset names (one word each: ``CUHK-TR-1``, ``DUT-TR``), else ``()``:
    training data described in words ("as released by the authors") cannot be compared with other sets.

    >>> declared_training(["CUHK-TR-1", "DUT-TR"]), declared_training(["as released by the authors"])
    (('CUHK-TR-1', 'DUT-TR'), ())
    """
    names = tuple(str(t) for t in training)
    return names if all(n and not any(c.isspace() for c in n) for n in names) else ()


def rank_marks(values: Sequence[float] | np.ndarray, higher_is_better: bool, decimals: int) -> list[int]:
    """Mark the best and second-best numbers of one column, comparing them as displayed.

    Values are rounded to ``decimals`` first, so numbers that print the same tie and share a mark
    (dense ranking: after a tie for best, the next distinct value is second). NaN is never marked. A
    column with fewer than two numbers, or whose numbers all print the same, has no marks (nothing was
    compared); a second place is marked only among three or more numbers (with two, "second" is "last").

    Parameters
    ----------
    values : sequence of float
        The column; NaN for missing cells.
    higher_is_better : bool
        The metric's direction.
    decimals : int
        Digits shown in the table.

    Returns
    -------
    list of int
        :data:`BEST` (1), :data:`SECOND` (2) or :data:`NONE` (0) for each value.
    """
    shown = [None if _missing(v) else float(f"{v:.{decimals}f}") for v in values]
    n_present = sum(v is not None for v in shown)
    distinct = sorted({v for v in shown if v is not None}, reverse=higher_is_better)
    if n_present < 2 or len(distinct) < 2:
        return [NONE] * len(shown)
    places = (BEST, SECOND) if n_present >= 3 else (BEST,)
    codes = {v: code for v, code in zip(distinct, places, strict=False)}
    return [NONE if v is None else codes.get(v, NONE) for v in shown]


def display_ranks(values: Sequence[float | None], higher_is_better: bool, decimals: int) -> list[int | None]:
    """Competition ranks ("1224") of the values as printed with ``decimals`` digits; None where missing.

    Values that print the same share a rank, and the next distinct value skips the tied places, so a
    reader who sees 0.914 twice sees rank 1 twice.
    """
    shown = [None if _missing(v) else float(f"{v:.{decimals}f}") for v in values]
    present = [v for v in shown if v is not None]
    better = (lambda a, b: a > b) if higher_is_better else (lambda a, b: a < b)
    return [None if v is None else 1 + sum(better(o, v) for o in present) for v in shown]


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
