"""Multi-scale graph inference of Yi & Eramian (TIP 2016, Eq. 19) by sum-product loopy belief propagation.

Private helper of :mod:`baselines.handcrafted.lbp`; ports ``multiScaleBlurInferenceFull.m``,
``loadAdjMatrixFull.m`` and UGM's ``UGM_Infer_LBPC.c``. The graph has one layer per scale (layer 1 = the
largest window), each a 4-connected pixel grid, plus an edge between co-located pixels of adjacent layers.
With the features X of all layers standardised jointly (one mean, one sample std), the node potentials are
(exp(-|1 - X|), exp(-|X|)) for (sharp, blurred) and every edge has the potential [[1, e^-a], [e^-a, 1]].

Each binary message is stored as the ratio rho = m(sharp) / m(blurred) (UGM normalises messages to sum 1;
the ratio carries the same information). With P_i = phi_i prod_k rho_ki, the message i -> j is

    rho_ij = (P_i + r rho_ji) / (r P_i + rho_ji) = r + (1 - r^2) P_i / (r P_i + rho_ji),  r = e^-a,

which is the usual sum-product update (cavity P_i / rho_ji pushed through the edge potential).

Differences from UGM (documented in ``docs/models/lbp.md``):

* schedule: UGM updates nodes one at a time in index order, each reading the newest messages
  (Gauss-Seidel). Here the graph is coloured by (layer + row + column) % 2, which makes it bipartite, and
  each iteration updates all messages sent by colour 0, then all sent by colour 1, in place (red-black
  Gauss-Seidel), vectorised over row bands in parallel threads. Both schedules iterate towards the same
  BP fixed point; on the CUHK test image they agree to 16-bit precision;
* the stopping test sum |m_new - m_old| < tol (over both states of every directed message, as in UGM) is
  evaluated every ``check_every`` iterations instead of every iteration, so up to ``check_every - 1``
  extra iterations may run (each changes the messages by less than tol in total);
* the first iterations (until the mean change per message is < 1e-7) run in float32, the rest in float64
  like UGM; the stopping test is only evaluated in float64.

References
----------
.. [1] X. Yi and M. Eramian, "LBP-based segmentation of defocus blur", IEEE Trans. Image Process.
   25(4):1626-1638, 2016, Section IV-C, Eq. (19).
.. [2] M. Schmidt, UGM: a Matlab toolbox for probabilistic undirected graphical models, 2007
   (``UGM_Infer_LBPC.c``).
.. [3] J. Shi, L. Xu and J. Jia, "Discriminative blur detection features", CVPR 2014 (the multi-scale graph).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import numpy as np

# incoming-message slots of a node; "prev"/"next" are the co-located nodes in the adjacent layers
_SLOTS = ("up", "down", "left", "right", "prev", "next")


def standardised_potentials(features: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Ratio phi(sharp) / phi(blurred) = exp(-|1 - z|) / exp(-|z|), z = (X - mean) / std over all layers.

    ``UGM_standardizeCols(X, 1)`` with the sample std (ddof = 1). If all X are equal the std is 0 (MATLAB gives
    NaN); here z = 0 then, which favours "blurred" everywhere.
    """
    x = np.concatenate([f.ravel() for f in features])
    std = x.std(ddof=1) if x.size > 1 else 0.0
    z = (x - x.mean()) / std if std > 0 else np.zeros_like(x)
    ratio = np.exp(-np.abs(1.0 - z)) / np.exp(-np.abs(z))
    return np.split(ratio, len(features))


def _slots(layer: int, n_layers: int) -> list[str]:
    """Incoming-message slots of a node of ``layer``; "prev"/"next" are the co-located nodes of adjacent layers."""
    keep = {"prev": layer > 0, "next": layer < n_layers - 1}
    return [s for s in _SLOTS if keep.get(s, True)]


def _send(rp: np.ndarray, pa: np.ndarray, back: np.ndarray, r: float, out: np.ndarray) -> None:
    """out = r + (1 - r^2) P / (r P + back), which equals (P + r back) / (r P + back) (3 operations, not 4).

    ``back`` is the neighbour's own message to us; ``rp`` = r P and ``pa`` = (1 - r^2) P are per node.
    """
    np.add(rp, back, out=out)
    np.divide(pa, out, out=out)
    out += r


