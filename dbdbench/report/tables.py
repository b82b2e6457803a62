"""Comparison tables: methods x (dataset, metric), as in the quantitative tables of DBD papers.

A table is built in two steps. :func:`build_grid` turns result records into a :class:`ScoreGrid` (one
row per method and kind, one column per dataset, protocol and metric; NaN where a number is missing),
and a renderer writes it as LaTeX (booktabs), Markdown or CSV. :func:`make_table` does both. Numbers
from different protocols never share a column: a dataset scored under two protocols gets one column
group per protocol, labelled ``DATASET (protocol)``.

References
----------
.. [1] C. Tang et al., "DeFusionNet: Defocus Blur Detection via Recurrently Fusing and Refining
   Discriminative Multi-scale Deep Features", IEEE TPAMI 44(2), 2022, Table 1 (datasets x metrics with
   up/down arrows for the direction of each metric).
.. [2] Jin et al., "Depth and DOF Cues Make A Better Defocus Blur Detector" (D-DFFNet), ICME 2023,
   Table I (methods as rows, grouped dataset headers with MAE / F / IoU sub-columns, "-" for missing).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from dbdbench.metrics import METRICS
from dbdbench.report import _render

if TYPE_CHECKING:
    from dbdbench.results import Result

FORMATS = ("latex", "markdown", "csv")
#: ``rank_marks`` codes
NONE, BEST, SECOND = 0, 1, 2


@dataclass(frozen=True)
class Row:
    """One table row: a method and whether its numbers were copied from a paper (``kind="reported"``)."""

    method: str
    kind: str | None = None

    @property
    def reported(self) -> bool:
        return self.kind == "reported"


@dataclass(frozen=True)
class Column:
    """One table column: a metric of a dataset under one protocol."""

    dataset: str
    protocol: str
    metric: str


@dataclass
class ScoreGrid:
    """The numbers of a table before formatting.

    Attributes
    ----------
    rows, columns : list
        Row and column keys, in display order.
    values : np.ndarray
        Shape ``(len(rows), len(columns))``; NaN marks a missing number.
    split : set of str
        Datasets that appear under more than one protocol (their group labels name the protocol).
    """

    rows: list[Row]
    columns: list[Column]
    values: np.ndarray
    split: set[str]

    def group_label(self, column: Column) -> str:
        """``DATASET`` or, when the dataset appears under several protocols, ``DATASET (protocol)``."""
        return f"{column.dataset} ({column.protocol})" if column.dataset in self.split else column.dataset

    def groups(self) -> list[tuple[str, list[int]]]:
        """Consecutive columns sharing a (dataset, protocol), as ``(label, column indices)``."""
        out: list[tuple[str, list[int]]] = []
        last = None
        for j, col in enumerate(self.columns):
            key = (col.dataset, col.protocol)
            if key != last:
                out.append((self.group_label(col), []))
                last = key
            out[-1][1].append(j)
        return out

    def protocols(self) -> dict[str, list[str]]:
        """Protocol -> datasets scored under it, in column order."""
        out: dict[str, list[str]] = {}
        for col in self.columns:
            datasets = out.setdefault(col.protocol, [])
            if col.dataset not in datasets:
                datasets.append(col.dataset)
        return out

    def marks(self, decimals: int) -> np.ndarray:
        """Best/second codes (:data:`BEST`, :data:`SECOND`, :data:`NONE`) per cell, column by column."""
        out = np.zeros(self.values.shape, dtype=int)
        for j, col in enumerate(self.columns):
            out[:, j] = rank_marks(self.values[:, j], METRICS[col.metric].higher_is_better, decimals)
        return out


def rank_marks(values: Sequence[float] | np.ndarray, higher_is_better: bool, decimals: int) -> list[int]:
    """Mark the best and second-best numbers of one column, comparing them as displayed.

    Values are rounded to ``decimals`` first, so numbers that print the same tie and share a mark
    (dense ranking: after a tie for best, the next distinct value is second). NaN is never marked, and a
    column with fewer than two numbers has no marks (nothing was compared).

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
    if sum(v is not None for v in shown) < 2:
        return [NONE] * len(shown)
    distinct = sorted({v for v in shown if v is not None}, reverse=higher_is_better)
    codes = {v: code for v, code in zip(distinct[:2], (BEST, SECOND), strict=False)}
    return [NONE if v is None else codes.get(v, NONE) for v in shown]


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _kind(result: Result) -> str | None:
    kind = (result.meta or {}).get("kind")
    return str(kind) if kind is not None else None


def _check_metrics(metrics: Iterable[str]) -> list[str]:
    metrics = list(metrics)
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ValueError(f"Unknown metric key(s) {unknown}; valid keys: {', '.join(METRICS)}")
    return metrics


