"""How a table is written: the layout options (:class:`TableStyle`) and the one writer every table goes
through (:func:`render_table`), the plain tables of :func:`dbdbench.report.tables.make_table` and the
tables with intervals of ``dbdbench table --ci`` alike. Marks and intervals are data given to the writer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from dbdbench.report import _render

if TYPE_CHECKING:
    from dbdbench.report.grid import ScoreGrid
    from dbdbench.results import Result

FORMATS = ("latex", "markdown", "csv")
FITS = ("auto", "resize", "none")
#: ``wide=None`` picks ``table*`` beyond one dataset group or this many number columns
NARROW_MAX_COLUMNS = 6


def pick_datasets(results: Sequence[Result], datasets: Sequence[str]) -> list[Result]:
    """The results of ``datasets``; an error names a dataset that no result has."""
    present = list(dict.fromkeys(str(r.dataset) for r in results))
    unknown = [d for d in datasets if d not in present]
    if unknown:
        raise ValueError(f"No result for dataset(s) {unknown}; present: {', '.join(present)}")
    return [r for r in results if str(r.dataset) in set(datasets)]


@dataclass(frozen=True)
class TableStyle:
    """How a grid is written, everything but its numbers and marks (see :func:`make_table`)."""

    fmt: str = "latex"
    decimals: int = 3
    transpose: bool = False
    caption: str | None = None
    label: str | None = None
    wide: bool | None = None
    fit: str = "auto"
    caption_style: str = "short"
    notes: bool = False

    def check(self) -> None:
        from dbdbench.report._captions import CAPTION_STYLES

        if self.fmt not in FORMATS:
            raise ValueError(f"Unknown table format {self.fmt!r}; choose one of {', '.join(FORMATS)}")
        if not isinstance(self.decimals, int) or not 0 <= self.decimals <= 8:
            raise ValueError(f"decimals must be an integer in 0..8, got {self.decimals!r}")
        if self.fit not in FITS:
            raise ValueError(f"Unknown fit {self.fit!r}; choose one of {', '.join(FITS)}")
        if self.caption_style not in CAPTION_STYLES:
            raise ValueError(f"Unknown caption style {self.caption_style!r}; choose one of "
                             f"{', '.join(CAPTION_STYLES)}")

    def for_protocol(self, protocol: str, several: bool) -> TableStyle:
        """The style of one table of several (one per protocol): its label gets ``-<protocol>``."""
        if not several or not self.label:
            return self
        from dbdbench.report.naming import slug

        return dataclasses.replace(self, label=f"{self.label}-{slug(protocol)}")


def by_protocol(results: Sequence[Result]) -> dict[str, list[Result]]:
    """The results of each protocol, protocols in order of first appearance."""
    out: dict[str, list[Result]] = {}
    for r in results:
        out.setdefault(r.protocol, []).append(r)
    return out


def present_datasets(datasets: Sequence[str] | None, results: Sequence[Result]) -> list[str] | None:
    """``datasets`` (checked against every result first) restricted to those in ``results``."""
    if datasets is None:
        return None
    have = {str(r.dataset) for r in results}
    return [d for d in datasets if d in have]


def render_table(grid: ScoreGrid, marks: np.ndarray, style: TableStyle, *, intervals=None,
                 legend: str | None = None) -> str:
    """The common LaTeX/Markdown writer of every table: marks (1 bold, 2 underlined) and intervals
    (``(low, high)`` arrays, NaN where none) are data; ``legend`` replaces the sentence explaining the marks."""
    style.check()
    if style.fmt == "csv":
        raise ValueError("render_table writes LaTeX or Markdown; CSV is to_frame(grid).to_csv()")
    options = {"style": style.caption_style, "intervals": intervals, "legend": legend, "with_warnings": style.notes}
    if style.fmt == "markdown":
        return _render.markdown(grid, marks, style.decimals, style.transpose, style.caption, **options)
    wide = style.wide
    if wide is None:
        n_data = len(grid.rows) if style.transpose else len(grid.columns)
        wide = len(grid.groups()) > 1 or n_data > NARROW_MAX_COLUMNS
    return _render.latex(grid, marks, style.decimals, style.transpose, style.caption, style.label, wide, style.fit,
                         **options)
