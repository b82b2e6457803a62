"""The per-image kernel: input checks, level maps and cumulative confusion counts.

One ``np.bincount`` over ``level + n_levels * gt`` gives, for every threshold at once, how many mask and
non-mask pixels a map marks positive under the rule ``level >= k``. All threshold metrics are pure
functions of these counts (:mod:`dbdbench.metrics.functional`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_INT_MAX = {np.dtype(np.uint8): 255, np.dtype(np.uint16): 65535}


def check_map(pred: np.ndarray, what: str = "prediction") -> np.ndarray:
    """Validate a 2-D map: uint8, uint16, bool or float in [0, 1] with no NaN/inf.

    Raises
    ------
    ValueError
        Naming the problem (dimensions, dtype, NaN, range) and what to do about it.
    """
    pred = np.asarray(pred)
    if pred.ndim != 2:
        raise ValueError(
            f"{what} must be a 2-D gray map, got shape {pred.shape}; convert colour maps to gray first "
            "(dbdbench.io.read_map does this for files)"
        )
    if pred.size == 0:
        raise ValueError(f"{what} is empty (shape {pred.shape})")
    if pred.dtype in _INT_MAX or pred.dtype == np.bool_:
        return pred
    if not np.issubdtype(pred.dtype, np.floating):
        raise ValueError(f"{what} has dtype {pred.dtype}; use uint8, uint16, bool or float in [0, 1]")
    if not np.isfinite(pred).all():
        bad = int(np.count_nonzero(~np.isfinite(pred)))
        raise ValueError(f"{what} contains {bad} NaN or infinite value(s); fix the map before scoring")
    lo, hi = float(pred.min()), float(pred.max())
    if lo < 0 or hi > 1:
        raise ValueError(f"{what} is float with values in [{lo:g}, {hi:g}]; float maps must lie in [0, 1]")
    return pred


def check_pair(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate a (prediction, mask) pair: both valid 2-D maps of the same shape."""
    pred = check_map(pred, "prediction")
    gt = check_map(gt, "ground truth")
    if pred.shape != gt.shape:
        raise ValueError(
            f"shape mismatch: prediction {pred.shape} vs ground truth {gt.shape}; resize the prediction to the "
            "GT size (dbdbench evaluate does this with --resize bilinear)"
        )
    return pred, gt


def full_scale(arr: np.ndarray) -> int | None:
    """The integer full scale of ``arr`` (255 for uint8, 65535 for uint16), or None for float/bool."""
    return _INT_MAX.get(arr.dtype)


def to_unit(arr: np.ndarray) -> np.ndarray:
    """Map to float64 in [0, 1] as MATLAB's ``im2double``: ``v / 255`` for uint8, ``v / 65535`` for uint16."""
    scale = full_scale(arr)
    if scale is not None:
        return arr / scale
    return arr.astype(np.float64, copy=False)


def flip(arr: np.ndarray) -> np.ndarray:
    """Swap the classes exactly in the native dtype: ``255 - v``, ``65535 - v``, ``~b`` or ``1 - p``."""
    scale = full_scale(arr)
    if scale is not None:
        return (scale - arr).astype(arr.dtype)
    if arr.dtype == np.bool_:
        return ~arr
    return 1.0 - arr


def passes(values, threshold, strict: bool):
    """Where ``values`` are at or above ``threshold`` (above it when ``strict``): every fixed-threshold rule.

    Works on numpy arrays, torch tensors and scalars alike (the mask binarisation and the fixed threshold of
    the ``bin_*`` scores of both evaluators).
    """
    return values > threshold if strict else values >= threshold


def binarize(gt: np.ndarray, threshold: float, strict: bool) -> np.ndarray:
    """Mask ``gt >= threshold`` (or ``>`` when ``strict``) on the [0, 1] scale; bool masks pass through."""
    if gt.dtype == np.bool_:
        return gt
    if gt.dtype == np.uint8:
        # the comparison is monotone in v, so it is one integer comparison with the first level that passes
        passing = passes(np.arange(256) / 255, threshold, strict)
        first = int(np.argmax(passing)) if passing.any() else 256
        return gt >= first
    return passes(to_unit(gt), threshold, strict)


@dataclass(frozen=True)
class Counts:
    """Cumulative confusion counts of one image over ``n`` ordered thresholds.

    ``tp[k]`` and ``fp[k]`` count mask and non-mask pixels with ``level >= k`` for ``k = 0 .. n`` (so
    ``k = 0`` marks every pixel positive and ``k = n`` none). ``fg`` and ``bg`` are the mask and non-mask
    sizes; ``fn = fg - tp`` and ``tn = bg - fp``.
    """

    tp: np.ndarray
    fp: np.ndarray
    fg: int
    bg: int

    @property
    def fn(self) -> np.ndarray:
        return self.fg - self.tp

    @property
    def tn(self) -> np.ndarray:
        return self.bg - self.fp


def cumulative_counts(levels: np.ndarray, gt: np.ndarray, n: int) -> Counts:
    """Counts for the rule ``levels >= k``, k = 0..n, from one bincount.

    Parameters
    ----------
    levels : ndarray of int, shape (H, W)
        Threshold level of each pixel in ``[0, n - 1]`` (for 8-bit maps the pixel value itself).
    gt : ndarray of bool, shape (H, W)
    n : int
        Number of thresholds.
    """
    idx = levels.astype(np.intp, copy=False).ravel()
    if gt.any():
        idx = idx + n * gt.ravel()
    return counts_from_histogram(np.bincount(idx, minlength=2 * n), n)


def counts_from_histogram(hist: np.ndarray, n: int) -> Counts:
    """Counts for the rule ``level >= k``, k = 0..n, from a joint histogram of (level, mask).

    Parameters
    ----------
    hist : ndarray of int, shape (2 n,)
        Pixel counts per level: non-mask pixels in ``hist[:n]``, mask pixels in ``hist[n:]``.
    n : int
        Number of thresholds.

    Examples
    --------
    >>> c = counts_from_histogram(np.array([2, 1, 0, 3]), 2)  # levels 0, 1: 2 + 1 non-mask, 0 + 3 mask
    >>> c.tp.tolist(), c.fp.tolist(), c.fg, c.bg
    ([3, 3, 0], [3, 1, 0], 3, 3)
    """
    tp, fp = cumulative_rows(hist[None], n)
    return Counts(tp=tp[0], fp=fp[0], fg=int(tp[0, 0]), bg=int(fp[0, 0]))


def cumulative_rows(hist: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``tp`` and ``fp`` (each (M, n + 1)) of :func:`counts_from_histogram` for M histograms (M, 2 n) at once."""
    zero = np.zeros((len(hist), 1), dtype=np.int64)
    # reversed cumulative sums: entry k counts levels >= k; the appended 0 is the "nothing positive" point
    tp = np.concatenate([np.cumsum(hist[:, 2 * n - 1 : n - 1 : -1], axis=1)[:, ::-1], zero], axis=1)
    fp = np.concatenate([np.cumsum(hist[:, n - 1 :: -1], axis=1)[:, ::-1], zero], axis=1)
    return tp, fp


def single_counts(positive: np.ndarray, gt: np.ndarray) -> tuple[int, int, int, int]:
    """``(tp, fp, fn, tn)`` of one binary decision map against a mask."""
    tp = int(np.count_nonzero(positive & gt))
    npos = int(np.count_nonzero(positive))
    fg = int(np.count_nonzero(gt))
    fp = npos - tp
    return tp, fp, fg - tp, gt.size - fg - fp
