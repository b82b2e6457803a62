"""The result of one evaluation and its versioned JSON form.

A :class:`Result` is what :meth:`dbdbench.metrics.Evaluator.compute` returns and what every report,
table, plot and submission reads. The JSON form has the same keys; ``Result.from_json(r.to_json())``
gives back an equal result. Files are written atomically: a temporary file in the same folder, then a
rename, so an interrupted run never leaves half a result behind.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dbdbench import __version__
from dbdbench.io import WriteError, atomic_path, atomic_write_bytes, atomic_write_text  # noqa: F401 (re-exported)

SCHEMA = "dbdbench.result"
SCHEMA_VERSION = 1
#: the per-image counts file beside a result JSON (:meth:`Result.save`, :mod:`dbdbench.stats.sidecar`)
COUNTS_SCHEMA = "dbdbench.counts"
COUNTS_SCHEMA_VERSION = 1
COUNTS_META_KEY = "per_image_counts"


@dataclass
class Result:
    """Scores, curves and per-image rows of one (method, dataset, protocol) evaluation.

    Attributes
    ----------
    protocol : str
        Name of the protocol that produced every number here.
    scores : dict of str to float
        Dataset scores (keys in :data:`dbdbench.metrics.METRICS`); NaN where undefined.
    curves : dict of str to ndarray
        ``thresholds, precision, recall, fpr, f`` in ascending threshold order.
    per_image : list of dict
        One row per image (``name``, per-image scores, ``empty_gt``, ``resized``).
    n_images, n_empty_gt : int
    dataset, method : str or None
    protocol_settings : dict
        Every setting of the protocol (see :class:`dbdbench.metrics.Protocol`).
    meta : dict
        Free-form provenance: prediction folder, polarity, file hashes, tool version, kind.
    """

    protocol: str
    scores: dict[str, float]
    curves: dict[str, np.ndarray] = field(default_factory=dict)
    per_image: list[dict[str, Any]] = field(default_factory=list)
    n_images: int = 0
    n_empty_gt: int = 0
    dataset: str | None = None
    method: str | None = None
    protocol_settings: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    dbdbench_version: str = __version__
    #: the JSON file this result was read from (not serialised); per-image counts files are found beside it
    source: Path | None = field(default=None, compare=False, repr=False)
    #: the per-image records it was reduced from, when computed in this process (not serialised; see
    #: :mod:`dbdbench.stats.sidecar` for the file that keeps them)
    records: list | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready dict (NaN becomes null; arrays become lists)."""
        return {
            "schema": SCHEMA,
            "schema_version": SCHEMA_VERSION,
            "dbdbench_version": self.dbdbench_version,
            "protocol": self.protocol,
            "protocol_settings": self.protocol_settings,
            "dataset": self.dataset,
            "method": self.method,
            "n_images": self.n_images,
            "n_empty_gt": self.n_empty_gt,
            "scores": {k: _num(v) for k, v in self.scores.items()},
            "curves": {k: [_num(x) for x in np.asarray(v, dtype=np.float64).tolist()] for k, v in self.curves.items()},
            "per_image": [{k: _num(v) for k, v in row.items()} for row in self.per_image],
            "meta": self.meta,
        }

    def to_json(self, path: str | os.PathLike | None = None, *, indent: int | None = 1) -> str:
        """Serialise; with ``path``, also write the file (:meth:`save`). Returns the JSON text."""
        text = json.dumps(self.to_dict(), indent=indent, allow_nan=False)
        if path is not None:
            self.save(path, indent=indent)
        return text

    def save(self, path: str | os.PathLike, *, counts: Mapping[str, np.ndarray] | None = None,
             indent: int | None = 1) -> Path:
        """Write the JSON to ``path`` (atomically), with the per-image ``counts`` arrays beside it if given.

        The counts (:func:`dbdbench.stats.sidecar.pack_records`) go to ``<stem>.counts.npz`` (:func:`counts_path`),
        written first, and ``meta["per_image_counts"]`` names the file with its SHA-256, so that the JSON never
        names a file that is not there and a changed file is refused when read. Returns the path of the
        counts file, or of the JSON when there are no counts.
        """
        path = Path(path)
        out = path
        if counts is not None:
            data = npz_bytes(counts)
            out = counts_path(path)
            atomic_write_bytes(out, data)
            self.meta[COUNTS_META_KEY] = {"file": out.name, "sha256": hashlib.sha256(data).hexdigest(),
                                          "schema": COUNTS_SCHEMA, "schema_version": COUNTS_SCHEMA_VERSION}
        text = json.dumps(self.to_dict(), indent=indent, allow_nan=False)
        atomic_write_text(path, text + "\n")
        return out

    @classmethod
    def from_json(cls, source: str | os.PathLike | dict[str, Any]) -> Result:
        """Load from a dict, a JSON string or a file path, checking the schema name and version."""
        if isinstance(source, dict):
            data = source
        else:
            text = str(source)
            if not text.lstrip().startswith("{"):
                try:
                    text = Path(source).read_text(encoding="utf-8")
                except OSError as exc:
                    raise ValueError(f"cannot read result file {source}: {exc}") from exc
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{source}: not valid JSON ({exc})") from exc
        result = cls._from_dict(data, str(source) if not isinstance(source, dict) else "<dict>")
        if isinstance(source, (str, os.PathLike)) and not str(source).lstrip().startswith("{"):
            result.source = Path(source)
        return result

    @classmethod
    def _from_dict(cls, data: dict[str, Any], where: str) -> Result:
        if data.get("schema") != SCHEMA:
            raise ValueError(f"{where}: not a dbdbench result (schema {data.get('schema')!r}, expected {SCHEMA!r})")
        if data.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(
                f"{where}: result schema version {data.get('schema_version')} is not supported "
                f"(this dbdbench reads version {SCHEMA_VERSION}); re-run dbdbench evaluate"
            )
        return cls(
            protocol=data["protocol"],
            scores={k: _float(v) for k, v in data["scores"].items()},
            curves={k: np.array([_float(x) for x in v], dtype=np.float64) for k, v in data.get("curves", {}).items()},
            per_image=[{k: v for k, v in row.items()} for row in data.get("per_image", [])],
            n_images=int(data.get("n_images", 0)),
            n_empty_gt=int(data.get("n_empty_gt", 0)),
            dataset=data.get("dataset"),
            method=data.get("method"),
            protocol_settings=data.get("protocol_settings", {}),
            meta=data.get("meta", {}),
            dbdbench_version=data.get("dbdbench_version", "unknown"),
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Result):
            return NotImplemented
        return self.to_dict() == other.to_dict()


