"""The submission check against history: nothing present at a git base may disappear.

Append-only history: every entry, result file, metric key and curve present at a git base must still exist,
so a pull request can add or correct numbers but never silently drop them. (Reproduction from maps is
:mod:`dbdbench.submissions.rescore`.)

References
----------
.. [1] MTEB results repository, ``tests/test_no_splits_are_removed.py`` (append-only check against ``main``).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from dbdbench.submissions.load import Problem


def _git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip() or f"git {' '.join(args)} failed")
    return proc.stdout


def check_against_base(root: str | Path, ref: str) -> list[Problem]:
    """Problems for entries, result files or metric keys present at git ``ref`` but missing now.

    Parameters
    ----------
    root : path
        The submissions folder inside a git work tree.
    ref : str
        Any git revision (branch, tag, commit), e.g. ``origin/main``.
    """
    root = Path(root).resolve()
    try:
        top = Path(_git(root, "rev-parse", "--show-toplevel").strip())
        prefix = root.relative_to(top).as_posix()
        listing = _git(top, "ls-tree", "-r", "--name-only", ref, "--", prefix)
    except (RuntimeError, ValueError, OSError) as exc:
        return [Problem(root.name, f"cannot compare with git base {ref!r}: {exc}")]
    problems: list[Problem] = []
    missing_entries: set[str] = set()
    for rel in sorted(listing.splitlines()):
        if not rel.endswith(".json"):
            continue
        path = top / rel
        shown = Path(rel).relative_to(prefix).as_posix() if prefix != "." else rel
        entry = shown.split("/", 1)[0]
        if entry in missing_entries:
            continue
        if not (root / entry).is_dir():
            missing_entries.add(entry)
            problems.append(Problem(entry, f"entry exists at {ref} but was removed; entries may be corrected, "
                                           "never deleted"))
        elif not path.is_file():
            problems.append(Problem(shown, f"file exists at {ref} but was removed"))
        elif path.name != "meta.json":
            problems += _removed_metrics(top, ref, rel, shown)
    return problems


def _removed_metrics(top: Path, ref: str, rel: str, shown: str) -> list[Problem]:
    try:
        old = json.loads(_git(top, "show", f"{ref}:{rel}"))
        new = json.loads((top / rel).read_text(encoding="utf-8"))
        gone = sorted(set(old.get("scores", {})) - set(new.get("scores", {})))
        gone_curves = sorted(set(old.get("curves") or {}) - set(new.get("curves") or {}))
    except (RuntimeError, ValueError, AttributeError) as exc:
        return [Problem(shown, f"cannot compare with {ref}: {exc}")]
    problems = []
    if gone:
        problems.append(Problem(shown, f"metric(s) {gone} exist at {ref} but were removed"))
    if gone_curves:
        problems.append(Problem(shown, f"curve(s) {gone_curves} exist at {ref} but were removed"))
    return problems
