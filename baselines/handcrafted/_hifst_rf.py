"""Domain-transform recursive edge-preserving filter (Gastal & Oliveira 2011), as used by HiFST.

``dH/dx = 1 + sigma_s / sigma_r * |dJ/dx|`` (L1 over the joint image's channels); iteration i of N uses
``sigma_i = sigma_s sqrt(3) 2^(N - i - 1) / sqrt(4^N - 1)``, feedback ``a = exp(-sqrt(2) / sigma_i)`` and
weights ``V = a^(dH/dx)``; each iteration runs ``F[n] += V[n] (F[n-1] - F[n])`` left to right, then
``F[n] += V[n+1] (F[n+1] - F[n])`` right to left, first along rows, then along columns.
The update is written in that exact form to keep the floating-point operations of the reference code.

References
----------
.. [1] E. S. L. Gastal and M. M. Oliveira, "Domain Transform for Edge-Aware Image and Video Processing",
   ACM TOG 30(4), 2011 (Eqs. 11, 14 and the appendix); the ``RF.m`` reference code bundled in
   ``isalirezag/HiFST:HiFST.m``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["recursive_filter"]


def _recursive_pass(f: np.ndarray, v: np.ndarray) -> None:
    """One causal + anti-causal sweep along axis 0, in place: ``f`` and ``v`` are (n, m), swept over n."""
    n = f.shape[0]
    for i in range(1, n):
        f[i] += v[i] * (f[i - 1] - f[i])
    for i in range(n - 2, -1, -1):
        f[i] += v[i + 1] * (f[i + 1] - f[i])


def recursive_filter(
    img: np.ndarray, sigma_s: float, sigma_r: float, n_iterations: int, joint: np.ndarray
) -> np.ndarray:
    """``RF(img, sigma_s, sigma_r, n_iterations, joint)``: the domain-transform recursive filter of [1]_.

    Parameters
    ----------
    img : (H, W) float array
        Image to filter.
    sigma_s, sigma_r : float
        Spatial and range standard deviations.
    n_iterations : int
        Number of horizontal+vertical iterations N.
    joint : (H, W) or (H, W, C) float array
        Image whose edges steer the filter.

    Returns
    -------
    (H, W) float64 array.

    References
    ----------
    .. [1] Gastal & Oliveira, ACM TOG 30(4), 2011.
    """
    f = np.array(img, dtype=np.float64)
    j = np.asarray(joint, dtype=np.float64)
    if j.ndim == 2:
        j = j[:, :, None]
    if j.shape[:2] != f.shape:
        raise ValueError(f"joint image shape {j.shape[:2]} must equal the image shape {f.shape}")
    h, w = f.shape
    didx = np.zeros((h, w))
    didy = np.zeros((h, w))
    didx[:, 1:] = np.abs(np.diff(j, axis=1)).sum(axis=2)
    didy[1:, :] = np.abs(np.diff(j, axis=0)).sum(axis=2)
    dhdx = 1.0 + sigma_s / sigma_r * didx
    dvdy = 1.0 + sigma_s / sigma_r * didy
    n = n_iterations
    # Sweeps run along axis 0 of contiguous arrays: the horizontal pass works on the transpose.
    ft = np.ascontiguousarray(f.T)
    dhdx_t = np.ascontiguousarray(dhdx.T)
    for i in range(n):
        sigma_i = sigma_s * np.sqrt(3.0) * 2.0 ** (n - (i + 1)) / np.sqrt(4.0**n - 1.0)
        a = np.exp(-np.sqrt(2.0) / sigma_i)
        _recursive_pass(ft, a**dhdx_t)
        f = np.ascontiguousarray(ft.T)
        _recursive_pass(f, a**dvdy)
        ft = np.ascontiguousarray(f.T)
    return f
