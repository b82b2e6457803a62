"""The per-image steps of a protocol, each setting interpreted once, for numpy arrays and torch tensors.

:func:`canonical_pair` (polarity and mask binarisation), :func:`normalise`, :func:`threshold_levels`,
:func:`unit_map`, :func:`adaptive_threshold` and :func:`~dbdbench.metrics.counts.passes` are written once
against a small set of array operations: :class:`NumpyOps` (one image, extrema as scalars) for
:func:`dbdbench.metrics.image.score_image`, and :class:`dbdbench.metrics.torch_kernel.TorchOps` (a batch,
extrema as per-image columns) for the torch kernel, so that both compute the same floats in the same order.

8-bit maps need no per-pixel float work beyond the MAE: every value a protocol computes is a function of the
pixel value and the image's extrema, tabulated once per (protocol, extrema) by :func:`value_tables`;
:func:`table_terms` scores a batch of 8-bit maps from one histogram of (value, mask) per image. The numpy
``Evaluator`` calls it with one image, the torch evaluators on the CPU with a batch (on the tensors' memory);
the torch kernel on other devices makes the same tables on the device with the same steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import cv2
import numpy as np

from dbdbench.metrics.counts import binarize, cumulative_rows, flip, passes
from dbdbench.settings import SHARP

if TYPE_CHECKING:
    from dbdbench.metrics.protocols import Protocol


class NumpyOps:
    """The array operations of the per-image steps on numpy arrays, with the image's extrema as scalars.

    Besides these, the steps use only arithmetic operators, comparisons and ``.clip``, which numpy arrays and
    torch tensors share, so that :class:`dbdbench.metrics.torch_kernel.TorchOps` (these operations on torch
    tensors) runs them on batches with the same floats in the same order.
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


    @staticmethod
    def to_8bit(pred):
        """Bool maps as 0/255 8-bit maps; other maps unchanged."""
        return pred.astype(np.uint8) * np.uint8(255) if pred.dtype == np.bool_ else pred

    flip = staticmethod(flip)
    binarize = staticmethod(binarize)


NUMPY_OPS = NumpyOps()


def canonical_pair(pred, gt, proto: Protocol, ops=NUMPY_OPS):
    """The map (bool maps as 0/255) and the boolean mask of the protocol's positive class (``positive``,
    ``gt_threshold``, ``gt_strict``); maps and masks in canonical polarity, P(blur) and white = blurred."""
    pred = ops.to_8bit(pred)
    if proto.positive == SHARP:
        pred, gt = ops.flip(pred), ops.flip(gt)
    return pred, ops.binarize(gt, proto.gt_threshold, proto.gt_strict)


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


@dataclass
class TableTerms:
    """What :func:`table_terms` finds for B 8-bit maps (first dimension B).

    ``tables``: each image's :class:`ValueTables`; ``hist`` (B, 2 n_levels) int64: pixels per threshold level,
    non-mask then mask; ``tp``, ``fp`` (B, n_levels + 1): the cumulative counts of ``hist``
    (:func:`~dbdbench.metrics.counts.cumulative_rows`); ``single`` (B, 8) int64: adaptive ``tp, fp, fn, tn``
    then fixed-threshold ``tp, fp, fn, tn``; ``mae`` (B,) float64.
    """

    tables: list[ValueTables]
    hist: np.ndarray
    tp: np.ndarray
    fp: np.ndarray
    single: np.ndarray
    mae: np.ndarray


