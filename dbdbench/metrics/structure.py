"""Structure metrics of one image: S-measure, E-measure and weighted F-measure.

Pure functions of one (prediction, mask) pair, with no accumulation: the Evaluator averages them over
images. ``pred`` is a float map in [0, 1] already normalised as the protocol wants and ``gt`` a boolean
mask. Fed the prediction that PySODMetrics 1.6.2 builds internally (``pred_u8 / 255``, then min-max
normalised unless constant; ``gt = gt_u8 > 128``), every function returns **bit for bit** the number of
PySODMetrics' ``Smeasure``, ``Emeasure`` and ``WeightedFmeasure``.

What exactness fixes, and what it leaves free:

- Float sums run over the same arrays, in the same order and layout as there (numpy's pairwise summation
  depends on length and strides): S-measure block means on the block views, the E-measure's four cells
  added left to right, wF's sums over the mask pixels in C order. Scalars keep the reference's types
  (Python floats vs numpy scalars) where ``x ** 2`` would otherwise go through a different routine.
- Integer work is exact in any order and done the fast way: the E-measure's 256 thresholds come from
  one ``np.bincount`` of ``q + 256 gt`` (``q = uint8(255 pred)``, truncating as the reference does), the
  S-measure centroid from row and column counts.
- Weighted F: scipy's Euclidean distance transform is replaced by OpenCV's exact one (distances are square
  roots of exact integers) plus a nearest-mask-pixel search in the 3-pixel band the 7 x 7 filter reads,
  using scipy's tie rule; the filter runs on the mask's bounding box only.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np
from scipy.ndimage import convolve, distance_transform_edt

# MATLAB's eps, added to denominators exactly where the reference implementations add it
_EPS = np.spacing(1)
_N_BINS = 256


def _check_pair(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate one pair: ``pred`` a 2-D float map in [0, 1] without NaN, ``gt`` a bool mask of that shape."""
    pred, gt = np.asarray(pred), np.asarray(gt)
    if pred.ndim != 2 or gt.ndim != 2:
        raise ValueError(f"pred and gt must be 2-D maps, got shapes {pred.shape} and {gt.shape}")
    if pred.shape != gt.shape:
        raise ValueError(f"shape mismatch: pred {pred.shape} vs gt {gt.shape}; resize pred to the GT size first")
    if pred.size == 0:
        raise ValueError(f"pred and gt are empty (shape {pred.shape})")
    if gt.dtype != np.bool_:
        raise ValueError(f"gt must be a bool mask, got dtype {gt.dtype}; binarise it as the protocol says")
    if not np.issubdtype(pred.dtype, np.floating):
        raise ValueError(f"pred must be a float map in [0, 1], got dtype {pred.dtype}; normalise it first")
    # a fixed layout keeps the pairwise float sums identical whatever view the caller passes
    pred = np.ascontiguousarray(pred, dtype=np.float64)
    gt = np.ascontiguousarray(gt)
    lo, hi = pred.min(), pred.max()  # NaN propagates into both, so one test catches NaN and the range
    if not (lo >= 0 and hi <= 1):
        if np.isnan(lo) or np.isnan(hi):
            raise ValueError(f"pred contains {int(np.isnan(pred).sum())} NaN value(s); fix the map before scoring")
        raise ValueError(f"pred has values in [{lo:g}, {hi:g}]; it must lie in [0, 1]")
    return pred, gt


# ----------------------------------------------------------------------------------------------- S-measure
def s_measure(pred: np.ndarray, gt: np.ndarray, alpha: float = 0.5) -> float:
    """S-measure ``S = max(0, alpha * S_o + (1 - alpha) * S_r)`` (Fan et al., 2017).

    ``S_o`` (object similarity) weighs foreground and background scores ``2 m / (m^2 + 1 + s + eps)`` (``m``,
    ``s``: mean and sample std of ``pred`` on the foreground, of ``1 - pred`` on the background) by the
    mask fraction; ``S_r`` (region similarity) splits both maps at the rounded mask centroid into four
    blocks and sums their SSIM-like scores weighted by block area. An empty mask gives ``1 - mean(pred)``,
    a full one ``mean(pred)``.

    Parameters
    ----------
    pred : ndarray of float, shape (H, W)
        Prediction in [0, 1].
    gt : ndarray of bool, shape (H, W)
        Ground-truth mask.
    alpha : float
        Weight of the object term (0.5 in the paper and in PySODMetrics).

    Returns
    -------
    float
        S in [0, 1]. NaN when the rounded mask centroid falls on the last row or column (so also for any
        one-pixel-high or -wide image with a partial mask): a block is then empty, its mean NaN. PySODMetrics
        1.6.2 returns NaN there too; it is kept so that the ``pysod`` protocol stays exact.

    References
    ----------
    D.-P. Fan, M.-M. Cheng, Y. Liu, T. Li, A. Borji, "Structure-measure: A new way to evaluate foreground
    maps", ICCV 2017.
    """
    pred, gt = _check_pair(pred, gt)
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    n_fg = np.count_nonzero(gt)
    if n_fg == 0:
        return float(1 - np.mean(pred))
    if n_fg == gt.size:
        return float(np.mean(pred))
    obj = _object_similarity(pred, gt, np.float64(n_fg) / gt.size) * alpha
    reg = _region_similarity(pred, gt, int(n_fg)) * (1 - alpha)
    return float(np.maximum(0, obj + reg))


