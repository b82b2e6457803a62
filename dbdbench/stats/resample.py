"""Bootstrap intervals and paired tests over images, with scipy doing the statistics.

Mean-kind scores use the textbook tools on per-image values: a BCa bootstrap (``scipy.stats.bootstrap``,
``paired=True`` for a difference) and the Wilcoxon signed-rank test (``scipy.stats.wilcoxon``, two-sided).
Reduction-kind scores recompute the protocol's own reduction on every resample: scipy draws resamples of
image indices, each becomes a vector of multiplicities (multinomial counts), and the score of all
resamples in a batch is one matrix product with the per-image features
(:class:`~dbdbench.stats.samples.ScoreData`). Their test is the paired permutation test that swaps A and B
per image (``scipy.stats.permutation_test``, ``permutation_type="samples"``).

References
----------
.. [1] B. Efron, R. J. Tibshirani, *An Introduction to the Bootstrap*, Chapman & Hall, 1993 (ch. 14, BCa).
.. [2] F. Wilcoxon, "Individual comparisons by ranking methods", Biometrics Bulletin 1(6), 1945.
.. [3] E. J. G. Pitman, "Significance tests which may be applied to samples from any populations",
   Suppl. J. R. Stat. Soc. 4(1), 1937.
"""

from __future__ import annotations

import warnings
import zlib
from dataclasses import dataclass

import numpy as np
from scipy import stats

from dbdbench.stats.samples import ScoreData

#: resamples (or permutations) per vectorised call: memory about batch x (N + K) x 8 bytes; 1000 was the
#: fastest of 500 ... 10 000 for 1000 images (scipy's permutation loop slows down on larger batches)
BATCH = 1000


@dataclass(frozen=True)
class Interval:
    """A bootstrap confidence interval and how it was obtained."""

    low: float
    high: float
    method: str


def rng_for(seed: int, key: str) -> np.random.Generator:
    """The random stream of one score: fixed by the seed and the score key, not by what else is computed."""
    return np.random.default_rng([seed, zlib.crc32(key.encode())])


def weights_of(indices: np.ndarray, n: int) -> np.ndarray:
    """Multiplicities (B, n) of the resamples ``indices`` (B, m): how often each image was drawn."""
    flat = np.asarray(indices).reshape(-1, np.shape(indices)[-1])
    rows = flat.shape[0]
    offsets = (np.arange(rows) * n)[:, None]
    counts = np.bincount((flat + offsets).ravel(), minlength=rows * n)
    return counts.reshape(*np.shape(indices)[:-1], n).astype(np.float64)


def _interval(low: float, high: float, dist: np.ndarray) -> Interval:
    low, high = float(low), float(high)
    if np.isnan(low) or np.isnan(high):
        if np.ptp(dist) == 0:  # every resample gives the same value (e.g. identical maps)
            return Interval(float(dist[0]), float(dist[0]), "constant")
        return Interval(low, high, "BCa (undefined)")
    return Interval(low, high, "BCa")


def _intervals(res, k: int) -> list[Interval]:
    """The intervals of a k-output ``scipy.stats.bootstrap`` result."""
    low, high = np.atleast_1d(res.confidence_interval.low), np.atleast_1d(res.confidence_interval.high)
    dist = np.reshape(res.bootstrap_distribution, (k, -1))
    return [_interval(low[j], high[j], dist[j]) for j in range(k)]


def _bootstrap(data, statistic, n_resamples: int, level: float, rng: np.random.Generator, paired: bool):
    with warnings.catch_warnings():
        # a degenerate bootstrap distribution gives NaN bounds, handled in _interval
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        return stats.bootstrap(
            data, statistic, n_resamples=n_resamples, batch=BATCH, vectorized=True, paired=paired, axis=-1,
            confidence_level=level, method="BCa", rng=rng,
        )  # fmt: skip


class Joint:
    """Several reduction-kind scores evaluated together: one matrix product serves all of them.

    Scores that share a feature matrix (max F and mean F share the F curves) share its columns.
    """

    def __init__(self, datas: list[ScoreData]) -> None:
        blocks: list[np.ndarray] = []
        where: dict[int, int] = {}
        self.slices = []
        for d in datas:
            features = d.require("features")
            if id(features) not in where:
                where[id(features)] = sum(b.shape[1] for b in blocks)
                blocks.append(features)
            start = where[id(features)]
            self.slices.append(slice(start, start + features.shape[1]))
        self.datas = datas
        self.features = np.hstack(blocks)

    def finish(self, m: np.ndarray) -> np.ndarray:
        """Scores (B, k) from weighted feature means (B, K)."""
        return np.stack([d.require("finish")(m[..., s]) for d, s in zip(self.datas, self.slices, strict=True)],
                        axis=-1)

    def score(self, weights: np.ndarray) -> np.ndarray:
        """Scores (B, k) under image weights (B, N)."""
        return self.finish((weights @ self.features) / weights.sum(axis=-1, keepdims=True))


def _groups(valid: dict[str, np.ndarray]) -> list[tuple[np.ndarray, list[str]]]:
    """Keys grouped by their set of defined images (one bootstrap call per group, sharing its draws)."""
    groups: dict[bytes, tuple[np.ndarray, list[str]]] = {}
    for key, ok in valid.items():
        groups.setdefault(ok.tobytes(), (ok, []))[1].append(key)
    return list(groups.values())


def _weighted_means(columns: np.ndarray):
    """A vectorised statistic of resampled image indices: the weighted column means of ``columns`` (n, k)."""
    n = columns.shape[0]

    def statistic(idx, axis=-1):
        w = weights_of(idx, n)
        return np.moveaxis((w @ columns) / w.sum(axis=-1, keepdims=True), -1, 0)

    return statistic


