"""HiFST defocus/motion blur detection (Golestaneh & Karam, CVPR 2017), a faithful port of ``HiFST.m``.

The map is high where the image is sharp. Every step follows the authors' MATLAB code at the paper's
settings (``HiFST(I, Slid=1, Noise=0)``); the toolbox semantics are in ``_hifst_matlab``, the sorted DCT
layers in ``_hifst_dct`` and the edge-preserving filter in ``_hifst_rf``.

References
----------
.. [1] S. A. Golestaneh and L. J. Karam, "Spatially-Varying Blur Detection Based on Multiscale Fused and
   Sorted Transform Coefficients of Gradient Magnitudes", CVPR 2017, arXiv:1703.07478.
   Code: https://github.com/isalirezag/HiFST (BSD-style licence, Arizona Board of Regents / IVU Lab).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from baselines.handcrafted import _hifst_matlab as ml
from baselines.handcrafted._hifst_dct import sorted_high_coefficients
from baselines.handcrafted._hifst_rf import recursive_filter

__all__ = ["hifst"]

BLOCK_SIZES = (7, 15, 31, 63)


def hifst(
    image: np.ndarray,
    *,
    block_sizes: Sequence[int] = BLOCK_SIZES,
    n_layers: int | None = None,
    prefilter_sigma: float = 0.5,
    entropy_size: int = 7,
    sigma_s: float = 15.0,
    sigma_r: float = 0.25,
    n_iterations: int = 3,
    normalize: bool = True,
    dtype: type = np.float32,
    n_threads: int | None = None,
) -> np.ndarray:
    """HiFST sharpness map: ``RF(entropy7(T) * T)`` with ``T = max_k mat2gray(L_k)`` (paper Eqs. 2-7).

    Steps of ``HiFST.m``: Gaussian pre-filter (sigma 0.5, 3×3, replicate) in the image's own class;
    ``rgb2gray``; Sobel gradient magnitude G (replicate borders); for every pixel, ``|DCT|`` of the centred
    M×M block of zero-padded G for each M in ``block_sizes``, high band only (0-based ``r + c >= M - 1``);
    the ``n_layers`` smallest of them, sorted, give layers ``L_1..L_n``; ``T = max_k mat2gray(L_k)``;
    ``D = entropyfilt(mat2gray(T), true(7)) .* mat2gray(T)``; finally the domain-transform recursive filter
    of D steered by ``imfilter(mat2gray(gray), fspecial('gaussian', [3 3], 1))``.

    Parameters
    ----------
    image : (H, W), (H, W, 1), (H, W, 2), (H, W, 3) or (H, W, 4) array
        Gray, gray+alpha, RGB or RGBA; alpha is ignored. uint8 and uint16 images are rounded to their
        class after the pre-filter and ``rgb2gray``, as MATLAB does; other integer types are treated as
        uint8 if all values are in [0, 255], as uint16 if in [0, 65535], otherwise rejected; bool and
        float images are used as they are (no rounding; any finite range, the map is invariant to
        ``a * image + b`` for ``a > 0``). The input is never modified. Any size >= 1×1 works: blocks reach
        outside the image through zero padding, as in the authors' code.
    block_sizes : sequence of odd int
        DCT block sizes M (paper: 7, 15, 31, 63).
    n_layers : int, optional
        Number of sorted coefficients kept; default ``sum(block_sizes) + 1`` (117 for the paper).
    prefilter_sigma : float
        Sigma of the Gaussian pre-filter (paper code: 0.5).
    entropy_size : int
        Odd side of the local-entropy window (paper code: 7).
    sigma_s, sigma_r, n_iterations : float, float, int
        Domain-transform filter parameters (paper code: 15, 0.25, 3).
    normalize : bool
        True (default): return ``mat2gray(FinalMap)``, the map the authors saved as PNG, in [0, 1].
        False: the raw ``FinalMap`` (values in ``[0, log2(entropy_size^2)]``; its mean is what
        ``DemoHiFST.m`` reports, 0.1809 on ``motion0138.jpg``).
    dtype : np.float32 or np.float64
        Precision of the DCT stage (transforms, selection and the 117 stored layers). float64 repeats the
        authors' double-precision arithmetic (8-bit maps pixel-identical to the authors' on all 9
        reference images); float32 (default) is about 1.5× as fast and halves the memory, at 1-2 8-bit
        levels on about 1 % of the pixels (see ``docs/models/hifst.md``). Everything after the DCT stage is float64.
    n_threads : int, optional
        Row chunks of the DCT stage processed concurrently; default ``min(2, os.cpu_count())``.

    Returns
    -------
    (H, W) float64 array, high = sharp.

    Raises
    ------
    ValueError
        Empty image, unsupported shape, non-finite values, integers outside [0, 65535], even block sizes.

    References
    ----------
    .. [1] Golestaneh & Karam, CVPR 2017, arXiv:1703.07478; code ``isalirezag/HiFST:HiFST.m``.
    .. [2] Gastal & Oliveira, "Domain Transform for Edge-Aware Image and Video Processing", ACM TOG 2011.
    """
    sizes = tuple(int(m) for m in block_sizes)
    if not sizes or any(m < 1 or m % 2 == 0 for m in sizes):
        raise ValueError(f"block_sizes={block_sizes!r} must be odd positive integers (the paper uses 7, 15, 31, 63)")
    if entropy_size < 1 or entropy_size % 2 == 0:
        raise ValueError(f"entropy_size={entropy_size} must be an odd positive integer (the paper uses 7)")
    n_layers = sum(sizes) + 1 if n_layers is None else int(n_layers)
    gray, grad = gray_and_gradient(image, prefilter_sigma)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype={dtype!r} must be np.float32 or np.float64")
    threads = worker_threads(n_threads)
    layers = sorted_high_coefficients(grad, sizes, n_layers, dtype=dtype, n_threads=threads)
    t = ml.mat2gray(_max_pooled_normalised(layers, threads))
    del layers
    d = ml.entropyfilt(t, entropy_size) * t
    joint = ml.imfilter_gaussian_zero(ml.mat2gray(gray), 3, 1.0)
    final = recursive_filter(d, sigma_s, sigma_r, n_iterations, joint)
    return ml.mat2gray(final) if normalize else final


def gray_and_gradient(image: np.ndarray, prefilter_sigma: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """HiFST's first steps: the pre-filtered gray image and its Sobel gradient magnitude G (float64).

    ``imgaussfilt`` in the image's class, ``rgb2gray`` for colour input, then ``imgradient``; see :func:`hifst`
    for the accepted inputs.
    """
    img, max_value = _prepare(image)
    smoothed = ml.imgaussfilt(img, prefilter_sigma, max_value)
    gray = ml.rgb2gray(smoothed, max_value) if smoothed.ndim == 3 else smoothed
    return gray, ml.sobel_magnitude(gray)


def worker_threads(n_threads: int | None) -> int:
    """Threads of the DCT stage: ``n_threads`` (at least 1), or ``min(2, os.cpu_count())`` when None."""
    return min(2, os.cpu_count() or 1) if n_threads is None else max(1, int(n_threads))


def _max_pooled_normalised(layers: np.ndarray, n_threads: int = 1, rows: int = 32) -> np.ndarray:
    """``T = max_k mat2gray(L(:, :, k))``: per-layer min-max over the whole image, then max over layers.

    Both passes (per-layer extrema, then the normalised maximum) run on blocks of ``rows`` rows, ``n_threads``
    blocks at a time (NumPy releases the GIL in these reductions).
    """
    h, w, _ = layers.shape
    blocks = [slice(y0, min(h, y0 + rows)) for y0 in range(0, h, rows)]
    with ThreadPoolExecutor(max(1, n_threads)) as pool:
        extrema = list(pool.map(lambda b: (layers[b].min(axis=(0, 1)), layers[b].max(axis=(0, 1))), blocks))
        lo = np.min([e[0] for e in extrema], axis=0).astype(np.float64)
        hi = np.max([e[1] for e in extrema], axis=0).astype(np.float64)
        const = hi == lo
        delta = np.where(const, 1.0, 1.0 / np.where(const, 1.0, hi - lo))
        offset = np.where(const, 0.0, lo * delta)  # constant layer: mat2gray returns clip(L, 0, 1)
        t = np.empty((h, w))

        def pool_block(b: slice) -> None:
            t[b] = np.clip(layers[b].astype(np.float64) * delta - offset, 0.0, 1.0).max(axis=2)

        list(pool.map(pool_block, blocks))
    return t


def _prepare(image: np.ndarray) -> tuple[np.ndarray, int | None]:
    """Validated float64 copy of the colour/gray channels and the integer class maximum (None for float)."""
    arr = np.asarray(image)
    if arr.size == 0:
        raise ValueError(f"empty image of shape {arr.shape}; HiFST needs at least one pixel")
    if arr.ndim == 3 and arr.shape[2] in (1, 2):
        arr = arr[:, :, 0]  # gray or gray + alpha
    elif arr.ndim == 3 and arr.shape[2] in (3, 4):
        arr = arr[:, :, :3]  # RGB or RGBA
    elif arr.ndim != 2:
        raise ValueError(
            f"image of shape {arr.shape} is not (H, W) or (H, W, C) with C in 1..4; pass a gray, RGB or RGBA array"
        )
    if arr.dtype == np.bool_ or np.issubdtype(arr.dtype, np.floating):
        out = arr.astype(np.float64)
        if not np.isfinite(out).all():
            raise ValueError("image contains NaN or infinite values; replace them before calling hifst")
        return out, None
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"unsupported image dtype {arr.dtype}; pass an integer, bool or float array")
    if arr.dtype == np.uint8:
        return arr.astype(np.float64), 255
    if arr.dtype == np.uint16:
        return arr.astype(np.float64), 65535
    lo, hi = int(arr.min()), int(arr.max())
    if lo < 0 or hi > 65535:
        raise ValueError(
            f"integer image of dtype {arr.dtype} has values in [{lo}, {hi}], outside [0, 65535]; "
            "convert it to uint8/uint16 or to float"
        )
    return arr.astype(np.float64), 255 if hi <= 255 else 65535
