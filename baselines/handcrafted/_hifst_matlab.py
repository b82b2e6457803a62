"""MATLAB Image Processing Toolbox semantics that HiFST depends on, re-implemented in NumPy.

Each function reproduces one toolbox call of ``HiFST.m`` as it behaves on the types that code feeds it:
the rounding of integer images (``cast`` rounds half away from zero and saturates), the padding mode of
each filter, ``mat2gray``'s constant-image branch and ``entropyfilt``'s 256-bin histogram of
``im2uint8`` values.

References
----------
.. [1] MathWorks, Image Processing Toolbox reference: ``imgaussfilt``, ``rgb2gray``, ``imgradient``,
   ``mat2gray``, ``entropyfilt``, ``im2uint8``, ``imfilter``, ``fspecial``, ``padarray``.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.filters import rank

__all__ = [
    "RGB2GRAY_WEIGHTS",
    "cast_round",
    "entropyfilt",
    "gaussian_kernel",
    "imgaussfilt",
    "imfilter_gaussian_zero",
    "im2uint8",
    "mat2gray",
    "rgb2gray",
    "sobel_magnitude",
]

#: First row of inv([1 .956 .621; 1 -.272 -.647; 1 -1.106 1.703]), the weights of MATLAB's ``rgb2gray``.
RGB2GRAY_WEIGHTS = np.array([0.298936021293775, 0.587043074451121, 0.114020904255103])


def cast_round(x: np.ndarray, max_value: int | None) -> np.ndarray:
    """MATLAB ``cast(x, 'uintN')`` for nonnegative doubles: ``min(floor(x + 0.5), max)`` kept as float64.

    ``max_value=None`` means a floating-point image: no rounding.
    """
    if max_value is None:
        return x
    return np.clip(np.floor(x + 0.5), 0, max_value)


def gaussian_kernel(sigma: float, size: int) -> np.ndarray:
    """1-D ``exp(-x^2 / (2 sigma^2))`` on ``x = -(size-1)/2 .. (size-1)/2``, normalised to sum 1 (``fspecial``)."""
    x = np.arange(size) - (size - 1) / 2
    g = np.exp(-(x**2) / (2.0 * sigma**2))
    return g / g.sum()


def imgaussfilt(img: np.ndarray, sigma: float, max_value: int | None) -> np.ndarray:
    """``imgaussfilt(I, sigma)``: size ``2 ceil(2 sigma) + 1`` Gaussian, replicate borders, every channel.

    The result is rounded back to the integer class (``max_value``) as MATLAB returns the input's class.
    """
    size = 2 * int(np.ceil(2 * sigma)) + 1
    g = gaussian_kernel(sigma, size)
    out = ndimage.correlate1d(img, g, axis=0, mode="nearest")
    out = ndimage.correlate1d(out, g, axis=1, mode="nearest")
    return cast_round(out, max_value)


def rgb2gray(rgb: np.ndarray, max_value: int | None) -> np.ndarray:
    """``rgb2gray``: ``0.298936 R + 0.587043 G + 0.114021 B``, rounded for integer classes."""
    gray = rgb[..., 0] * RGB2GRAY_WEIGHTS[0] + rgb[..., 1] * RGB2GRAY_WEIGHTS[1] + rgb[..., 2] * RGB2GRAY_WEIGHTS[2]
    return cast_round(gray, max_value)


def sobel_magnitude(gray: np.ndarray) -> np.ndarray:
    """``imgradient(I)`` (Sobel): ``hypot(Gx, Gy)`` with unscaled 3×3 Sobel kernels and replicate borders."""
    gx = ndimage.correlate(gray, np.array([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]]), mode="nearest")
    gy = ndimage.correlate(gray, np.array([[-1.0, -2, -1], [0, 0, 0], [1, 2, 1]]), mode="nearest")
    return np.hypot(gx, gy)


def mat2gray(a: np.ndarray) -> np.ndarray:
    """``mat2gray(A)``: ``(A - min) / (max - min)``; a constant array gives ``clip(A, 0, 1)`` (MATLAB's branch)."""
    a = np.asarray(a, dtype=np.float64)
    lo, hi = float(a.min()), float(a.max())
    if hi == lo:
        return np.clip(a, 0.0, 1.0)
    delta = 1.0 / (hi - lo)
    return np.clip(a * delta - lo * delta, 0.0, 1.0)


def im2uint8(a: np.ndarray) -> np.ndarray:
    """``im2uint8`` of a double image: ``floor(255 clip(a, 0, 1) + 0.5)`` as uint8."""
    return np.floor(255.0 * np.clip(a, 0.0, 1.0) + 0.5).astype(np.uint8)


def entropyfilt(a: np.ndarray, size: int = 7) -> np.ndarray:
    """``entropyfilt(A, true(size))``: ``-sum p log2 p`` of the 256-bin histogram of each size×size window.

    ``A`` (double in [0, 1]) is converted with ``im2uint8`` and padded symmetrically (``padarray``'s
    'symmetric', which mirrors including the edge pixel); scikit-image's sliding-histogram rank filter
    then gives the entropy in bits of every full window of the padded image.
    """
    r = size // 2
    padded = _pad_symmetric(im2uint8(a), r)
    ent = rank.entropy(padded, np.ones((size, size), dtype=bool))
    return ent[r: ent.shape[0] - r, r: ent.shape[1] - r].astype(np.float64)


def _pad_symmetric(a: np.ndarray, r: int) -> np.ndarray:
    """``padarray(A, [r r], 'symmetric')``, also when ``r`` exceeds the size (period-2N mirror indexing)."""
    def index(n: int) -> np.ndarray:
        mirror = np.concatenate([np.arange(n), np.arange(n - 1, -1, -1)])
        return mirror[np.mod(np.arange(-r, n + r), 2 * n)]

    return a[np.ix_(index(a.shape[0]), index(a.shape[1]))]


def imfilter_gaussian_zero(img: np.ndarray, size: int = 3, sigma: float = 1.0) -> np.ndarray:
    """``imfilter(I, fspecial('gaussian', [size size], sigma))``: correlation with zero padding (the default)."""
    g = gaussian_kernel(sigma, size)
    out = ndimage.correlate1d(img, g, axis=0, mode="constant", cval=0.0)
    return ndimage.correlate1d(out, g, axis=1, mode="constant", cval=0.0)
