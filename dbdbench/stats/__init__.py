"""Is a difference real? Bootstrap intervals and paired tests over the images of a test set.

``docs/statistics.md`` says what the intervals and tests mean and what they do not.

The names below are imported on first use: writing the per-image counts beside a result
(:mod:`dbdbench.stats.sidecar`, every ``evaluate --json``) must not import ``scipy.stats``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dbdbench.stats.compare import Difference, check_comparable, compare_results, score_intervals, worst_images
    from dbdbench.stats.sidecar import read_counts, write_result_with_counts

#: public name -> the module that defines it
_WHERE = {
    "Difference": "compare",
    "check_comparable": "compare",
    "compare_results": "compare",
    "read_counts": "sidecar",
    "score_intervals": "compare",
    "worst_images": "compare",
    "write_result_with_counts": "sidecar",
}
__all__ = [
    "Difference",
    "check_comparable",
    "compare_results",
    "read_counts",
    "score_intervals",
    "worst_images",
    "write_result_with_counts",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
