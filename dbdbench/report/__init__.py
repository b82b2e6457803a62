"""Reports: comparison tables, curve plots, qualitative grids and the protocol-sensitivity report.

>>> from dbdbench.report import make_table, plot_curves, sensitivity_from_results

The public functions are imported on first use so that ``import dbdbench.report`` does not load
matplotlib or scipy.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "make_table": "tables",
    "build_grid": "grid",
    "rank_marks": "marks",
    "display_ranks": "marks",
    "to_frame": "tables",
    "render_table": "tables",
    "TableStyle": "tables",
    "plot_curves": "plots",
    "plot_qualitative": "qualitative",
    "headline_score": "plots",
    "curve_caption": "plots",
    "default_metrics": "columns",
    "method_styles": "plots",
    "sensitivity_from_results": "sensitivity",
    "rank_table": "sensitivity",
    "SensitivityReport": "sensitivity",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'dbdbench.report' has no attribute {name!r}")
    return getattr(importlib.import_module(f"dbdbench.report.{_EXPORTS[name]}"), name)