def _object_score(x: np.ndarray) -> np.float64:
    """``2 m / (m^2 + 1 + s + eps)`` with ``m`` the mean and ``s`` the sample std (ddof 1) of ``x``."""
    total = np.sum(x)
    mean = total / x.size  # == np.mean(x): the same pairwise sum divided by the count
    if x.size > 1:
        dev = x - mean
        std = np.sqrt(np.sum(dev * dev) / (x.size - 1))  # == np.std(x, ddof=1), step by step
    else:
        std = 0
    return 2 * mean / (np.power(mean, 2) + 1 + std + _EPS)


def _object_similarity(pred: np.ndarray, gt: np.ndarray, fg_fraction: np.float64) -> np.float64:
    """``S_o = mu * O_fg + (1 - mu) * O_bg`` with ``mu`` the mask fraction."""
    fg = _object_score(pred[gt]) * fg_fraction
    bg = _object_score(1 - pred[~gt]) * (1 - fg_fraction)
    return fg + bg


def _region_similarity(pred: np.ndarray, gt: np.ndarray, n_fg: int) -> np.float64:
    """``S_r``: area-weighted SSIM of the four blocks cut at the rounded mask centroid (plus one, as MATLAB)."""
    h, w = gt.shape
    area = h * w
    # integer sums of the row and column indices are exact, so these equal the mean of np.argwhere(gt)
    rows = np.count_nonzero(gt, axis=1)
    cols = np.count_nonzero(gt, axis=0)
    cy = int(round(int(np.dot(np.arange(h), rows)) / n_fg)) + 1
    cx = int(round(int(np.dot(np.arange(w), cols)) / n_fg)) + 1
    w_lt = cx * cy / area
    w_rt = cy * (w - cx) / area
    w_lb = (h - cy) * cx / area
    w_rb = 1 - w_lt - w_rt - w_lb
    s_lt = _ssim(pred[0:cy, 0:cx], gt[0:cy, 0:cx]) * w_lt
    s_rt = _ssim(pred[0:cy, cx:w], gt[0:cy, cx:w]) * w_rt
    s_lb = _ssim(pred[cy:h, 0:cx], gt[cy:h, 0:cx]) * w_lb
    s_rb = _ssim(pred[cy:h, cx:w], gt[cy:h, cx:w]) * w_rb
    return s_lt + s_rt + s_lb + s_rb


def _ssim(pred: np.ndarray, gt: np.ndarray) -> np.float64:
    """SSIM of one block: ``4 mx my sxy / ((mx^2 + my^2)(sx + sy) + eps)``; 1 if both terms are 0."""
    n = pred.size
    if n == 0:
        return np.float64(np.nan)  # the mean of an empty block is NaN in the reference too
    mx = np.mean(pred)  # on the block view itself: the summation order depends on the layout
    my = np.float64(np.count_nonzero(gt)) / n
    dx = pred - mx
    dy = gt - my
    den = n - 1 + _EPS
    sx = np.sum(dx * dx) / den
    sy = np.sum(dy * dy) / den
    sxy = np.sum(dx * dy) / den
    num = 4 * mx * my * sxy
    rest = (mx**2 + my**2) * (sx + sy)
    if num != 0:
        return num / (rest + _EPS)
    return np.float64(1.0 if rest == 0 else 0.0)


