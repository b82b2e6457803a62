"""Tables with intervals: every score with its interval, and the methods tied with the best marked.

For each column (a metric of a dataset under one protocol) every pair of methods with per-image data on
the same images is tested with the paired test of ``dbdbench compare``, and the p-values of all those
pairs are Holm-adjusted together. A re-scored method is *tied with the best* when its adjusted p-value
against the best re-scored method is at least ``alpha``. Because the family is every pair, not only the
comparisons with a best that the same data chose, Holm's procedure controls per column the chance of
declaring any two equally good methods different (the comparisons with the observed best alone do not:
``docs/statistics.md``). Numbers copied from papers have no per-image data: no interval, no test; they are
marked ``best`` when they are the best number of the column, as in the table without intervals.

The decision is data (:class:`CiGrid` ``marks``); rendering reads it.

References
----------
.. [1] S. Holm, "A simple sequentially rejective multiple test procedure", Scandinavian Journal of
   Statistics 6(2), 65-70, 1979.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from dbdbench.metrics import METRICS
from dbdbench.report.tables import (
    BEST,
    Column,
    Row,
    ScoreGrid,
    TableStyle,
    build_grid,
    by_protocol,
    pick_datasets,
    rank_marks,
    render_table,
)
from dbdbench.results import Result
from dbdbench.stats.compare import check_comparable, holm, result_data
from dbdbench.stats.intervals import level_label, protocol_of
from dbdbench.stats.resample import permutation_tests, wilcoxon_test
from dbdbench.stats.sidecar import has_counts

#: cell marks: the column's best number (as without intervals), a tested method not significantly different
#: from the best tested one, one that is, a number that was not tested (no per-image data), a number of a
#: row trained on other data than the table's common one (never compared), no number
MARKS = ("best", "tied", "different", "untested", "other-training", "")
#: the marks set in bold
BOLD = ("best", "tied")

__all__ = ["BOLD", "MARKS", "CiGrid", "build_ci_grid", "ci_caption", "ci_frame", "holm", "make_ci_table", "tie_marks"]


@dataclass
class CiGrid:
    """A :class:`~dbdbench.report.grid.ScoreGrid` with intervals, Holm-adjusted p-values and marks.

    ``low``/``high`` are NaN where a cell has no interval; ``p_holm`` is the adjusted p-value of the cell's
    method against the best tested method of the column (NaN for that method and for untested cells);
    ``marks`` holds one of :data:`MARKS` per cell; ``tested`` is True where the cell took part in the tests.
    """

    grid: ScoreGrid
    low: np.ndarray
    high: np.ndarray
    p_holm: np.ndarray
    marks: np.ndarray
    tested: np.ndarray

    @property
    def bold(self) -> np.ndarray:
        """True where a cell is set in bold (:data:`BOLD`)."""
        return np.isin(self.marks, BOLD)

    @property
    def tied(self) -> np.ndarray:
        """True/False where tested (True for the best tested method), None where not: ``tied_with_best``."""
        out = np.full(self.marks.shape, None, dtype=object)
        out[self.tested] = self.bold[self.tested]
        return out


def _cell_results(results: Sequence[Result]) -> dict[tuple[Row, str, str], Result]:
    meta_kind = {id(r): (r.meta or {}).get("kind") for r in results}
    return {(Row(str(r.method), None if meta_kind[id(r)] is None else str(meta_kind[id(r)])), str(r.dataset),
             r.protocol): r
            for r in results}  # fmt: skip


def _usable(res: Result | None, metric: str) -> bool:
    if res is None or not res.per_image or res.scores.get(metric) is None:
        return False
    return has_counts(res) or res.records is not None or metric in res.per_image[0]


def build_ci_grid(
    results: Sequence[Result], metrics: Sequence[str] | None = None, *, n_resamples: int = 10_000,
    level: float = 0.95, seed: int = 0, alpha: float = 0.05, decimals: int = 3,
    datasets: Sequence[str] | None = None,
) -> CiGrid:
    """Intervals of every number that has per-image data, and the marks of every cell (module docstring).

    ``decimals`` is the precision the table prints: the column's best number is found as displayed, as
    :func:`~dbdbench.report.marks.rank_marks` does without intervals. Only the comparable rows
    (:meth:`~dbdbench.report.grid.ScoreGrid.comparable`: trained on the table's common data, or declaring
    none) are compared and tested; the numbers of the others are marked ``other-training``.
    """
    grid = build_grid(results, metrics, datasets=datasets)
    comparable = grid.comparable()
    cells = _cell_results(results)
    shape = grid.values.shape
    low, high, p_holm = np.full(shape, np.nan), np.full(shape, np.nan), np.full(shape, np.nan)
    marks = np.full(shape, "", dtype=object)
    tested = np.zeros(shape, dtype=bool)
    data_cache: dict[int, dict] = {}
    for j, col in enumerate(grid.columns):
        higher = METRICS[col.metric].higher_is_better
        values = np.where(comparable, grid.values[:, j], np.nan)
        best = np.array(rank_marks(values, higher, decimals)) == BEST
        usable = [(i, cells.get((row, col.dataset, col.protocol))) for i, row in enumerate(grid.rows)]
        usable = [(i, r) for i, r in usable if r is not None and _usable(r, col.metric)]
        present = [(i, r) for i, r in usable if comparable[i]]  # the rows that are compared
        numbers = ~np.isnan(values)
        marks[~np.isnan(grid.values[:, j]) & ~comparable, j] = "other-training"
        if np.count_nonzero(numbers) >= 2:
            marks[numbers, j] = "untested"
        if usable:
            data = {i: _data(r, col, data_cache) for i, r in usable if r is not None}
            _fill_intervals(data, col, j, low, high, n_resamples, level, seed)
            if present and np.count_nonzero(numbers) >= 2:
                _fill_ties(present, data, col, j, p_holm, marks, n_resamples, seed, alpha)
                tested[[i for i, _ in present], j] = True
        marks[best, j] = "best"
    return CiGrid(grid, low, high, p_holm, marks, tested)


def _data(res: Result, col: Column, cache: dict):
    key = id(res)
    if key not in cache:
        cache[key] = {}
    if col.metric not in cache[key]:
        cache[key][col.metric] = result_data(res, [col.metric], protocol_of(res))[col.metric]
    return cache[key][col.metric]


def _fill_intervals(data, col, j, low, high, n_resamples, level, seed) -> None:
    from dbdbench.stats.compare import score_method
    from dbdbench.stats.resample import mean_as_reduction, mean_intervals, reduction_intervals

    for i, d in data.items():
        opts = {"n_resamples": n_resamples, "level": level, "seed": seed, "method": score_method(d)}
        if d.kind == "mean" and d.zero_last is None:
            ci = mean_intervals({col.metric: d.values}, **opts)[col.metric]
        else:  # a mean that divides as zhao's totalNum keeps its divisor as a one-feature reduction
            ci = reduction_intervals([mean_as_reduction(d) if d.kind == "mean" else d], **opts)[0]
        low[i, j], high[i, j] = ci.low, ci.high


def _pair_p(data, i: int, k: int, n_resamples: int, seed: int) -> float:
    if data[i].kind == "mean":
        return wilcoxon_test(data[i].values, data[k].values).p_value
    return permutation_tests([data[i]], [data[k]], n_resamples=n_resamples, seed=seed)[0].p_value


def tie_marks(values: dict[int, float], pair_p: dict[tuple[int, int], float], alpha: float,
              higher_is_better: bool) -> dict[int, tuple[float, str]]:  # fmt: skip
    """The bold rule of one column: ``(p_holm vs the best, "tied" | "different")`` for each tested method.

    ``values`` maps each tested method (row index) to its score, ``pair_p`` each pair ``(i, k)``, ``i < k``,
    to its raw two-sided p-value. All pairs are Holm-adjusted together; the best (the first of equal
    values) is ``tied`` with adjusted p NaN, every other method ``tied`` when its adjusted p-value against
    the best is at least ``alpha``.
    """
    top = max(values, key=lambda i: values[i] if higher_is_better else -values[i])
    pairs = sorted(pair_p)
    adjusted = dict(zip(pairs, holm([pair_p[q] for q in pairs]), strict=True)) if pairs else {}
    out = {top: (float("nan"), "tied")}
    for i in values:
        if i != top:
            p = float(adjusted[(min(i, top), max(i, top))])
            out[i] = (p, "tied" if p >= alpha else "different")
    return out


def _fill_ties(present, data, col, j, p_holm, marks, n_resamples, seed, alpha) -> None:
    """Test every pair of tested methods and mark each against the best tested one (:func:`tie_marks`)."""
    res = dict(present)
    first = present[0][0]
    for i, _ in present[1:]:
        try:
            check_comparable(res[first], res[i])
        except ValueError as exc:
            raise ValueError(f"column {col.dataset}/{col.protocol}/{col.metric}: {exc}") from None
    values = {i: data[i].score() for i, _ in present}
    pair_p = {(i, k): _pair_p(data, i, k, n_resamples, seed) for i, k in combinations(sorted(values), 2)}
    for i, (p, mark) in tie_marks(values, pair_p, alpha, METRICS[col.metric].higher_is_better).items():
        p_holm[i, j], marks[i, j] = p, mark


def ci_frame(ci: CiGrid) -> pd.DataFrame:
    """Long CSV form: one line per cell with value, interval, Holm-adjusted p, mark, bold and the tie flag.

    ``tied_with_best`` is empty (None) for a cell that was not tested, never False.
    """
    rows = []
    tied, bold = ci.tied, ci.bold
    for i, row in enumerate(ci.grid.rows):
        for j, col in enumerate(ci.grid.columns):
            if np.isnan(ci.grid.values[i, j]):
                continue
            rows.append({"method": row.method, "kind": row.kind or "", "dataset": col.dataset,
                         "protocol": col.protocol, "metric": col.metric, "value": ci.grid.values[i, j],
                         "ci_low": ci.low[i, j], "ci_high": ci.high[i, j], "p_holm_vs_best": ci.p_holm[i, j],
                         "mark": ci.marks[i, j], "bold": bool(bold[i, j]), "tied_with_best": tied[i, j]})  # fmt: skip
    return pd.DataFrame(rows)


def ci_caption(ci: CiGrid, *, n_resamples: int, level: float, seed: int, alpha: float) -> str:
    """The rule of the table in words (the full caption): what the brackets and bold mean and what bold
    controls. It names no protocol key and points into no documentation: the caption's protocol sentences
    (:func:`dbdbench.report._captions.caption_sentences`) say what each protocol does."""
    text = (f"Score [{level_label(level)} bootstrap interval over the images, {n_resamples} resamples, seed {seed}]. "
            "Bold: the best number of each column and every re-scored method not significantly different from the "
            "best re-scored method of the column (paired two-sided tests: Wilcoxon signed-rank for per-image means, "
            "permutation test for dataset-level scores; all pairs of re-scored methods of the column tested and "
            "Holm-adjusted together, which keeps the chance of declaring any two equally good methods of a column "
            f"different at most α = {alpha:g}; not corrected across columns).")  # fmt: skip
    if any(row.reported for row in ci.grid.rows):
        text += (" †: copied from the paper: no per-image data, so no interval and no test; a † number is bold "
                 "only when it is the best of its column, and the re-scored methods are not compared with it.")
    return text


def ci_legend(*, level: float, alpha: float, reported: bool = False) -> str:
    """The short rule of the marks and brackets (the sentence before the arrows' legend in the caption).

    It says what is controlled: Holm over all pairs of re-scored methods of a column keeps the chance of
    declaring two equally good methods different at most ``alpha`` per column.
    """
    text = (f"Bold: the best of each column and every re-scored method not significantly different from the best "
            f"re-scored one (paired tests of all pairs of a column, Holm: at most α = {alpha:g} chance per column "
            f"of calling two equally good methods different); brackets: {level_label(level)} bootstrap intervals "
            "over the images; ")  # fmt: skip
    if reported:
        text += "†: copied from the paper, no per-image data: no interval, never tested, bold only as the best; "
    return text


def render_ci_table(ci: CiGrid, style: TableStyle, legend: str) -> str:
    """LaTeX or Markdown through the common table writer (:func:`dbdbench.report.tables.render_table`): the
    ties are the bold marks, the intervals are printed under (LaTeX) or beside (Markdown) each number."""
    return render_table(ci.grid, ci.bold.astype(int), style, intervals=(ci.low, ci.high), legend=legend)


def make_ci_table(
    results: Sequence[Result], metrics: Sequence[str] | None = None, fmt: str = "markdown", decimals: int = 3, *,
    n_resamples: int = 10_000, level: float = 0.95, seed: int = 0, alpha: float = 0.05, caption: str | None = None,
    label: str | None = None, wide: bool | None = None, fit: str = "auto", caption_style: str = "short",
    notes: bool = False, datasets: Sequence[str] | None = None, methods: Sequence[str] | None = None,
    names: Mapping[str, str] | None = None,
) -> str:
    """A comparison table whose numbers carry bootstrap intervals and whose bold marks the statistical ties.

    See the module docstring for the rule; the caption states it (``caption_style="full"``: in full). The
    layout options are those of :func:`dbdbench.report.tables.make_table` (one table per protocol).
    """
    from dbdbench.report.naming import select

    style = TableStyle(fmt, decimals, False, caption, label, wide, fit, caption_style, notes)
    style.check()
    chosen = select(results, methods, names)
    if datasets is not None:
        chosen = pick_datasets(chosen, datasets)
    opts: dict[str, Any] = {"n_resamples": n_resamples, "level": level, "seed": seed, "alpha": alpha}
    if fmt == "csv":
        grid = build_ci_grid(chosen, metrics, datasets=datasets, decimals=decimals, **opts)
        return ci_frame(grid).to_csv(index=False)
    groups = by_protocol(chosen)
    parts = []
    for protocol, subset in groups.items():
        order = [d for d in datasets if d in {str(r.dataset) for r in subset}] if datasets is not None else None
        ci = build_ci_grid(subset, metrics, datasets=order, decimals=decimals, **opts)
        reported = any(row.reported for row in ci.grid.rows)
        rule = (ci_caption(ci, **opts) + " " if caption_style == "full"
                else ci_legend(level=level, alpha=alpha, reported=reported))  # fmt: skip
        parts.append(render_ci_table(ci, style.for_protocol(protocol, len(groups) > 1), rule))
    return "\n".join(parts)
