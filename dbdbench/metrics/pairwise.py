"""numpy's pairwise float summation, reproduced on torch tensors (CPU or CUDA) for exact means.

``np.sum`` and ``np.mean`` of a contiguous float64 array of ``n`` elements add them in a fixed tree
(numpy ``loops_utils.h``, ``pairwise_sum``):

- ``n < 8``: ``s = 0.0``, then ``s += x_i`` left to right;
- ``8 <= n <= 128`` (a *leaf*): eight running sums ``r_j = x_j + x_{j+8} + x_{j+16} + ...`` over the first
  ``n - n mod 8`` elements, combined as ``((r_0 + r_1) + (r_2 + r_3)) + ((r_4 + r_5) + (r_6 + r_7))``, then
  the remaining ``n mod 8`` elements added one by one;
- ``n > 128``: split at ``m = n // 2 - (n // 2) mod 8`` and add the sums of the two halves.

The tree depends only on ``n``, so it is planned once per image size and evaluated for a whole batch with
vectorised adds: every leaf's eight running sums advance together one row of 8 elements at a time (a leaf
with fewer rows adds zeros, and ``s + 0.0`` is ``s`` exactly), then the inner nodes are added level by level
from the deepest up. Each add is one correctly rounded IEEE float64 operation on CPU and on CUDA, so the
result equals numpy's bit for bit; ``torch.sum`` uses other trees and differs in the last bits.

References
----------
.. [1] N. J. Higham, "The accuracy of floating point summation", SIAM J. Sci. Comput. 14(4), 1993.
.. [2] numpy ``numpy/_core/src/umath/loops_utils.h.src``, ``@TYPE@_pairwise_sum``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

_BLOCK = 128  # numpy's PW_BLOCKSIZE
_UNROLL = 8


@dataclass(frozen=True)
class SumPlan:
    """The summation tree of ``n`` elements: leaf gathers and the inner adds, deepest first.

    Every split point is a multiple of 8, so the leaves are runs of whole *octets* (8 consecutive elements)
    and only the last leaf has a remainder (the last ``n mod 8`` elements). Nodes are numbered breadth first
    (the root is 0). ``leaves`` (L,) are the leaf node ids in element order; ``octets`` (R, L) is the octet
    that row ``k`` of each leaf's eight running sums adds, ``n // 8`` (a zero octet) where a leaf is shorter.
    ``levels`` lists, deepest first, the (node, left child, right child) ids of the inner nodes at one depth.
    """

    n: int
    n_nodes: int
    leaves: np.ndarray
    octets: np.ndarray
    levels: tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...]


def _octet_rows(n: int, starts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    if np.any(sizes[:-1] % _UNROLL):
        raise AssertionError("only the last leaf can have a remainder")  # numpy's split rule guarantees it
    n_oct = sizes // _UNROLL
    k = np.arange(int(n_oct.max()))[:, None]
    return np.where(k < n_oct[None, :], starts[None, :] // _UNROLL + k, n // _UNROLL)


@lru_cache(maxsize=256)
def sum_plan(n: int) -> SumPlan:
    """Plan numpy's pairwise summation of ``n >= 8`` elements (cached per ``n``), one depth at a time."""
    if n < _UNROLL:
        raise ValueError(f"sum_plan needs n >= {_UNROLL}; shorter sums are sequential")
    ids, starts, sizes = np.zeros(1, np.int64), np.zeros(1, np.int64), np.array([n], np.int64)
    n_nodes, levels = 1, []
    leaf_ids, leaf_starts, leaf_sizes = [], [], []
    while len(ids):
        split = sizes > _BLOCK
        leaf_ids.append(ids[~split])
        leaf_starts.append(starts[~split])
        leaf_sizes.append(sizes[~split])
        ids, starts, sizes = ids[split], starts[split], sizes[split]
        half = sizes // 2
        half -= half % _UNROLL
        left = n_nodes + 2 * np.arange(len(ids))
        levels.append((ids, left, left + 1))
        n_nodes += 2 * len(ids)
        ids = np.stack([left, left + 1], axis=1).ravel()
        starts = np.stack([starts, starts + half], axis=1).ravel()
        sizes = np.stack([half, sizes - half], axis=1).ravel()
    leaves, starts, sizes = (np.concatenate(a) for a in (leaf_ids, leaf_starts, leaf_sizes))
    order = np.argsort(starts)
    octets = _octet_rows(n, starts[order], sizes[order])
    inner = tuple(lv for lv in reversed(levels) if len(lv[0]))
    return SumPlan(n, n_nodes, leaves[order], octets, inner)


@lru_cache(maxsize=64)
def _device_plan(n: int, device: str):
    import torch

    plan = sum_plan(n)
    put = lambda a: torch.as_tensor(a, device=device)  # noqa: E731
    levels = [tuple(put(a) for a in level) for level in plan.levels]
    return plan.n_nodes, put(plan.leaves), put(plan.octets.ravel()), plan.octets.shape, levels


def pairwise_sum(x):
    """Sum each row of ``x`` (shape (B, n), float64 torch tensor) exactly as ``np.sum`` of that row.

    Returns a (B,) tensor on ``x``'s device. Sums of ``n < 8`` elements are sequential from ``0.0``.
    """
    import torch

    b, n = x.shape
    if n < _UNROLL:
        total = torch.zeros(b, dtype=x.dtype, device=x.device)
        for i in range(n):
            total = total + x[:, i]
        return total
    n_nodes, leaves, octet_idx, (n_rows, n_leaves), levels = _device_plan(n, str(x.device))
    body = n - n % _UNROLL
    octets = torch.cat([x[:, :body], x.new_zeros(b, _UNROLL)], dim=1).view(b, -1, _UNROLL)
    rows = octets.index_select(1, octet_idx).view(b, n_rows, n_leaves, _UNROLL)  # whole 64-byte octets
    acc = rows[:, 0]
    for k in range(1, n_rows):
        acc = acc + rows[:, k]
    r = acc.unbind(-1)
    leaf = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
    if body < n:  # the last leaf's remainder, one element at a time
        last = leaf[:, -1]
        for i in range(body, n):
            last = last + x[:, i]
        leaf = torch.cat([leaf[:, :-1], last[:, None]], dim=1)
    node = x.new_zeros(b, n_nodes)
    node[:, leaves] = leaf
    for ids, left, right in levels:
        node[:, ids] = node[:, left] + node[:, right]
    return node[:, 0]
