"""Re-scoring submissions from their maps: reproduce stored numbers, or (re)write re-scored result files.

Reproduction: a re-scored result whose maps are present is scored again with
:func:`dbdbench.evaluate.evaluate_folder` and must agree within ``atol`` on every stored score. Maps are read
with the options the result records in ``meta["map_reading"]`` (``--rescale-maps``, ``--transpose-maps``,
``--rotate-maps``, ``--luminance``, ``--colormap``; :func:`reading_arguments`), as their author scored them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dbdbench.evaluate import evaluate_folder
from dbdbench.loading import reading_arguments as loading_arguments
from dbdbench.submissions.load import Problem, load_submissions, read_json_strict, split_result_stem
from dbdbench.submissions.schema import bare_warnings, check_map_reading


def reading_arguments(meta: dict[str, Any], where: str) -> dict[str, Any]:
    """The keyword arguments ``checks``, ``luminance`` and ``colormap`` of
    :func:`dbdbench.evaluate.evaluate_folder` that read maps as the result whose ``meta`` is given was scored.

    Raises
    ------
    dbdbench.submissions.schema.SchemaError
        A ``ValueError`` naming ``where``: an unknown option or value, or options used but not recorded
        (:func:`dbdbench.submissions.schema.check_map_reading`).
    """
    return loading_arguments(check_map_reading(meta, where))


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
            try:
                fresh = _rescore(folder, stored, rescore["pred_white"], data_root)
            except ValueError as exc:  # options not recorded, or maps refused as read with the recorded ones
                problems.append(Problem(where, f"cannot re-score the maps in {rel!r}: {exc}"))
                continue
            problems += _compare(where, stored, fresh, atol)
    return problems, notes


def _rescore(folder: Path, stored: dict[str, Any], pred_white: str, data_root: str | Path | None) -> dict[str, Any]:
    reading = reading_arguments(stored["meta"], "result meta")
    result = evaluate_folder(folder, stored["dataset"], protocol=stored["protocol"], pred_white=pred_white,
                             data_root=data_root, **reading)
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
    :func:`dbdbench.evaluate.evaluate_folder` (protocol ``dbdbench`` when the stem names none), reading the
    maps with the options the existing result file records (:func:`reading_arguments`; the defaults for a
    file not written yet). The stored provenance keeps only names, hashes and those options: no machine path
    ever reaches a committed file.

    Raises
    ------
    ValueError
        Naming the result file: its map-reading options are unknown or were used but not recorded, or its
        maps are refused when read with them.
    """
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
            where = f"{entry_dir.name}/{stem}.json"
            path = entry_dir / f"{stem}.json"
            reading = reading_arguments(read_json_strict(path).get("meta", {}) if path.is_file() else {}, where)
            try:
                result = evaluate_folder(folder, dataset, protocol=protocol or "dbdbench", pred_white=pred_white,
                                         data_root=data_root, **reading)
            except ValueError as exc:
                raise ValueError(f"{where}: cannot re-score the maps in {rel!r}: {exc}") from exc
            result.method = meta["name"]
            old = dict(result.meta)
            result.meta = {"kind": "rescored", "pred_dir": folder.name, "pred_white": pred_white,
                           "files_sha256": old.get("files_sha256", {}), "map_reading": old["map_reading"]}
            if old.get("warnings"):  # what the sanity stage found stays with the numbers it concerns (no paths)
                result.meta["warnings"] = bare_warnings(old["warnings"])
            result.to_json(entry_dir / f"{stem}.json")
            lines.append(f"{entry_dir.name}/{stem}.json: " + ", ".join(
                f"{k} {v:.4f}" for k, v in sorted(result.scores.items())))
    return lines
