"""Closed-form matting, coarse to fine, as in the Levin et al. code shipped with Yi & Eramian (TIP 2016).

Private helper of :mod:`baselines.handcrafted.lbp`. It ports ``solveAlphaC2F.m``, ``solveAlpha.m``,
``getLaplacian1.m``, ``getLinearCoeff.m``, ``upSampleAlphaUsingImg.m``, ``downSmpIm.m`` and ``upSmpIm.m``:

* down-sampling: separable [1 4 6 4 1]/16 filter, then every second pixel from the third (``downSmpIm(.,2)``),
  so an H-row image becomes floor((H - 3) / 2) rows;
* matting Laplacian over 3 x 3 windows with epsilon/9 regularisation, skipping windows whose centre lies in
  the eroded constraint map; alpha = (L + lambda D)^-1 (lambda D v), clipped to [0, 1];
* up-sampling: per-window affine coefficients (a, b) with alpha ~ a^T I + b fitted at the coarse level,
  bilinearly up-sampled (``upSmpIm`` with the [1 2 1]/2 filter and replicated edges) and applied to the
  fine image.

Vectorised over windows with 3 x 3 box sums; the per-window 3 x 3 inverses use the adjugate and the 4 x 4
normal equations of ``getLinearCoeff`` are solved by eliminating the offset b (MATLAB: ``inv`` of each
matrix), and the sparse system is solved with SuperLU in symmetric mode (MATLAB's backslash: CHOLMOD). These
differ from MATLAB only by floating-point rounding.

References
----------
.. [1] A. Levin, D. Lischinski and Y. Weiss, "A closed-form solution to natural image matting", IEEE TPAMI
   30(2):228-242, 2008 (CVPR 2006).
.. [2] X. Yi and M. Eramian, "LBP-based segmentation of defocus blur", IEEE Trans. Image Process.
   25(4):1626-1638, 2016, Section IV-B.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
from scipy.ndimage import binary_erosion, correlate1d
from scipy.sparse.linalg import MatrixRankWarning, splu, spsolve

_WIN = 9  # pixels in a 3 x 3 window (win_size = 1)
_ERODE = np.ones((3, 3), dtype=bool)


def round_half_away(x: np.ndarray) -> np.ndarray:
    """MATLAB ``round``: halves go away from zero (``numpy.round`` would send 0.5 to 0)."""
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def coarse_shape(h: int, w: int) -> tuple[int, int]:
    """Size after one ``downSmpIm(., 2)``: samples 3, 5, ... up to H - 2 (1-based), i.e. floor((H - 3) / 2)."""
    return (h - 3) // 2, (w - 3) // 2


def down_sample(img: np.ndarray) -> np.ndarray:
    """``downSmpIm(I, 2)``: [1 4 6 4 1]/16 filter on rows and columns, keep rows/columns 2, 4, ... (0-based)."""
    k = np.array([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0
    out = correlate1d(img, k, axis=0, mode="constant")
    out = correlate1d(out, k, axis=1, mode="constant")
    h, w = coarse_shape(img.shape[0], img.shape[1])
    return out[2 : 2 + 2 * h : 2, 2 : 2 + 2 * w : 2]


def _up_axis(x: np.ndarray, n: int, axis: int) -> np.ndarray:
    """Up-sample one axis by 2: fine p reads coarse (p - 2) / 2, linear between samples, clamped at the ends."""
    x = np.moveaxis(x, axis, 0)
    h = x.shape[0]
    if not 2 * h + 1 <= n <= 2 * h + 4:
        raise ValueError(f"up-sampling {h} -> {n} samples: not the inverse of down_sample")
    out = np.empty((n,) + x.shape[1:], dtype=np.result_type(x, np.float64))
    out[2 : 2 * h + 1 : 2] = x
    out[3 : 2 * h : 2] = 0.5 * (x[:-1] + x[1:])  # [1 2 1]/2 between two samples = their mean
    out[:2] = x[0]
    out[2 * h + 1 :] = x[-1]
    return np.moveaxis(out, 0, axis)


def up_sample(x: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``upSmpIm(x, shape)``: bilinear up-sampling by 2 aligned with :func:`down_sample`, edges replicated.

    MATLAB places the samples at the zero-inserted positions 2, 4, ... (0-based, for the sizes produced by
    :func:`down_sample`), replicates the outer ones and filters with [1 2 1]/2 in both directions.
    """
    return _up_axis(_up_axis(x, shape[0], 0), shape[1], 1)


def _windows(img: np.ndarray) -> np.ndarray:
    """All 3 x 3 windows centred on interior pixels, flattened: shape ((H - 2) (W - 2), 9, C)."""
    h, w, c = img.shape
    win = np.lib.stride_tricks.sliding_window_view(img, (3, 3), axis=(0, 1))  # type: ignore[call-overload]
    return win.transpose(0, 1, 3, 4, 2).reshape(-1, _WIN, c)