def mean_intervals(values: dict[str, np.ndarray], *, n_resamples: int, level: float, seed: int) -> dict[str, Interval]:
    """BCa bootstrap interval of the mean of each array of per-image values (NaN left out).

    Each interval is ``scipy.stats.bootstrap((v,), np.mean, method="BCa")`` with the generator of
    :func:`rng_for`; scores defined on the same images share one call, its draws of image indices and
    one matrix product for all their means.
    """
    out: dict[str, Interval] = {}
    for ok, keys in _groups({k: ~np.isnan(v) for k, v in values.items()}):
        columns = np.stack([values[k][ok] for k in keys], axis=1)
        res = _bootstrap((np.arange(len(columns)),), _weighted_means(columns), n_resamples, level,
                         rng_for(seed, "means"), paired=False)  # fmt: skip
        out |= dict(zip(keys, _intervals(res, len(keys)), strict=True))
    return out


def reduction_intervals(datas: list[ScoreData], *, n_resamples: int, level: float, seed: int) -> list[Interval]:
    """BCa bootstrap intervals of reduction-kind scores of one result, each recomputed on every resample."""
    joint = Joint(datas)
    n = joint.features.shape[0]

    def statistic(idx, axis=-1):
        return np.moveaxis(joint.score(weights_of(idx, n)), -1, 0)

    res = _bootstrap((np.arange(n),), statistic, n_resamples, level, rng_for(seed, "reductions"), paired=False)
    return _intervals(res, len(datas))


def paired_mean_intervals(
    pairs: dict[str, tuple[np.ndarray, np.ndarray]], *, n_resamples: int, level: float, seed: int
) -> dict[str, Interval]:
    """BCa interval of ``mean(b) - mean(a)`` over paired resamples of the images (NaN pairs left out).

    Each interval is ``scipy.stats.bootstrap((a, b), mean(b) - mean(a), paired=True, method="BCa")`` with
    the generator of :func:`rng_for`: scipy resamples the image indices once for both samples, and so
    does this function, then takes every mean of a group of scores defined on the same images with one
    matrix product of the resample multiplicities (equal to scipy's means up to float rounding).
    """
    out: dict[str, Interval] = {}
    for ok, keys in _groups({k: ~(np.isnan(a) | np.isnan(b)) for k, (a, b) in pairs.items()}):
        k = len(keys)
        columns = np.stack([pairs[key][0][ok] for key in keys] + [pairs[key][1][ok] for key in keys], axis=1)
        means = _weighted_means(columns)

        def diff(idx, axis=-1, means=means, k=k):
            m = means(idx)
            return m[k:] - m[:k]

        res = _bootstrap((np.arange(len(columns)),), diff, n_resamples, level, rng_for(seed, "means"), paired=False)
        out |= dict(zip(keys, _intervals(res, k), strict=True))
    return out


def paired_reduction_intervals(
    a: list[ScoreData], b: list[ScoreData], *, n_resamples: int, level: float, seed: int
) -> list[Interval]:
    """BCa intervals of ``score(B) - score(A)`` for reduction-kind scores, the same resample for A and B."""
    joint = Joint([*a, *b])
    n, k = joint.features.shape[0], len(a)

    def statistic(idx, axis=-1):
        s = joint.score(weights_of(idx, n))
        return np.moveaxis(s[..., k:] - s[..., :k], -1, 0)

    # one sample of image indices: resampling it resamples the (A, B) pairs together
    res = _bootstrap((np.arange(n),), statistic, n_resamples, level, rng_for(seed, "reductions"), paired=False)
    return _intervals(res, k)


@dataclass(frozen=True)
class TestResult:
    """A two-sided p-value and the name of the test."""

    p_value: float
    test: str


def wilcoxon_test(a: np.ndarray, b: np.ndarray) -> TestResult:
    """Two-sided Wilcoxon signed-rank test on the per-image differences ``b - a`` (NaN pairs left out).

    When every difference is zero there is nothing to test and the p-value is 1.
    """
    d = b - a
    d = d[~np.isnan(d)]
    if not np.any(d != 0):
        return TestResult(1.0, "none (all per-image differences are zero)")
    return TestResult(float(stats.wilcoxon(d).pvalue), "wilcoxon")


def permutation_tests(a: list[ScoreData], b: list[ScoreData], *, n_resamples: int, seed: int) -> list[TestResult]:
    """Paired permutation tests of reduction-kind scores: A and B swapped per image at random.

    Under the null hypothesis that A and B are exchangeable on every image, the score difference of each
    random swap is as likely as the observed one; the p-value is two-sided (``scipy.stats.permutation_test``).
    """
    ja, jb = Joint(a), Joint(b)
    n = ja.features.shape[0]
    delta = jb.features - ja.features
    sum_a, sum_b = ja.features.sum(axis=0), jb.features.sum(axis=0)

    def statistic(x, y, axis=-1):
        # x[i] is i (image i of A stays in A) or n + i (swapped with B's): one product per batch
        swap = (np.asarray(x) >= n).astype(np.float64) @ delta
        return jb.finish((sum_b - swap) / n) - ja.finish((sum_a + swap) / n)

    res = stats.permutation_test(
        (np.arange(n), np.arange(n) + n), statistic, permutation_type="samples", vectorized=True,
        n_resamples=n_resamples, batch=BATCH, rng=rng_for(seed, "permutation"),
    )  # fmt: skip
    p = np.atleast_1d(res.pvalue)
    same = [np.array_equal(da.require("features"), db.require("features")) for da, db in zip(a, b, strict=True)]
    return [TestResult(1.0, "none (identical per-image data)") if s else TestResult(float(v), "permutation")
            for v, s in zip(p, same, strict=True)]  # fmt: skip
