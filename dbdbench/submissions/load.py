"""Submission folders: loading and validation of the files (what ``dbdbench check`` runs first).

A submission is ``submissions/<entry-id>/`` holding ``meta.json`` (who, what, where the numbers come from)
and one result file per dataset, ``<DATASET>.json`` or ``<DATASET>.<protocol>.json`` when one entry holds
the same dataset under several protocols. Result files follow the result JSON of :mod:`dbdbench.results`;
their ``meta`` says ``kind`` (``"reported"``: copied from a paper, with ``source``; ``"rescored"``: computed by
dbdbench from maps, with tool version and map hashes). Validation is strict: unknown keys, unknown datasets,
unknown metrics, values outside [0, 1], unsafe paths, symlinks and oversized files are all errors.

References
----------
.. [1] Muennighoff et al., "MTEB: Massive Text Embedding Benchmark", EACL 2023 (results repository CI:
   strict metadata, file stem equals task name, nothing removed versus the base branch).
.. [2] Croce et al., "RobustBench", NeurIPS Datasets and Benchmarks 2021 (reported versus re-measured numbers).
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dbdbench.submissions import schema

MAX_FILE_BYTES = 5 * 1024 * 1024
ALLOWED_EXTRA_FILES = ("README.md",)
ENTRY_ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
#: protocols that only describe how a paper computed its published numbers; they cannot be re-run.
REPORTED_PROTOCOLS = schema.REPORTED_PROTOCOLS


@dataclass(frozen=True)
class Problem:
    """One validation failure: the file (relative to the checked folder) and what is wrong with it."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass
class Submission:
    """A loaded submission entry: its id, its ``meta.json`` and its result dicts keyed by file stem."""

    entry_id: str
    meta: dict[str, Any]
    results: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return str(self.meta["kind"])


# ----------------------------------------------------------------------------------------------- reading


class _Invalid(ValueError):
    """Raised inside validation; turned into a :class:`Problem` naming the file."""


def _reject_constant(name: str) -> float:
    raise _Invalid(f"non-finite number {name} is not allowed in JSON; store a value in [0, 1] or omit the key")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Invalid(f"duplicate key {key!r}")
        out[key] = value
    return out


