"""The per-image steps of :mod:`dbdbench.metrics.image` on batches of torch tensors, on any device.

For a batch of same-size images (``pred`` (B, N) flattened maps, ``gt`` (B, N) masks) it returns what
:func:`~dbdbench.metrics.image.score_image` would put in each image's record, as device tensors: the joint
histogram of (threshold level, mask) from which every curve count follows, the adaptive- and fixed-threshold
confusion counts, and the MAE. No protocol setting is interpreted here: the steps are the numpy kernel's own,

- normalisation, threshold levels, the adaptive threshold and the fixed-threshold rules are the functions of
  :mod:`dbdbench.metrics.image` and :mod:`dbdbench.metrics.counts` run with :class:`TorchOps` (the image's
  extrema as per-image columns, each branch of a constant map as ``torch.where``), so the float operations are
  the same in the same order and precision (float64, as numpy promotes);
- 8-bit maps use per-image 256-entry tables, made on the device by the same steps as the numpy kernel's
  (:func:`~dbdbench.metrics.steps.value_tables`), so the counts come from one histogram of
  ``value + 256 * mask`` folded into threshold levels, and the single-threshold counts from the first table
  entry that passes each rule;
- the means (MAE and the adaptive threshold's mean) use numpy's pairwise summation
  (:func:`dbdbench.metrics.pairwise.pairwise_sum`).

What needs the whole normalised map in numpy (Zhao et al.'s per-image best F, empty-mask curve counts and
zero-map flag, the structure metrics) is computed on the host by the numpy functions themselves
(:func:`dbdbench.metrics.image.map_terms`) from the same map, copied once per batch. On the CPU the torch
evaluators do not use this module: they run the numpy kernel on the tensors' memory
(:mod:`dbdbench.metrics.torch_batch`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from dbdbench.metrics.counts import binarize, passes
from dbdbench.metrics.pairwise import pairwise_sum
from dbdbench.metrics.protocols import Protocol
from dbdbench.metrics.steps import (
    adaptive_threshold,
    canonical_pair,
    normalise,
    threshold_levels,
    unit_map,
)

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


class TorchOps:
    """:class:`~dbdbench.metrics.image.NumpyOps` on (B, K) float tensors with per-image (B, 1) extrema."""

    @staticmethod
    def f64(x: torch.Tensor) -> torch.Tensor:
        return x.double()

    @staticmethod
    def div(x: torch.Tensor, scale: int) -> torch.Tensor:
        return true_div(x.double(), scale)

    @staticmethod
    def select(cond: torch.Tensor, if_true, if_false) -> torch.Tensor:
        return torch.where(cond, if_true(), if_false())

    @staticmethod
    def at_most_one(x: torch.Tensor) -> torch.Tensor:
        return x.clamp(max=1.0)

    @staticmethod
    def truncate(x: torch.Tensor) -> torch.Tensor:
        return x.long()  # truncation, as numpy's astype(uint8) of values in [0, 255]

    @staticmethod
    def rint(x: torch.Tensor) -> torch.Tensor:
        return torch.round(x).long()  # half to even, as np.rint

    @staticmethod
    def search(thresholds: tuple[float, ...], x: torch.Tensor) -> torch.Tensor:
        return torch.searchsorted(_on_device(thresholds, str(x.device)), x.contiguous(), right=True) - 1

    @staticmethod
    def to_8bit(pred: torch.Tensor) -> torch.Tensor:
        return pred.to(torch.uint8) * 255 if pred.dtype == torch.bool else pred

    @staticmethod
    def flip(arr: torch.Tensor) -> torch.Tensor:
        """``counts.flip``: ``255 - v``, ``~b`` or ``1 - p`` in the native dtype."""
        if arr.dtype == torch.uint8:
            return 255 - arr
        if arr.dtype == torch.bool:
            return ~arr
        return 1.0 - arr

    @staticmethod
    def binarize(gt: torch.Tensor, threshold: float, strict: bool) -> torch.Tensor:
        """``counts.binarize``: bool masks pass through, 8-bit masks through its own table."""
        if gt.dtype == torch.bool:
            return gt
        if gt.dtype == torch.uint8:
            return _gt_table(threshold, strict, str(gt.device))[gt.long()]
        return passes(gt.double(), threshold, strict)


TORCH_OPS = TorchOps()


@lru_cache(maxsize=64)
def _on_device(thresholds: tuple[float, ...], device: str) -> torch.Tensor:
    """The float64 thresholds on ``device``, copied once (a copy per batch would wait for the device)."""
    return torch.as_tensor(thresholds, dtype=torch.float64, device=device)


@lru_cache(maxsize=64)
def _gt_table(threshold: float, strict: bool, device: str) -> torch.Tensor:
    """``binarize`` of every 8-bit mask value, on ``device``: the mask of value v is ``table[v]``."""
    return torch.as_tensor(binarize(np.arange(256, dtype=np.uint8), threshold, strict), device=device)


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
    bounds, status = _bounds(TORCH_OPS.to_8bit(pred), gt)
    pred, g = canonical_pair(pred, gt, proto, TORCH_OPS)
    if pred.dtype == torch.uint8:
        hist, single, p = _score_table(pred, g, proto)
    else:
        hist, single, p = _score_general(pred, g, proto)
    n = pred.shape[1]
    mae = true_div(pairwise_sum((p - g.double()).abs_()), n)
    return BatchStats(hist, single, mae, status, bounds), p, g


def _adaptive(p: torch.Tensor, proto: Protocol) -> torch.Tensor:
    """The adaptive threshold per image (B, 1) from numpy's mean of each map (its summation order)."""
    return adaptive_threshold(true_div(pairwise_sum(p), p.shape[1]), proto, TORCH_OPS)[:, None]


