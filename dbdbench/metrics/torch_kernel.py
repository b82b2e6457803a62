"""The per-image kernel of :mod:`dbdbench.metrics.image` on batches of torch tensors, on any device.

For a batch of same-size images (``pred`` (B, N) flattened maps, ``gt`` (B, N) masks) it returns what
:func:`~dbdbench.metrics.image.score_image` would put in each image's record, as device tensors and without
a host synchronisation: the joint histogram of (threshold level, mask) from which every curve count follows,
the adaptive- and fixed-threshold confusion counts, and the MAE. Each step does the float operations of the
numpy kernel in the same order and precision (float64, as numpy promotes), so the numbers are the same bits:

- normalisation (:func:`normalise`) mirrors ``image._normalise`` operation by operation, with the image's
  extrema as per-image columns and the constant-map branches as ``torch.where``;
- 8-bit maps go through per-image 256-entry tables (as ``image._tables``): one histogram of
  ``value + 256 * mask`` is folded into threshold levels, and the single-threshold counts are sums over the
  table entries that pass;
- the means (MAE and the adaptive threshold ``min(2 mean(p), 1)``) use numpy's pairwise summation
  (:func:`dbdbench.metrics.pairwise.pairwise_sum`).

What needs the whole normalised map in numpy (Zhao et al.'s per-image best F, empty-mask curve counts and
zero-map flag, the structure metrics) is computed on the host by the numpy functions themselves
(:func:`dbdbench.metrics.image.map_terms`) from the same map, copied once per batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from dbdbench.metrics.counts import binarize
from dbdbench.metrics.pairwise import pairwise_sum
from dbdbench.metrics.protocols import Protocol

#: codes of the per-image input check, reported by ``compute()``
OK, BAD_PRED, BAD_GT = 0, 1, 2


@dataclass
class BatchStats:
    """Per-image results of one batch (first dimension B), all on the input's device.

    ``hist`` (B, 2 n_levels) int64: pixels per threshold level, non-mask levels then mask levels;
    ``single`` (B, 8) int64: adaptive ``tp, fp, fn, tn`` then fixed-threshold ``tp, fp, fn, tn``;
    ``mae`` (B,) float64; ``status`` (B,) int64 (:data:`OK`, :data:`BAD_PRED`, :data:`BAD_GT`);
    ``bounds`` (B, 4) float64: prediction and mask minimum and maximum (for the error message).
    """

    hist: torch.Tensor
    single: torch.Tensor
    mae: torch.Tensor
    status: torch.Tensor
    bounds: torch.Tensor


def true_div(x: torch.Tensor, divisor: float) -> torch.Tensor:
    """``x / divisor`` correctly rounded on every device, as numpy divides.

    On CUDA, PyTorch divides by a Python number as a multiplication by its reciprocal
    (``BinaryDivTrueKernel.cu``), which can differ from the division in the last bit; a divisor tensor on
    the same device takes the IEEE division.
    """
    return x / torch.as_tensor(divisor, dtype=x.dtype, device=x.device)


def normalise(values: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor, scale: int | None,
              proto: Protocol) -> torch.Tensor:
    """``image._normalise`` on rows: ``values`` (B, K), ``lo``/``hi`` (B, 1) extrema in the values' dtype.

    ``scale`` is 255 for 8-bit values (passed as int64) and None for float values. Returns float64; for
    ``mat2gray`` the 0..255 score the HiFST script thresholds.
    """
    if proto.normalize == "mat2gray":
        full = 1.0 if scale is None else scale
        sharp = (full - values).double()  # float maps: 1 - v in their own dtype first, as numpy does
        s_lo, s_hi = (full - hi).double(), (full - lo).double()
        d = 1.0 / (s_hi - s_lo)
        m = torch.where(s_hi == s_lo, sharp, sharp * d + (-s_lo * d)).clamp(0.0, 1.0)
        return 255.0 - m * 255
    if scale is None:
        p, p_lo, p_hi = values.double(), lo.double(), hi.double()
    else:
        p, p_lo, p_hi = true_div(values.double(), scale), true_div(lo.double(), scale), true_div(hi.double(), scale)
    if proto.normalize == "minmax":
        return torch.where(p_hi != p_lo, (p - p_lo) / (p_hi - p_lo), p)
    if proto.normalize == "max":
        return torch.where(p_hi > 0, p / p_hi, p)
    return p


def levels(score: torch.Tensor, proto: Protocol) -> torch.Tensor:
    """``image._levels``: int64 threshold level of each normalised value, clamped into ``[0, n_levels)``."""
    if proto.levels == "floor":
        lev = (score * 255).long()  # truncation, as numpy's astype(uint8) of values in [0, 255]
    elif proto.levels == "round":
        lev = torch.round(score * 255).long()  # half to even, as np.rint
    else:
        thresholds = _on_device(tuple(proto.thresholds or ()), str(score.device))
        lev = torch.searchsorted(thresholds, score.contiguous(), right=True) - 1
    # in range for every valid map; the clamp only keeps bad maps (reported later) from indexing out of bounds
    return lev.clamp_(0, proto.n_levels - 1)


@lru_cache(maxsize=64)
def _on_device(thresholds: tuple[float, ...], device: str) -> torch.Tensor:
    """The float64 thresholds on ``device``, copied once (a copy per batch would wait for the device)."""
    return torch.as_tensor(thresholds, dtype=torch.float64, device=device)


@lru_cache(maxsize=64)
def _gt_table(threshold: float, strict: bool, device: str) -> torch.Tensor:
    """``binarize`` of every 8-bit mask value, on ``device``: the mask of value v is ``table[v]``."""
    return torch.as_tensor(binarize(np.arange(256, dtype=np.uint8), threshold, strict), device=device)


def binarize_gt(gt: torch.Tensor, proto: Protocol) -> torch.Tensor:
    """The protocol's boolean mask of ``gt`` (bool, uint8 or float in canonical or flipped polarity)."""
    if gt.dtype == torch.bool:
        return gt
    if gt.dtype == torch.uint8:
        return _gt_table(proto.gt_threshold, proto.gt_strict, str(gt.device))[gt.long()]
    unit = gt.double()
    return unit > proto.gt_threshold if proto.gt_strict else unit >= proto.gt_threshold


