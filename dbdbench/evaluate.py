"""Evaluate a folder of predicted maps against a registered dataset under a protocol, in parallel.

This is the glue of ``dbdbench evaluate``: pair files, read and flip to canonical polarity, resize, score
each image (:func:`dbdbench.metrics.score_image`) in worker processes, reduce, attach provenance.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from dbdbench import __version__
from dbdbench.datasets import DatasetSpec, get_dataset
from dbdbench.gtcache import read_gt
from dbdbench.gtcheck import verify_gt
from dbdbench.io import DEFAULT_SUFFIXES, pair_predictions, read_map, read_maps_meta, resize_to
from dbdbench.metrics import Evaluator, get_protocol
from dbdbench.metrics.counts import flip
from dbdbench.metrics.image import ImageRecord, score_image
from dbdbench.metrics.protocols import Protocol
from dbdbench.results import Result


class EvaluationError(ValueError):
    """Bad input to an evaluation (missing files, polarity not declared, size mismatch ...)."""


@dataclass(frozen=True)
class _Job:
    """What a worker needs to score one image (picklable)."""

    stem: str
    pred: Path | None
    gt: Path
    flip_pred: bool
    flip_gt: bool
    resize: str
    luminance: bool


def _load_pair(job: _Job) -> tuple[np.ndarray, np.ndarray, bool]:
    gt = read_gt(job.gt)
    if job.flip_gt:
        gt = flip(gt)
    if job.pred is None:  # --allow-missing: an empty map (nothing predicted blurred)
        return np.zeros(gt.shape, np.uint8), gt, False
    pred = read_map(job.pred, luminance=job.luminance)
    if job.flip_pred:
        pred = flip(pred)
    resized = pred.shape != gt.shape
    if resized:
        if job.resize == "error":
            raise EvaluationError(
                f"{job.pred}: size {pred.shape[1]}x{pred.shape[0]} differs from the GT {gt.shape[1]}x{gt.shape[0]}; "
                "use --resize bilinear|nearest to resize predictions to the GT size"
            )
        pred = resize_to(pred, gt.shape, job.resize)
    return pred, gt, resized


def _prefetched(jobs: Sequence[_Job], depth: int = 4):
    """Yield ``(job, loaded pair)`` in order while a thread decodes the next ``depth`` images.

    PNG/JPEG decoding releases the GIL, so reading overlaps with scoring; the window bounds memory.
    """
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="dbdbench-read") as pool:
        pending: deque = deque()
        it = iter(jobs)
        for job in it:
            pending.append((job, pool.submit(_load_pair, job)))
            if len(pending) >= depth:
                break
        while pending:
            job, fut = pending.popleft()
            nxt = next(it, None)
            if nxt is not None:
                pending.append((nxt, pool.submit(_load_pair, nxt)))
            yield job, fut.result()


def _score_loaded(job: _Job, pred, gt, resized: bool, proto: Protocol, structure: frozenset) -> ImageRecord:
    try:
        rec = score_image(pred, gt, proto, name=job.stem, structure=structure)
    except ValueError as exc:
        raise EvaluationError(f"{job.pred or job.gt}: {exc}") from None
    rec.resized = resized
    return rec


def _score_chunk(jobs: Sequence[_Job], proto: Protocol, structure: frozenset) -> list[ImageRecord]:
    return [_score_loaded(job, *loaded, proto, structure) for job, loaded in _prefetched(jobs)]


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def resolve_pred_white(pred_dir: Path, pred_white: str | None) -> str:
    """``pred_white`` if given, else the folder's ``meta.json`` declaration, else an error saying what to do."""
    meta = read_maps_meta(pred_dir)
    if pred_white is None:
        if meta is None:
            raise EvaluationError(
                f"{pred_dir}: what does white mean in these maps? Pass --pred-white blur (white = blurred, "
                "P(blur) maps) or --pred-white sharp (white = in focus), or add a meta.json with "
                '{"schema": "dbdbench.maps", "pred_white": "blur"}'
            )
        return meta["pred_white"]
    if pred_white not in ("blur", "sharp"):
        raise EvaluationError(f"pred_white must be 'blur' or 'sharp', got {pred_white!r}")
    if meta is not None and meta["pred_white"] != pred_white:
        warnings.warn(
            f"{pred_dir}: --pred-white {pred_white} overrides meta.json's {meta['pred_white']!r}", stacklevel=2
        )
    return pred_white