# ----------------------------------------------------------------------------------------------- E-measure
def e_measure_from_counts(tp, fp, n_fg: int, n_pixels: int):
    """E-measure of binary maps from their counts: ``E = sum(phi) / (N - 1 + eps)`` (Fan et al., 2018).

    ``phi = (1 + xi)^2 / 4`` with the alignment ``xi = 2 a b / (a^2 + b^2 + eps)`` of the mean-removed
    binary prediction ``a`` and mask ``b``; both take only two values, so ``sum(phi)`` is a sum over the four
    (prediction, mask) cells weighted by their pixel counts. An empty mask gives ``E = TN + FN`` over the
    denominator, a full one ``E = TP + FP``.

    Parameters
    ----------
    tp, fp : int or ndarray of int
        Predicted-positive pixels inside and outside the mask (arrays: one entry per threshold).
    n_fg, n_pixels : int
        Mask size and image size.

    Returns
    -------
    float or ndarray of float
        E per entry of ``tp``. With :func:`dbdbench.metrics.counts.cumulative_counts` on the 8-bit levels,
        ``e_measure_from_counts(c.tp[:256], c.fp[:256], c.fg, c.fg + c.bg)`` is :func:`e_measure_curve`.

    References
    ----------
    D.-P. Fan, C. Gong, Y. Cao, B. Ren, M.-M. Cheng, A. Borji, "Enhanced-alignment measure for binary
    foreground map evaluation", IJCAI 2018.
    """
    n_fg, n_pixels = int(n_fg), int(n_pixels)  # Python scalars: the reference does this part in Python floats
    pos = tp + fp
    neg = n_pixels - pos
    if n_fg == 0:
        total = neg
    elif n_fg == n_pixels:
        total = pos
    else:
        fn = n_fg - tp
        tn = neg - fn
        mean_pred = pos / n_pixels
        mean_gt = n_fg / n_pixels
        a_fg, a_bg = 1 - mean_pred, 0 - mean_pred
        b_fg, b_bg = 1 - mean_gt, 0 - mean_gt
        # the four cells summed left to right, as the reference does
        total = _enhanced(a_fg, b_fg) * tp
        total = total + _enhanced(a_fg, b_bg) * fp
        total = total + _enhanced(a_bg, b_fg) * fn
        total = total + _enhanced(a_bg, b_bg) * tn
    return total / (n_pixels - 1 + _EPS)


def _enhanced(a, b):
    """``phi = ((2 a b / (a^2 + b^2 + eps)) + 1)^2 / 4`` for one (prediction, mask) cell."""
    align = 2 * (a * b) / (a**2 + b**2 + _EPS)
    return (align + 1) ** 2 / 4


