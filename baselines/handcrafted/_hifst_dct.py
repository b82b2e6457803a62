"""HiFST step 2: per-pixel sorted high-frequency DCT coefficients of the gradient magnitude.

For every pixel and every block size M, HiFST takes the M×M block of the zero-padded gradient magnitude
centred on the pixel, computes ``|D P Dᵀ|`` with the orthonormal DCT-II matrix ``D = dctmtx(M)``, keeps
the high-frequency coefficients (0-based ``r + c >= M - 1``), pools them over all scales and keeps the
``n_layers`` smallest, sorted ascending. Here the per-pixel 2-D DCT is done as two sliding 1-D DCTs
(a column transform of every M-row band, then a row transform of every M-column window), both as BLAS
matrix products, and only the high-frequency half is computed.

References
----------
.. [1] S. A. Golestaneh and L. J. Karam, "Spatially-Varying Blur Detection Based on Multiscale Fused and
   Sorted Transform Coefficients of Gradient Magnitudes", CVPR 2017, Sec. 3 (Eqs. 2-5); authors' code
   ``isalirezag/HiFST:HiFST.m`` (``FreqBands``, ``DCTA`` and the main loop).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numpy.lib.stride_tricks import as_strided

__all__ = ["dct_matrix", "high_band_mask", "sorted_high_coefficients"]


def dct_matrix(m: int) -> np.ndarray:
    """Orthonormal DCT-II matrix, MATLAB's ``dctmtx(m)``.

    ``D[0, n] = 1/sqrt(m)`` and ``D[k, n] = sqrt(2/m) cos(pi (2n + 1) k / (2m))`` for ``k >= 1``.

    References
    ----------
    .. [1] MATLAB ``dctmtx`` (Image Processing Toolbox; Octave ``signal`` package).
    """
    k = np.arange(m)[:, None]
    n = np.arange(m)[None, :]
    d = np.sqrt(2.0 / m) * np.cos(np.pi * (2 * n + 1) * k / (2 * m))
    d[0, :] = 1.0 / np.sqrt(m)
    return d


def high_band_mask(m: int) -> np.ndarray:
    """Boolean M×M mask of HiFST's high-frequency band: 0-based ``r + c >= m - 1`` (label 0 of ``FreqBands``).

    ``FreqBands`` labels, in column ``c`` (1-based), rows ``1 .. m - c`` as DC/low/mid and leaves rows
    ``m - c + 1 .. m`` at 0; those are the anti-diagonal and everything below it, ``m (m + 1) / 2`` entries.

    References
    ----------
    .. [1] Golestaneh & Karam, CVPR 2017, Fig. 2; ``HiFST.m:FreqBands``.
    """
    r = np.arange(m)[:, None]
    c = np.arange(m)[None, :]
    return (r + c) >= m - 1


def _column_transform(band: np.ndarray, m: int, n_rows: int, d: np.ndarray) -> np.ndarray:
    """``V[k, y, x] = sum_r D[k, r] band[y + r, x]`` for every vertical M-window: shape (M, n_rows, width)."""
    s0, s1 = band.strides
    stacked = np.ascontiguousarray(as_strided(band, (m, n_rows, band.shape[1]), (s0, s0, s1), writeable=False))
    return (d @ stacked.reshape(m, -1)).reshape(m, n_rows, band.shape[1])


def _scale_into(out: np.ndarray, gpad: np.ndarray, pad: int, rows: slice, m: int, cache_bytes: int = 2**21) -> None:
    """``_scale_rows_into`` over sub-chunks of rows small enough for the folded windows to stay in cache."""
    width = gpad.shape[1] - 2 * pad
    k_block = 8
    per_row = (m // 2 + 1) * min(k_block, m) * width * out.itemsize
    step = max(1, cache_bytes // per_row)
    for y0 in range(rows.start, rows.stop, step):
        y1 = min(rows.stop, y0 + step)
        sub = out[(y0 - rows.start) * width: (y1 - rows.start) * width]
        _scale_rows_into(sub, gpad, pad, slice(y0, y1), m, k_block)


def _scale_rows_into(out: np.ndarray, gpad: np.ndarray, pad: int, rows: slice, m: int, k_block: int = 8) -> None:
    """Write the signed high-band DCT coefficients of every M×M block centred on rows ``rows`` into ``out``.

    ``out`` has shape (R * W, m (m + 1) / 2), W the image width; ``gpad`` is the gradient zero-padded by
    ``pad``. Coefficient (k, l) of the block at (y, x) is ``sum_c D[l, c] V_k[y, x + c]`` with ``V_k`` the
    column transform. The row transform uses the symmetry ``D[l, M-1-c] = (-1)^l D[l, c]``: even l act on
    ``v_c + v_{M-1-c}`` (c < h) and the centre ``v_h``, odd l on ``v_c - v_{M-1-c}``, which halves the
    work; for each k only the high band ``l >= M - 1 - k`` is computed, by one matrix product per parity
    written straight into ``out``. The order of coefficients within a pixel is irrelevant: they are
    sorted afterwards.
    """
    dtype = out.dtype
    d = dct_matrix(m).astype(dtype)
    h = (m - 1) // 2
    o = pad - h
    n_rows = rows.stop - rows.start
    width = gpad.shape[1] - 2 * pad
    band = gpad[rows.start + o: rows.stop + o + m - 1, o: o + width + m - 1]
    vert = _column_transform(band, m, n_rows, d)
    l_all = np.arange(m)
    pix = n_rows * width
    col = 0
    for a in range(0, m, k_block):
        b = min(m, a + k_block)
        vb = vert[a:b]
        fold_sum = np.empty((h + 1, b - a, pix), dtype=dtype)
        fold_dif = np.empty((h, b - a, pix), dtype=dtype)
        for c in range(h):
            left, right = vb[:, :, c: c + width], vb[:, :, m - 1 - c: m - 1 - c + width]
            np.add(left, right, out=fold_sum[c].reshape(b - a, n_rows, width))
            np.subtract(left, right, out=fold_dif[c].reshape(b - a, n_rows, width))
        fold_sum[h] = vb[:, :, h: h + width].reshape(b - a, pix)
        for i, k in enumerate(range(a, b)):
            high = l_all[m - 1 - k:]
            for folded, ls, n_c in ((fold_sum, high[high % 2 == 0], h + 1), (fold_dif, high[high % 2 == 1], h)):
                if ls.size and n_c:
                    np.matmul(folded[:, i].T, d[ls, :n_c].T, out=out[:, col: col + ls.size])
                    col += ls.size


def _chunk_layers(
    gpad: np.ndarray, pad: int, rows: slice, sizes: Sequence[int], n_layers: int, dtype: type
) -> np.ndarray:
    """The ``n_layers`` smallest ``|coefficients|`` of every pixel of ``rows``, sorted: (R, W, n_layers)."""
    width = gpad.shape[1] - 2 * pad
    n_rows = rows.stop - rows.start
    n_coef = sum(m * (m + 1) // 2 for m in sizes)
    buf = np.empty((n_rows * width, n_coef), dtype=dtype)
    col = 0
    for m in sizes:
        n = m * (m + 1) // 2
        _scale_into(buf[:, col: col + n], gpad, pad, rows, m)
        col += n
    np.abs(buf, out=buf)
    # Non-negative IEEE floats order exactly as their bit patterns read as signed integers of the same
    # width (abs maps -0.0 to +0.0, and the input is finite), and NumPy's integer introselect/sort skip the
    # NaN-aware comparisons of the float ones: the same values, about 25 % faster.
    keys = buf.view(np.int32 if buf.dtype == np.float32 else np.int64)
    if n_layers < n_coef:
        keys = np.partition(keys, n_layers - 1, axis=-1)[:, :n_layers]
    return np.sort(keys, axis=-1).view(dtype).reshape(n_rows, width, n_layers)


def sorted_high_coefficients(
    grad: np.ndarray,
    block_sizes: Sequence[int],
    n_layers: int,
    *,
    chunk_pixels: int = 8192,
    dtype: type = np.float64,
    n_threads: int = 1,
) -> np.ndarray:
    """Layers ``L[y, x, k]``: the k-th smallest high-band ``|DCT|`` coefficient over all scales (HiFST Eq. 4).

    Parameters
    ----------
    grad : (H, W) float array
        Gradient magnitude; blocks reach outside it through zero padding (MATLAB ``padarray`` default),
        so any image size works.
    block_sizes : sequence of odd int
        Block sizes M (the paper: 7, 15, 31, 63).
    n_layers : int
        How many of the smallest sorted coefficients to keep (the paper: ``sum(M) + 1 = 117``).
    chunk_pixels : int
        About how many pixels are processed at once; the working memory per thread is about
        ``chunk_pixels * (sum M(M+1)/2 + 80 max(M)) * itemsize`` bytes.
    dtype : numpy float type
        Precision of the transforms, the selection and the returned layers.
    n_threads : int
        Row chunks processed concurrently (NumPy releases the GIL in the heavy calls).

    Returns
    -------
    (H, W, n_layers) array of ``dtype``, ascending along the last axis.

    References
    ----------
    .. [1] Golestaneh & Karam, CVPR 2017, Sec. 3.1-3.2; ``HiFST.m`` main loop (``sort``, ``H_Sorted(1:117)``).
    """
    sizes = [int(m) for m in block_sizes]
    n_coef = sum(m * (m + 1) // 2 for m in sizes)
    if not 1 <= n_layers <= n_coef:
        raise ValueError(f"n_layers={n_layers} must be in [1, {n_coef}] (the number of high-band coefficients)")
    h, w = grad.shape
    pad = max(sizes) // 2
    gpad = np.pad(np.asarray(grad, dtype=dtype), pad)
    layers = np.empty((h, w, n_layers), dtype=dtype)
    step = max(1, min(h, chunk_pixels // w))
    chunks = [slice(y0, min(h, y0 + step)) for y0 in range(0, h, step)]

    def run(rows: slice) -> None:
        layers[rows] = _chunk_layers(gpad, pad, rows, sizes, n_layers, dtype)

    # The matrix products are small (K <= 32): one BLAS thread per worker beats BLAS's own threading,
    # whose synchronisation dominates such products.
    with _single_threaded_blas():
        if n_threads <= 1 or len(chunks) == 1:
            for rows in chunks:
                run(rows)
        else:
            with ThreadPoolExecutor(n_threads) as pool:
                list(pool.map(run, chunks))
    return layers


def _single_threaded_blas() -> contextlib.AbstractContextManager:
    """Limit BLAS to one thread while the context is active (a no-op when threadpoolctl is missing)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")