def plan_jobs(
    pred_dir: Path,
    spec: DatasetSpec,
    *,
    pred_white: str,
    data_root: str | os.PathLike | None,
    resize: str,
    allow_missing: bool,
    suffixes: tuple[str, ...],
    luminance: bool,
) -> tuple[list[_Job], dict]:
    """Pair files and decide every flip; returns the jobs and notes for the result's metadata."""
    if spec.gt_white == "unknown":
        raise EvaluationError(
            f"{spec.name}: the GT polarity of this dataset is not verified; register it with gt_white set "
            "(see docs/datasets.md) before scoring"
        )
    try:
        gt_files = spec.gt_files(data_root)
        pairing = pair_predictions(pred_dir, list(gt_files), suffixes)
    except (FileNotFoundError, ValueError) as exc:
        raise EvaluationError(str(exc)) from None
    if not gt_files:
        raise EvaluationError(f"{spec.name}: no GT files found in {spec.gt_folder(data_root)}")
    if pairing.missing and not allow_missing:
        shown = ", ".join(pairing.missing[:10]) + (" ..." if len(pairing.missing) > 10 else "")
        raise EvaluationError(
            f"{pred_dir}: {len(pairing.missing)} of {len(gt_files)} {spec.name} images have no prediction: "
            f"{shown}. Predict them, or pass --allow-missing to score them as empty maps"
        )
    jobs = [
        _Job(stem, pairing.pairs.get(stem), gt, pred_white == "sharp", spec.gt_white == "sharp", resize, luminance)
        for stem, gt in gt_files.items()
    ]
    notes = {"missing": pairing.missing, "extra": sorted(p.name for p in pairing.extra)}
    return jobs, notes


