"""The numbers of a comparison table before formatting: :func:`build_grid` arranges results as a
:class:`ScoreGrid` (one row per method and kind, one column per dataset, protocol and metric; NaN where a
number is missing), with what the captions and footnotes say about them (image counts, protocol settings,
training data, sources, recorded warnings). :mod:`dbdbench.report.tables` writes it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from dbdbench.metrics import METRICS
from dbdbench.report.columns import default_metrics, describe_settings, protocol_settings
from dbdbench.report.marks import comparable_rows, rank_marks
from dbdbench.report.table_style import pick_datasets

if TYPE_CHECKING:
    from dbdbench.results import Result


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
    n_images : dict of str to int
        Images per dataset, as stored with the results (the registry's count when none is stored).
    descriptions : dict of str to str
        Protocol -> its choices in words for the columns shown (absent for reported-only protocols).
    warnings : dict
        ``(method, dataset, protocol)`` -> the warnings recorded in that result (``meta["warnings"]``).
    training : dict
        Row -> the training data its results declare (``meta["training_data"]``; empty when not declared).
    sources : dict
        Protocol -> the short names of the papers its reported numbers come from (``meta["source"]``).
    summaries : dict of str to str
        Protocol -> its choices in a few words (the short caption).
    """

    rows: list[Row]
    columns: list[Column]
    values: np.ndarray
    split: set[str]
    n_images: dict[str, int] = field(default_factory=dict)
    descriptions: dict[str, str] = field(default_factory=dict)
    warnings: dict[tuple[str, str, str], list[dict]] = field(default_factory=dict)
    training: dict[Row, tuple[str, ...]] = field(default_factory=dict)
    sources: dict[str, list[str]] = field(default_factory=dict)
    summaries: dict[str, str] = field(default_factory=dict)

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

    def training_groups(self) -> tuple[tuple[str, ...] | None, np.ndarray]:
        """:func:`comparable_rows` of the rows' training data: the common data (None when the rows agree)
        and True for each row that competes for the marks."""
        common, ok = comparable_rows([self.training.get(row, ()) for row in self.rows])
        return common, np.array(ok, dtype=bool)

    def comparable(self) -> np.ndarray:
        """True for the rows that compete for the marks (:meth:`training_groups`)."""
        return self.training_groups()[1]

    def marks(self, decimals: int) -> np.ndarray:
        """Best/second codes (:data:`BEST`, :data:`SECOND`, :data:`NONE`) per cell, column by column, among
        the comparable rows only (:meth:`comparable`; the other rows are never marked)."""
        out = np.zeros(self.values.shape, dtype=int)
        values = np.where(self.comparable()[:, None], self.values, np.nan)
        for j, col in enumerate(self.columns):
            out[:, j] = rank_marks(values[:, j], METRICS[col.metric].higher_is_better, decimals)
        return out


def _kind(result: Result) -> str | None:
    kind = (result.meta or {}).get("kind")
    return str(kind) if kind is not None else None


def _check_metrics(metrics: Iterable[str]) -> list[str]:
    metrics = list(metrics)
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ValueError(f"Unknown metric key(s) {unknown}; valid keys: {', '.join(METRICS)}")
    return metrics