def _score_table(pred: torch.Tensor, g: torch.Tensor, proto: Protocol):
    """8-bit maps: per-image 256-entry tables of ``steps.value_tables``, made on the device, looked up."""
    b, n = pred.shape
    lo, hi = torch.aminmax(pred, dim=1)
    lo, hi = lo.long()[:, None], hi.long()[:, None]
    # values outside [lo, hi] do not occur; clamping keeps their table entries finite, as value_tables does
    score = normalise(torch.arange(256, device=pred.device).expand(b, 256).clamp(lo, hi), lo, hi, 255, proto,
                      TORCH_OPS)
    p_table = unit_map(score, proto, TORCH_OPS)
    idx = pred.long()
    by_value = _histogram(idx + 256 * g.long(), 512)
    lev = threshold_levels(score, proto, TORCH_OPS)
    n_lev = proto.n_levels
    hist = torch.zeros(b, 2 * n_lev, dtype=torch.int64, device=pred.device)
    hist.scatter_add_(1, torch.cat([lev, lev + n_lev], dim=1), by_value)  # value bins folded into levels
    p = p_table.gather(1, idx)
    # p_table is non-decreasing: the first value that passes a rule is the number of values that fail it
    k_adp = (~passes(p_table, _adaptive(p, proto), False)).sum(1)
    k_bin = (~passes(p_table, proto.binary_threshold, proto.binary_strict)).sum(1)
    # cumulative counts by value from the top, as counts_from_histogram: [:, k] counts values >= k
    fg_v, all_v = by_value[:, 256:], by_value[:, :256] + by_value[:, 256:]
    zero = torch.zeros(b, 1, dtype=torch.int64, device=pred.device)
    tp_c = torch.cat([fg_v.flip(1).cumsum(1).flip(1), zero], dim=1)
    pos_c = torch.cat([all_v.flip(1).cumsum(1).flip(1), zero], dim=1)
    fg = tp_c[:, 0]
    single = [_confusion(tp_c.gather(1, k[:, None])[:, 0], pos_c.gather(1, k[:, None])[:, 0], fg, n)
              for k in (k_adp, k_bin)]
    return hist, torch.cat(single, dim=1), p


def _score_general(pred: torch.Tensor, g: torch.Tensor, proto: Protocol):
    """Float maps: elementwise normalisation and levels (``image._score_general``)."""
    b, n = pred.shape
    lo, hi = torch.aminmax(pred, dim=1)
    score = normalise(pred, lo[:, None], hi[:, None], None, proto, TORCH_OPS)
    n_lev = proto.n_levels
    # in range for every valid map; the clamp only keeps bad maps (reported later) from indexing out of bounds
    lev = threshold_levels(score, proto, TORCH_OPS).clamp_(0, n_lev - 1)
    hist = _histogram(lev + n_lev * g.long(), 2 * n_lev)
    p = unit_map(score, proto, TORCH_OPS)
    fg = g.sum(1)
    single = []
    for passing in (passes(p, _adaptive(p, proto), False), passes(p, proto.binary_threshold, proto.binary_strict)):
        single.append(_confusion((passing & g).sum(1), passing.sum(1), fg, n))
    return hist, torch.cat(single, dim=1), p
