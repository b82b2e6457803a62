"""Evaluate a folder of predicted maps against a registered dataset under a protocol, in parallel.

This is the glue of ``dbdbench evaluate``: pair files, read and flip to canonical polarity, resize
(:mod:`dbdbench.loading`), score each image through :meth:`dbdbench.metrics.Evaluator.update` (the API's
input contract, one implementation for the CLI and the library) in worker processes, reduce, attach
provenance. The protocol is resolved once, and every finding stays a :class:`~dbdbench.findings.Finding`
until the result is written.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

from dbdbench import __version__
from dbdbench.cluster import WORKER_TIMEOUT
from dbdbench.datasets import DatasetSpec, get_dataset, list_datasets, resolve_data_root
from dbdbench.gt.cache import FROM_ENV, CacheFolder, resolve_folder
from dbdbench.gt.check import verify_gt
from dbdbench.io import (
    DEFAULT_SUFFIXES,
    MAP_EXTS,
    colormap_table,
    pair_predictions,
    read_maps_meta,
    resolve_pred_white,
)
from dbdbench.loading import NO_FIXES, EvaluationError, Job, prefetched
from dbdbench.metrics import Evaluator, get_protocol
from dbdbench.metrics.image import ImageRecord
from dbdbench.metrics.protocols import Protocol
from dbdbench.results import Result
from dbdbench.sanity import (
    Checks,
    Finding,
    MapFacts,
    ambiguous_folders,
    review_maps,
    review_pairing,
    review_size,
    settle,
    swapped_maps,
    unknown_folders,
)
from dbdbench.settings import SHARP

#: the value rules that the folder review judges from the files' facts (named by file, with the CLI's fixes):
#: the workers' Evaluators accept them and return their findings; ``swapped-arguments`` is judged from those
_JUDGED_BY_FOLDER = ("range-01", "range-few-levels", "range-16bit-8bit-values", "swapped-arguments")


def _evaluator(proto: Protocol, metrics: tuple[str, ...]) -> Evaluator:
    """The Evaluator a worker feeds: the protocol resolved once by the caller, the API's input contract."""
    return Evaluator(proto, metrics, accept=_JUDGED_BY_FOLDER)


def _score_loaded(job: Job, pred, gt, facts: MapFacts, ev: Evaluator) -> tuple[ImageRecord, MapFacts]:
    try:
        rec = ev.update(pred, gt, job.stem, resized=facts.resized)
    except ValueError as exc:
        raise EvaluationError(f"{job.pred or job.gt}: {exc}") from None
    return rec, facts


def _score_chunk(jobs: Sequence[Job], proto: Protocol,
                 metrics: tuple[str, ...]) -> tuple[list[tuple[ImageRecord, MapFacts]], list[Finding]]:
    ev = _evaluator(proto, metrics)
    scored = [_score_loaded(job, pred, gt, facts, ev) for job, (pred, gt, facts) in prefetched(jobs)]
    return scored, ev.findings


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


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
    checks: Checks = NO_FIXES,
    gt_cache: Path | None = None,
    colormap: str | None = None,
) -> tuple[list[Job], list[Finding], dict]:
    """Pair files and decide every flip; returns the jobs, the pairing findings and notes for the metadata."""
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
    extra = sorted(p.name for p in pairing.extra)
    findings = review_size(spec.name, spec.n_images, spec.split, len(gt_files), checks)
    findings += review_pairing(str(pred_dir), len(gt_files), pairing.missing, extra, list(gt_files),
                               allow_missing=allow_missing, checks=checks,
                               unread=[p.name for p in pairing.unread])  # fmt: skip
    jobs = [
        Job(stem, pairing.pairs.get(stem), gt, pred_white == SHARP, spec.gt_white == SHARP, resize, luminance,
             checks, gt_cache, colormap)  # fmt: skip
        for stem, gt in gt_files.items()
    ]
    notes = {"missing": pairing.missing, "extra": extra}
    return jobs, findings, notes


def _run(jobs: list[Job], proto: Protocol, metrics: tuple[str, ...], n_jobs: int, backend: str, progress: bool,
         timeout: float = WORKER_TIMEOUT):  # fmt: skip
    """Score every job through an :class:`~dbdbench.metrics.Evaluator` (per process); returns the
    ``(record, facts)`` pairs in job order and the input findings of the Evaluators."""
    bar = _progress(len(jobs), progress)
    if n_jobs == 1 and backend == "joblib":
        ev = _evaluator(proto, metrics)
        out = []
        for job, (pred, gt, facts) in prefetched(jobs):
            out.append(_score_loaded(job, pred, gt, facts, ev))
            bar.update(1)
        bar.close()
        return out, ev.findings
    if backend == "dask":
        from dbdbench.cluster import map_in_order, total_threads

        n_jobs = total_threads()
        # every worker reads its own DBDBENCH_CACHE: the client's cache folder may not exist over there
        jobs = [replace(job, gt_cache=FROM_ENV) for job in jobs]
    size = max(8, min(64, len(jobs) // (4 * n_jobs) or 8))
    chunks = [jobs[i : i + size] for i in range(0, len(jobs), size)]
    results, findings = [], []
    with ExitStack() as stack:
        if backend == "dask":  # results in order; the bar moves as chunks finish, in any order
            done = map_in_order(_score_chunk, chunks, timeout=timeout, on_result=lambda out: bar.update(len(out[0])),
                                proto=proto, metrics=metrics)  # fmt: skip
        else:
            from joblib import Parallel, delayed, parallel_backend

            stack.enter_context(parallel_backend("loky", n_jobs=n_jobs))
            parallel = Parallel(n_jobs=n_jobs, return_as="generator")
            done = parallel(delayed(_score_chunk)(c, proto, metrics) for c in chunks)
        for recs, found in done:
            results.extend(recs)
            findings.extend(found)
            if backend != "dask":
                bar.update(len(recs))
    bar.close()
    return results, findings


class _NoBar:
    """What ``--quiet`` uses instead of a progress bar (tqdm is not imported)."""

    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int, enabled: bool):
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="img", desc="scoring", leave=False)