def _box_mean(x: np.ndarray) -> np.ndarray:
    """Mean over the 3 x 3 window of every interior pixel: (H, W, ...) -> (H - 2, W - 2, ...)."""
    rows = x[:-2] + x[1:-1] + x[2:]
    return (rows[:, :-2] + rows[:, 1:-1] + rows[:, 2:]) / _WIN


def _inv_sym3(m: np.ndarray) -> np.ndarray:
    """Inverse of symmetric 3 x 3 matrices (..., 3, 3) by the adjugate (MATLAB: ``inv``; same to rounding)."""
    a, b, c = m[..., 0, 0], m[..., 0, 1], m[..., 0, 2]
    d, e, f = m[..., 1, 1], m[..., 1, 2], m[..., 2, 2]
    adj = np.empty_like(m)
    adj[..., 0, 0] = d * f - e * e
    adj[..., 0, 1] = adj[..., 1, 0] = c * e - b * f
    adj[..., 0, 2] = adj[..., 2, 0] = b * e - c * d
    adj[..., 1, 1] = a * f - c * c
    adj[..., 1, 2] = adj[..., 2, 1] = b * c - a * e
    adj[..., 2, 2] = a * d - b * b
    det = a * adj[..., 0, 0] + b * adj[..., 0, 1] + c * adj[..., 0, 2]
    return adj / det[..., None, None]


def window_stats(img: np.ndarray, epsilon: float) -> tuple[np.ndarray, np.ndarray]:
    """Per interior window: mean mu (H-2, W-2, 3) and (Sigma + eps/9 E)^-1 (H-2, W-2, 3, 3), Sigma the covariance.

    Shared by the Laplacian and the linear coefficients of a level; depends on the image only.
    """
    if img.shape[2] != 3:
        raise ValueError(f"matting expects a 3-channel image, got {img.shape[2]} channels")
    mu = _box_mean(img)
    second = _box_mean(img[:, :, :, None] * img[:, :, None, :])
    cov = second - mu[..., :, None] * mu[..., None, :] + (epsilon / _WIN) * np.eye(3)
    return mu, _inv_sym3(cov)