def _run(jobs: list[_Job], proto: Protocol, structure: frozenset, n_jobs: int, backend: str, progress: bool):
    bar = _progress(len(jobs), progress)
    if n_jobs == 1 and backend == "joblib":
        out = []
        for job, (pred, gt, resized) in _prefetched(jobs):
            out.append(_score_loaded(job, pred, gt, resized, proto, structure))
            bar.update(1)
        bar.close()
        return out
    size = max(8, min(64, len(jobs) // (4 * n_jobs) or 8))
    chunks = [jobs[i : i + size] for i in range(0, len(jobs), size)]
    from joblib import Parallel, delayed, parallel_backend

    context = parallel_backend("dask") if backend == "dask" else parallel_backend("loky", n_jobs=n_jobs)
    with context:
        parallel = Parallel(n_jobs=n_jobs, return_as="generator")
        results = []
        for recs in parallel(delayed(_score_chunk)(c, proto, structure) for c in chunks):
            results.extend(recs)
            bar.update(len(recs))
    bar.close()
    return results


def _progress(total: int, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="img", desc="scoring", disable=not enabled, leave=False)


def evaluate_folder(
    pred_dir: str | os.PathLike,
    dataset: str | DatasetSpec,
    protocol: str | Protocol = "dbdbench",
    *,
    pred_white: str | None = None,
    data_root: str | os.PathLike | None = None,
    metrics: Sequence[str] | None = None,
    resize: str = "bilinear",
    allow_missing: bool = False,
    jobs: int = 1,
    backend: str = "joblib",
    progress: bool = False,
    suffixes: tuple[str, ...] = DEFAULT_SUFFIXES,
    luminance: bool = False,
    method: str | None = None,
    hashes: bool = True,
    allow_foreign_gt: bool = False,
) -> Result:
    """Score a folder of predicted maps against a registered dataset.

    Parameters
    ----------
    pred_dir : path
        Maps named by image stem (case-insensitive; common suffixes such as ``_pred`` are tolerated).
    dataset : str or DatasetSpec
        A registered dataset name (``dbdbench datasets`` lists them).
    protocol : str or Protocol
        Evaluation conventions (``docs/protocols.md``); default ``"dbdbench"``.
    pred_white : {"blur", "sharp"}, optional
        What white means in the maps; required unless the folder's ``meta.json`` declares it.
    data_root : path, optional
        Root of the datasets (default ``$DBDBENCH_DATA``, then ``~/.cache/dbdbench/data``).
    metrics : sequence of str, optional
        Score keys (default: the protocol's).
    resize : {"bilinear", "nearest", "error"}
        What to do with a prediction whose size differs from its GT; resized images are flagged.
    allow_missing : bool
        Score images without a prediction as empty maps (and record them) instead of failing.
    jobs : int
        Worker processes (joblib); results are identical for any number.
    backend : {"joblib", "dask"}
        ``"dask"`` runs the same chunks on the Dask cluster of the active ``distributed.Client``.
    allow_foreign_gt : bool
        Score a GT copy that differs from the masks the registry pins (inverted or foreign, see
        :mod:`dbdbench.gtcheck`) instead of refusing it; recorded in ``meta["warnings"]``.

    Returns
    -------
    Result
        With ``dataset``, ``method``, per-image rows and provenance in ``meta`` (polarity, file hashes).
    """
    pred_dir = Path(pred_dir)
    spec = dataset if isinstance(dataset, DatasetSpec) else get_dataset(dataset)
    proto = get_protocol(protocol)
    white = resolve_pred_white(pred_dir, pred_white)
    job_list, notes = plan_jobs(
        pred_dir, spec, pred_white=white, data_root=data_root, resize=resize, allow_missing=allow_missing,
        suffixes=suffixes, luminance=luminance,
    )  # fmt: skip
    gt_warnings = _check_gt(spec, job_list, allow_foreign_gt)
    ev = Evaluator(proto, metrics)
    ev.add(_run(job_list, proto, ev.structure, jobs, backend, progress))
    maps_meta = read_maps_meta(pred_dir) or {}
    meta = {
        "kind": "rescored",
        "pred_dir": pred_dir.name,
        "pred_white": white,
        "resize": resize,
        "n_resized": sum(r.resized for r in ev.records),
        "missing": notes["missing"],
        "extra_files": notes["extra"],
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "tool": f"dbdbench {__version__}",
    }
    if gt_warnings:
        meta.setdefault("warnings", []).extend(gt_warnings)
    if hashes:
        meta["files_sha256"] = {j.stem: sha256_file(j.pred) for j in job_list if j.pred is not None}
    result = ev.compute(dataset=spec.name, method=method or maps_meta.get("method") or pred_dir.name, meta=meta)
    _warn_if_inverted(result, pred_dir)
    return result


def _check_gt(spec: DatasetSpec, jobs: list[_Job], allow_foreign: bool) -> list[dict]:
    """GT integrity before scoring (:mod:`dbdbench.gtcheck`): refuse an inverted or foreign copy, else warn."""
    findings = verify_gt(spec, {j.stem: j.gt for j in jobs}, allow_foreign=allow_foreign)
    errors = [f.message for f in findings if f.level == "error"]
    if errors:
        raise EvaluationError("\n".join(errors))
    for f in findings:
        warnings.warn(f.message, stacklevel=3)
    return [f.as_warning() for f in findings]


def _warn_if_inverted(result: Result, pred_dir: Path) -> None:
    # For a binary mask, |p - g| + |(1 - p) - g| = 1 per pixel, so MAE(flipped) = 1 - MAE: maps whose MAE is
    # well above 0.5 would score far better with the other polarity.
    maes = [row["mae"] for row in result.per_image if row.get("mae") is not None]
    if maes and float(np.mean(maes)) > 0.6:
        mae = float(np.mean(maes))
        warnings.warn(
            f"{pred_dir}: MAE {mae:.3f}; flipped maps would give {1 - mae:.3f}. Check --pred-white "
            f"(currently {result.meta['pred_white']!r})",
            stacklevel=3,
        )