def _neighbours(par: int, d: int, lo: int, hi: int, n: int, odd: bool) -> tuple[slice, int, slice] | None:
    """Sources x = 2i + par, i in [lo, hi), on an axis split into halves of n; their neighbours x + d, d = +-1.

    Returns (source slice relative to lo, neighbour parity, neighbour slice), or None when no source has a
    neighbour. A padding node (x = 2n - 1 when the axis length is odd) may receive messages (harmless) but
    never sends one.
    """
    if d == 1:
        a, b, tpar, shift = (lo, hi, 1, 0) if par == 0 else (lo, min(hi, n - 1), 0, 1)
    else:
        a, b, tpar, shift = (max(lo, 1), hi, 1, -1) if par == 0 else (lo, min(hi, n - odd), 0, 0)
    if a >= b:
        return None
    return slice(a - lo, b - lo), tpar, slice(a + shift, b + shift)


def _half_step(msg: dict, pots: list, colour: int, rows: tuple[int, int], r: float, odd: tuple[bool, bool]) -> None:
    """Update, in place, every message sent by the nodes of one colour ((layer + row + col) % 2) in ``rows``.

    The graph is bipartite in this colouring, so these messages are read only by the other colour: updating
    them in place is the red-black schedule (each half step uses the newest messages of the other half).
    Arrays are in the parity-split layout (row parity, column parity, H / 2, W / 2) of :func:`_split`, so the
    nodes of one colour and row parity form contiguous blocks. ``rows`` is a range of half-grid rows.
    """
    n_layers = len(pots)
    _, _, nh, nw = pots[0].shape
    lo, hi = rows
    for layer in range(n_layers):
        slots = _slots(layer, n_layers)
        for r0 in (0, 1):
            q = (colour + layer + r0) % 2
            src = (r0, q, slice(lo, hi))
            p = np.multiply(pots[layer][src], msg[layer, slots[0]][src])
            for s in slots[1:]:
                p *= msg[layer, s][src]
            rp = p * r
            p *= 1.0 - r * r
            for d, back, target in ((1, "down", "up"), (-1, "up", "down")):
                nb = _neighbours(r0, d, lo, hi, nh, odd[0])
                if nb is not None:
                    si, tr, ti = nb
                    _send(rp[si], p[si], msg[layer, back][src][si], r, msg[layer, target][tr, q, ti])
            for d, back, target in ((1, "right", "left"), (-1, "left", "right")):
                nb = _neighbours(q, d, 0, nw, nw, odd[1])
                if nb is not None:
                    sj, tq, tj = nb
                    out = msg[layer, target][r0, tq, lo:hi, tj]
                    _send(rp[:, sj], p[:, sj], msg[layer, back][src][:, sj], r, out)
            if "next" in slots:
                _send(rp, p, msg[layer, "next"][src], r, msg[layer + 1, "prev"][src])
            if "prev" in slots:
                _send(rp, p, msg[layer, "prev"][src], r, msg[layer - 1, "next"][src])


