"""Score one image under a protocol: normalise, level, count (the hot path of every evaluation)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dbdbench.metrics.counts import Counts, check_pair, cumulative_counts, full_scale, passes, single_counts
from dbdbench.metrics.handlers import get_handler, zhao_best_f, zhao_empty_mask_counts
from dbdbench.metrics.info import image_terms, structure_keys
from dbdbench.metrics.protocols import Protocol
from dbdbench.metrics.steps import (
    adaptive_threshold,
    canonical_pair,
    normalise,
    table_terms,
    threshold_levels,
    unit_map,
)

__all__ = ["ImageRecord", "score_image", "zhao_best_f", "zhao_empty_mask_counts"]


@dataclass
class ImageRecord:
    """What one image contributes: curve counts and single-threshold counts, plus per-image scalars."""

    name: str
    counts: Counts
    adaptive: tuple[int, int, int, int]
    binary: tuple[int, int, int, int]
    mae: float
    extra: dict[str, float | np.ndarray] = field(default_factory=dict)
    resized: bool = False
    #: counts the curves use where the protocol scores the image otherwise than by its mask (Zhao's empty mask)
    curve_counts: Counts | None = None
    #: the protocol's map is all zero (``zero_maps="zhao"``: one fewer in the means' divisor if read last)
    zero_map: bool = False

    @property
    def empty_gt(self) -> bool:
        return self.counts.fg == 0

    @property
    def full_gt(self) -> bool:
        return self.counts.bg == 0


def score_image(
    pred: np.ndarray, gt: np.ndarray, proto: Protocol, *, name: str = "", structure: bool | frozenset = False
) -> ImageRecord:
    """Score one (map, mask) pair in canonical polarity (map = P(blur), mask white/True = blurred).

    ``structure``: True for every score with a per-image map term (``MetricInfo.term``: S, E and weighted
    F), or the set of those score keys wanted. Returns an :class:`ImageRecord`; the dataset reduction is
    :func:`dbdbench.metrics.reduce.reduce_records`.
    """
    pred, g = canonical_pair(*check_pair(pred, gt), proto)
    return score_canonical(pred, g, proto, name=name, structure=structure)


def score_canonical(pred: np.ndarray, g: np.ndarray, proto: Protocol, *, name: str = "",
                    structure: bool | frozenset = False) -> ImageRecord:
    """:func:`score_image` of a checked pair already in the protocol's positive class (``steps.canonical_pair``)."""
    if structure is True:
        structure = structure_keys()
    lazy: np.ndarray | _LazyTable
    if pred.dtype == np.uint8:
        rec, lazy = _score_table(pred, g, proto, name)
    else:
        rec, lazy = _score_general(pred, g, proto, name)
    if not needs_map(proto, structure):
        return rec
    extra, rec.curve_counts, rec.zero_map = map_terms(np.asarray(lazy), g, proto, structure)  # map built here
    rec.extra |= extra
    return rec


def needs_map(proto: Protocol, structure: bool | frozenset) -> bool:
    """Whether records of ``proto`` need terms of the whole normalised map (:func:`map_terms`)."""
    return (get_handler(proto.best_f) is not None or bool(structure) or proto.empty_mask == "zhao"
            or proto.zero_maps == "zhao")


def map_terms(p: np.ndarray, g: np.ndarray, proto: Protocol,
              structure: bool | frozenset) -> tuple[dict, Counts | None, bool]:
    """The parts of an :class:`ImageRecord` that need the whole map: ``(extra, curve_counts, zero_map)``.

    ``p`` is the protocol's normalised map (float64) and ``g`` its boolean mask, as :func:`score_image` builds
    them: the protocol's per-image handler score (Zhao et al.'s best F), Zhao et al.'s curve counts of an
    empty mask and all-zero-map flag where the protocol has those rules, and the map terms
    (``MetricInfo.term``) of the structure scores asked for, each once.
    """
    if structure is True:
        structure = structure_keys()
    extra: dict[str, float | np.ndarray] = {}
    handler = get_handler(proto.best_f)
    if handler is not None:
        extra[handler.key] = handler.score(p, g, proto)
    curve_counts = None
    if proto.empty_mask == "zhao" and not g.any():
        curve_counts = zhao_empty_mask_counts(p, np.asarray(proto.thresholds, dtype=np.float64))
    zero_map = bool(proto.zero_maps == "zhao" and not np.any(p))
    if structure:
        for term in image_terms(structure):
            extra[term.key] = term.compute(p, g, proto)
    return extra, curve_counts, zero_map


def _score_table(pred: np.ndarray, g: np.ndarray, proto: Protocol, name: str) -> tuple[ImageRecord, _LazyTable]:
    # 8-bit maps: the batch kernel of steps.table_terms with one image (tables, one histogram, the MAE)
    pred = np.ascontiguousarray(pred)
    t = table_terms(pred.reshape(1, -1), np.ascontiguousarray(g).reshape(1, -1), proto)
    counts = Counts(tp=t.tp[0], fp=t.fp[0], fg=int(t.tp[0, 0]), bg=int(t.fp[0, 0]))
    a_tp, a_fp, a_fn, a_tn, b_tp, b_fp, b_fn, b_tn = t.single[0].tolist()
    rec = ImageRecord(name, counts, (a_tp, a_fp, a_fn, a_tn), (b_tp, b_fp, b_fn, b_tn), float(t.mae[0]))
    return rec, _LazyTable(t.tables[0].p, pred)


class _LazyTable:
    """The normalised map ``p_table[pred]``, built only if something (structure metrics, best F) needs it."""

    def __init__(self, table: np.ndarray, pred: np.ndarray) -> None:
        self.table, self.pred = table, pred

    def __array__(self, dtype=None, copy=None):
        arr = self.table.take(self.pred)
        return arr if dtype is None else arr.astype(dtype)


def _score_general(pred: np.ndarray, g: np.ndarray, proto: Protocol, name: str) -> tuple[ImageRecord, np.ndarray]:
    score = normalise(pred, pred.min(), pred.max(), full_scale(pred), proto)
    counts = cumulative_counts(threshold_levels(score, proto), g, proto.n_levels)
    p = unit_map(score, proto)
    mae = float(np.mean(np.abs(p - g)))
    adaptive = passes(p, adaptive_threshold(p.mean(), proto), False)
    binary = passes(p, proto.binary_threshold, proto.binary_strict)
    rec = ImageRecord(name, counts, single_counts(adaptive, g), single_counts(binary, g), mae)
    return rec, p