def read_json_strict(path: Path) -> Any:
    """Parse a JSON file, rejecting NaN/Infinity, duplicate keys and files over :data:`MAX_FILE_BYTES`."""
    size = path.lstat().st_size
    if size > MAX_FILE_BYTES:
        raise _Invalid(f"file is {size} bytes, over the cap of {MAX_FILE_BYTES} bytes; drop per-image records "
                       "or curves you do not need")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise _Invalid(f"not UTF-8 text ({exc.reason})") from exc
    try:
        return json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        raise _Invalid(f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from exc


def split_result_stem(stem: str) -> tuple[str, str | None]:
    """``"CUHK-TE-1"`` -> ``("CUHK-TE-1", None)``; ``"CUHK.hifst"`` -> ``("CUHK", "hifst")``."""
    dataset, _, protocol = stem.partition(".")
    return dataset, (protocol or None)


def iter_entry_dirs(root: Path) -> Iterator[Path]:
    """The entry folders of a submissions root, sorted by name (hidden and ``_``-prefixed names skipped)."""
    for path in sorted(root.iterdir()):
        if path.name.startswith((".", "_")) or not path.is_dir() or path.is_symlink():
            continue
        yield path


def load_submissions(root: str | Path) -> list[Submission]:
    """Load every entry under ``root`` (no validation beyond JSON parsing; run :func:`check_tree` first).

    Returns
    -------
    list of Submission
        Sorted by entry id; each entry's results sorted by file stem.
    """
    root = Path(root)
    entries = []
    for entry_dir in iter_entry_dirs(root):
        meta = read_json_strict(entry_dir / "meta.json")
        results = {p.name[: -len(".json")]: read_json_strict(p)
                   for p in sorted(entry_dir.glob("*.json")) if p.name != "meta.json"}
        entries.append(Submission(entry_dir.name, meta, results))
    return entries


# -------------------------------------------------------------------------------------------- validation


def check_tree(root: str | Path) -> list[Problem]:
    """Validate a submissions folder (or a single entry folder) without git or maps.

    Checks, in order: no symlinks anywhere; only expected file names; size caps; strict ``meta.json``
    schema; result files named after their registered dataset (and protocol); known metric keys with values
    in [0, 1]; declared polarity; no absolute paths or ``..`` in any name or string; and one (method,
    dataset, protocol) per leaderboard row across entries.

    Returns
    -------
    list of Problem
        Empty when everything is valid.
    """
    root = Path(root)
    problems = _check_links_and_names(root)
    if problems:  # never read through a link or an unexpected file
        return problems
    entry_dirs = [root] if (root / "meta.json").is_file() else list(iter_entry_dirs(root))
    base = root.parent if entry_dirs == [root] else root
    seen: dict[tuple[str, str, str, str], str] = {}
    for entry_dir in entry_dirs:
        problems += _check_entry(entry_dir, base, seen)
    return problems


def _rel(path: Path, base: Path) -> str:
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return path.as_posix()


def _check_links_and_names(root: Path) -> list[Problem]:
    problems = []
    if root.is_symlink():
        return [Problem(root.name, "is a symlink; submissions must be plain files and folders")]
    if not root.is_dir():
        return [Problem(str(root), "no such folder")]
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        for name in sorted(dirnames + filenames):
            path = here / name
            rel = _rel(path, root.parent)
            if path.is_symlink():
                problems.append(Problem(rel, "is a symlink; commit the file itself (links can point outside "
                                             "the repository)"))
            elif not schema.is_safe_name(name):
                problems.append(Problem(rel, f"unsafe file name {name!r}: use letters, digits, '-', '_', '.'"))
            elif path.is_file() and path.lstat().st_size > MAX_FILE_BYTES:
                problems.append(Problem(rel, f"file is {path.lstat().st_size} bytes, over the cap of "
                                             f"{MAX_FILE_BYTES} bytes"))
        dirnames[:] = [d for d in dirnames if not (here / d).is_symlink()]
    return problems


def _check_entry(entry_dir: Path, base: Path, seen: dict[tuple[str, str, str, str], str]) -> list[Problem]:
    rel = _rel(entry_dir, base)
    problems = []
    if not ENTRY_ID_RE.match(entry_dir.name):
        problems.append(Problem(rel, f"entry id {entry_dir.name!r} must be lowercase letters/digits joined by '-'"))
    for child in sorted(entry_dir.iterdir()):
        if child.is_dir():
            problems.append(Problem(_rel(child, base), "sub-folders are not allowed inside an entry"))
        elif child.name != "meta.json" and child.name not in ALLOWED_EXTRA_FILES and child.suffix != ".json":
            problems.append(Problem(_rel(child, base), "unexpected file; an entry holds meta.json, "
                                                       f"<DATASET>.json files and optionally {ALLOWED_EXTRA_FILES}"))
    meta_path = entry_dir / "meta.json"
    if not meta_path.is_file():
        return problems + [Problem(rel, "missing meta.json")]
    try:
        meta = read_json_strict(meta_path)
        schema.validate_meta(meta, entry_dir.name)
    except _Invalid as exc:
        return problems + [Problem(_rel(meta_path, base), str(exc))]
    except schema.SchemaError as exc:
        return problems + [Problem(_rel(meta_path, base), str(exc))]
    result_paths = sorted(p for p in entry_dir.glob("*.json") if p.name != "meta.json")
    if not result_paths:
        problems.append(Problem(rel, "no result files; add one <DATASET>.json per dataset"))
    for path in result_paths:
        try:
            result = read_json_strict(path)
            schema.validate_result(result, path.name[: -len(".json")], meta)
        except (_Invalid, schema.SchemaError) as exc:
            problems.append(Problem(_rel(path, base), str(exc)))
            continue
        # a method may appear once per kind: the reported number next to dbdbench's re-score is the point
        key = (result["method"], result["dataset"], result["protocol"], meta["kind"])
        if key in seen:
            problems.append(Problem(_rel(path, base), f"method {key[0]!r} on {key[1]} under protocol {key[2]!r} "
                                                      f"is already given by {seen[key]}; give the entries "
                                                      "distinct names (e.g. add the training set)"))
        seen[key] = _rel(path, base)
    return problems


def finite_unit(value: Any) -> bool:
    """True when ``value`` is a real number (not a bool) in [0, 1]."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and (
        0.0 <= value <= 1.0)
