"""Read one (map, GT) pair as ``evaluate`` scores it, and the map-reading options a result records.

The loader of :mod:`dbdbench.evaluate` (read the GT through its cache, read the map, judge its facts, flip to
canonical polarity, fit to the GT's size), the read-ahead that overlaps decoding with scoring, and
:func:`load_scored_pair`, which reads a pair again with the settings a result recorded (``report inspect``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dbdbench.gt.cache import FROM_ENV, CacheFolder, read_gt
from dbdbench.io import read_map
from dbdbench.metrics.counts import flip
from dbdbench.sanity import Checks, MapFacts, fit_to_gt, inspect_map, thumbnail
from dbdbench.settings import POLARITIES, SHARP


class EvaluationError(ValueError):
    """Bad input to an evaluation (missing files, polarity not declared, size mismatch ...)."""


NO_FIXES = Checks()


@dataclass(frozen=True)
class Job:
    """What a worker needs to score one image (picklable)."""

    stem: str
    pred: Path | None
    gt: Path
    flip_pred: bool
    flip_gt: bool
    resize: str
    luminance: bool
    checks: Checks = NO_FIXES
    gt_cache: CacheFolder = None  # FROM_ENV on Dask workers: their own DBDBENCH_CACHE
    colormap: str | None = None


def load_pair(job: Job) -> tuple[np.ndarray, np.ndarray, MapFacts]:
    """The map and the GT of ``job`` in canonical polarity, the map at the GT's size, and their facts."""
    gt = read_gt(job.gt, job.gt_cache)
    facts = MapFacts(job.stem, job.pred.name if job.pred is not None else "", gt_shape=gt.shape[:2],
                     gt_max=float(gt.max()) if gt.size else 0.0, gt_dtype=str(gt.dtype))  # fmt: skip
    if job.flip_gt:
        gt = flip(gt)
    if job.pred is None:  # --allow-missing: an empty map (nothing predicted blurred)
        return np.zeros(gt.shape, np.uint8), gt, facts
    info: dict = {}
    pred = read_map(job.pred, luminance=job.luminance, info=info, colormap=job.colormap)
    facts.colour_spread, facts.colour = info.get("colour_spread"), info.get("colour")
    pred = inspect_map(pred, facts, job.checks)
    if job.flip_pred:
        pred = flip(pred)
    try:
        pred, _ = fit_to_gt(pred, facts, job.checks, job.resize, gt)
    except ValueError as exc:
        raise EvaluationError(f"{job.pred.parent}/{exc}") from None
    facts.thumb, facts.gt_thumb = thumbnail(pred), thumbnail(gt)  # for the unrelated-maps test
    return pred, gt, facts


#: the options of ``evaluate`` that change how a map file is read, besides ``pred_white`` and ``resize``, with
#: the values that change nothing; a result records its own in ``meta["map_reading"]``
MAP_READING: dict[str, bool | str | None] = {"rescale_maps": False, "transpose_maps": False, "rotate_maps": None,
                                             "luminance": False, "colormap": None}  # fmt: skip
#: the warning codes that show a map-reading option changed some map (and the words of the ``resized`` warning of
#: a turned-back map): how a result written before ``map_reading`` was recorded tells that one was used
_READ_CODES = ("rescaled", "luminance", "colormap", "pseudo-colour")
_TURNED_BACK = "turned back"  # dbdbench.sanity's words for a map that --transpose-maps/--rotate-maps turned


