"""Score one image under a protocol: normalise, level, count (the hot path of every evaluation)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dbdbench.metrics.counts import Counts, binarize, check_pair, cumulative_counts, flip, single_counts, to_unit
from dbdbench.metrics.functional import fbeta
from dbdbench.metrics.protocols import Protocol

_GRID = np.arange(256) / 255  # exactly the floats that v / 255 gives for uint8 v
_ABS_ERR = np.abs(np.concatenate([_GRID - False, _GRID - True]))  # |v/255 - g| indexed by v + 256 g
#: Zhao et al.'s per-image best-F thresholds, ``i * 0.00392157`` for i = 1..255 (Fmeasure_calu.m)
_ZHAO_BEST = np.concatenate([[0.0], np.arange(1, 256) * 0.00392157])


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

    @property
    def empty_gt(self) -> bool:
        return self.counts.fg == 0

    @property
    def full_gt(self) -> bool:
        return self.counts.bg == 0


def _mat2gray(arr: np.ndarray) -> np.ndarray:
    """MATLAB ``mat2gray``: ``A * d - min * d`` with ``d = 1 / (max - min)``, clipped to [0, 1].

    A constant image is returned as ``double(A)`` clipped to [0, 1], as MATLAB does.
    """
    a = arr.astype(np.float64)
    lo, hi = a.min(), a.max()
    if hi == lo:
        return np.clip(a, 0.0, 1.0)
    d = 1.0 / (hi - lo)
    return np.clip(a * d + (-lo * d), 0.0, 1.0)


def _normalise(pred: np.ndarray, proto: Protocol) -> np.ndarray:
    """The protocol's float map in [0, 1] (for ``mat2gray``: the 0..255 score the HiFST script thresholds)."""
    if proto.normalize == "mat2gray":
        # PRDataComputation.m: the sharp map m goes through 255 - 255 * mat2gray(m); canonical maps are blur
        sharp = flip(pred)
        return 255.0 - _mat2gray(sharp) * 255
    p = to_unit(pred)
    if proto.normalize == "minmax":
        lo, hi = p.min(), p.max()
        if hi != lo:
            p = (p - lo) / (hi - lo)
    elif proto.normalize == "max":
        hi = p.max()
        if hi > 0:
            p = p / hi
    return p


def _levels(p: np.ndarray, proto: Protocol) -> np.ndarray:
    if proto.levels == "floor":
        return (p * 255).astype(np.uint8)
    if proto.levels == "round":
        return np.rint(p * 255).astype(np.uint8)
    thresholds = np.asarray(proto.thresholds, dtype=np.float64)
    return np.searchsorted(thresholds, p, side="right") - 1


def _on_grid(pred: np.ndarray, proto: Protocol) -> bool:
    """True when the normalised map is exactly ``pred / 255`` (so levels are the pixel values)."""
    if pred.dtype != np.uint8 or proto.levels == "search":
        return False
    if proto.normalize == "none":
        return True
    if proto.normalize == "minmax":
        lo, hi = pred.min(), pred.max()
        return (lo == 0 and hi == 255) or lo == hi
    return False


def score_image(pred: np.ndarray, gt: np.ndarray, proto: Protocol, *, name: str = "", structure: bool = False):
    """Score one (map, mask) pair in canonical polarity (map = P(blur), mask white/True = blurred).

    Returns an :class:`ImageRecord`; the dataset reduction is :func:`dbdbench.metrics.reduce.reduce_records`.
    """
    pred, gt = check_pair(pred, gt)
    if proto.positive == "sharp":
        pred, gt = flip(pred), flip(gt)
    g = binarize(gt, proto.gt_threshold, proto.gt_strict)
    if _on_grid(pred, proto):
        rec, p = _score_on_grid(pred, g, proto, name)
    else:
        rec, p = _score_general(pred, g, proto, name)
    if proto.best_f == "per_image" or structure:
        p = np.asarray(p)
    if proto.best_f == "per_image":
        rec.extra["best_f"] = _zhao_best_f(p, g, proto.beta2)
    if structure:
        from dbdbench.metrics.structure import e_measure_adaptive, e_measure_curve, s_measure, weighted_fmeasure

        rec.extra["sm"] = s_measure(p, g)
        rec.extra["em_curve"] = e_measure_curve(p, g)
        rec.extra["adp_em"] = e_measure_adaptive(p, g)
        rec.extra["wf"] = weighted_fmeasure(p, g, beta2=proto.wf_beta2)
    return rec


