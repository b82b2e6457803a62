"""Per-image counts stored beside a result JSON, so that results can be compared without the maps.

The JSON of a result stays small: the per-image confusion counts (one row of cumulative counts per image,
the single-threshold counts, MAE and the per-image map terms) go into a compressed ``.npz`` file next to it,
named ``<stem>.counts.npz``, which :meth:`dbdbench.results.Result.save` writes from the arrays that
:func:`pack_records` packs (saving a result happens there and only there). The JSON references the file
by name and SHA-256 in ``meta["per_image_counts"]``; a file whose hash differs is refused, so a stale or
swapped file can never feed a comparison. Results without the file load as before; only the statistics
that need the counts ask for it.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dbdbench.metrics.counts import Counts
from dbdbench.metrics.image import ImageRecord
from dbdbench.results import COUNTS_META_KEY as META_KEY
from dbdbench.results import COUNTS_SCHEMA as SCHEMA
from dbdbench.results import COUNTS_SCHEMA_VERSION as SCHEMA_VERSION
from dbdbench.results import Result


def pack_records(records: Sequence[ImageRecord]) -> dict[str, np.ndarray]:
    """The arrays of the counts file: names, per-level mask and non-mask pixel counts, single-threshold counts ...

    The cumulative counts ``tp[k]`` (pixels at level >= k) are stored as their per-level histogram
    ``tp[k] - tp[k + 1]`` (the last entry is always 0), which compresses better, in the smallest unsigned
    integer type that holds it.
    """
    tp = np.stack([r.counts.tp for r in records])
    fp = np.stack([r.counts.fp for r in records])
    fg_hist, bg_hist = tp[:, :-1] - tp[:, 1:], fp[:, :-1] - fp[:, 1:]
    top = max(int(tp[:, 0].max()), int(fp[:, 0].max()))
    count_dtype = next(t for t in (np.uint8, np.uint16, np.uint32, np.uint64) if top <= np.iinfo(t).max)
    arrays = {
        "names": np.array([r.name for r in records], dtype=str),
        "fg_hist": fg_hist.astype(count_dtype),
        "bg_hist": bg_hist.astype(count_dtype),
        "adaptive": np.array([r.adaptive for r in records], dtype=np.int64),
        "binary": np.array([r.binary for r in records], dtype=np.int64),
        "mae": np.array([r.mae for r in records], dtype=np.float64),
        "resized": np.array([r.resized for r in records], dtype=bool),
    }
    for key in records[0].extra:  # the handler's score and the map terms (MetricInfo.term) computed
        arrays[f"extra_{key}"] = np.array([r.extra[key] for r in records], dtype=np.float64)
    return arrays


def _four(row: np.ndarray) -> tuple[int, int, int, int]:
    tp, fp, fn, tn = (int(x) for x in row)
    return tp, fp, fn, tn


def unpack_records(arrays: dict[str, np.ndarray]) -> list[ImageRecord]:
    """The :class:`~dbdbench.metrics.ImageRecord` list that :func:`pack_records` packed (exact inverse)."""
    tp, fp = _cumulative(arrays["fg_hist"]), _cumulative(arrays["bg_hist"])
    extras = {k[len("extra_") :]: v for k, v in arrays.items() if k.startswith("extra_")}
    records = []
    for i, name in enumerate(arrays["names"].tolist()):
        counts = Counts(tp=tp[i], fp=fp[i], fg=int(tp[i, 0]), bg=int(fp[i, 0]))
        extra = {k: (v[i] if v.ndim > 1 else float(v[i])) for k, v in extras.items()}
        rec = ImageRecord(
            name, counts, _four(arrays["adaptive"][i]), _four(arrays["binary"][i]),
            float(arrays["mae"][i]), extra, bool(arrays["resized"][i]),
        )  # fmt: skip
        records.append(rec)
    return records


def _cumulative(hist: np.ndarray) -> np.ndarray:
    """``c[k] = sum(hist[k:])`` with the end point ``c[n] = 0``, in int64."""
    rev = np.cumsum(hist[:, ::-1].astype(np.int64), axis=1)[:, ::-1]
    return np.concatenate([rev, np.zeros((len(hist), 1), np.int64)], axis=1)


def write_result_with_counts(result: Result, json_path: str | os.PathLike, records: Sequence[ImageRecord]) -> Path:
    """Save ``result`` with the per-image counts of ``records`` beside it (:meth:`~dbdbench.results.Result.save`).

    Returns the path of the counts file.
    """
    names = [row["name"] for row in result.per_image]
    if names != [r.name for r in records]:
        raise ValueError(f"{json_path}: the records do not belong to this result (image names differ)")
    return result.save(json_path, counts=pack_records(records))


def has_counts(result: Result) -> bool:
    """Whether ``result`` references a counts file."""
    return META_KEY in result.meta


def read_counts(result: Result, json_path: str | os.PathLike | None = None) -> list[ImageRecord]:
    """The per-image records of ``result`` from its counts file, after checking name, schema and hash.

    Parameters
    ----------
    result : Result
        A result loaded from a file (its ``source`` gives the folder), or any result with ``json_path``.
    json_path : path, optional
        The JSON file the result came from (default ``result.source``).

    Raises
    ------
    ValueError
        Naming the file: no counts referenced, file missing, hash or schema mismatch, images differing
        from the JSON's per-image rows.
    """
    where = json_path or result.source
    ref = result.meta.get(META_KEY)
    if ref is None:
        raise ValueError(
            f"{where or result.method}: this result has no per-image counts file; re-run `dbdbench evaluate "
            "--json` to write one (it is needed for dataset-level scores such as max_f)"
        )
    if where is None:
        raise ValueError(f"{result.method}: result not loaded from a file, so its counts file cannot be found")
    npz = Path(where).with_name(ref["file"])
    if (ref.get("schema"), ref.get("schema_version")) != (SCHEMA, SCHEMA_VERSION):
        raise ValueError(f"{npz}: counts schema {ref.get('schema')!r} v{ref.get('schema_version')} is not "
                         f"{SCHEMA!r} v{SCHEMA_VERSION}; re-run dbdbench evaluate --json")
    try:
        data = npz.read_bytes()
    except OSError as exc:
        raise ValueError(f"{npz}: cannot read the per-image counts file named in {where} ({exc})") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != ref["sha256"]:
        raise ValueError(
            f"{npz}: SHA-256 {digest[:12]}... differs from {ref['sha256'][:12]}... recorded in {where}; the file "
            "was changed or belongs to another result. Re-run dbdbench evaluate --json to write both again"
        )
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        records = unpack_records({k: z[k] for k in z.files})
    if [r.name for r in records] != [row["name"] for row in result.per_image]:
        raise ValueError(f"{npz}: its images differ from the per-image rows of {where}")
    return records
