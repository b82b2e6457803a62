"""Make a submission entry from result files or a table of reported numbers (``dbdbench submit``).

Re-scored entries come from result files written by ``dbdbench evaluate``: each is stored as
``<DATASET>.json`` (protocol ``dbdbench``) or ``<DATASET>.<protocol>.json`` with only names, hashes and the
map-reading options (``map_reading``, which re-scoring reads the maps with) in its ``meta`` (no machine
path), and ``meta.json`` gets the ``rescore`` block from the results' ``meta`` (map
folder names, polarity). Reported entries come from a CSV or Markdown table, one row per (dataset,
protocol), one column per score key, with the paper, table and page in ``source``.

The entry is written to a staging folder first and checked with the checks of ``dbdbench check`` (see
:func:`stage_entry`); nothing reaches the submissions folder unless they pass.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

from dbdbench.results import Result, atomic_write_text
from dbdbench.submissions.load import ENTRY_ID_RE
from dbdbench.submissions.schema import (
    META_SCHEMA,
    META_VERSION,
    SchemaError,
    bare_warnings,
    check_fields,
    check_map_reading,
    unsafe_path_reason,
)

#: keys of an evaluated result's meta that a submission keeps (the rest are machine-specific or transient)
KEPT_META = ("pred_dir", "pred_white", "files_sha256", "warnings", "map_reading")
_MISSING = {"", "-", "–", "—", "n/a", "na"}


def check_entry_id(entry_id: str, root: Path) -> None:
    """Refuse an id that is malformed or already used under ``root`` (entries are never overwritten)."""
    if not ENTRY_ID_RE.match(entry_id):
        raise ValueError(f"--id {entry_id!r}: use lowercase letters and digits joined by '-', e.g. ours-cvpr25")
    if (root / entry_id).exists():
        raise ValueError(f"{root / entry_id} already exists; choose another --id (entries are corrected by "
                         "editing their files in a pull request, never overwritten)")  # fmt: skip


def result_stem(res: Result) -> str:
    """``<DATASET>`` under protocol dbdbench, else ``<DATASET>.<protocol>`` (the stem names the protocol)."""
    return str(res.dataset) if res.protocol == "dbdbench" else f"{res.dataset}.{res.protocol}"


def rescored_files(results: list[Result], name: str) -> dict[str, dict[str, Any]]:
    """The result files of a re-scored entry, keyed by file stem.

    Raises
    ------
    ValueError
        A result of another method, not re-scored by dbdbench, without a map folder name or hashes, whose
        map-reading options are unknown or were used but not recorded, or two results of the same dataset
        and protocol; the message names the file.
    """
    out: dict[str, dict[str, Any]] = {}
    for res in results:
        where = res.source or res.method
        if res.method != name:
            raise ValueError(f"{where}: method {res.method!r} is not --name {name!r}; submit the results of one "
                             "method (re-run dbdbench evaluate with --method NAME, or pass its name)")
        if res.meta.get("kind", "rescored") != "rescored" or not res.meta.get("files_sha256"):
            raise ValueError(f"{where}: not a result scored by dbdbench evaluate from maps (no map hashes in "
                             "meta); reported numbers go in with --reported FILE --source ...")  # fmt: skip
        if not res.meta.get("pred_dir") or res.meta.get("pred_white") not in ("blur", "sharp"):
            raise ValueError(f"{where}: meta lacks pred_dir/pred_white; re-run dbdbench evaluate")
        stem = result_stem(res)
        if stem in out:
            raise ValueError(f"{where}: a second result of {res.dataset} under {res.protocol}; submit one")
        data = res.to_dict()
        data["meta"] = {"kind": "rescored"} | {k: res.meta[k] for k in KEPT_META if res.meta.get(k)}
        if "warnings" in data["meta"]:
            data["meta"]["warnings"] = bare_warnings(data["meta"]["warnings"])
        # every option, checked (a result written before they were recorded: the defaults, unless its
        # warnings show one was used); re-scoring reads the maps with them
        data["meta"]["map_reading"] = check_map_reading(res.meta, str(where))
        out[stem] = data
    polarities = {d["meta"]["pred_white"] for d in out.values()}
    if len(polarities) > 1:
        raise ValueError("the results' maps disagree on what white means (pred_white); one entry has one polarity")
    return out


def find_map_folder(name: str, maps_root: Path | None) -> str:
    """The folder of maps named ``name`` relative to ``maps_root`` (``name`` itself when not found there)."""
    if maps_root is None:
        return name
    if (maps_root / name).is_dir():
        return name
    found = sorted(p for p in maps_root.rglob(name) if p.is_dir())
    return found[0].relative_to(maps_root).as_posix() if found else name


def rescore_block(files: dict[str, dict[str, Any]], maps_root: Path | None) -> dict[str, Any]:
    """``meta.json``'s ``rescore``: each file's map folder relative to ``--maps-root``, the polarity, the command."""
    maps = {stem: find_map_folder(d["meta"]["pred_dir"], maps_root) for stem, d in files.items()}
    white = next(iter(files.values()))["meta"]["pred_white"]
    return {"maps": maps, "pred_white": white, "command": "dbdbench check submissions --maps-root <maps root> "
                                                          "--data-root <dataset root>"}  # fmt: skip


def parse_source(text: str, short: str | None) -> dict[str, Any]:
    """``"paper, table, page"`` -> the ``source`` object (the paper may contain commas; page: a number or
    ``null``/``-`` when the copy has none)."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) < 3 or not parts[-2] or not ", ".join(parts[:-2]):
        raise ValueError(f'--source {text!r}: write "paper, table, page", e.g. "Jin et al., ICME 2023, Table I, 5"')
    page_text, table, paper = parts[-1], parts[-2], ", ".join(parts[:-2])
    if page_text.lower() in ("null", "none", "-", ""):
        page = None
    elif page_text.isdigit() and int(page_text) > 0:
        page = int(page_text)
    else:
        raise ValueError(f"--source: page {page_text!r} must be a number, or null when the copy has no pages")
    if short is None and len(paper) > 40:
        raise ValueError("--source-short is needed: a short name of the paper for tables, e.g. 'D-DFFNet (ICME 2023)'")
    return {"paper": paper, "short": short or paper, "table": table, "page": page}


