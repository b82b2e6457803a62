"""Score one image under a protocol: normalise, level, count (the hot path of every evaluation)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

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
    single_counts,
)
from dbdbench.metrics.handlers import get_handler, zhao_best_f, zhao_empty_mask_counts
from dbdbench.metrics.info import image_terms, structure_keys
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


def _normalise(values: np.ndarray, lo, hi, scale: int | None, proto: Protocol) -> np.ndarray:
    """The protocol's normalised map for pixel ``values`` of an image whose extrema are ``lo`` and ``hi``.

    ``values`` is either the whole image or the table of all 256 values of an 8-bit image: the same float
    operations in the same order give the same floats, so a table lookup equals the elementwise result.
    For ``mat2gray`` the result is the 0..255 score the HiFST script thresholds.
    """
    if proto.normalize == "mat2gray":
        # PRDataComputation.m: the sharp map m goes through 255 - 255 * mat2gray(m); canonical maps are blur.
        # MATLAB mat2gray: double(A) * d + (-min * d) with d = 1 / (max - min), clipped; constant: clip(A).
        full = 1.0 if scale is None else scale
        sharp = (full - values).astype(np.float64)
        s_lo, s_hi = float(full - hi), float(full - lo)
        if s_hi == s_lo:
            m = np.clip(sharp, 0.0, 1.0)
        else:
            d = 1.0 / (s_hi - s_lo)
            m = np.clip(sharp * d + (-s_lo * d), 0.0, 1.0)
        return 255.0 - m * 255
    if scale is None:
        p, p_lo, p_hi = values.astype(np.float64, copy=False), float(lo), float(hi)
    else:
        p, p_lo, p_hi = values / scale, lo / scale, hi / scale
    if proto.normalize == "minmax":
        if p_hi != p_lo:
            p = (p - p_lo) / (p_hi - p_lo)
    elif proto.normalize == "max":
        if p_hi > 0:
            p = p / p_hi
    return p


def _levels(p: np.ndarray, proto: Protocol) -> np.ndarray:
    if proto.levels == "floor":
        return (p * 255).astype(np.uint8)
    if proto.levels == "round":
        return np.rint(p * 255).astype(np.uint8)
    thresholds = np.asarray(proto.thresholds, dtype=np.float64)
    return np.searchsorted(thresholds, p, side="right") - 1


def score_image(
    pred: np.ndarray, gt: np.ndarray, proto: Protocol, *, name: str = "", structure: bool | frozenset = False
) -> ImageRecord:
    """Score one (map, mask) pair in canonical polarity (map = P(blur), mask white/True = blurred).

    ``structure``: True for every score with a per-image map term (``MetricInfo.term``: S, E and weighted
    F), or the set of those score keys wanted. Returns an :class:`ImageRecord`; the dataset reduction is
    :func:`dbdbench.metrics.reduce.reduce_records`.
    """
    if structure is True:
        structure = structure_keys()
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


_VALUES = np.arange(256)


@dataclass(frozen=True)
class _Tables:
    """Per-value tables of one protocol for an 8-bit image with extrema ``lo`` and ``hi``."""

    p: np.ndarray  # normalised value of each pixel value (what MAE and the single thresholds use)
    levels: np.ndarray | None  # threshold level of each pixel value; None when it is the value itself
    k_bin: int  # first pixel value that the fixed threshold marks positive


@lru_cache(maxsize=1024)
def _tables(proto: Protocol, lo: int, hi: int) -> _Tables:
    # values outside [lo, hi] do not occur; clamping keeps their table entries finite and in range
    score = _normalise(np.clip(_VALUES, lo, hi), lo, hi, 255, proto)
    p_table = score / 255 if proto.normalize == "mat2gray" else score
    lev = _levels(score, proto)
    side: Literal["left", "right"] = "right" if proto.binary_strict else "left"
    k_bin = int(np.searchsorted(p_table, proto.binary_threshold, side=side))
    return _Tables(p_table, None if np.array_equal(lev, _VALUES) else lev, k_bin)


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
    tb = _tables(proto, int(pred.min()), int(pred.max()))
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
    k_adp = _adaptive_value(pred, tb.p, hist, proto.adaptive_factor)
    rec = ImageRecord(name, counts, _at(by_value, k_adp), _at(by_value, tb.k_bin), mae)
    return rec, _LazyTable(tb.p, pred)


def _adaptive_value(pred: np.ndarray, p_table: np.ndarray, hist: np.ndarray, factor: float) -> int:
    """First pixel value whose normalised value is at or above ``min(factor * mean(p), 1)``.

    The mean is taken from the histogram with exact summation; only when the threshold falls within 1e-9
    of a table value, where float rounding could decide, is the float mean recomputed as the reference
    toolkits compute it (``p.mean()`` over the image).
    """
    import math

    total = math.fsum((hist[:256] + hist[256:]) * p_table)
    raw = factor * total / pred.size
    thr = min(raw, 1.0)
    k = int(np.searchsorted(p_table, thr, side="left"))
    near = np.min(np.abs(np.append(p_table, 1.0) - raw))
    if near < 1e-9:
        thr = min(factor * p_table.take(pred).mean(), 1)
        k = int(np.searchsorted(p_table, thr, side="left"))
    return k


class _LazyTable:
    """The normalised map ``p_table[pred]``, built only if something (structure metrics, best F) needs it."""

    def __init__(self, table: np.ndarray, pred: np.ndarray) -> None:
        self.table, self.pred = table, pred

    def __array__(self, dtype=None, copy=None):
        arr = self.table.take(self.pred)
        return arr if dtype is None else arr.astype(dtype)


def _score_general(pred: np.ndarray, g: np.ndarray, proto: Protocol, name: str) -> tuple[ImageRecord, np.ndarray]:
    score = _normalise(pred, pred.min(), pred.max(), full_scale(pred), proto)
    counts = cumulative_counts(_levels(score, proto), g, proto.n_levels)
    p = score / 255 if proto.normalize == "mat2gray" else score
    mae = float(np.mean(np.abs(p - g)))
    thr = min(proto.adaptive_factor * p.mean(), 1)
    binary = p > proto.binary_threshold if proto.binary_strict else p >= proto.binary_threshold
    rec = ImageRecord(name, counts, single_counts(p >= thr, g), single_counts(binary, g), mae)
    return rec, p


def _at(counts: Counts, k: int) -> tuple[int, int, int, int]:
    tp, fp = int(counts.tp[k]), int(counts.fp[k])
    return tp, fp, counts.fg - tp, counts.bg - fp