def map_reading(meta: Mapping, where: str = "result") -> dict:
    """The map-reading options (:data:`MAP_READING`) a result was scored with, from its ``meta``.

    A result written before they were recorded (no ``meta["map_reading"]``) was read with the defaults unless
    its warnings show an option that changed a map (``rescaled``, ``luminance``, ``colormap``,
    ``pseudo-colour``, or a map turned back by ``--transpose-maps`` / ``--rotate-maps``): an option that
    changed no map leaves no warning and reads as the default.

    Raises
    ------
    ValueError
        Naming ``where``: such an option was used but not recorded (evaluate the maps again), or the record
        holds an option this version does not know.
    """
    recorded = meta.get("map_reading")
    if recorded is not None:
        unknown = sorted(set(recorded) - set(MAP_READING))
        if unknown:
            raise ValueError(f"{where}: unknown map-reading option(s) {', '.join(unknown)} in meta.map_reading "
                             "(written by a newer dbdbench?); upgrade dbdbench")  # fmt: skip
        return MAP_READING | dict(recorded)
    used = sorted({w.get("code", "") for w in meta.get("warnings", []) if w.get("code") in _READ_CODES
                   or (w.get("code") == "resized" and _TURNED_BACK in w.get("message", ""))})  # fmt: skip
    if used:
        raise ValueError(f"{where}: scored with options that change how maps are read (its warnings "
                         f"{', '.join(used)} say that --rescale-maps, --transpose-maps, --rotate-maps, --luminance "
                         "or --colormap changed maps) by a dbdbench that did not record which (meta.map_reading); "
                         "evaluate the maps again with this version and use the new result")  # fmt: skip
    return dict(MAP_READING)


def load_scored_pair(pred: str | os.PathLike, gt: str | os.PathLike, meta: Mapping, *, gt_white: str,
                     pred_white: str | None = None, stem: str | None = None, where: str = "result",
                     gt_cache: CacheFolder = FROM_ENV) -> tuple[np.ndarray, np.ndarray, MapFacts]:  # fmt: skip
    """Read one (map, GT) pair exactly as ``evaluate`` read it for the result whose ``meta`` is given.

    The loader of :func:`evaluate_folder` itself, with the result's recorded settings: polarity
    (``pred_white``, unless given), ``resize`` and the map-reading options (:func:`map_reading`);
    ``gt_white`` is the dataset's. Returns the map and the GT in canonical polarity (white = blurred), the
    map at the GT's size, as they were scored, and the facts the sanity stage judged.

    Raises
    ------
    ValueError
        The options cannot be told (:func:`map_reading`), no polarity, or a file that cannot be read.
    """
    reading = map_reading(meta, where)
    white = pred_white or meta.get("pred_white")
    if white not in POLARITIES:
        raise ValueError(f"{where}: no map polarity (meta.pred_white); pass it")
    args = reading_arguments(reading)
    job = Job(stem or Path(gt).stem, Path(pred), Path(gt), white == SHARP, gt_white == SHARP,
              meta.get("resize", "bilinear"), args["luminance"], args["checks"], gt_cache, args["colormap"])
    return load_pair(job)


def reading_arguments(reading: Mapping) -> dict[str, Any]:
    """The ``checks``, ``luminance`` and ``colormap`` arguments of :func:`dbdbench.evaluate.evaluate_folder`
    (and of a :class:`Job`) that read maps with the options of a :func:`map_reading` record."""
    rotate, colormap = reading["rotate_maps"], reading["colormap"]
    checks = Checks(rescale_maps=bool(reading["rescale_maps"]), transpose_maps=bool(reading["transpose_maps"]),
                    rotate_maps=None if rotate is None else str(rotate))  # fmt: skip
    return {"checks": checks, "luminance": bool(reading["luminance"]),
            "colormap": None if colormap is None else str(colormap)}  # fmt: skip


def prefetched(jobs: Sequence[Job], depth: int = 4):
    """Yield ``(job, loaded pair)`` in order while a thread decodes the next ``depth`` images.

    PNG/JPEG decoding releases the GIL, so reading overlaps with scoring; the window bounds memory.
    """
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="dbdbench-read") as pool:
        pending: deque = deque()
        it = iter(jobs)
        for job in it:
            pending.append((job, pool.submit(load_pair, job)))
            if len(pending) >= depth:
                break
        while pending:
            job, fut = pending.popleft()
            nxt = next(it, None)
            if nxt is not None:
                pending.append((nxt, pool.submit(load_pair, nxt)))
            yield job, fut.result()