def laplacian_terms(img: np.ndarray, mu: np.ndarray, inv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-window matting affinities (1 + (I_i - mu)^T (Sigma + eps/9 E)^-1 (I_j - mu)) / 9 ([1] Eq. 12).

    Returns the pixel indices (n, 9) and affinities (n, 9, 9) of every window centred on an interior pixel,
    in row-major order of the centres. They depend on the image only, so they are shared by all scales.
    """
    h, w, c = img.shape
    idx = np.lib.stride_tricks.sliding_window_view(np.arange(h * w).reshape(h, w), (3, 3)).reshape(-1, _WIN)
    centred = _windows(img) - mu.reshape(-1, 1, c)
    vals = (1.0 + np.matmul(np.matmul(centred, inv.reshape(-1, c, c)), centred.transpose(0, 2, 1))) / _WIN
    return idx, vals


class MattingPyramid:
    """The image at every pyramid level plus its scale-independent matting terms, computed on first use."""

    def __init__(self, img: np.ndarray, levels: int, epsilon: float) -> None:
        self.images = [img]
        for _ in range(levels - 1):
            self.images.append(down_sample(self.images[-1]))
        self.epsilon = epsilon
        self._stats: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._lap: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def precompute(self) -> MattingPyramid:
        """Fill the caches the authors' schedule reads (statistics of the coarse levels, coarsest Laplacian terms)
        so that several scales can then be solved from threads without racing on them."""
        for level in range(1, len(self.images)):
            self.stats(level)
        coarsest = len(self.images) - 1
        self._lap[coarsest] = laplacian_terms(self.images[coarsest], *self.stats(coarsest))
        return self

    def stats(self, level: int) -> tuple[np.ndarray, np.ndarray]:
        """:func:`window_stats` of the image at ``level`` (cached)."""
        if level not in self._stats:
            self._stats[level] = window_stats(self.images[level], self.epsilon)
        return self._stats[level]

    def laplacian(self, level: int, consts: np.ndarray) -> sp.csr_matrix:
        """L = D - A over the windows whose centre is not in erode(consts, 3 x 3) (``getLaplacian1.m``)."""
        if level not in self._lap:
            self._lap[level] = laplacian_terms(self.images[level], *self.stats(level))
        idx, vals = self._lap[level]
        keep = ~binary_erosion(consts, _ERODE, border_value=1)[1:-1, 1:-1].ravel()
        idx, vals = idx[keep], vals[keep]
        n = consts.size
        rows = np.broadcast_to(idx[:, :, None], vals.shape).ravel()
        cols = np.broadcast_to(idx[:, None, :], vals.shape).ravel()
        a = sp.csr_matrix((vals.ravel(), (rows, cols)), shape=(n, n))
        return sp.diags(np.asarray(a.sum(axis=1)).ravel()) - a

    def linear_coeffs(self, level: int, alpha: np.ndarray) -> np.ndarray:
        """(a, b) = argmin sum_i (a^T I_i + b - alpha_i)^2 + eps |a|^2 over each window (``getLinearCoeff``).

        The code solves the 4 x 4 normal equations inv(G^T G) G^T [alpha; 0]; eliminating b gives the same
        solution a = (Sigma + eps/9 E)^-1 (mean(I alpha) - mu mean(alpha)), b = mean(alpha) - a^T mu.
        Returns (H, W, 4): a_R, a_G, a_B, b; border pixels copy the nearest interior window.
        """
        img = self.images[level]
        mu, inv = self.stats(level)
        mean_a = _box_mean(alpha)
        cross = _box_mean(img * alpha[:, :, None]) - mu * mean_a[:, :, None]
        coeff_a = np.einsum("hwij,hwj->hwi", inv, cross)
        coeff_b = mean_a - np.einsum("hwi,hwi->hw", coeff_a, mu)
        coeff = np.concatenate([coeff_a, coeff_b[:, :, None]], axis=2)
        return np.pad(coeff, ((1, 1), (1, 1), (0, 0)), mode="edge")

    def upsample_alpha(self, level: int, alpha: np.ndarray) -> np.ndarray:
        """``upSampleAlphaUsingImg``: alpha_fine = up(b) + sum_c up(a_c) I_fine,c (not clipped, as in the code)."""
        fine = self.images[level - 1]
        coeff = up_sample(self.linear_coeffs(level, alpha), fine.shape[:2])
        return coeff[:, :, -1] + np.einsum("hwc,hwc->hw", coeff[:, :, :-1], fine)


def solve_alpha(pyr: MattingPyramid, level: int, consts_map: np.ndarray, consts_vals: np.ndarray, lam: float):
    """``solveAlpha``: alpha = clip((L + lambda D)^-1 (lambda m .* v), 0, 1), D = diag(m) ([1] Eq. 13)."""
    h, w = consts_map.shape
    m = consts_map.ravel().astype(np.float64)
    system = (pyr.laplacian(level, consts_map.astype(bool)) + lam * sp.diags(m)).tocsc()
    rhs = lam * m * consts_vals.ravel()
    with warnings.catch_warnings():
        warnings.simplefilter("error", MatrixRankWarning)
        try:  # symmetric mode: the system is symmetric, so pivot on the diagonal with a symmetric ordering
            x = splu(system, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0, options={"SymmetricMode": True})
            x = x.solve(rhs)
            if not np.all(np.isfinite(x)):
                raise RuntimeError("non-finite solution")
        except (MatrixRankWarning, RuntimeError):
            # A region with no constraint leaves alpha undetermined (MATLAB warns and returns Inf/NaN); a
            # tiny ridge defines it as 0 there and changes constrained regions by ~1e-10.
            x = spsolve(system + 1e-10 * sp.identity(h * w, format="csc"), rhs)
    return np.clip(x.reshape(h, w), 0.0, 1.0)


def solve_alpha_c2f(
    pyr: MattingPyramid,
    consts_map: np.ndarray,
    consts_vals: np.ndarray,
    *,
    level: int = 0,
    active_levels: int = 1,
    thr_alpha: float = 0.02,
    lam: float = 100.0,
) -> np.ndarray:
    """``solveAlphaC2F``: solve at the coarsest levels, propagate up with the local linear model.

    ``levels_num`` of the MATLAB code is ``len(pyr.images) - level``. Constraints are down-sampled and rounded
    (MATLAB ``round``, half away from zero). At a level where a solve happens after up-sampling, confident
    pixels (alpha >= 1 - thr or <= thr, eroded 3 x 3) become extra constraints; with the authors'
    ``active_levels = 1`` only the coarsest level is solved and that update is never read, so it is skipped.
    """
    levels = len(pyr.images) - level
    active_levels = max(active_levels, 1)
    alpha = None
    if levels > 1:
        s_map = round_half_away(down_sample(consts_map.astype(np.float64)))
        s_vals = round_half_away(down_sample(consts_vals.astype(np.float64)))
        s_alpha = solve_alpha_c2f(
            pyr,
            s_map,
            s_vals,
            level=level + 1,
            active_levels=min(levels - 1, active_levels),
            thr_alpha=thr_alpha,
            lam=lam,
        )
        alpha = pyr.upsample_alpha(level + 1, s_alpha)
        if active_levels >= levels:
            talpha = alpha * (1 - consts_map) + consts_vals
            confident = binary_erosion(alpha >= 1 - thr_alpha, _ERODE, border_value=1).astype(np.float64)
            confident += binary_erosion(alpha <= thr_alpha, _ERODE, border_value=1)
            consts_map = np.minimum(consts_map + confident, 1)
            consts_vals = round_half_away(talpha) * consts_map
    if active_levels >= levels:
        alpha = solve_alpha(pyr, level, consts_map, consts_vals, lam)
    if alpha is None:  # levels == 1 and nothing solved: cannot happen with active_levels >= 1
        raise ValueError(f"no level solved (levels={levels}, active_levels={active_levels})")
    return alpha