def flip(arr: torch.Tensor) -> torch.Tensor:
    """``counts.flip``: ``255 - v``, ``~b`` or ``1 - p`` in the native dtype."""
    if arr.dtype == torch.uint8:
        return 255 - arr
    if arr.dtype == torch.bool:
        return ~arr
    return 1.0 - arr


def _histogram(index: torch.Tensor, n_bins: int) -> torch.Tensor:
    """Per-row counts of ``index`` (B, N) in ``[0, n_bins)``: (B, n_bins) int64, without a host sync."""
    # scatter_add_ of int64 ones: exact in any order, sync-free on CUDA (torch.bincount reads its maximum first)
    return torch.zeros(index.shape[0], n_bins, dtype=torch.int64, device=index.device).scatter_add_(
        1, index, torch.ones_like(index))


def _confusion(tp: torch.Tensor, npos: torch.Tensor, fg: torch.Tensor, size: int) -> torch.Tensor:
    """``(tp, fp, fn, tn)`` columns from true positives, positives and mask size (``counts.single_counts``)."""
    fp = npos - tp
    return torch.stack([tp, fp, fg - tp, size - fg - fp], dim=1)


def _bounds(pred: torch.Tensor, gt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image (min, max) of map and mask, and the status code (range and NaN checks of ``check_map``)."""
    lo, hi = torch.aminmax(pred, dim=1)
    if gt.dtype == torch.bool:
        g_lo, g_hi = torch.aminmax(gt.to(torch.uint8), dim=1)
    else:
        g_lo, g_hi = torch.aminmax(gt, dim=1)
    bounds = torch.stack([lo.double(), hi.double(), g_lo.double(), g_hi.double()], dim=1)
    status = torch.zeros(pred.shape[0], dtype=torch.int64, device=pred.device)
    if pred.is_floating_point():  # NaN fails both comparisons; inf fails one
        status = torch.where((bounds[:, 0] >= 0) & (bounds[:, 1] <= 1), status, BAD_PRED)
    if gt.is_floating_point():
        status = torch.where((bounds[:, 2] >= 0) & (bounds[:, 3] <= 1) | (status != OK), status, BAD_GT)
    return bounds, status


def score_batch(pred: torch.Tensor, gt: torch.Tensor, proto: Protocol) -> tuple[BatchStats, torch.Tensor,
                                                                                torch.Tensor]:
    """Score B same-size images: ``pred`` (B, N) uint8/bool/float, ``gt`` (B, N) bool/uint8/float.

    Canonical polarity (map = P(blur), mask true = blurred). Returns the :class:`BatchStats`, the normalised
    maps ``p`` (B, N) float64 and the protocol's masks (B, N) bool, as ``score_image`` computes them.
    """
    if pred.dtype == torch.bool:
        pred = pred.to(torch.uint8) * 255
    bounds, status = _bounds(pred, gt)
    if proto.positive == "sharp":
        pred, gt = flip(pred), flip(gt)
    g = binarize_gt(gt, proto)
    if pred.dtype == torch.uint8:
        hist, single, p = _score_table(pred, g, proto)
    else:
        hist, single, p = _score_general(pred, g, proto)
    n = pred.shape[1]
    mae = true_div(pairwise_sum((p - g.double()).abs_()), n)
    return BatchStats(hist, single, mae, status, bounds), p, g


def _adaptive_threshold(p: torch.Tensor, proto: Protocol) -> torch.Tensor:
    """``min(factor * mean(p), 1)`` per image (B, 1), with numpy's summation order."""
    return (proto.adaptive_factor * true_div(pairwise_sum(p), p.shape[1])).clamp_(max=1.0)[:, None]


def _passes(p: torch.Tensor, thr, strict: bool) -> torch.Tensor:
    return p > thr if strict else p >= thr


def _score_table(pred: torch.Tensor, g: torch.Tensor, proto: Protocol):
    """8-bit maps: per-image 256-entry tables of the normalised value and level (``image._score_table``)."""
    b, n = pred.shape
    lo, hi = torch.aminmax(pred, dim=1)
    lo, hi = lo.long()[:, None], hi.long()[:, None]
    values = torch.arange(256, device=pred.device).expand(b, 256).clamp(lo, hi)
    score = normalise(values, lo, hi, 255, proto)
    p_table = true_div(score, 255) if proto.normalize == "mat2gray" else score
    idx = pred.long()
    by_value = _histogram(idx + 256 * g.long(), 512)
    lev = levels(score, proto)
    n_lev = proto.n_levels
    hist = torch.zeros(b, 2 * n_lev, dtype=torch.int64, device=pred.device)
    hist.scatter_add_(1, torch.cat([lev, lev + n_lev], dim=1), by_value)
    p = p_table.gather(1, idx)
    fg_v, all_v = by_value[:, 256:], by_value[:, :256] + by_value[:, 256:]
    fg = fg_v.sum(1)
    single = []
    for thr, strict in ((_adaptive_threshold(p, proto), False), (proto.binary_threshold, proto.binary_strict)):
        passing = _passes(p_table, thr, strict)
        single.append(_confusion((fg_v * passing).sum(1), (all_v * passing).sum(1), fg, n))
    return hist, torch.cat(single, dim=1), p


def _score_general(pred: torch.Tensor, g: torch.Tensor, proto: Protocol):
    """Float maps: elementwise normalisation and levels (``image._score_general``)."""
    b, n = pred.shape
    lo, hi = torch.aminmax(pred, dim=1)
    score = normalise(pred, lo[:, None], hi[:, None], None, proto)
    n_lev = proto.n_levels
    hist = _histogram(levels(score, proto) + n_lev * g.long(), 2 * n_lev)
    p = true_div(score, 255) if proto.normalize == "mat2gray" else score
    fg = g.sum(1)
    single = []
    for thr, strict in ((_adaptive_threshold(p, proto), False), (proto.binary_threshold, proto.binary_strict)):
        passing = _passes(p, thr, strict)
        single.append(_confusion((passing & g).sum(1), passing.sum(1), fg, n))
    return hist, torch.cat(single, dim=1), p
