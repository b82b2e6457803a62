"""LBP-based defocus segmentation of Yi & Eramian (TIP 2016), ported from the authors' MATLAB code.

Pipeline (``demo.m`` of ``xinario/defocus_segmentation``), for each scale s in (11, 15, 21):

1. m_LBP: fraction of LBP^{riu2}_{8,1} codes in {6..9} in the s x s window (Eq. 15; T_LBP = 0.016),
   min-max normalised (:func:`lbp_sharpness`);
2. double threshold (Eq. 21): m > 0.3 -> alpha = 1 (sharp), m < 0.01 -> alpha = 0 (blurred);
3. closed-form matting from these constraints, coarse to fine (3 levels, solved at the coarsest; eps 1e-7,
   3 x 3 windows, lambda 100), clipped to [0, 1] (Eq. 18);

then the three alpha maps are fused by loopy belief propagation on a 3-layer graph (Eq. 19; alpha 0.5,
100 iterations) and the layer of scale 21 is returned as P(sharp).

See ``docs/models/lbp.md`` for what is bit-exact, what differs numerically and the measured fidelity.

References
----------
.. [1] X. Yi and M. Eramian, "LBP-based segmentation of defocus blur", IEEE Trans. Image Process.
   25(4):1626-1638, 2016. doi:10.1109/TIP.2016.2528042. Code: https://github.com/xinario/defocus_segmentation
.. [2] A. Levin, D. Lischinski and Y. Weiss, "A closed-form solution to natural image matting", IEEE TPAMI
   30(2):228-242, 2008.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from baselines.handcrafted._lbp_bp import multiscale_lbp
from baselines.handcrafted._lbp_matting import MattingPyramid, coarse_shape, solve_alpha_c2f
from baselines.handcrafted._lbp_sharpness import (
    GRAY_WEIGHTS,
    gray_uint8_levels,
    lbp_code,
    sharpness_from_codes,
    sharpness_from_gray,
)

__all__ = ["lbp", "lbp_code", "lbp_sharpness", "min_side"]


def _as_rgb01(image: np.ndarray) -> np.ndarray:
    """Any supported image -> float64 RGB in [0, 1] (a new array; the input is never modified).

    uint8 / 255, uint16 / 65535, bool as 0/1, float as is (must lie in [0, 1]); gray (H, W) or (H, W, 1) is
    repeated to 3 channels, the alpha channel of RGBA is dropped (not composited). Channels are read as RGB.
    """
    img = np.asarray(image)
    if img.ndim == 3 and img.shape[2] == 4:
        img = img[:, :, :3]
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"lbp expects a gray (H, W), RGB (H, W, 3) or RGBA (H, W, 4) image, got shape {img.shape}")
    if img.dtype == np.uint8:
        return img / 255.0
    if img.dtype == np.uint16:
        return img / 65535.0
    if img.dtype == np.bool_:
        return img.astype(np.float64)
    if np.issubdtype(img.dtype, np.floating):
        out = img.astype(np.float64)
        if not np.all(np.isfinite(out)):
            raise ValueError("float image contains NaN or Inf; lbp needs finite values in [0, 1]")
        if out.min() < 0 or out.max() > 1:
            raise ValueError(
                f"float image values must lie in [0, 1], got range [{out.min()}, {out.max()}]; "
                "divide 8-bit data by 255 (or pass it as uint8)"
            )
        return out
    raise TypeError(f"unsupported image dtype {img.dtype}; pass uint8, uint16, bool or float in [0, 1]")


def min_side(levels: int = 3) -> int:
    """Smallest image side for which the coarsest matting level still has a 3 x 3 window (21 for 3 levels)."""
    side = 3
    for _ in range(levels - 1):
        side = 2 * side + 3  # inverse of floor((H - 3) / 2) >= side
    return side


def lbp_sharpness(image: np.ndarray, scale: int = 21, *, t_lbp: float = 0.016) -> np.ndarray:
    """LBP sharpness m_LBP = (1/s^2) #{LBP^{riu2}_{8,1} codes in {6, 7, 8, 9} in the s x s window}, min-max scaled.

    Paper Eq. (15) as the authors' ``lbpSharpness.m`` computes it: grey = uint8 ``rgb2gray`` of the image,
    LBP threshold T_LBP * 255 grey levels (a neighbour must be >= 5 levels brighter at T_LBP = 0.016),
    diagonals bilinear and floored, replicate padding for the codes and the window, then
    (m - min m) / (max m - min m). A map with no variation (e.g. a constant image) gives zeros.

    Parameters
    ----------
    image : ndarray
        Gray or RGB(A) image, uint8 / uint16 / bool / float in [0, 1] (see :func:`lbp`).
    scale : int
        Odd window side s (the authors use 11, 15 and 21).
    t_lbp : float
        T_LBP on the [0, 1] intensity scale.

    Returns
    -------
    ndarray of float64, shape (H, W), values in [0, 1], high = sharp.

    References
    ----------
    .. [1] X. Yi and M. Eramian, "LBP-based segmentation of defocus blur", IEEE TIP 25(4):1626-1638, 2016.
    """
    return sharpness_from_gray(gray_uint8_levels(_as_rgb01(image)), scale, t_lbp)


def _paint_distances(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """sum_c |I_c - 1| and sum_c |I_c| per pixel: ``sum(abs(I - mI), 3)`` where mI is painted white / black."""
    return np.abs(rgb - 1.0).sum(axis=2), np.abs(rgb).sum(axis=2)


def _constraints(
    dist: tuple[np.ndarray, np.ndarray], sharp: np.ndarray, t_sharp: float, t_blur: float
) -> tuple[np.ndarray, np.ndarray]:
    """``localSharpScoreLBP``: paint m > T_m1 white and m < T_m2 black; constrained = pixels that changed (> 0.001).

    ``im2bw`` compares with ``>``; the blurred side is tested as (1 - m) > 1 - T_m2, literally as in the code.
    A pixel that is already white (black) where it is painted white (black) stays unconstrained, as there.
    The value is ``rgb2gray`` of the painted pixel: the weight sum (exactly 1.0) for white, 0 for black.
    """
    white = sharp > t_sharp
    black = (1 - sharp) > (1 - t_blur)  # painted after white in the code; the two sets are disjoint anyway
    consts_map = np.where(black, dist[1] > 0.001, white & (dist[0] > 0.001))
    consts_vals = np.where(consts_map & white & ~black, GRAY_WEIGHTS.sum(), 0.0)
    return consts_map, consts_vals


def lbp(
    image: np.ndarray,
    *,
    scales: Sequence[int] = (11, 15, 21),
    t_lbp: float = 0.016,
    t_sharp: float = 0.3,
    t_blur: float = 0.01,
    epsilon: float = 1e-7,
    lam: float = 100.0,
    levels: int = 3,
    alpha: float = 0.5,
    max_iter: int = 100,
    tol: float = 1e-4,
    n_threads: int = 2,
) -> np.ndarray:
    """Defocus map of Yi & Eramian: per-scale matting of thresholded LBP sharpness, fused by loopy BP (Eq. 15-21).

    Parameters
    ----------
    image : ndarray
        (H, W) gray, (H, W, 3) RGB or (H, W, 4) RGBA (alpha ignored); uint8, uint16 (/65535), bool or float in
        [0, 1]. Both sides must be >= ``min_side(levels)`` (21 by default). Not modified.
    scales : sequence of int
        Window sides s; the graph's first layer (the returned one) is the **last** scale, like the authors'
        ``[scale3; scale2; scale1]`` stacking.
    t_lbp : float
        T_LBP, the LBP threshold on the [0, 1] scale.
    t_sharp, t_blur : float
        T_m1, T_m2 of the double threshold (Eq. 21).
    epsilon, lam, levels : float, float, int
        Matting regulariser, constraint weight and pyramid levels (solved at the coarsest only).
    alpha : float
        Inter-node weight of the multi-scale graph (Eq. 19).
    max_iter, tol : int, float
        Loopy BP iteration cap and stopping threshold.
    n_threads : int
        Threads for the per-scale matting and the loopy BP updates (an implementation setting, not a paper
        parameter; results do not depend on it).

    Returns
    -------
    ndarray of float64, shape (H, W), values in [0, 1], **high = sharp** (use ``1 - map`` for P(blur)).

    Notes
    -----
    Bit-exact with the MATLAB code up to the constraint masks (grey levels, codes, m_LBP, thresholds).
    Numerical differences, all at rounding level on real images: matting window statistics by box sums with
    an adjugate 3 x 3 inverse (MATLAB: per-window ``inv``), ``getLinearCoeff``'s 4 x 4 normal equations
    solved by eliminating the offset, the sparse system by SuperLU instead of CHOLMOD; loopy BP runs a
    red-black schedule (UGM: node-sequential) towards the same fixed point and evaluates UGM's stopping test
    every 5 iterations. Gray input (the authors' code fails on it) is repeated to RGB; a constant image
    (MATLAB: NaN) gives P(sharp) < 0.5 everywhere. On the authors' example the map equals their Octave output
    to the 16-bit quantisation of that file (``docs/models/lbp.md``).

    References
    ----------
    .. [1] X. Yi and M. Eramian, "LBP-based segmentation of defocus blur", IEEE TIP 25(4):1626-1638, 2016.
    .. [2] A. Levin, D. Lischinski and Y. Weiss, "A closed-form solution to natural image matting",
       IEEE TPAMI 30(2):228-242, 2008.
    """
    rgb = _as_rgb01(image)
    need = min_side(levels)
    if min(rgb.shape[:2]) < need:
        ch, cw = coarse_shape(*rgb.shape[:2])
        raise ValueError(
            f"image is {rgb.shape[0]}x{rgb.shape[1]}; lbp needs both sides >= {need} for {levels} matting levels "
            f"(each level keeps floor((n - 3) / 2) rows and columns: {rgb.shape[0]}x{rgb.shape[1]} -> {ch}x{cw}, "
            "and the coarsest needs a 3 x 3 window); upscale the image or pass fewer levels"
        )
    codes = lbp_code(gray_uint8_levels(rgb), t_lbp * 255)
    dist = _paint_distances(rgb)
    pyramid = MattingPyramid(rgb, levels, epsilon).precompute()

    def matte(s: int) -> np.ndarray:
        consts_map, consts_vals = _constraints(dist, sharpness_from_codes(codes, s), t_sharp, t_blur)
        return np.clip(solve_alpha_c2f(pyramid, consts_map, consts_vals, lam=lam), 0.0, 1.0)

    with ThreadPoolExecutor(max_workers=max(1, min(n_threads, len(scales)))) as pool:
        per_scale = list(pool.map(matte, scales))  # scales are independent; the shared terms are read-only
    return multiscale_lbp(per_scale[::-1], alpha=alpha, max_iter=max_iter, tol=tol, n_threads=n_threads)