def build_grid(results: Sequence[Result], metrics: Sequence[str] | None = None) -> ScoreGrid:
    """Arrange results as rows (method, kind) x columns (dataset, protocol, metric).

    Rows and datasets keep the order in which they first appear in ``results``; metrics follow
    ``metrics`` or, when None, the order of :data:`dbdbench.metrics.METRICS` over every key present.
    Columns that no result fills are left out.

    Raises
    ------
    ValueError
        For no results, an unknown metric key, a requested metric that no result has, or two results
        for the same method, kind, dataset and protocol.
    """
    _check_results(results)
    present = {k for r in results for k in r.scores}
    if metrics is None:
        metrics = [m for m in METRICS if m in present]
        unknown = sorted(present - set(METRICS))
        if unknown:
            raise ValueError(f"Results contain unknown metric key(s) {unknown}; valid keys: {', '.join(METRICS)}")
    metrics = _check_metrics(metrics)
    absent = [m for m in metrics if m not in present]
    if absent:
        raise ValueError(f"No result has metric(s) {absent}; present: {sorted(present)}")
    rows = list(dict.fromkeys(Row(str(r.method), _kind(r)) for r in results))  # named: see _check_results
    cells: dict[tuple[Row, str, str], Result] = {}
    for r in results:
        key = (Row(str(r.method), _kind(r)), str(r.dataset), r.protocol)
        if key in cells:
            raise ValueError(
                f"Two results for method {r.method!r} ({key[0].kind or 'no kind'}) on {r.dataset!r} under "
                f"protocol {r.protocol!r}; pass only one of them"
            )
        cells[key] = r
    groups = list(dict.fromkeys((str(r.dataset), r.protocol) for r in results))
    datasets = [d for d, _ in groups]
    split = {d for d in datasets if datasets.count(d) > 1}
    groups.sort(key=lambda g: datasets.index(g[0]))  # stable: protocols of a dataset side by side
    columns, table = [], []
    for dataset, protocol in groups:
        for metric in metrics:
            col = [_score(cells.get((row, dataset, protocol)), metric) for row in rows]
            if not all(math.isnan(v) for v in col):
                columns.append(Column(dataset, protocol, metric))
                table.append(col)
    values = np.array(table, dtype=float).T.reshape(len(rows), len(columns))
    return ScoreGrid(rows, columns, values, split)


def _check_results(results: Sequence[Result]) -> None:
    if not results:
        raise ValueError("No results to tabulate; pass at least one result file")
    for r in results:
        if not r.method or not r.dataset:
            raise ValueError(f"A result under protocol {r.protocol!r} has no method or dataset name "
                             f"(method={r.method!r}, dataset={r.dataset!r}); set both before tabulating")


def _score(result: Result | None, metric: str) -> float:
    if result is None or result.scores.get(metric) is None:
        return float("nan")
    return float(result.scores[metric])


def make_table(
    results: Sequence[Result],
    metrics: Sequence[str] | None = None,
    fmt: str = "latex",
    decimals: int = 3,
    transpose: bool = False,
    caption: str | None = None,
    label: str | None = None,
) -> str:
    """Write a comparison table of methods x (dataset, metric) as LaTeX, Markdown or CSV.

    LaTeX and Markdown mark each metric's direction (up/down arrow), set the best number of every column
    in bold and the second underlined (direction-aware; numbers equal at ``decimals`` digits tie), print
    "--" / "–" for missing numbers, flag numbers copied from papers with a dagger and a footnote, and end
    with a caption naming the protocol(s). CSV has plain numbers (empty when missing) and a ``kind``
    column. ``transpose=True`` puts (dataset, metric) on the rows and methods on the columns, as in
    DeFusionNet's Table 1 [1]_; the default is D-DFFNet's Table I layout [2]_.

    Parameters
    ----------
    results : sequence of Result
        One result per (method, dataset, protocol); ``meta["kind"]`` may be ``"reported"``/``"rescored"``.
    metrics : sequence of str, optional
        Metric keys in column order (default: every key present, in registry order).
    fmt : {"latex", "markdown", "csv"}
    decimals : int
        Digits after the decimal point (also the precision of tie detection).
    transpose : bool
        Methods as columns instead of rows.
    caption : str, optional
        Plain text put before the generated caption (LaTeX specials are escaped).
    label : str, optional
        LaTeX ``\\label``.

    Returns
    -------
    str
        The table; LaTeX needs ``\\usepackage{booktabs}``.

    References
    ----------
    .. [1] Tang et al., DeFusionNet, IEEE TPAMI 2022, Table 1.
    .. [2] Jin et al., D-DFFNet, ICME 2023, Table I.
    """
    if fmt not in FORMATS:
        raise ValueError(f"Unknown table format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if not isinstance(decimals, int) or not 0 <= decimals <= 8:
        raise ValueError(f"decimals must be an integer in 0..8, got {decimals!r}")
    grid = build_grid(results, metrics)
    if fmt == "csv":
        return to_frame(grid, transpose).to_csv(index=False, float_format=f"%.{decimals}f")
    if fmt == "markdown":
        return _render.markdown(grid, grid.marks(decimals), decimals, transpose, caption)
    return _render.latex(grid, grid.marks(decimals), decimals, transpose, caption, label)


def to_frame(grid: ScoreGrid, transpose: bool = False) -> pd.DataFrame:
    """The grid as a flat DataFrame (what the CSV format writes).

    Untransposed: columns ``method``, ``kind`` and one ``<group>/<metric>`` column per grid column, where
    ``<group>`` is :meth:`ScoreGrid.group_label`. Transposed: columns ``dataset``, ``protocol``,
    ``metric`` and one column per row, named by the method (``"<method> (reported)"`` for reported rows).
    """
    if not transpose:
        frame = pd.DataFrame(
            grid.values, columns=[f"{grid.group_label(c)}/{c.metric}" for c in grid.columns]
        )
        frame.insert(0, "kind", [row.kind or "" for row in grid.rows])
        frame.insert(0, "method", [row.method for row in grid.rows])
        return frame
    names = [f"{row.method} (reported)" if row.reported else row.method for row in grid.rows]
    if len(set(names)) != len(names):
        raise ValueError(f"Row labels {names} are not unique; cannot transpose (one kind per method please)")
    frame = pd.DataFrame(grid.values.T, columns=names)
    for pos, attr in enumerate(("dataset", "protocol", "metric")):
        frame.insert(pos, attr, [getattr(c, attr) for c in grid.columns])
    return frame
