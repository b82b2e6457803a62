"""LBP^{riu2}_{8,1} codes and the LBP sharpness metric m_LBP of Yi & Eramian (TIP 2016), Eq. (15).

Private helper of :mod:`baselines.handcrafted.lbp`; it follows the authors' MATLAB ``lbpCode.m`` and
``lbpSharpness.m`` operation by operation (the same float64 expression order, so the floors and the
``> T`` comparisons round exactly as MATLAB/Octave do), with the naive per-pixel window loop replaced by an
integral image (the counts are integers, so the result is identical).

References
----------
.. [1] X. Yi and M. Eramian, "LBP-based segmentation of defocus blur", IEEE Trans. Image Process.
   25(4):1626-1638, 2016. Code: ``xinario/defocus_segmentation`` (``lbpCode.m``, ``lbpSharpness.m``).
.. [2] T. Ojala, M. Pietikainen and T. Maenpaa, "Multiresolution gray-scale and rotation invariant texture
   classification with local binary patterns", IEEE TPAMI 24(7):971-987, 2002.
"""

from __future__ import annotations

import numpy as np

# Octave 7 ``rgb2gray`` weights (YIQ luminance row), applied to im2double(rgb) and scaled back to 8 bits.
GRAY_WEIGHTS = np.array([0.298936, 0.587043, 0.114021])
_OFF = np.sqrt(2.0) / 2.0  # diagonal neighbours of the radius-1 circle sit at (+-sqrt(2)/2, +-sqrt(2)/2)


def gray_uint8_levels(rgb01: np.ndarray) -> np.ndarray:
    """``double(rgb2gray(uint8 image))``: round(255 * (0.298936 R + 0.587043 G + 0.114021 B)), R, G, B in [0, 1].

    Octave converts integer input with ``im2double``, multiplies by the weight column and casts back with
    round-half-away-from-zero; the values stay non-negative, so ``floor(x + 0.5)`` is that rounding.
    """
    y = (rgb01 @ GRAY_WEIGHTS) * 255.0
    return np.floor(y + 0.5)


def _bilinear_diagonal(centre: np.ndarray, horiz: np.ndarray, vert: np.ndarray, diag: np.ndarray) -> np.ndarray:
    """(1-o)((1-o) g_c + o g_h) + o((1-o) g_v + o g_d), o = sqrt(2)/2, in the authors' operation order, floored."""
    a = 1.0 - _OFF
    return np.floor(a * (a * centre + _OFF * horiz) + _OFF * (a * vert + _OFF * diag))


def lbp_code(gray: np.ndarray, threshold: float) -> np.ndarray:
    """LBP^{riu2}_{8,1}: sum_p s(g_p - g_c - T) if U <= 2 else 9, with s(x) = [x > 0] ([1] Eq. 5-7).

    Neighbours at radius 1 in the authors' order g0 = right, g1 = up-right, g2 = up, g3 = up-left, g4 = left,
    g5 = down-left, g6 = down, g7 = down-right; the diagonals are bilinearly interpolated and **floored**
    (``lbpCode.m``); borders are replicated. U counts the 0/1 transitions around the circle.

    Parameters
    ----------
    gray : ndarray, shape (H, W)
        Grey levels on the 0..255 scale (float64; the authors pass ``double(uint8)``).
    threshold : float
        T in grey levels, i.e. T_LBP * 255 (``lbpSharpness.m`` passes ``0.016 * 255 = 4.08``).

    Returns
    -------
    ndarray of uint8, shape (H, W)
        Codes 0..9 (9 = non-uniform pattern).
    """
    g = np.asarray(gray, dtype=np.float64)
    p = np.pad(g, 1, mode="edge")
    right, left, above, below = p[1:-1, 2:], p[1:-1, :-2], p[:-2, 1:-1], p[2:, 1:-1]
    neighbours = [
        right,
        _bilinear_diagonal(g, right, above, p[:-2, 2:]),
        above,
        _bilinear_diagonal(g, left, above, p[:-2, :-2]),
        left,
        _bilinear_diagonal(g, left, below, p[2:, :-2]),
        below,
        _bilinear_diagonal(g, right, below, p[2:, 2:]),
    ]
    bits = np.stack([(n - g - threshold) > 0 for n in neighbours]).astype(np.uint8)
    transitions = np.count_nonzero(bits != np.roll(bits, 1, axis=0), axis=0)
    code = bits.sum(axis=0, dtype=np.uint8)
    code[transitions > 2] = 9
    return code


def min_max(x: np.ndarray) -> np.ndarray:
    """``normPatch``: (x - min x) / max(x - min x); a constant input (0/0 in MATLAB, NaN) maps to zeros here."""
    shifted = x - x.min()
    top = shifted.max()
    if top == 0:
        return np.zeros_like(shifted)
    return shifted / top


def window_count(mask: np.ndarray, size: int) -> np.ndarray:
    """Number of True pixels in the size x size window centred on every pixel, replicate padding (integral image)."""
    r = (size - 1) // 2
    padded = np.pad(mask.astype(np.int32), r, mode="edge")
    ii = np.zeros((padded.shape[0] + 1, padded.shape[1] + 1), dtype=np.int64)
    np.cumsum(np.cumsum(padded, axis=0), axis=1, out=ii[1:, 1:])
    h, w = mask.shape
    return ii[size : size + h, size : size + w] - ii[:h, size : size + w] - ii[size : size + h, :w] + ii[:h, :w]


def sharpness_from_codes(codes: np.ndarray, scale: int) -> np.ndarray:
    """m_LBP = (1 / s^2) #{codes in {6, 7, 8, 9} in the s x s window} ([1] Eq. 15), min-max normalised."""
    if scale < 1 or scale % 2 == 0:
        raise ValueError(f"scale must be a positive odd window size, got {scale}")
    counts = window_count(codes >= 6, scale)
    return min_max(counts / float(scale * scale))


def sharpness_from_gray(gray: np.ndarray, scale: int, t_lbp: float) -> np.ndarray:
    """m_LBP of a grey image on the 0..255 scale; the LBP threshold is ``t_lbp * 255`` as in ``lbpSharpness.m``."""
    return sharpness_from_codes(lbp_code(gray, t_lbp * 255), scale)
