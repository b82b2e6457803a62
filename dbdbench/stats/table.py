"""Tables with intervals: every score with its bootstrap interval, and the methods tied with the best marked.

For each column (a metric of a dataset under one protocol) the best method is found; every other method
with per-image data on the same images is tested against it with the paired test of ``dbdbench compare``;
the p-values of the column are Holm-corrected together; a method whose corrected p-value is at least
``alpha`` is *not significantly different from the best* and is set in bold like the best. Numbers copied
from papers have no per-image data: they get no interval and take no part in the tests.

References
----------
.. [1] S. Holm, "A simple sequentially rejective multiple test procedure", Scandinavian Journal of
   Statistics 6(2), 65-70, 1979.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from dbdbench.metrics import METRICS
from dbdbench.report.tables import (
    Column,
    Row,
    ScoreGrid,
    TableStyle,
    build_grid,
    by_protocol,
    pick_datasets,
    render_table,
)
from dbdbench.results import Result
from dbdbench.stats.compare import check_comparable, result_data
from dbdbench.stats.intervals import protocol_of
from dbdbench.stats.resample import permutation_tests, wilcoxon_test
from dbdbench.stats.sidecar import has_counts


def holm(p_values: Sequence[float]) -> np.ndarray:
    r"""Holm's step-down adjusted p-values.

    With the m p-values sorted ascending, :math:`\tilde p_{(i)} = \max_{j \le i} \min(1, (m - j + 1) p_{(j)})`;
    rejecting where :math:`\tilde p < \alpha` controls the family-wise error rate at :math:`\alpha` [1]_.
    """
    p = np.asarray(p_values, dtype=np.float64)
    order = np.argsort(p, kind="stable")
    m = len(p)
    stepped = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.maximum.accumulate(stepped)
    return out


@dataclass
class CiGrid:
    """A :class:`~dbdbench.report.tables.ScoreGrid` with intervals, Holm-adjusted p-values and ties.

    ``low``/``high`` are NaN where a cell has no interval; ``p_holm`` is NaN for the best and for cells
    not tested; ``tied`` is True for the best and for the methods not significantly different from it.
    """

    grid: ScoreGrid
    low: np.ndarray
    high: np.ndarray
    p_holm: np.ndarray
    tied: np.ndarray


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
    level: float = 0.95, seed: int = 0, alpha: float = 0.05, datasets: Sequence[str] | None = None,
) -> CiGrid:
    """Intervals of every number that has per-image data, and the methods tied with the best per column."""
    grid = build_grid(results, metrics, datasets=datasets)
    cells = _cell_results(results)
    shape = grid.values.shape
    low, high, p_holm = np.full(shape, np.nan), np.full(shape, np.nan), np.full(shape, np.nan)
    tied = np.zeros(shape, dtype=bool)
    data_cache: dict[int, dict] = {}
    for j, col in enumerate(grid.columns):
        present = [(i, cells.get((row, col.dataset, col.protocol))) for i, row in enumerate(grid.rows)]
        present = [(i, r) for i, r in present if r is not None and _usable(r, col.metric)]
        if not present:
            continue
        data = {i: _data(r, col, data_cache) for i, r in present if r is not None}
        _fill_intervals(data, col, j, low, high, n_resamples, level, seed)
        _fill_ties(present, data, col, j, p_holm, tied, n_resamples, seed, alpha)
    return CiGrid(grid, low, high, p_holm, tied)


def _data(res: Result, col: Column, cache: dict):
    key = id(res)
    if key not in cache:
        cache[key] = {}
    if col.metric not in cache[key]:
        cache[key][col.metric] = result_data(res, [col.metric], protocol_of(res))[col.metric]
    return cache[key][col.metric]


def _fill_intervals(data, col, j, low, high, n_resamples, level, seed) -> None:
    from dbdbench.stats.resample import mean_intervals, reduction_intervals

    opts = {"n_resamples": n_resamples, "level": level, "seed": seed}
    for i, d in data.items():
        ci = mean_intervals({col.metric: d.values}, **opts)[col.metric] if d.kind == "mean" else \
            reduction_intervals([d], **opts)[0]  # fmt: skip
        low[i, j], high[i, j] = ci.low, ci.high


def _fill_ties(present, data, col, j, p_holm, tied, n_resamples, seed, alpha) -> None:
    higher = METRICS[col.metric].higher_is_better
    values = {i: data[i].score() for i, _ in present}
    best = max(values, key=lambda i: values[i] if higher else -values[i])
    tied[best, j] = True
    others = [(i, r) for i, r in present if i != best]
    if not others:
        return
    best_res = dict(present)[best]
    raw = []
    for i, res in others:
        try:
            check_comparable(best_res, res)
        except ValueError as exc:
            raise ValueError(f"column {col.dataset}/{col.protocol}/{col.metric}: {exc}") from None
        if data[i].kind == "mean":
            raw.append(wilcoxon_test(data[best].values, data[i].values).p_value)
        else:
            raw.append(permutation_tests([data[best]], [data[i]], n_resamples=n_resamples, seed=seed)[0].p_value)
    for (i, _), p in zip(others, holm(raw), strict=True):
        p_holm[i, j] = p
        tied[i, j] = p >= alpha


def ci_frame(ci: CiGrid) -> pd.DataFrame:
    """Long CSV form: one line per cell with value, interval, Holm-adjusted p and the tie flag."""
    rows = []
    for i, row in enumerate(ci.grid.rows):
        for j, col in enumerate(ci.grid.columns):
            if np.isnan(ci.grid.values[i, j]):
                continue
            rows.append({"method": row.method, "kind": row.kind or "", "dataset": col.dataset,
                         "protocol": col.protocol, "metric": col.metric, "value": ci.grid.values[i, j],
                         "ci_low": ci.low[i, j], "ci_high": ci.high[i, j], "p_holm_vs_best": ci.p_holm[i, j],
                         "tied_with_best": bool(ci.tied[i, j])})  # fmt: skip
    return pd.DataFrame(rows)


def ci_caption(ci: CiGrid, *, n_resamples: int, level: float, seed: int, alpha: float) -> str:
    """The rule of the table in words (printed below it)."""
    protocols = "; ".join(f"{p}: {', '.join(ds)}" for p, ds in ci.grid.protocols().items())
    text = (f"Score [{level:.0%} BCa bootstrap interval over the images, {n_resamples} resamples, seed {seed}]. "
            "Bold: the best of each column and every method not significantly different from it (paired "
            "Wilcoxon signed-rank test for per-image means, paired permutation test for dataset-level scores, "
            f"Holm correction over the comparisons with the best of the column, alpha = {alpha:g}). "
            f"Protocols: {protocols}.")  # fmt: skip
    if any(row.reported for row in ci.grid.rows):
        text += " †: copied from the paper (no per-image data: no interval, not tested)."
    return text


def ci_legend(*, level: float, alpha: float) -> str:
    """The short rule of the marks and brackets (the sentence before the arrows' legend in the caption)."""
    return (f"Bold: the best of each column and the methods not significantly different from it (paired tests, "
            f"Holm correction, α = {alpha:g}); brackets: {level:.0%} bootstrap intervals over the images; ")


def render_ci_table(ci: CiGrid, style: TableStyle, legend: str) -> str:
    """LaTeX or Markdown through the common table writer (:func:`dbdbench.report.tables.render_table`): the
    ties are the bold marks, the intervals are printed under (LaTeX) or beside (Markdown) each number."""
    return render_table(ci.grid, ci.tied.astype(int), style, intervals=(ci.low, ci.high), legend=legend)


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
        return ci_frame(build_ci_grid(chosen, metrics, datasets=datasets, **opts)).to_csv(index=False)
    groups = by_protocol(chosen)
    parts = []
    for protocol, subset in groups.items():
        order = [d for d in datasets if d in {str(r.dataset) for r in subset}] if datasets is not None else None
        ci = build_ci_grid(subset, metrics, datasets=order, **opts)
        rule = ci_caption(ci, **opts) + " " if caption_style == "full" else ci_legend(level=level, alpha=alpha)
        parts.append(render_ci_table(ci, style.for_protocol(protocol, len(groups) > 1), rule))
    return "\n".join(parts)