def e_measure_curve(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """E-measure at the 256 thresholds ``q >= t``, t = 0..255 ascending, ``q = floor(255 * pred)`` (uint8 cast).

    PySODMetrics returns the same 256 values in **descending** threshold order (index k is ``t = 255 - k``);
    this function returns ``curve[t]`` for ``t = 0 .. 255``, i.e. the reverse. Max-E and mean-E are the max
    and mean of the per-image curves averaged over images. The counts come from one ``np.bincount``.

    References
    ----------
    D.-P. Fan et al., "Enhanced-alignment measure for binary foreground map evaluation", IJCAI 2018.
    """
    pred, gt = _check_pair(pred, gt)
    q = (pred * 255).astype(np.uint8)  # float product then truncation, exactly as the reference bins
    idx = q.ravel().astype(np.intp)
    idx[gt.ravel()] += _N_BINS
    hist = np.bincount(idx, minlength=2 * _N_BINS)
    bg_hist, fg_hist = hist[:_N_BINS], hist[_N_BINS:]
    tp = np.cumsum(fg_hist[::-1])[::-1]  # tp[t]: mask pixels with q >= t
    fp = np.cumsum(bg_hist[::-1])[::-1]
    return e_measure_from_counts(tp, fp, int(tp[0]), gt.size)


def e_measure_adaptive(pred: np.ndarray, gt: np.ndarray) -> float:
    """E-measure of ``pred >= min(2 * mean(pred), 1)`` (the adaptive threshold, on the float map).

    References
    ----------
    D.-P. Fan et al., "Enhanced-alignment measure for binary foreground map evaluation", IJCAI 2018.
    """
    pred, gt = _check_pair(pred, gt)
    positive = pred >= min(2 * pred.mean(), 1)
    tp = np.count_nonzero(positive & gt)
    fp = np.count_nonzero(positive) - tp
    return float(e_measure_from_counts(tp, fp, int(np.count_nonzero(gt)), gt.size))


# ------------------------------------------------------------------------------------- weighted F-measure
def _gaussian_kernel(size: int = 7, sigma: float = 5.0) -> np.ndarray:
    """MATLAB's ``fspecial('gaussian', size, sigma)``: ``exp(-(x^2 + y^2) / (2 sigma^2))``, normalised to sum 1."""
    r = (size - 1) / 2
    y, x = np.ogrid[-r : r + 1, -r : r + 1]
    k = np.exp(-(x * x + y * y) / (2 * sigma * sigma))
    k[k < np.finfo(k.dtype).eps * k.max()] = 0
    return k / k.sum()


_KERNEL = _gaussian_kernel()
_HALF = _KERNEL.shape[0] // 2
# offsets (dy, dx) to a mask pixel within reach of the 7 x 7 filter (d^2 <= 2 * 3^2), grouped by d^2 and
# ordered within a group as scipy's feature transform resolves ties: smaller column first, then smaller row
_RINGS = {
    d2: np.array(
        sorted(
            ((dy, dx) for dy in range(-4, 5) for dx in range(-4, 5) if dy * dy + dx * dx == d2),
            key=lambda o: (o[1], o[0]),
        )
    )
    for d2 in sorted({dy * dy + dx * dx for dy in range(5) for dx in range(5)})
    if 0 < d2 <= 2 * _HALF**2
}
# float32 distances identify the integer d^2 exactly while d^2 < 2^22 (one float32 ulp of sqrt(d^2) is then
# smaller than the gap to the square root of the next integer)
_MAX_EXACT_D2 = 2**22


def weighted_fmeasure(pred: np.ndarray, gt: np.ndarray, beta2: float = 1.0) -> float:
    """Weighted F-measure ``F_w = (1 + b2) R_w P_w / (R_w + b2 P_w + eps)`` (Margolin et al., 2014).

    The error map ``E = |pred - gt|`` is, inside the mask, replaced by its Gaussian-smoothed version (7 x 7,
    sigma 5, taken after each outside pixel got the error of its nearest mask pixel) where that is smaller
    (pixel dependency), and outside the mask multiplied by ``2 - exp(ln(0.5) / 5 * d)`` with ``d`` the
    distance to the mask (pixel importance). With ``Ew`` the result, ``TP_w = |gt| - sum(Ew[gt])``,
    ``FP_w = sum(Ew[~gt])``, ``R_w = 1 - mean(Ew[gt])`` and ``P_w = TP_w / (TP_w + FP_w + eps)``.

    Parameters
    ----------
    pred : ndarray of float, shape (H, W)
        Prediction in [0, 1].
    gt : ndarray of bool, shape (H, W)
        Ground-truth mask; an empty mask scores 0.
    beta2 : float
        ``beta^2``; 1 as in the paper's code and PySODMetrics (whose ``beta`` argument is this ``beta^2``).

    References
    ----------
    R. Margolin, L. Zelnik-Manor, A. Tal, "How to evaluate foreground maps?", CVPR 2014.
    """
    pred, gt = _check_pair(pred, gt)
    if beta2 < 0:
        raise ValueError(f"beta2 must be >= 0, got {beta2}")
    n_fg = np.count_nonzero(gt)
    if n_fg == 0:
        return 0.0
    err = np.abs(pred - gt)
    bg = ~gt
    d2 = _squared_mask_distance(bg)
    ew_fg = _dependent_error(err, gt, d2)
    ew_bg = err[bg] * (2 - np.exp(np.log(0.5) / 5 * np.sqrt(d2[bg])))  # pixel importance
    sum_fg = np.sum(ew_fg)
    tpw = n_fg - sum_fg
    fpw = np.sum(ew_bg)
    recall = 1 - sum_fg / n_fg
    precision = tpw / (tpw + fpw + _EPS)
    return float((1 + beta2) * recall * precision / (recall + beta2 * precision + _EPS))


def _squared_mask_distance(bg: np.ndarray) -> np.ndarray:
    """Squared Euclidean distance of every pixel to the nearest mask pixel, as exact integers in float64.

    The weighted F uses ``sqrt`` of this integer, which is what scipy's ``distance_transform_edt`` returns,
    so any exact transform gives the same bits. OpenCV's exact (Felzenszwalb) transform is faster but
    returns float32 distances; their squares (exact in float64) round to the integer while it is below
    2^22, else scipy's float64 distances are used.
    """
    h, w = bg.shape
    if (h - 1) ** 2 + (w - 1) ** 2 >= _MAX_EXACT_D2:
        dist = distance_transform_edt(bg)
        return np.rint(dist * dist)
    dist = cv2.distanceTransform(bg.view(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return np.rint(np.square(dist, dtype=np.float64))


def _dependent_error(err: np.ndarray, gt: np.ndarray, d2: np.ndarray) -> np.ndarray:
    """``min(E, EA)`` on the mask pixels (C order), ``EA`` the 7 x 7 Gaussian filter of the extended error.

    Only mask pixels read the filter, and they see only the mask and the outside pixels within 3 rows and
    columns of it (the band), so the error is extended into the band alone (each band pixel takes the
    error of its nearest mask pixel, ties resolved as scipy's feature transform does) and the filter runs
    on the mask's bounding box grown by 3. The filter sums the 49 products in the same order for every
    pixel, so the values equal those on the whole image.
    """
    h, w = gt.shape
    rows = np.flatnonzero(gt.any(axis=1))
    cols = np.flatnonzero(gt.any(axis=0))
    y0, x0 = max(rows[0] - _HALF, 0), max(cols[0] - _HALF, 0)
    win = (slice(y0, min(rows[-1] + _HALF + 1, h)), slice(x0, min(cols[-1] + _HALF + 1, w)))
    inside = gt[win]
    err_win = err[win]
    band = cv2.dilate(inside.view(np.uint8), np.ones(_KERNEL.shape, np.uint8)).view(bool) & ~inside
    by, bx = np.nonzero(band)
    near_y, near_x = _nearest_mask_pixel(inside, by, bx, d2[win][by, bx])
    extended = err_win.copy()  # outside the band the values are never read at a mask pixel
    extended[by, bx] = err_win[near_y, near_x]
    smoothed = _filter(extended)
    e_in, ea_in = err_win[inside], smoothed[inside]
    return np.where(ea_in < e_in, ea_in, e_in)


def _nearest_mask_pixel(
    mask: np.ndarray, ys: np.ndarray, xs: np.ndarray, d2: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest ``mask`` pixel of each (y, x) whose squared distance ``d2`` to the mask is at most 18.

    Each pixel tries only the offsets of its own distance; among those the smaller column, then the
    smaller row wins, which is the choice of scipy's ``distance_transform_edt(..., return_indices=True)``
    (Maurer's algorithm keeps the earlier feature on ties along each axis).
    """
    pad = 4
    width = mask.shape[1] + 2 * pad
    padded = np.zeros((mask.shape[0] + 2 * pad, width), bool)
    padded[pad:-pad, pad:-pad] = mask
    flat = padded.ravel()
    pos = (ys + pad) * width + (xs + pad)
    near = np.empty_like(pos)
    for dist2, offsets in _RINGS.items():
        sel = np.flatnonzero(d2 == dist2)
        if sel.size == 0:
            continue
        cand = pos[sel, None] + (offsets[:, 0] * width + offsets[:, 1])
        hit = flat[cand]
        first = hit.argmax(axis=1)
        if not hit[np.arange(sel.size), first].all():
            raise RuntimeError("weighted F: distance map and mask disagree; please report this as a bug")
        near[sel] = cand[np.arange(sel.size), first]
    near_y, near_x = np.divmod(near, width)
    return near_y - pad, near_x - pad


@lru_cache(maxsize=1)
def _opencv_filter_is_exact() -> bool:
    """Whether ``cv2.filter2D`` gives scipy's ``convolve`` bits here (it sums in the same order unless a
    build fuses multiply-adds); checked once on a random map, with scipy as the fallback."""
    probe = np.random.default_rng(0).random((29, 37))
    ref = convolve(probe, weights=_KERNEL, mode="constant", cval=0)
    return bool(np.array_equal(cv2.filter2D(probe, -1, _KERNEL, borderType=cv2.BORDER_CONSTANT), ref))


def _filter(x: np.ndarray) -> np.ndarray:
    """``imfilter(x, K)`` with zero padding, bit-identical to ``scipy.ndimage.convolve(x, K, mode="constant")``."""
    if _opencv_filter_is_exact():
        return cv2.filter2D(x, -1, _KERNEL, borderType=cv2.BORDER_CONSTANT)
    return convolve(x, weights=_KERNEL, mode="constant", cval=0)