def table_terms(pred: np.ndarray, g: np.ndarray, proto: Protocol) -> TableTerms:
    """Score B 8-bit maps ``pred`` (B, N) uint8 against masks ``g`` (B, N) bool, both C-contiguous.

    One histogram of (value, mask) per image gives every count: folded through the level table into the
    curve counts, cut at the adaptive and fixed thresholds' first passing values into the single counts. The
    MAE is ``mean(|p - g|)`` with ``p = p_table[pred]``, in the float order of ``np.mean(np.abs(p - g))``.
    """
    b, size = pred.shape
    lo, hi = pred.min(axis=1).tolist(), pred.max(axis=1).tolist()
    tables = [value_tables(proto, lo_i, hi_i) for lo_i, hi_i in zip(lo, hi, strict=True)]
    by_value = np.empty((b, 512), dtype=np.int64)
    mae = np.empty(b, dtype=np.float64)
    buf = np.empty(size, dtype=np.float64)  # one float64 map, reused for every image
    for i, tb in enumerate(tables):
        by_value[i] = _value_histogram(pred[i], g[i])
        p = cv2.LUT(pred[i], tb.p, dst=buf)  # exactly p_table[pred] (into buf, which has the output's shape)
        np.subtract(p, g[i], out=p)
        np.abs(p, out=p)
        mae[i] = np.add.reduce(p) / size  # np.mean's sum and division
    tp_v, fp_v = cumulative_rows(by_value, 256)
    single = np.empty((b, 8), dtype=np.int64)
    for i, tb in enumerate(tables):  # scalars per image: cheaper than array calls for the batch sizes used
        k_adp = _adaptive_value(pred[i], tb.p, by_value[i], proto)
        single[i] = (*_cut(tp_v[i], fp_v[i], k_adp), *_cut(tp_v[i], fp_v[i], tb.k_bin))
    n = proto.n_levels
    if all(tb.levels is None for tb in tables):
        hist, tp, fp = by_value, tp_v, fp_v
    else:  # fold value bins into the protocol's threshold levels, every image in one bincount
        lev = np.stack([_VALUES if tb.levels is None else tb.levels for tb in tables]).astype(np.intp)
        idx = np.concatenate([lev, lev + n], axis=1) + 2 * n * np.arange(b)[:, None]
        hist = np.bincount(idx.ravel(), by_value.ravel(), b * 2 * n).astype(np.int64).reshape(b, 2 * n)
        tp, fp = cumulative_rows(hist, n)
    return TableTerms(tables, hist, tp, fp, single, mae)


def _value_histogram(pred: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Counts of ``pred + 256 * g`` (non-mask values, then mask values), int64 of length 512."""
    if pred.size < 1 << 24:  # calcHist counts in float32, exact below 2**24 per bin
        joint = cv2.calcHist([pred, g.view(np.uint8)], [0, 1], None, [256, 2], [0, 256, 0, 2])  # (value, mask)
        return joint.T.ravel().astype(np.int64)
    joint = np.bitwise_or(pred, np.left_shift(g.view(np.uint8), 8, dtype=np.uint16), dtype=np.uint16)
    return np.bincount(joint.ravel(), minlength=512)


def _adaptive_value(pred: np.ndarray, p_table: np.ndarray, by_value: np.ndarray, proto: Protocol) -> int:
    """The first pixel value whose normalised value passes the :func:`adaptive_threshold`.

    The mean of the map is taken from the histogram (a float sum over 256 values, within 1e-12 of the exact
    mean); only where the threshold falls within 1e-9 of a table value or of 1, where float rounding could
    decide, is the mean recomputed as the reference toolkits compute it (``p.mean()`` over the image).
    """
    mean = float(np.dot(by_value[:256] + by_value[256:], p_table)) / pred.size
    raw = proto.adaptive_factor * mean
    if min(float(np.abs(p_table - raw).min()), abs(1.0 - raw)) < 1e-9:
        mean = float(p_table.take(pred).mean())
    # p_table is non-decreasing: the first value that passes is the number of values that fail
    return int(np.count_nonzero(~passes(p_table, adaptive_threshold(mean, proto), False)))


def _cut(tp: np.ndarray, fp: np.ndarray, k: int) -> tuple[int, int, int, int]:
    """``(tp, fp, fn, tn)`` of the rule ``value >= k``, from one image's cumulative counts by value."""
    tp_k, fp_k = int(tp[k]), int(fp[k])
    return tp_k, fp_k, int(tp[0]) - tp_k, int(fp[0]) - fp_k