def build_grid(results: Sequence[Result], metrics: Sequence[str] | None = None, *,
               datasets: Sequence[str] | None = None) -> ScoreGrid:
    """Arrange results as rows (method, kind) x columns (dataset, protocol, metric).

    Rows keep the order in which they first appear in ``results``; datasets follow the registry order
    (:func:`dbdbench.datasets.list_datasets`, the order of ``dbdbench datasets``), unregistered ones after
    them in order of appearance; ``datasets`` picks and orders them explicitly. Curve-only
    results (no scores) are left out. Metrics follow
    ``metrics``; ``None`` takes each protocol's default columns
    (:func:`dbdbench.report.columns.default_metrics`), and ``["all"]`` every key present, in the order of
    :data:`dbdbench.metrics.METRICS`. Columns that no result fills are left out.

    Raises
    ------
    ValueError
        For no results, an unknown metric key, a requested metric that no result has, or two results
        for the same method, kind, dataset and protocol.
    """
    check_results(results)
    if datasets is not None:
        results = pick_datasets(results, datasets)
    # published curves without scalar scores have no cell to fill (dbdbench plot draws them)
    results = [r for r in results if r.scores]
    if not results:
        raise ValueError("The results hold curves only, no scores to tabulate; draw them with `dbdbench plot`")
    present = {k for r in results for k in r.scores}
    unknown = sorted(present - set(METRICS))
    if unknown:
        raise ValueError(f"Results contain unknown metric key(s) {unknown}; valid keys: {', '.join(METRICS)}")
    if metrics is not None and list(metrics) == ["all"]:
        metrics = [m for m in METRICS if m in present]
    if metrics is not None:
        metrics = _check_metrics(metrics)
        absent = [m for m in metrics if m not in present]
        if absent:
            raise ValueError(f"No result has metric(s) {absent}; present: {sorted(present)}")
    rows = list(dict.fromkeys(Row(str(r.method), _kind(r)) for r in results))  # named: see check_results
    cells = _cells(results)
    groups = list(dict.fromkeys((str(r.dataset), r.protocol) for r in results))
    names = [d for d, _ in groups]
    split = {d for d in names if names.count(d) > 1}
    order = list(datasets) if datasets is not None else dataset_order(d for d, _ in groups)
    groups.sort(key=lambda g: order.index(g[0]))  # stable: the protocols of a dataset side by side
    columns, table = [], []
    shown: dict[str, set[str]] = {}
    for dataset, protocol in groups:
        keys = metrics if metrics is not None else default_metrics(
            protocol, {k for r in results if r.protocol == protocol for k in r.scores})
        for metric in keys:
            col = [_score(cells.get((row, dataset, protocol)), metric) for row in rows]
            if not all(math.isnan(v) for v in col):
                columns.append(Column(dataset, protocol, metric))
                table.append(col)
                shown.setdefault(protocol, set()).add(metric)
    values = np.array(table, dtype=float).T.reshape(len(rows), len(columns))
    from dbdbench.report._captions import short_settings

    return ScoreGrid(rows, columns, values, split, _image_counts(results),
                     _settings_words(results, shown, describe_settings), recorded_warnings(results),
                     _training(results, rows), _sources(results), _settings_words(results, shown, short_settings))


def dataset_order(datasets: Iterable[str]) -> list[str]:
    """Registered datasets in registry order, then the others in the order given (the fixed table order)."""
    from dbdbench.datasets import list_datasets

    known = list_datasets()
    names = list(dict.fromkeys(datasets))
    return sorted(names, key=lambda d: (known.index(d) if d in known else len(known), names.index(d)))


def _training(results: Sequence[Result], rows: Sequence[Row]) -> dict[Row, tuple[str, ...]]:
    out: dict[Row, tuple[str, ...]] = {}
    for r in results:
        data = (r.meta or {}).get("training_data")
        if data:
            out[Row(str(r.method), _kind(r))] = tuple(str(d) for d in data)
    return {row: out[row] for row in rows if row in out}


def _sources(results: Sequence[Result]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for r in results:
        src = (r.meta or {}).get("source")
        if isinstance(src, dict) and src.get("short"):
            text = f"{src['short']}, {src['table']}" if src.get("table") else str(src["short"])
            if text not in out.setdefault(r.protocol, []):
                out[r.protocol].append(text)
    return out


def _cells(results: Sequence[Result]) -> dict[tuple[Row, str, str], Result]:
    cells: dict[tuple[Row, str, str], Result] = {}
    for r in results:
        key = (Row(str(r.method), _kind(r)), str(r.dataset), r.protocol)
        if key in cells:
            raise ValueError(
                f"Two results for method {r.method!r} ({key[0].kind or 'no kind'}) on {r.dataset!r} under "
                f"protocol {r.protocol!r}; pass only one of them"
            )
        cells[key] = r
    return cells


def _image_counts(results: Sequence[Result]) -> dict[str, int]:
    from dbdbench.datasets import get_dataset, list_datasets

    counts: dict[str, int] = {}
    for r in results:
        n = r.n_images or (get_dataset(r.dataset).n_images if r.dataset in list_datasets() else 0)
        if n:
            counts[str(r.dataset)] = max(counts.get(str(r.dataset), 0), int(n))
    return counts


def _settings_words(results: Sequence[Result], shown: dict[str, set[str]],
                    words: Callable[..., str]) -> dict[str, str]:
    """``words(settings, keys)`` of every shown protocol whose results record their settings."""
    out = {}
    for protocol, keys in shown.items():
        settings = protocol_settings(protocol, results)
        if settings is not None:
            out[protocol] = words(settings, keys)
    return out


def recorded_warnings(results: Sequence[Result]) -> dict[tuple[str, str, str], list[dict]]:
    out = {}
    for r in results:
        found = (r.meta or {}).get("warnings")
        if found:
            out[(str(r.method), str(r.dataset), r.protocol)] = [w if isinstance(w, dict) else {"message": str(w)}
                                                                 for w in found]
    return out


def check_results(results: Sequence[Result]) -> None:
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
