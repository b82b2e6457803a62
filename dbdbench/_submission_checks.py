"""The two submission checks that need more than the files: history (git) and reproduction (maps).

* Append-only history: every entry, result file, metric key and curve present at a git base must still exist,
  so a pull request can add or correct numbers but never silently drop them.
* Reproduction: a re-scored result whose maps are present is scored again with
  :func:`dbdbench.evaluate.evaluate_folder` and must agree within ``atol`` on every stored score.

References
----------
.. [1] MTEB results repository, ``tests/test_no_splits_are_removed.py`` (append-only check against ``main``).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from dbdbench.submissions import Problem, load_submissions


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


def check_reproduction(root: str | Path, maps_root: str | Path | None, data_root: str | Path | None = None,
                       atol: float = 1e-9) -> tuple[list[Problem], list[str]]:
    """Re-score every re-scored result whose maps are found under ``maps_root``.

    Returns
    -------
    problems : list of Problem
        Scores that differ by more than ``atol``, or map hashes that differ from the stored ones.
    notes : list of str
        One line per result that could not be reproduced because its maps are absent (never silent).
    """
    root = Path(root)
    problems: list[Problem] = []
    notes: list[str] = []
    for sub in load_submissions(root):
        if sub.kind != "rescored":
            continue
        rescore = sub.meta["rescore"]
        for stem, stored in sub.results.items():
            where = f"{sub.entry_id}/{stem}.json"
            rel = rescore["maps"].get(stem)
            if rel is None:
                problems.append(Problem(where, f"meta.json rescore.maps has no map folder for {stem!r}"))
                continue
            folder = Path(maps_root) / rel if maps_root is not None else None
            if folder is None or not folder.is_dir():
                notes.append(f"{where}: not reproduced, maps folder {rel!r} not found under --maps-root "
                             f"({maps_root if maps_root is not None else 'not given'})")
                continue
            problems += _compare(where, stored, _rescore(folder, stored, rescore["pred_white"], data_root), atol)
    return problems, notes


def _rescore(folder: Path, stored: dict[str, Any], pred_white: str, data_root: str | Path | None) -> dict[str, Any]:
    from dbdbench.evaluate import evaluate_folder

    result = evaluate_folder(folder, stored["dataset"], protocol=stored["protocol"], pred_white=pred_white,
                             data_root=data_root)
    return {"scores": dict(result.scores), "meta": dict(result.meta)}


def _compare(where: str, stored: dict[str, Any], fresh: dict[str, Any], atol: float) -> list[Problem]:
    problems = []
    for key, value in sorted(stored["scores"].items()):
        new = fresh["scores"].get(key)
        if new is None or abs(float(new) - float(value)) > atol:
            problems.append(Problem(where, f"score {key} = {value!r} does not reproduce: re-scoring the maps "
                                           f"gives {new!r} (tolerance {atol})"))
    old_hashes = stored["meta"].get("files_sha256", {})
    new_hashes = fresh["meta"].get("files_sha256")
    if new_hashes is not None and old_hashes != new_hashes:
        changed = sorted(k for k in set(old_hashes) | set(new_hashes) if old_hashes.get(k) != new_hashes.get(k))
        problems.append(Problem(where, f"map files differ from the stored hashes: {changed[:5]}"
                                       f"{' ...' if len(changed) > 5 else ''}"))
    return problems


def rescore_entries(root: str | Path, maps_root: str | Path, data_root: str | Path | None = None) -> list[str]:
    """(Re)write the result files of every re-scored entry from its maps; returns one line per file.

    Each ``rescore.maps`` item ``"<DATASET>[.<protocol>]": "<folder relative to maps_root>"`` is scored with
    :func:`dbdbench.evaluate.evaluate_folder` (protocol ``dbdbench`` when the stem names none). The stored
    provenance keeps only names and hashes: no machine path ever reaches a committed file.
    """
    from dbdbench.evaluate import evaluate_folder
    from dbdbench.submissions import read_json_strict, split_result_stem

    lines = []
    for entry_dir in sorted(Path(root).iterdir()):
        meta_path = entry_dir / "meta.json"
        if not meta_path.is_file():
            continue
        meta = read_json_strict(meta_path)
        if meta.get("kind") != "rescored":
            continue
        pred_white = meta["rescore"]["pred_white"]
        for stem, rel in sorted(meta["rescore"]["maps"].items()):
            folder = Path(maps_root) / rel
            if not folder.is_dir():
                lines.append(f"{entry_dir.name}/{stem}.json: skipped, {rel!r} not found under {maps_root}")
                continue
            dataset, protocol = split_result_stem(stem)
            result = evaluate_folder(folder, dataset, protocol=protocol or "dbdbench", pred_white=pred_white,
                                     data_root=data_root)
            result.method = meta["name"]
            old = dict(result.meta)
            result.meta = {"kind": "rescored", "pred_dir": folder.name, "pred_white": pred_white,
                           "files_sha256": old.get("files_sha256", {})}
            if old.get("warnings"):  # what the sanity stage found stays with the numbers it concerns
                result.meta["warnings"] = old["warnings"]
            result.to_json(entry_dir / f"{stem}.json")
            lines.append(f"{entry_dir.name}/{stem}.json: " + ", ".join(
                f"{k} {v:.4f}" for k, v in sorted(result.scores.items())))
    return lines