def read_table(path: Path) -> list[dict[str, str]]:
    """Rows of a CSV file or a Markdown pipe table (header row first; separator rows skipped)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in (".md", ".markdown"):
        rows = []
        for line in text.splitlines():
            line = line.strip()
            if not line.startswith("|"):
                continue
            cells = [c.strip() for c in line.strip("|").split("|")]
            if all(re.fullmatch(r":?-{3,}:?", c) for c in cells):
                continue
            rows.append(cells)
        if len(rows) < 2:
            raise ValueError(f"{path}: no Markdown table (a header row and at least one row of numbers)")
        header = rows[0]
        return [dict(zip(header, r, strict=False)) for r in rows[1:]]
    return list(csv.DictReader(io.StringIO(text)))


def reported_files(path: Path, name: str, source: dict[str, Any], protocol: str | None) -> dict[str, dict[str, Any]]:
    """The result files of a reported entry from a table: columns ``dataset``, ``protocol`` (or ``protocol``
    given), then score keys; empty cells and dashes are numbers the paper does not give.

    Files are named ``<DATASET>.json``, or ``<DATASET>.<protocol>.json`` for a dataset the table gives under
    several protocols.

    Raises
    ------
    ValueError
        Naming the file, the row and the cell: a missing column, a value that is not a number, a duplicate.
    """
    from dbdbench.datasets import get_dataset

    rows: list[tuple[str, str, dict[str, float]]] = []
    for i, raw in enumerate(read_table(path), start=2):
        row = {k.strip(): (v or "").strip() for k, v in raw.items() if k}
        if "dataset" not in row:
            raise ValueError(f"{path}: no 'dataset' column (columns: dataset, protocol, then score keys)")
        proto = row.pop("protocol", "") or protocol
        if not proto:
            raise ValueError(f"{path}: row {i} names no protocol; add a 'protocol' column or pass --protocol")
        dataset = get_dataset(row.pop("dataset")).name
        scores = {}
        for key, cell in row.items():
            if cell.lower() in _MISSING:
                continue
            try:
                scores[key] = float(cell)
            except ValueError:
                raise ValueError(f"{path}: row {i}, column {key!r}: {cell!r} is not a number") from None
        if any(r[0] == dataset and r[1] == proto for r in rows):
            raise ValueError(f"{path}: row {i} repeats {dataset} under {proto}")
        rows.append((dataset, proto, scores))
    if not rows:
        raise ValueError(f"{path}: no rows")
    out = {}
    for dataset, proto, scores in rows:
        several = sum(r[0] == dataset for r in rows) > 1
        out[f"{dataset}.{proto}" if several else dataset] = {
            "schema": "dbdbench.result", "schema_version": 1, "protocol": proto, "dataset": dataset,
            "method": name, "n_images": get_dataset(dataset).n_images, "scores": scores,
            "meta": {"kind": "reported", "source": source}}  # fmt: skip
    return out


def make_meta(entry_id: str, name: str, kind: str, fields: dict[str, Any], rescore: dict | None) -> dict[str, Any]:
    """``meta.json`` of the entry (schema ``dbdbench.submission``): checked field by field, no machine path."""
    meta: dict[str, Any] = {"schema": META_SCHEMA, "schema_version": META_VERSION, "id": entry_id, "name": name,
                            "kind": kind, **fields}  # fmt: skip
    if rescore is not None:
        meta["rescore"] = rescore
    for key, value in meta.items():
        reason = unsafe_path_reason(value) if isinstance(value, str) else None
        if reason:
            raise ValueError(f"--{key.replace('_', '-')}: {reason}; no machine paths in a submission")
    from dbdbench.submissions.schema import META_FIELDS

    try:
        check_fields(meta, META_FIELDS, "meta.json")
    except SchemaError as exc:
        raise ValueError(f"{exc} (set it with the option of that name)") from None
    return meta


def write_entry(folder: Path, meta: dict[str, Any], files: dict[str, dict[str, Any]]) -> list[Path]:
    """Write ``meta.json`` and the result files into ``folder`` (created); returns the written paths."""
    folder.mkdir(parents=True)
    written = []
    for stem, data in {"meta": meta, **files}.items():
        path = folder / f"{stem}.json"
        atomic_write_text(path, json.dumps(data, indent=1, ensure_ascii=False, allow_nan=False) + "\n")
        written.append(path)
    return written
