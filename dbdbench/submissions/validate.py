"""The whole validation of a submissions tree, as ``dbdbench check`` and CI run it.

In order: the strict schema and file checks of every entry (:func:`~dbdbench.submissions.load.check_tree`);
with a git base, that nothing was removed (:func:`~dbdbench.submissions.checks.check_against_base`); and,
when those pass, that re-scored results reproduce from their maps where the maps are present
(:func:`~dbdbench.submissions.rescore.check_reproduction`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from dbdbench.submissions.checks import check_against_base
from dbdbench.submissions.load import Problem, check_tree, load_submissions
from dbdbench.submissions.rescore import check_reproduction


@dataclass
class Validation:
    """What :func:`validate` found: problems (each fails the tree), notes, and the size of a valid tree."""

    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    n_entries: int = 0
    n_files: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def validate(path: str | Path, *, base: str | None = None, maps_root: str | Path | None = None,
             data_root: str | Path | None = None, atol: float = 1e-9) -> Validation:
    """Validate the submission folders under ``path`` (or one entry folder); see the module docstring."""
    path = Path(path)
    out = Validation(check_tree(path))
    if base is not None:
        out.problems += check_against_base(path, base)
    if out.problems:
        return out
    repro, out.notes = check_reproduction(path, maps_root, data_root, atol=atol)
    out.problems += repro
    if not out.problems:
        entries = [] if (path / "meta.json").exists() else load_submissions(path)
        out.n_entries, out.n_files = len(entries), sum(len(e.results) for e in entries)
    return out
