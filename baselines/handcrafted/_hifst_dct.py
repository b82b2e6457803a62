"""HiFST step 2: per-pixel sorted high-frequency DCT coefficients of the gradient magnitude.

For every pixel and every block size M, HiFST takes the M×M block of the zero-padded gradient magnitude
centred on the pixel, computes ``|D P Dᵀ|`` with the orthonormal DCT-II matrix ``D = dctmtx(M)``, keeps
the high-frequency coefficients (0-based ``r + c >= M - 1``), pools them over all scales and keeps the
``n_layers`` smallest, sorted ascending. Here the per-pixel 2-D DCT is done as two sliding 1-D DCTs
(a column transform of every M-row band, then a row transform of every M-column window), both as BLAS
matrix products, and only the high-frequency half is computed. The row transform reads its windows in a
polyphase layout (``phase_geometry``): pixels ``x = q S + r`` of one phase r are windows a constant
stride apart, so every product runs on a strided view of the column transform, with no copy of the
overlapping windows.

References
----------
.. [1] S. A. Golestaneh and L. J. Karam, "Spatially-Varying Blur Detection Based on Multiscale Fused and
   Sorted Transform Coefficients of Gradient Magnitudes", CVPR 2017, Sec. 3 (Eqs. 2-5); authors' code
   ``isalirezag/HiFST:HiFST.m`` (``FreqBands``, ``DCTA`` and the main loop).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numpy.lib.stride_tricks import as_strided
from threadpoolctl import threadpool_limits

__all__ = ["dct_matrix", "high_band_mask", "phase_geometry", "sorted_high_coefficients"]


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


def phase_geometry(width: int, m_max: int) -> tuple[int, int]:
    """Phases S and windows per phase and row Q of the polyphase layout: ``S >= m_max``, ``Q S >= width + m_max - 1``.

    Pixel x of an image row is window ``q`` of phase ``r`` with ``x = q S + r``. Each row of a column
    transform is stored in ``L = Q S`` slots, so the windows of one phase over all rows of a chunk are
    ``(row, q) -> row L + q S + r``: a single stride S, at least the window length for BLAS. ``L`` must hold
    ``width + m_max - 1`` values for the windows of real pixels to stay inside their row; slots past the image
    are wasted work, and every phase costs one matrix product per (M, k). So S is the smallest value in
    ``[m_max, 2 m_max)`` whose ``L`` is within 1 % of the smallest ``L`` over that range.
    """
    span = width + m_max - 1
    if span <= 2 * m_max:
        return max(m_max, span), 1
    slots = {s: s * -(-span // s) for s in range(m_max, 2 * m_max)}
    least = min(slots.values())
    s = min(s for s, n in slots.items() if n <= 1.01 * least)
    return s, slots[s] // s


def _column_transform(
    gpad: np.ndarray, pad: int, rows: slice, m: int, d: np.ndarray, n_slots: int, tail: int
) -> np.ndarray:
    """``V[k, y L + x'] = sum_r D[k, r] band[y + r, x']``: the column DCT of every M-row band, in rows of L slots.

    Returns shape (M, n_rows L + tail); slots past the ``width + M - 1`` transformed values of a row are 0.
    """
    width = gpad.shape[1] - 2 * pad
    n_rows = rows.stop - rows.start
    o = pad - (m - 1) // 2
    band = gpad[rows.start + o: rows.stop + o + m - 1, o: o + width + m - 1]
    s0, s1 = band.strides
    stacked = np.ascontiguousarray(as_strided(band, (m, n_rows, band.shape[1]), (s0, s0, s1), writeable=False))
    vert = np.zeros((m, n_rows * n_slots + tail), dtype=gpad.dtype)
    rows_view = vert[:, : n_rows * n_slots].reshape(m, n_rows, n_slots)
    rows_view[:, :, : band.shape[1]] = (d @ stacked.reshape(m, -1)).reshape(m, n_rows, band.shape[1])
    return vert


def _chunk_layers(
    gpad: np.ndarray, pad: int, rows: slice, sizes: Sequence[int], n_layers: int, row_dcts: dict
) -> np.ndarray:
    """The ``n_layers`` smallest ``|coefficients|`` of every pixel of ``rows``, sorted: (R, W, n_layers).

    Coefficient (k, l) of the M×M block at (y, x) is ``sum_c D[l, c] V_k[y, x + c]``. For one phase r the
    windows ``V_k[y, q S + r + c]`` of all (y, q) form a strided matrix (rows S apart, BLAS-ready without a
    copy), so the high band ``l >= M - 1 - k`` of all of them is one matrix product per (M, k), written
    straight into a pixel-major buffer. The phase's buffer (about 10 kB per pixel) is still in cache when
    its sign bits are cleared and its ``n_layers`` smallest entries are selected.
    """
    dtype = gpad.dtype
    item = dtype.itemsize
    width = gpad.shape[1] - 2 * pad
    n_rows = rows.stop - rows.start
    n_phases, per_row = phase_geometry(width, max(sizes))
    n_slots = n_phases * per_row
    n_win = n_rows * per_row
    windows = []
    for m in sizes:
        vert = _column_transform(gpad, pad, rows, m, row_dcts[m][0], n_slots, n_phases)
        # windows[phase][k] is the (n_win, M) matrix V_k[row L + q S + phase + c]
        windows.append(as_strided(vert, (n_phases, m, n_win, m), (item, vert.strides[0], n_phases * item, item),
                                  writeable=False))
    buf = np.empty((n_win, sum(m * (m + 1) // 2 for m in sizes)), dtype=dtype)
    # Non-negative IEEE floats order exactly as their bit patterns read as signed integers of the same width
    # (clearing the sign bit is abs, and maps -0.0 to +0.0; the input is finite), and NumPy's integer
    # introselect/sort skip the NaN-aware comparisons of the float ones: the same values, about 25 % faster.
    keys = buf.view(np.int32 if item == 4 else np.int64)
    magnitude = keys.dtype.type(np.iinfo(keys.dtype).max)
    out = np.empty((n_rows, per_row, n_phases, n_layers), dtype=dtype)
    for phase in range(n_phases):
        # The last window of a row is past the image for phases with (Q - 1) S + phase >= W.
        real = per_row if (per_row - 1) * n_phases + phase < width else per_row - 1
        if real == 0:
            continue  # a phase beyond the width of a narrow image
        col = 0
        for m, win in zip(sizes, windows, strict=True):
            for k, d_high in enumerate(row_dcts[m][1]):
                np.matmul(win[phase, k], d_high, out=buf[:, col: col + k + 1])
                col += k + 1
        sel = keys.reshape(n_rows, per_row, -1)[:, :real]
        np.bitwise_and(sel, magnitude, out=sel)
        if n_layers < sel.shape[-1]:
            sel.partition(n_layers - 1, axis=-1)
        out[:, :real, phase] = np.sort(sel[..., :n_layers], axis=-1).view(dtype)
    return out.reshape(n_rows, n_slots, n_layers)[:, :width]


def sorted_high_coefficients(
    grad: np.ndarray,
    block_sizes: Sequence[int],
    n_layers: int,
    *,
    chunk_pixels: int = 12288,
    dtype: type[np.floating] = np.float64,
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
        About how many pixels (whole rows, at least one) a worker processes at once. The working memory per
        worker is about ``chunk_pixels * (2 sum M + max M) * itemsize`` bytes for the column transforms plus
        ``chunk_pixels / S * sum M(M+1)/2 * itemsize`` for one phase's coefficients (S ≈ max M, see
        ``phase_geometry``); the default keeps the latter about 2 MB, an L2 cache.
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
    n_chunks = -(-h // max(1, min(h, chunk_pixels // w)))
    if n_threads > 1 and n_chunks > 1:  # a multiple of the workers, so that none waits alone for the last chunk
        n_chunks = min(h, -(-n_chunks // n_threads) * n_threads)
    step = -(-h // n_chunks)
    chunks = [slice(y0, min(h, y0 + step)) for y0 in range(0, h, step)]
    row_dcts = {}
    for m in set(sizes):
        d = dct_matrix(m).astype(dtype)
        # row_dcts[m][1][k]: the (M, k + 1) matrix D[M - 1 - k:, :]^T of the high band l >= M - 1 - k
        row_dcts[m] = (d, [np.ascontiguousarray(d[m - 1 - k:].T) for k in range(m)])

    def run(rows: slice) -> None:
        layers[rows] = _chunk_layers(gpad, pad, rows, sizes, n_layers, row_dcts)

    # The matrix products are small (K <= 63): one BLAS thread per worker beats BLAS's own threading,
    # whose synchronisation dominates such products (about 10 % of the whole method).
    with threadpool_limits(1, user_api="blas"):
        if n_threads <= 1 or len(chunks) == 1:
            for rows in chunks:
                run(rows)
        else:
            with ThreadPoolExecutor(n_threads) as pool:
                list(pool.map(run, chunks))
    return layers
