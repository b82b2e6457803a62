r"""A confidence interval for a paired difference obtained by inverting the paired permutation test.

The permutation test of ``dbdbench compare`` swaps A and B on a random subset of the images and recomputes
the score difference :math:`T_s` of every swap :math:`s` (a fraction :math:`f_s` of the images swapped);
:math:`T_0` is the observed difference. To test "B is A shifted by :math:`\delta`" the test is run on
A and B - :math:`\delta`: for any score that moves by :math:`\delta` when every per-image value (or
per-image curve) of B moves by :math:`\delta` (means over images, and maxima, means and areas of mean
curves), swapping then gives

.. math:: T_s(\delta) = T_s - \delta (1 - 2 f_s), \qquad T_0(\delta) = T_0 - \delta ,

without recomputing a single score. The interval holds every :math:`\delta` that the two-sided test does
not reject at :math:`1 - \text{level}` (scipy's p-value: twice the smaller one-sided p-value, the observed
arrangement counted once for a random test). Both one-sided counts are monotone in :math:`\delta`, so the
set is an interval whose ends are order statistics of

.. math:: r_s = \frac{T_0 - T_s}{2 f_s}, \quad f_s > 0 ,

and it excludes 0 exactly when the test rejects at that level. For scores that are not shift-equivariant
(F of mean precision and recall, pooled F) the same formula defines the interval; its coverage is measured
in ``benchmarks/bench_calibration.py`` (``docs/statistics.md``).

References
----------
.. [1] E. J. G. Pitman, "Significance tests which may be applied to samples from any populations",
   Suppl. J. R. Stat. Soc. 4(1), 119-130, 1937.
.. [2] E. L. Lehmann, J. P. Romano, *Testing Statistical Hypotheses*, 3rd ed., Springer, 2005, sec. 3.5
   (confidence sets from families of tests).
"""

from __future__ import annotations

import math

import numpy as np


def inverted_interval(observed: float, null: np.ndarray, fraction: np.ndarray, level: float,
                      exact: bool) -> tuple[float, float]:  # fmt: skip
    """The ends of the interval of shifts :math:`\\delta` that the paired permutation test does not reject.

    Parameters
    ----------
    observed : float
        The observed difference :math:`T_0`.
    null : ndarray of shape (B,)
        The difference :math:`T_s` of each swap.
    fraction : ndarray of shape (B,)
        The fraction :math:`f_s` of images swapped by each.
    level : float
        Confidence level; the test's size is ``1 - level``.
    exact : bool
        True when ``null`` enumerates every swap (the observed arrangement is then one of them), False
        for random swaps (the observed arrangement is counted once more, as scipy does).

    Returns
    -------
    (low, high) : tuple of float
        ``-inf`` / ``inf`` where no shift is rejected on that side (too few images for the level).
    """
    t = np.asarray(null, dtype=np.float64)
    f = np.asarray(fraction, dtype=np.float64)
    if np.isnan(observed) or np.isnan(t).any():
        return float("nan"), float("nan")
    adj = 0 if exact else 1
    # fewest arrangements at least as extreme on one side for the two-sided p-value to reach 1 - level
    need = math.ceil((1 - level) / 2 * (len(t) + adj) - adj - 1e-9)
    moving = f > 0
    r = np.sort((observed - t[moving]) / (2 * f[moving]))
    fixed_hi = int(np.count_nonzero(~moving & (t >= observed)))  # these count for every shift
    fixed_lo = int(np.count_nonzero(~moving & (t <= observed)))
    return _end(r, need - fixed_hi, low=True), _end(r, need - fixed_lo, low=False)


def _end(r: np.ndarray, k: int, *, low: bool) -> float:
    """The k-th smallest (low end) or largest (high end) of ``r``; unbounded for k <= 0, NaN past the end."""
    if k <= 0:
        return -math.inf if low else math.inf
    if k > len(r):
        return math.nan
    return float(r[k - 1] if low else r[len(r) - k])