def _score_on_grid(pred: np.ndarray, g: np.ndarray, proto: Protocol, name: str) -> tuple[ImageRecord, np.ndarray]:
    # Fast path for 8-bit maps: levels are the pixel values and every float the reference toolkits compute
    # is a table lookup, so results stay bit-identical while the image is read only a few times.
    idx = pred.astype(np.intp)
    if g.any():
        idx += 256 * g
    hist = np.bincount(idx.ravel(), minlength=512)
    counts = _counts_from_hist(hist, 256)
    mae = float(np.mean(_ABS_ERR.take(idx)))
    k_adp = _adaptive_level(pred, hist, proto.adaptive_factor)
    side = "right" if proto.binary_strict else "left"
    k_bin = int(np.searchsorted(_GRID, proto.binary_threshold, side=side))
    rec = ImageRecord(name, counts, _at(counts, k_adp), _at(counts, k_bin), mae)
    return rec, _LazyGrid(pred)


def _adaptive_level(pred: np.ndarray, hist: np.ndarray, factor: float) -> int:
    """First 8-bit level at or above ``min(factor * mean(pred / 255), 1)``.

    The mean is taken exactly from the histogram; only when the threshold falls within 1e-9 of a level,
    where float rounding could decide, is the float mean recomputed as the reference toolkits do.
    """
    values = np.arange(256)
    total = int((hist[:256] + hist[256:]) @ values)
    raw = factor * total / (255 * pred.size)
    thr = min(raw, 1.0)
    k = int(np.searchsorted(_GRID, thr, side="left"))
    near = min(abs(_GRID[min(k, 255)] - raw), abs(_GRID[max(k - 1, 0)] - raw))
    if near < 1e-9:
        thr = min(factor * _GRID.take(pred).mean(), 1)
        k = int(np.searchsorted(_GRID, thr, side="left"))
    return k


class _LazyGrid:
    """``pred / 255`` computed only if something (structure metrics, Zhao's best F) asks for it."""

    def __init__(self, pred: np.ndarray) -> None:
        self.pred = pred

    def __array__(self, dtype=None, copy=None):
        arr = _GRID.take(self.pred)
        return arr if dtype is None else arr.astype(dtype)


def _score_general(pred: np.ndarray, g: np.ndarray, proto: Protocol, name: str) -> tuple[ImageRecord, np.ndarray]:
    score = _normalise(pred, proto)
    counts = cumulative_counts(_levels(score, proto), g, proto.n_levels)
    p = score / 255 if proto.normalize == "mat2gray" else score
    mae = float(np.mean(np.abs(p - g)))
    thr = min(proto.adaptive_factor * p.mean(), 1)
    binary = p > proto.binary_threshold if proto.binary_strict else p >= proto.binary_threshold
    rec = ImageRecord(name, counts, single_counts(p >= thr, g), single_counts(binary, g), mae)
    return rec, p


def _counts_from_hist(hist: np.ndarray, n: int) -> Counts:
    zero = np.zeros(1, dtype=np.int64)
    tp = np.concatenate([np.cumsum(hist[2 * n - 1 : n - 1 : -1])[::-1], zero])
    fp = np.concatenate([np.cumsum(hist[n - 1 :: -1])[::-1], zero])
    return Counts(tp=tp, fp=fp, fg=int(tp[0]), bg=int(fp[0]))


def _at(counts: Counts, k: int) -> tuple[int, int, int, int]:
    tp, fp = int(counts.tp[k]), int(counts.fp[k])
    return tp, fp, counts.fg - tp, counts.bg - fp


def _zhao_best_f(p: np.ndarray, g: np.ndarray, beta2: float) -> float:
    """Best F over thresholds ``i * 0.00392157`` (i = 1..255), rule ``>=``, as Zhao et al.'s Fmeasure_calu.

    An empty mask is scored on the complement (mask and map inverted), as their code does.
    """
    if not g.any():
        p, g = 1.0 - p, ~g
    levels = np.searchsorted(_ZHAO_BEST, p, side="right") - 1
    c = cumulative_counts(levels, g, len(_ZHAO_BEST))
    f = fbeta(c.tp[1:-1], c.fp[1:-1], c.fn[1:-1], beta2)  # thresholds i = 1..255
    return float(f.max())
