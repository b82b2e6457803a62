"""Submissions: the folder schema, loading and validation, history checks and re-scoring.

* :mod:`~dbdbench.submissions.schema`: the versioned ``meta.json`` and result-file schema, the reported
  protocols;
* :mod:`~dbdbench.submissions.load`: read a submissions tree and check its files (``dbdbench check``);
* :mod:`~dbdbench.submissions.checks`: nothing removed versus a git base;
* :mod:`~dbdbench.submissions.rescore`: reproduce or (re)write re-scored results from their maps;
* :mod:`~dbdbench.submissions.validate`: all of the above in the order ``dbdbench check`` runs them.

>>> from dbdbench.submissions import REPORTED_PROTOCOLS
>>> sorted(REPORTED_PROTOCOLS)
['reported:defusionnet-tpami']
"""

from __future__ import annotations

from dbdbench.submissions import schema
from dbdbench.submissions.load import (
    ALLOWED_EXTRA_FILES,
    ENTRY_ID_RE,
    MAX_FILE_BYTES,
    REPORTED_PROTOCOLS,
    Problem,
    Submission,
    check_tree,
    finite_unit,
    iter_entry_dirs,
    load_submissions,
    read_json_strict,
    split_result_stem,
)

__all__ = [
    "ALLOWED_EXTRA_FILES",
    "ENTRY_ID_RE",
    "MAX_FILE_BYTES",
    "REPORTED_PROTOCOLS",
    "Problem",
    "Submission",
    "check_tree",
    "finite_unit",
    "iter_entry_dirs",
    "load_submissions",
    "read_json_strict",
    "schema",
    "split_result_stem",
]