def load_result(path: str | os.PathLike) -> Result:
    """Read a result JSON file (see :meth:`Result.from_json`)."""
    return Result.from_json(Path(path))


def find_results(paths: Iterable[str | os.PathLike]) -> tuple[list[Result], list[Path]]:
    """Result files given by name, plus every result JSON found (recursively) in the given folders.

    A file named explicitly must be a result; inside folders, other JSON files (``meta.json`` of a
    submission) are passed over and returned as the second item.

    Raises
    ------
    ValueError
        Naming the file that is unreadable or not a result, or when nothing was found.
    """
    results, others = [], []
    names = [Path(p) for p in paths]
    for path in names:
        if path.is_dir():
            for file in sorted(path.rglob("*.json")):
                try:
                    data = json.loads(file.read_text(encoding="utf-8"))
                except (OSError, json.JSONDecodeError) as exc:
                    raise ValueError(f"{file}: cannot read JSON ({exc})") from exc
                if isinstance(data, dict) and data.get("schema") == SCHEMA:
                    results.append(_load_named(file))
                else:
                    others.append(file)
        elif path.is_file():
            results.append(_load_named(path))
        else:
            raise ValueError(f"{path} does not exist; give result JSON files or folders of them")
    if not results:
        raise ValueError(f"No result files found in {', '.join(map(str, names))}")
    return results, others


def _load_named(path: Path) -> Result:
    try:
        return load_result(path)
    except (ValueError, KeyError) as exc:
        raise ValueError(f"{path}: {exc}") from exc


def _num(v: Any) -> Any:
    if isinstance(v, (float, np.floating)):
        v = float(v)
        return None if math.isnan(v) or math.isinf(v) else v
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    return v


def _float(v: Any) -> float:
    return float("nan") if v is None else float(v)


def npz_bytes(arrays: Mapping[str, np.ndarray]) -> bytes:
    """A compressed ``.npz`` of ``arrays`` whose bytes depend on the arrays only.

    ``np.savez_compressed`` stamps every member with the current time, so the same counts would hash
    differently on every run; fixed member times make the file, and its SHA-256, reproducible.
    """
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for key in sorted(arrays):
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(arrays[key]), allow_pickle=False)
            zf.writestr(info, member.getvalue())
    return buf.getvalue()


def counts_path(json_path: str | os.PathLike) -> Path:
    """Where the counts of the result ``json_path`` go: ``<stem>.counts.npz`` in the same folder."""
    path = Path(json_path)
    return path.with_name(f"{path.stem}.counts.npz")
