"""Score one image under a protocol: normalise, level, count (the hot path of every evaluation)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import cv2
import numpy as np

from dbdbench.metrics.counts import (
    Counts,
    binarize,
    check_pair,
    counts_from_histogram,
    cumulative_counts,
    flip,
    full_scale,
    passes,
    single_counts,
)
from dbdbench.metrics.handlers import get_handler, zhao_best_f, zhao_empty_mask_counts
from dbdbench.metrics.protocols import Protocol
from dbdbench.settings import SHARP

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


class NumpyOps:
    """The array operations of the per-image steps on numpy arrays, with the image's extrema as scalars.

    :func:`normalise`, :func:`threshold_levels`, :func:`unit_map`, :func:`adaptive_threshold` and
    :func:`~dbdbench.metrics.counts.passes` interpret each protocol setting once; they run on numpy arrays
    with these operations and on batches of torch tensors (extrema as per-image columns) with
    :class:`dbdbench.metrics.torch_kernel.TorchOps`, so that both paths compute the same floats in the same
    order.
    """

    @staticmethod
    def f64(x):
        """``x`` as float64 (an exact conversion)."""
        return float(x) if np.ndim(x) == 0 else np.asarray(x).astype(np.float64, copy=False)

    @staticmethod
    def div(x, scale: int):
        """``x / scale`` in float64, correctly rounded."""
        return x / scale

    @staticmethod
    def select(cond, if_true, if_false):
        """``if_true()`` where ``cond`` holds, else ``if_false()`` (one scalar condition: only one is computed)."""
        return if_true() if cond else if_false()

    @staticmethod
    def at_most_one(x):
        return min(x, 1)

    @staticmethod
    def truncate(x):
        """Truncation to integer levels of values in [0, 255], as ``astype(uint8)``."""
        return x.astype(np.uint8)

    @staticmethod
    def rint(x):
        """Nearest integer level, ties to even, as ``np.rint``."""
        return np.rint(x).astype(np.uint8)

    @staticmethod
    def search(thresholds: tuple[float, ...], x):
        """Index of the last threshold ``<= x`` (-1 below the first), as ``searchsorted(side="right") - 1``."""
        return np.searchsorted(np.asarray(thresholds, dtype=np.float64), x, side="right") - 1


NUMPY_OPS = NumpyOps()


def normalise(values, lo, hi, scale: int | None, proto: Protocol, ops=NUMPY_OPS):
    """The protocol's normalised map for pixel ``values`` of an image whose extrema are ``lo`` and ``hi``.

    ``values`` is either the whole image or the table of all 256 values of an 8-bit image: the same float
    operations in the same order give the same floats, so a table lookup equals the elementwise result.
    ``scale`` is the integer full scale (255) or None for float values. For ``mat2gray`` the result is the
    0..255 score the HiFST script thresholds. Returns float64.
    """
    if proto.normalize == "mat2gray":
        # PRDataComputation.m: the sharp map m goes through 255 - 255 * mat2gray(m); canonical maps are blur.
        # MATLAB mat2gray: double(A) * d + (-min * d) with d = 1 / (max - min), clipped; constant: clip(A).
        full = 1.0 if scale is None else scale
        sharp = ops.f64(full - values)  # float maps: 1 - v in their own dtype first, as MATLAB's sharp map
        s_lo, s_hi = ops.f64(full - hi), ops.f64(full - lo)

        def spread():
            d = 1.0 / (s_hi - s_lo)
            return sharp * d + (-s_lo * d)

        return 255.0 - ops.select(s_hi == s_lo, lambda: sharp, spread).clip(0.0, 1.0) * 255
    if scale is None:
        p, p_lo, p_hi = ops.f64(values), ops.f64(lo), ops.f64(hi)
    else:
        p, p_lo, p_hi = ops.div(values, scale), ops.div(lo, scale), ops.div(hi, scale)
    if proto.normalize == "minmax":
        return ops.select(p_hi != p_lo, lambda: (p - p_lo) / (p_hi - p_lo), lambda: p)
    if proto.normalize == "max":
        return ops.select(p_hi > 0, lambda: p / p_hi, lambda: p)
    return p


def threshold_levels(score, proto: Protocol, ops=NUMPY_OPS):
    """The threshold level of each normalised value (``normalise``'s output): 0 .. ``n_levels - 1``."""
    if proto.levels == "floor":
        return ops.truncate(score * 255)
    if proto.levels == "round":
        return ops.rint(score * 255)
    return ops.search(proto.thresholds, score)


def unit_map(score, proto: Protocol, ops=NUMPY_OPS):
    """The normalised map on [0, 1] (MAE, adaptive and fixed thresholds) from ``normalise``'s score."""
    return ops.div(score, 255) if proto.normalize == "mat2gray" else score


def adaptive_threshold(mean_p, proto: Protocol, ops=NUMPY_OPS):
    """The adaptive threshold ``min(factor * mean(p), 1)`` from the mean of the map, rule ``p >= thr``."""
    return ops.at_most_one(proto.adaptive_factor * mean_p)


def score_image(
    pred: np.ndarray, gt: np.ndarray, proto: Protocol, *, name: str = "", structure: bool | frozenset = False
) -> ImageRecord:
    """Score one (map, mask) pair in canonical polarity (map = P(blur), mask white/True = blurred).

    ``structure``: True for S, E and weighted F, or the set of structure score keys wanted (``sm``,
    ``max_em``/``mean_em``/``adp_em``, ``wf``). Returns an :class:`ImageRecord`; the dataset reduction is
    :func:`dbdbench.metrics.reduce.reduce_records`.
    """
    if structure is True:
        structure = frozenset({"sm", "max_em", "mean_em", "adp_em", "wf"})
    pred, gt = check_pair(pred, gt)
    if pred.dtype == np.bool_:
        pred = pred.astype(np.uint8) * np.uint8(255)
    if proto.positive == SHARP:
        pred, gt = flip(pred), flip(gt)
    g = binarize(gt, proto.gt_threshold, proto.gt_strict)
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
    empty mask and all-zero-map flag where the protocol has those rules, and the structure metrics asked for.
    """
    if structure is True:
        structure = frozenset({"sm", "max_em", "mean_em", "adp_em", "wf"})
    extra: dict[str, float | np.ndarray] = {}
    handler = get_handler(proto.best_f)
    if handler is not None:
        extra[handler.key] = handler.score(p, g, proto)
    curve_counts = None
    if proto.empty_mask == "zhao" and not g.any():
        curve_counts = zhao_empty_mask_counts(p, np.asarray(proto.thresholds, dtype=np.float64))
    zero_map = bool(proto.zero_maps == "zhao" and not np.any(p))
    if structure:
        from dbdbench.metrics.structure import e_measure_adaptive, e_measure_curve, s_measure, weighted_fmeasure

        if "sm" in structure:
            extra["sm"] = s_measure(p, g)
        if structure & {"max_em", "mean_em"}:
            extra["em_curve"] = e_measure_curve(p, g)
        if "adp_em" in structure:
            extra["adp_em"] = e_measure_adaptive(p, g)
        if "wf" in structure:
            extra["wf"] = weighted_fmeasure(p, g, beta2=proto.wf_beta2)
    return extra, curve_counts, zero_map


_VALUES = np.arange(256)


@dataclass(frozen=True)
class ValueTables:
    """Per-value tables of one protocol for an 8-bit image with extrema ``lo`` and ``hi``."""

    p: np.ndarray  # normalised value of each pixel value (what MAE and the single thresholds use)
    levels: np.ndarray | None  # threshold level of each pixel value; None when it is the value itself
    k_bin: int  # first pixel value that the fixed threshold marks positive


@lru_cache(maxsize=1024)
def value_tables(proto: Protocol, lo: int, hi: int) -> ValueTables:
    """The protocol's normalised value, threshold level and fixed-threshold cut of every 8-bit pixel value."""
    # values outside [lo, hi] do not occur; clamping keeps their table entries finite and in range
    score = normalise(np.clip(_VALUES, lo, hi), lo, hi, 255, proto)
    p_table = unit_map(score, proto)
    lev = threshold_levels(score, proto)
    # p_table is non-decreasing, so the values that fail the rule are the ones below the first that passes
    k_bin = int(np.count_nonzero(~passes(p_table, proto.binary_threshold, proto.binary_strict)))
    return ValueTables(p_table, None if np.array_equal(lev, _VALUES) else lev, k_bin)


def _value_histogram(pred: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Counts of ``pred + 256 * g`` (non-mask values, then mask values), int64 of length 512."""
    joint = np.bitwise_or(pred, np.left_shift(g.view(np.uint8), 8, dtype=np.uint16), dtype=np.uint16)
    if pred.size < 1 << 24:  # calcHist counts in float32, exact below 2**24 per bin
        return cv2.calcHist([joint], [0], None, [512], [0, 512]).ravel().astype(np.int64)
    return np.bincount(joint.ravel(), minlength=512)


def _mean_abs_error(pred: np.ndarray, g: np.ndarray, p_table: np.ndarray) -> float:
    """``mean(|p - g|)`` with ``p = p_table[pred]``, in the float order of ``np.mean(np.abs(p - gt))``."""
    p = cv2.LUT(pred, p_table)  # a copy of table entries: exactly p_table[pred]
    np.subtract(p, g, out=p)
    np.abs(p, out=p)
    return float(np.mean(p))


def _score_table(pred: np.ndarray, g: np.ndarray, proto: Protocol, name: str) -> tuple[ImageRecord, _LazyTable]:
    # 8-bit maps: every per-pixel float a protocol computes is a function of the pixel value and the image's
    # extrema, so it is computed once per value (a 256-entry table) and looked up. One histogram of
    # (value, mask) gives all counts; results stay bit-identical to the elementwise reference toolkits.
    tb = value_tables(proto, int(pred.min()), int(pred.max()))
    pred = np.ascontiguousarray(pred)
    hist = _value_histogram(pred, np.ascontiguousarray(g))
    by_value = counts_from_histogram(hist, 256)
    if tb.levels is None:
        counts = by_value
    else:  # fold value bins into the protocol's threshold levels
        n = proto.n_levels
        folded = np.concatenate([np.bincount(tb.levels, hist[:256], n), np.bincount(tb.levels, hist[256:], n)])
        counts = counts_from_histogram(folded.astype(np.int64), n)
    mae = _mean_abs_error(pred, g, tb.p)
    k_adp = _adaptive_value(pred, tb.p, hist, proto)
    rec = ImageRecord(name, counts, _at(by_value, k_adp), _at(by_value, tb.k_bin), mae)
    return rec, _LazyTable(tb.p, pred)


def _adaptive_value(pred: np.ndarray, p_table: np.ndarray, hist: np.ndarray, proto: Protocol) -> int:
    """First pixel value whose normalised value is at or above the :func:`adaptive_threshold`.

    The mean is taken from the histogram with exact summation; only when the threshold falls within 1e-9
    of a table value, where float rounding could decide, is the float mean recomputed as the reference
    toolkits compute it (``p.mean()`` over the image).
    """
    import math

    total = math.fsum((hist[:256] + hist[256:]) * p_table)
    raw = proto.adaptive_factor * (total / pred.size)
    near = np.min(np.abs(np.append(p_table, 1.0) - raw))
    thr = adaptive_threshold(p_table.take(pred).mean() if near < 1e-9 else total / pred.size, proto)
    return int(np.searchsorted(p_table, thr, side="left"))  # p_table is non-decreasing


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


def _at(counts: Counts, k: int) -> tuple[int, int, int, int]:
    tp, fp = int(counts.tp[k]), int(counts.fp[k])
    return tp, fp, counts.fg - tp, counts.bg - fp
