"""Is a difference real? Bootstrap intervals and paired tests over the images of a test set.

``docs/statistics.md`` says what the intervals and tests mean and what they do not.
"""

from __future__ import annotations

from dbdbench.stats.compare import Difference, check_comparable, compare_results, score_intervals, worst_images
from dbdbench.stats.sidecar import read_counts, write_result_with_counts

__all__ = [
    "Difference",
    "check_comparable",
    "compare_results",
    "read_counts",
    "score_intervals",
    "worst_images",
    "write_result_with_counts",
]
