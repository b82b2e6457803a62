"""Sizes, type and legend geometry of the curve figures, and the caption text an author pastes.

A figure is drawn at the width it is printed at (``column``: 3.5 in, ``page``: 7.16 in, the IEEE
two-column measures, exactly IEEEtran's 252 pt and 516 pt), so every text keeps its size in the paper:
tick labels and legends are set at :data:`MIN_FONT_PT` (7 pt), axis labels and titles at 8 pt. The
height grows with the panels and with the legend rows, so a figure of many methods gets taller instead
of squeezing its panels. PDF and PostScript embed TrueType (Type 42) fonts: IEEE PDF eXpress rejects
the Type 3 fonts matplotlib writes by default.

References
----------
.. [1] IEEE, "Preparation of papers for IEEE transactions and journals" (column 3.5 in, page 7.16 in;
   fonts in figures 8 to 10 pt, no smaller than 7 pt is the common editorial limit).
.. [2] IEEE PDF eXpress: fonts must be embedded and not Type 3.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dbdbench.results import Result

#: printed width in inches: IEEEtran's ``\columnwidth`` (252 pt, the 3.5 in column) and ``\textwidth`` (516 pt,
#: the 7.16 in page) in TeX points (72.27 per inch), so a figure included at its natural size fits exactly
SIZES = {"column": 252 / 72.27, "page": 516 / 72.27}
LEGENDS = ("inside", "outside", "below")
MIN_FONT_PT = 7.0
LABEL_PT = 8.0
#: matplotlib settings while a figure is built and saved
RC: Any = {
    "font.size": LABEL_PT, "axes.titlesize": LABEL_PT, "axes.labelsize": LABEL_PT, "figure.titlesize": LABEL_PT,
    "xtick.labelsize": MIN_FONT_PT, "ytick.labelsize": MIN_FONT_PT, "legend.fontsize": MIN_FONT_PT,
    "pdf.fonttype": 42, "ps.fonttype": 42, "axes.linewidth": 0.6, "grid.linewidth": 0.4,
    "xtick.major.width": 0.6, "ytick.major.width": 0.6, "legend.handlelength": 2.2,
}
#: panels per row for one curve kind
MAX_COLS = {"column": 2, "page": 4}
#: a single panel keeps its legend inside up to this many methods; more go below the panels
INSIDE_MAX = 6
_LINE_IN = MIN_FONT_PT * 1.65 / 72  # one legend row (text and label spacing)
_CHAR_IN = MIN_FONT_PT * 0.56 / 72  # an average DejaVu Sans character
_HANDLE_IN = (2.2 + 0.8 + 1.2) * MIN_FONT_PT / 72  # handle, its gap and the column gap


@dataclass(frozen=True)
class Geometry:
    """Figure size in inches, grid shape, where the legend goes and its number of columns."""

    width: float
    height: float
    nrows: int
    ncols: int
    legend: str
    legend_cols: int


def default_size(n_panels: int) -> str:
    """``column`` for a single panel, ``page`` for a grid."""
    return "column" if n_panels == 1 else "page"


def default_legend(n_panels: int, n_methods: int) -> str:
    """Inside a single panel of a few methods; otherwise one shared legend below the panels."""
    return "inside" if n_panels == 1 and n_methods <= INSIDE_MAX else "below"


def shape(kinds: Sequence[str], n_names: int, size: str, ncols: int | None) -> tuple[int, int]:
    """Rows and columns: one row per curve kind (side by side for one dataset), else panels in rows."""
    if len(kinds) > 1 and n_names == 1:
        return 1, len(kinds)
    limit = MAX_COLS[size]
    if len(kinds) > 1:
        if n_names > limit:
            raise ValueError(f"{n_names} datasets do not fit one row of a {size}-wide figure (at most {limit}); "
                             "draw one curve kind per figure, or fewer datasets" +
                             (", or use size 'page' (--size page)" if size == "column" else ""))
        return len(kinds), n_names
    cols = min(ncols or limit, n_names)
    return math.ceil(n_names / cols), cols


def geometry(kinds: Sequence[str], n_names: int, entries: Sequence[str], size: str, legend: str,
             ncols: int | None, titled: bool, note_lines: int = 0) -> Geometry:
    """Size the figure so that panels keep a readable size and the legend has room at 7 pt.

    ``entries`` are the legend texts (their length sets the legend width); ``note_lines`` the lines of
    the optional footnote.
    """
    width = SIZES[size]
    nrows, cols = shape(kinds, n_names, size, ncols)
    entry = _HANDLE_IN + _CHAR_IN * max((len(e) for e in entries), default=8)
    side = entry + 0.15 if legend == "outside" else 0.0
    panel_w = (width - side) / cols
    panel_h = min(max(panel_w * 0.78, 1.3), 2.5)
    height = nrows * (panel_h + 0.42) + (0.18 if titled else 0.0) + note_lines * _LINE_IN
    legend_cols = 1
    if legend == "below":
        legend_cols = max(1, min(len(entries), int((width - 0.1) // entry)))
        height += math.ceil(len(entries) / legend_cols) * _LINE_IN + 0.12
    elif legend == "outside":
        height = max(height, len(entries) * _LINE_IN + 0.35)
    return Geometry(width, round(height, 3), nrows, cols, legend, legend_cols)


def dataset_title(name: str) -> str:
    """The dataset's display name from the registry (``CUHK (Shi et al.)``), else the name."""
    from dbdbench.datasets import get_dataset, list_datasets

    return get_dataset(name).display_name if name in list_datasets() else name


_KIND_WORDS = {"pr": "Precision-recall", "fmeasure": "F-measure vs threshold", "roc": "ROC"}


def curve_caption(results: Sequence[Result], kinds: Sequence[str], legend_scores: Sequence[str]) -> str:
    """Caption text for a curve figure: what is drawn, on which datasets (image counts), each protocol's
    choices (β², thresholds, averaging) and what the legend numbers are."""
    from dbdbench.report.columns import describe_settings, protocol_settings

    what = " and ".join(_KIND_WORDS[k] for k in kinds)
    methods = list(dict.fromkeys(str(r.method) for r in results))
    from dbdbench.datasets import get_dataset, list_datasets

    counts: dict[str, int] = {}
    for r in results:
        n = r.n_images or (get_dataset(str(r.dataset)).n_images if r.dataset in list_datasets() else 0) or 0
        counts[str(r.dataset)] = max(counts.get(str(r.dataset), 0), int(n))
    on = ", ".join(f"{dataset_title(d)} ({n} images)" if n else dataset_title(d) for d in counts)
    text = [f"{what} curves of {len(methods)} method{'s' if len(methods) != 1 else ''} on {on}."]
    metrics = {"ar" if k == "roc" else "max_f" for k in kinds} | set(legend_scores)
    for protocol in dict.fromkeys(r.protocol for r in results):
        settings = protocol_settings(protocol, results)
        words = describe_settings(settings, metrics) if settings else "numbers as published by the authors"
        text.append(f"Protocol {protocol}: {words}.")
    if legend_scores:
        names = " / ".join(dict.fromkeys("max F" if k == "max_f" else "AUC" for k in legend_scores))
        text.append(f"Legend: {names} of each method.")
    if any((r.meta or {}).get("kind") == "reported" for r in results):
        text.append("†: curve published by the authors, not re-computed.")
    return " ".join(text)