def evaluation_targets(
    pred_dir: Path, datasets: Sequence[str], checks: Checks = NO_FIXES
) -> tuple[list[tuple[Path, str]], list[Finding]]:
    """What a folder of predictions is scored against: ``(folder, dataset)`` pairs and the folder findings.

    With one dataset named and no sub-folder of its name, the folder itself; otherwise one sub-folder per
    dataset, those named in ``datasets`` or, when none is named, every sub-folder named after a registered
    dataset. In that last case every sub-folder must name a dataset: a mistyped one would otherwise be
    skipped silently, so it is refused (``unknown-folders``) unless accepted.

    Raises
    ------
    EvaluationError
        Missing folder, no dataset to score, a named dataset without its sub-folder.
    SanityError
        Unknown sub-folders that were not accepted.
    """
    if not pred_dir.is_dir():
        raise EvaluationError(f"prediction folder {pred_dir} does not exist")
    entries = sorted(pred_dir.iterdir())
    dirs = [p for p in entries if p.is_dir() and not p.name.startswith(".")]
    subdirs = {p.name.lower(): p for p in dirs}
    maps_here = [p.name for p in entries if p.is_file() and p.suffix.lower() in MAP_EXTS]
    accepted = ambiguous_folders(pred_dir, dirs, maps_here, datasets, list_datasets(), checks)
    if not datasets:
        found = [name for name in list_datasets() if name.lower() in subdirs]
        if not found:
            raise EvaluationError(f"{pred_dir}: pass --dataset NAME, or give a folder with one sub-folder per "
                                  "dataset (named as in `dbdbench datasets`)")  # fmt: skip
        known = {n.lower() for n in found}
        unknown = [p.name for key, p in subdirs.items() if key not in known]
        findings = unknown_folders(pred_dir, unknown, list_datasets(), checks)
        settle(findings, checks)
        return [(subdirs[n.lower()], n) for n in found], [*accepted, *findings]
    names = [get_dataset(d).name for d in datasets]
    if len(names) == 1 and names[0].lower() not in subdirs:
        return [(pred_dir, names[0])], accepted
    missing = [n for n in names if n.lower() not in subdirs]
    if missing:
        raise EvaluationError(f"{pred_dir}: no sub-folder for dataset(s) {', '.join(missing)}")
    return [(subdirs[n.lower()], n) for n in names], accepted


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
    checks: Checks | None = None,
    findings: Sequence[Finding] = (),
    gt_cache: CacheFolder = FROM_ENV,
    timeout: float = WORKER_TIMEOUT,
    colormap: str | None = None,
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
        What to do with a prediction whose size differs from its GT; resized images are flagged. A map whose
        width and height are the GT's swapped is never resized silently (see :mod:`dbdbench.sanity`).
    allow_missing : bool
        Score images without a prediction as empty maps (and record them) instead of failing.
    jobs : int
        Worker processes (joblib); results are identical for any number.
    backend : {"joblib", "dask"}
        ``"dask"`` runs the same chunks on the Dask cluster of the active ``distributed.Client``
        (``docs/scale.md``); every path is made absolute first, and the workers must see the same paths.
        Each worker reads the GT through its own ``DBDBENCH_CACHE`` setting.
    checks : Checks, optional
        Fixes and overrides of the sanity stage (:class:`dbdbench.sanity.Checks`); default: refuse every
        risky input.
    findings : sequence of Finding
        Findings made before this call (e.g. accepted unknown sub-folders), stored with the result's warnings.
    colormap : str, optional
        Read colour maps as renderings of this matplotlib colormap (:func:`dbdbench.io.invert_colormap`);
        not with ``luminance``.
    gt_cache : Path, None or "env"
        Folder of the decoded-GT cache (:mod:`dbdbench.gt.cache`); None turns it off; "env" (default) reads
        ``DBDBENCH_CACHE`` once for the whole evaluation.
    timeout : float
        [dask] Seconds to wait while no worker is connected before giving up
        (:class:`dbdbench.cluster.ClusterError`).

    Returns
    -------
    Result
        With ``dataset``, ``method``, per-image rows and provenance in ``meta`` (polarity, file hashes) and
        every warning of the sanity stage and of the protocol's scoring in ``meta["warnings"]``.

    Raises
    ------
    SanityError
        (a ``ValueError``) when the sanity stage refuses the input; nothing is returned or written.
    """
    pred_dir = Path(os.path.abspath(pred_dir))  # workers of a cluster run in other folders: no relative path
    data_root = Path(os.path.abspath(resolve_data_root(data_root)))
    checks = Checks() if checks is None else checks
    if colormap is not None:
        if luminance:
            raise EvaluationError("pass either --luminance or --colormap, not both")
        colormap_table(colormap)  # an unknown name fails here, naming the valid ones
    spec = dataset if isinstance(dataset, DatasetSpec) else get_dataset(dataset)
    proto = get_protocol(protocol)
    white, override = resolve_pred_white(pred_dir, pred_white)
    cache = resolve_folder(gt_cache)  # the environment is read once, here
    cache = None if cache is None else Path(os.path.abspath(cache))
    job_list, found, notes = plan_jobs(
        pred_dir, spec, pred_white=white, data_root=data_root, resize=resize, allow_missing=allow_missing,
        suffixes=suffixes, luminance=luminance, checks=checks, gt_cache=cache, colormap=colormap,
    )  # fmt: skip
    found = [*findings, *found]
    found += verify_gt(spec, {j.stem: j.gt for j in job_list}, checks, cache=cache)  # GT integrity (dbdbench.gt.check)
    if any(f.severity == "error" for f in found):
        settle(found, checks)  # refuse before any image is scored
    if override:
        found.append(Finding("pred-white-override", "warning", override))
    ev = Evaluator(proto, metrics)
    scored, value_findings = _run(job_list, proto, ev.metrics, jobs, backend, progress, timeout)
    ev.add(rec for rec, _ in scored)
    found += swapped_maps(value_findings, {j.stem: j.pred.name for j in job_list if j.pred is not None}, checks,
                      pred_dir)
    maps_meta = read_maps_meta(pred_dir) or {}
    meta = {
        "kind": "rescored",
        "pred_dir": pred_dir.name,
        "pred_white": white,
        "resize": resize,
        "n_resized": sum(r.resized for r in ev.records),
        "map_reading": {"rescale_maps": checks.rescale_maps, "transpose_maps": checks.transpose_maps,
                        "rotate_maps": checks.rotate_maps, "luminance": luminance, "colormap": colormap},
        "n_images_registered": spec.n_images,
        "missing": notes["missing"],
        "extra_files": notes["extra"],
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "tool": f"dbdbench {__version__}",
    }
    if hashes:
        meta["files_sha256"] = {j.stem: sha256_file(j.pred) for j in job_list if j.pred is not None}
    result = ev.compute(dataset=spec.name, method=method or maps_meta.get("method") or pred_dir.name, meta=meta)
    rows = {row["name"]: row for row in result.per_image}
    found += review_maps([f for _, f in scored], {s: r["mae"] for s, r in rows.items()}, checks, str(pred_dir))
    scoring = result.meta.pop("warnings", [])  # the protocol's own (Evaluator.compute)
    found += [Finding.recorded(w) for w in scoring]
    result.meta["warnings"] = settle(found, checks)
    return result


def evaluate_protocols(
    pred_dirs: Mapping[str, str | os.PathLike],
    dataset: str,
    pred_white: str | Mapping[str, str] | None = None,
    protocols: Sequence[str] | None = None,
    data_root: str | os.PathLike | None = None,
) -> list[Result]:
    """Score every method's folder on ``dataset`` under every protocol (the input of a sensitivity report).

    Parameters
    ----------
    pred_dirs : mapping
        Method name -> folder of its predicted maps; results are named by the mapping's keys.
    dataset : str
        Registered dataset name.
    pred_white : {"blur", "sharp"} or mapping method -> polarity, optional
        What white means in each method's maps; a method not given here must declare it in its folder's
        ``meta.json`` (the rule of :func:`dbdbench.io.resolve_pred_white`, as for ``evaluate``).
    protocols : sequence of str, optional
        Default: all of :func:`dbdbench.metrics.list_protocols`; at least two.
    data_root : path, optional
        Passed to :func:`evaluate_folder`.

    Returns
    -------
    list of Result
        One per (method, protocol), for :func:`dbdbench.report.sensitivity_from_results`.
    """
    from dbdbench.metrics import list_protocols

    protocols = list(protocols) if protocols is not None else list_protocols()
    if len(protocols) < 2:
        raise ValueError(f"Need at least two protocols to compare, got {protocols}")
    results = []
    for method, folder in pred_dirs.items():
        white = pred_white if isinstance(pred_white, str) or pred_white is None else pred_white.get(method)
        for protocol in protocols:
            result = evaluate_folder(Path(folder), dataset, protocol=protocol, pred_white=white, data_root=data_root)
            result.method = method
            results.append(result)
    return results
