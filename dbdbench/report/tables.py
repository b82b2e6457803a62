"""Comparison tables: methods x (dataset, metric), as in the quantitative tables of DBD papers.

A table is built in two steps. :func:`~dbdbench.report.grid.build_grid` turns result records into a
:class:`~dbdbench.report.grid.ScoreGrid` (one row per method and kind, one column per dataset, protocol
and metric; NaN where a number is missing), and a renderer writes it as LaTeX (booktabs), Markdown or CSV.
:func:`make_table` does both. Numbers from different protocols never share a column: a dataset scored
under two protocols gets one column group per protocol, labelled ``DATASET (protocol)``.

References
----------
.. [1] C. Tang et al., "DeFusionNet: Defocus Blur Detection via Recurrently Fusing and Refining
   Discriminative Multi-scale Deep Features", IEEE TPAMI 44(2), 2022, Table 1 (datasets x metrics with
   up/down arrows for the direction of each metric).
.. [2] Jin et al., "Depth and DOF Cues Make A Better Defocus Blur Detector" (D-DFFNet), ICME 2023,
   Table I (methods as rows, grouped dataset headers with MAE / F / IoU sub-columns, "-" for missing).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from dbdbench.report import _render
from dbdbench.report.grid import (  # noqa: F401 (re-exported: the table API lives here)
    Column,
    Row,
    ScoreGrid,
    build_grid,
    check_results,
    dataset_order,
    recorded_warnings,
)
from dbdbench.report.marks import (  # noqa: F401 (re-exported: the table API lives here)
    BEST,
    NONE,
    SECOND,
    comparable_rows,
    declared_training,
    display_ranks,
    rank_marks,
)
from dbdbench.report.table_style import (  # noqa: F401 (re-exported: the table API lives here)
    FITS,
    FORMATS,
    NARROW_MAX_COLUMNS,
    TableStyle,
    by_protocol,
    pick_datasets,
    present_datasets,
    render_table,
)

if TYPE_CHECKING:
    from dbdbench.results import Result


def make_table(
    results: Sequence[Result],
    metrics: Sequence[str] | None = None,
    fmt: str = "latex",
    decimals: int = 3,
    transpose: bool = False,
    caption: str | None = None,
    label: str | None = None,
    *,
    wide: bool | None = None,
    fit: str = "auto",
    caption_style: str = "short",
    notes: bool = False,
    datasets: Sequence[str] | None = None,
    methods: Sequence[str] | None = None,
    names: Mapping[str, str] | None = None,
) -> str:
    """Write a comparison table of methods x (dataset, metric) as LaTeX, Markdown or CSV.

    LaTeX and Markdown mark each metric's direction (up/down arrow), set the best number of every column
    in bold and the second underlined (direction-aware; numbers equal at ``decimals`` digits tie; no marks
    in a column with fewer than two numbers), print "--" / "–" for missing numbers, flag numbers copied
    from papers with a dagger and rows trained on other data with a symbol (footnotes say which), and
    carry a caption that names the datasets with their image counts and the protocol in words. Results
    under several protocols give one table per protocol (numbers of different protocols never share a
    table). CSV has plain numbers (empty when missing) and a ``kind`` column. ``transpose=True`` puts
    (dataset, metric) on the rows and methods on the columns, as in DeFusionNet's Table 1 [1]_; the
    default is D-DFFNet's Table I layout [2]_.

    Parameters
    ----------
    results : sequence of Result
        One result per (method, dataset, protocol); ``meta["kind"]`` may be ``"reported"``/``"rescored"``,
        ``meta["training_data"]`` the training sets.
    metrics : sequence of str, optional
        Metric keys in column order; default: each protocol's paper columns
        (``Protocol.columns``); ``["all"]``: every key present.
    fmt : {"latex", "markdown", "csv"}
    decimals : int
        Digits after the decimal point (also the precision of tie detection).
    transpose : bool
        Methods as columns instead of rows.
    caption : str, optional
        Plain text put before the generated caption (LaTeX specials are escaped).
    label : str, optional
        LaTeX ``\\label`` (with several protocols, ``-<protocol>`` is appended to each table's).
    wide : bool, optional
        LaTeX ``table*`` (page width) instead of ``table`` (column width); default: ``table*`` when the
        table has more than one dataset group or more than :data:`NARROW_MAX_COLUMNS` number columns.
    fit : {"auto", "resize", "none"}
        LaTeX: ``auto`` scales the tabular down only when it is wider than the line (needs graphicx),
        ``resize`` always scales it to the line width, ``none`` keeps the natural size.
    caption_style : {"short", "full"}
        The protocol in a few words (positive class, β², thresholds) or every choice for the columns shown.
    notes : bool
        Print the warnings recorded with the results under the table (default: leave them out; the CLI
        prints them on stderr).
    datasets, methods : sequence of str, optional
        Select and order the column groups and the rows (default: datasets in registry order, methods in
        input order).
    names : mapping, optional
        Result name -> display name.

    Returns
    -------
    str
        The table; LaTeX needs ``\\usepackage{booktabs}``.

    References
    ----------
    .. [1] Tang et al., DeFusionNet, IEEE TPAMI 2022, Table 1.
    .. [2] Jin et al., D-DFFNet, ICME 2023, Table I.
    """
    from dbdbench.report.naming import select

    style = TableStyle(fmt, decimals, transpose, caption, label, wide, fit, caption_style, notes)
    style.check()
    check_results(results)
    chosen = select(results, methods, names)
    if fmt == "csv":
        return to_frame(build_grid(chosen, metrics, datasets=datasets), transpose).to_csv(
            index=False, float_format=f"%.{decimals}f")
    if datasets is not None:
        chosen = pick_datasets(chosen, datasets)
    groups = by_protocol(chosen)
    parts = []
    for protocol, subset in groups.items():
        grid = build_grid(subset, metrics, datasets=present_datasets(datasets, subset))
        parts.append(render_table(grid, grid.marks(decimals), style.for_protocol(protocol, len(groups) > 1)))
    return "\n".join(parts)


def table_warnings(results: Sequence[Result]) -> list[str]:
    """The warnings recorded with ``results``, one line each (``dbdbench table`` prints them on stderr)."""
    return _render.warning_lines(ScoreGrid([], [], np.zeros((0, 0)), set(), warnings=recorded_warnings(results)))


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