def _split(x: np.ndarray, dtype: type) -> np.ndarray:
    """(H, W) -> (2, 2, ceil(H / 2), ceil(W / 2)) with [a, b, i, j] = x[2i + a, 2j + b]; padding nodes get 1."""
    h, w = x.shape
    padded = np.ones((h + h % 2, w + w % 2), dtype)
    padded[:h, :w] = x
    return np.ascontiguousarray(padded.reshape(padded.shape[0] // 2, 2, -1, 2).transpose(1, 3, 0, 2))


def _merge(x: np.ndarray, h: int, w: int) -> np.ndarray:
    """Inverse of :func:`_split`: (2, 2, H / 2, W / 2) -> (H, W)."""
    nh, nw = x.shape[2:]
    return x.transpose(2, 0, 3, 1).reshape(2 * nh, 2 * nw)[:h, :w]


def _real_sum(x: np.ndarray, odd: tuple[bool, bool]) -> float:
    """Sum over the real nodes of a split array (padding row / column of an odd height / width left out)."""
    total = float(x.sum())
    if odd[0]:
        total -= float(x[1, :, -1, :].sum())
    if odd[1]:
        total -= float(x[:, 1, :, -1].sum())
    if odd[0] and odd[1]:
        total += float(x[1, 1, -1, -1])
    return total


def _rough_change(old: dict, new: dict, odd: tuple[bool, bool], pmap=map) -> float:
    """sum |rho_new - rho_old| over all messages of real nodes; ``pmap`` maps over the message arrays."""
    return sum(pmap(lambda k: _real_sum(np.abs(new[k] - old[k]), odd), list(new)))


def _change_below(old: dict, new: dict, odd: tuple[bool, bool], tol: float, r: float, pmap=map) -> bool:
    """Whether UGM's stopping statistic sum |m_new - m_old| (both states, all messages) is below ``tol``.

    For ratio messages |q_new - q_old| = |rho_new - rho_old| / ((1 + rho_new)(1 + rho_old)) per state, twice
    over the two states; padding nodes are left out. Messages lie in [r, 1/r], so the cheap
    2 sum |rho_new - rho_old| / (1 + 1/r)^2 is a lower bound; the exact sum is formed only when it is below tol.
    """
    if 2.0 * _rough_change(old, new, odd, pmap) / (1.0 + 1.0 / r) ** 2 >= tol:
        return False
    total = sum(pmap(lambda k: _real_sum(np.abs(new[k] - old[k]) / ((1.0 + new[k]) * (1.0 + old[k])), odd), list(new)))
    return 2.0 * total < tol


def multiscale_lbp(
    features: Sequence[np.ndarray],
    alpha: float = 0.5,
    max_iter: int = 100,
    tol: float = 1e-4,
    *,
    check_every: int = 5,
    dtype: type = np.float64,
    warm_start: bool = True,
    n_threads: int = 2,
    band_pixels: int = 65536,
) -> np.ndarray:
    """Belief P(sharp) of the layer-1 nodes after loopy BP on the multi-scale graph ([1] Eq. 19).

    Parameters
    ----------
    features : sequence of ndarray (H, W)
        One map per layer, layer 1 first (the authors pass the maps of scales 21, 15, 11 in that order).
    alpha : float
        Edge weight; the pairwise potential for disagreeing labels is exp(-alpha).
    max_iter, tol : int, float
        UGM's iteration cap and stopping threshold on sum |m_new - m_old| over one iteration.
    check_every : int
        Evaluate the stopping test every this many iterations (it costs about one iteration).
    dtype : type
        Message precision (UGM: float64; with float32 the stopping test cannot fire, rounding noise is larger).
    warm_start : bool
        Run the first iterations in float32 (half the memory traffic) until the mean change per message is
        below 1e-7 (about 10x float32 rounding noise) or half of ``max_iter`` is used, then continue in
        ``dtype`` with UGM's test. The float64 iterations that follow contract the float32 rounding away.
    n_threads : int
        Worker threads; each updates bands of rows (NumPy releases the GIL inside the array operations).
    band_pixels : int
        Approximate pixels per band, so that one band's working set stays in a core's L2 cache.

    Returns
    -------
    ndarray of float64, shape (H, W)
        1 - belief(blurred) of layer 1, i.e. high = sharp, as ``multiScaleBlurInferenceFull``.
    """
    h, w = features[0].shape
    n_layers = len(features)
    warm = warm_start and np.dtype(dtype) == np.float64
    work = np.float32 if warm else dtype
    pots = [_split(p.reshape(h, w), work) for p in standardised_potentials(features)]  # (2, 2, H/2, W/2)
    r = float(np.exp(-alpha))
    msg = {(layer, s): np.ones_like(pots[0]) for layer in range(n_layers) for s in _slots(layer, n_layers)}
    odd = (h % 2 == 1, w % 2 == 1)
    nh = pots[0].shape[2]
    n_bands = max(n_threads, -(-h * w // band_pixels))
    step = -(-nh // n_bands)
    bands = [(a, min(a + step, nh)) for a in range(0, nh, step)]
    with ThreadPoolExecutor(max_workers=max(1, n_threads)) as pool:
        for it in range(1, max_iter + 1):
            before = dict(zip(msg, pool.map(np.copy, msg.values()), strict=True)) if it % check_every == 0 else None
            for colour in (0, 1):  # UGM starts at node 1 (layer 1, row 1, column 1): colour 0
                list(pool.map(partial(_half_step, msg, pots, colour, r=r, odd=odd), bands))
            if before is None:
                continue
            if warm:  # float32 phase: its rounding noise hides UGM's test, so only decide when to switch
                if _rough_change(before, msg, odd, pool.map) < 1e-7 * len(msg) * pots[0].size or 2 * it >= max_iter:
                    warm = False
                    pots = [p.astype(dtype) for p in pots]
                    msg = {k: v.astype(dtype) for k, v in msg.items()}
            elif _change_below(before, msg, odd, tol, r, pool.map):
                break
    belief = pots[0].astype(np.float64)
    for s in _slots(0, n_layers):
        belief *= msg[0, s]
    belief = _merge(belief, h, w)
    return belief / (1.0 + belief)
