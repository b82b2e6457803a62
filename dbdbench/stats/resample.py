"""Bootstrap intervals and paired tests over images, with scipy doing the statistics.

The interval of one score is a bootstrap interval (``scipy.stats.bootstrap``, BCa by default). The interval
of a difference ``score(B) - score(A)`` is the paired permutation test inverted
(:mod:`dbdbench.stats.inversion`): scipy swaps A and B on random subsets of the images
(``scipy.stats.permutation_test``, ``permutation_type="samples"``), which also gives the p-value of
dataset-level scores; per-image means are tested with Wilcoxon's signed-rank test (``scipy.stats.wilcoxon``,
exact for small samples). Reduction-kind scores recompute the protocol's own reduction on every resample or
swap: each becomes a vector of multiplicities (multinomial counts) or swap flags, and the score of all of
them in a batch is one matrix product with the per-image features
(:class:`~dbdbench.stats.samples.ScoreData`), divided as the protocol divides (Zhao et al.'s ``totalNum``).

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
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy import stats

from dbdbench.stats.inversion import inverted_interval
from dbdbench.stats.samples import ScoreData

#: resamples (or permutations) per vectorised call: memory about batch x (N + K) x 8 bytes; 1000 was the
#: fastest of 500 ... 10 000 for 1000 images (scipy's permutation loop slows down on larger batches)
BATCH = 1000


#: how a difference's interval is obtained (``Interval.method``)
INVERTED = "permutation test inverted"


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


def _interval(low: float, high: float, dist: np.ndarray, method: str) -> Interval:
    low, high = float(low), float(high)
    if np.ptp(dist) == 0:  # every resample gives the same value (e.g. identical maps)
        return Interval(float(dist[0]), float(dist[0]), "constant")
    if np.isnan(low) or np.isnan(high):
        return Interval(low, high, f"{method} (undefined)")
    return Interval(low, high, method)


def _intervals(res, k: int, method: str) -> list[Interval]:
    """The intervals of a k-output ``scipy.stats.bootstrap`` result."""
    low, high = np.atleast_1d(res.confidence_interval.low), np.atleast_1d(res.confidence_interval.high)
    dist = np.reshape(res.bootstrap_distribution, (k, -1))
    return [_interval(low[j], high[j], dist[j], method) for j in range(k)]


def _bootstrap(data, statistic, n_resamples: int, level: float, rng: np.random.Generator, paired: bool,
               method: str = "BCa"):
    with warnings.catch_warnings():
        # a degenerate bootstrap distribution gives NaN bounds, handled in _interval
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        return stats.bootstrap(
            data, statistic, n_resamples=n_resamples, batch=BATCH, vectorized=True, paired=paired, axis=-1,
            confidence_level=level, method=method, rng=rng,
        )  # fmt: skip


class Joint:
    """Several reduction-kind scores evaluated together: one matrix product serves all of them.

    Scores that share a feature matrix (max F and mean F share the F curves) share its columns. Each
    score divides the weighted sums of its features by its own divisor (the sum of the weights, or Zhao
    et al.'s ``totalNum``: :func:`~dbdbench.stats.samples.divisors`).
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

    def finish(self, sums: np.ndarray, divisors: list[np.ndarray]) -> np.ndarray:
        """Scores (B, k) from weighted feature sums (B, K) and each score's divisors (B,)."""
        return np.stack([d.require("finish")(sums[..., s] / div[..., None])
                         for d, s, div in zip(self.datas, self.slices, divisors, strict=True)], axis=-1)  # fmt: skip

    def score(self, weights: np.ndarray) -> np.ndarray:
        """Scores (B, k) under image weights (B, N)."""
        total = weights.sum(axis=-1)
        divs = [total if d.zero_last is None else d.divisor(weights) for d in self.datas]
        return self.finish(weights @ self.features, divs)

    def swapped_divisors(self, other: Joint, swap: np.ndarray) -> list[np.ndarray]:
        """Divisors (B,) of each score after the images flagged in ``swap`` (B, N) took ``other``'s data.

        Every image is in a swapped set once, so only the last-named image's map decides ``totalNum``.
        """
        n = swap.shape[-1]
        out = []
        for mine, theirs in zip(self.datas, other.datas, strict=True):
            if mine.zero_last is None or theirs.zero_last is None:
                out.append(np.full(swap.shape[:-1], float(n)))
                continue
            last = int(np.argmax(mine.zero_last[1]))
            zero = np.where(swap[..., last] > 0, theirs.zero_last[0][last], mine.zero_last[0][last])
            out.append(n - zero.astype(np.float64))
        return out


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


def mean_intervals(values: dict[str, np.ndarray], *, n_resamples: int, level: float, seed: int,
                   method: str = "BCa") -> dict[str, Interval]:  # fmt: skip
    """Bootstrap interval of the mean of each array of per-image values (NaN left out).

    Each interval is ``scipy.stats.bootstrap((v,), np.mean, method=method)`` with the generator of
    :func:`rng_for`; scores defined on the same images share one call, its draws of image indices and
    one matrix product for all their means.
    """
    out: dict[str, Interval] = {}
    for ok, keys in _groups({k: ~np.isnan(v) for k, v in values.items()}):
        columns = np.stack([values[k][ok] for k in keys], axis=1)
        res = _bootstrap((np.arange(len(columns)),), _weighted_means(columns), n_resamples, level,
                         rng_for(seed, "means"), paired=False, method=method)  # fmt: skip
        out |= dict(zip(keys, _intervals(res, len(keys), method), strict=True))
    return out


def reduction_intervals(datas: list[ScoreData], *, n_resamples: int, level: float, seed: int,
                        method: str = "BCa") -> list[Interval]:  # fmt: skip
    """Bootstrap intervals of reduction-kind scores of one result, each recomputed on every resample."""
    joint = Joint(datas)
    n = joint.features.shape[0]

    def statistic(idx, axis=-1):
        return np.moveaxis(joint.score(weights_of(idx, n)), -1, 0)

    res = _bootstrap((np.arange(n),), statistic, n_resamples, level, rng_for(seed, "reductions"), paired=False,
                     method=method)  # fmt: skip
    return _intervals(res, len(datas), method)


def paired_mean_intervals(
    pairs: Mapping[str, tuple[ScoreData | np.ndarray, ScoreData | np.ndarray]], *, n_resamples: int, level: float,
    seed: int,
) -> dict[str, Interval]:
    """Interval of ``mean(b) - mean(a)`` from the inverted paired permutation test (NaN pairs left out).

    The test swaps A and B on random subsets of the images (the sign-flip test of Fisher and Pitman);
    :func:`~dbdbench.stats.inversion.inverted_interval` turns its null distribution into the interval of
    shifts it does not reject. Scores defined on the same images share one call and its swaps (generator
    :func:`rng_for` of ``"means"``). A mean that divides as Zhao et al.'s ``totalNum`` keeps its divisor.
    """
    data = {k: tuple(_as_data(k, v) for v in ab) for k, ab in pairs.items()}
    out: dict[str, Interval] = {}
    valid = {k: ~(np.isnan(a.require("values")) | np.isnan(b.require("values"))) for k, (a, b) in data.items()}
    for ok, keys in _groups(valid):
        ja = Joint([mean_as_reduction(data[k][0], ok) for k in keys])
        jb = Joint([mean_as_reduction(data[k][1], ok) for k in keys])
        perm = _permute(ja, jb, n_resamples, rng_for(seed, "means"))
        out |= dict(zip(keys, perm.intervals(level), strict=True))
    return out


def _as_data(key: str, v: ScoreData | np.ndarray) -> ScoreData:
    return v if isinstance(v, ScoreData) else ScoreData(key, "mean", values=np.asarray(v, dtype=np.float64))


def _first(m: np.ndarray) -> np.ndarray:
    return m[..., 0]


def mean_as_reduction(d: ScoreData, ok: np.ndarray | None = None) -> ScoreData:
    """A mean-kind score on the images ``ok`` (default all) as a one-feature reduction with the same divisor."""
    if ok is None:
        ok = ~np.isnan(d.require("values"))
    zero = None if d.zero_last is None else (d.zero_last[0][ok], d.zero_last[1][ok])
    return ScoreData(d.key, "reduction", features=d.require("values")[ok][:, None], finish=_first, zero_last=zero)


def paired_reduction_intervals(
    a: list[ScoreData], b: list[ScoreData], *, n_resamples: int, level: float, seed: int
) -> list[Interval]:
    """Intervals of ``score(B) - score(A)`` for reduction-kind scores from the inverted permutation test.

    The swaps are those of :func:`permutation_tests` with the same seed, so an interval excludes 0
    exactly when that test's p-value is below ``1 - level``.
    """
    return _permute(Joint(a), Joint(b), n_resamples, rng_for(seed, "permutation")).intervals(level)


@dataclass(frozen=True)
class Permutation:
    """The paired permutation distribution of k score differences ``score(B) - score(A)``.

    ``observed`` (k,), ``null`` (R, k) the difference of each swap, ``fraction`` (R,) the fraction of
    images each swap exchanged, ``p_values`` (k,) scipy's two-sided p-values, ``exact`` whether every swap
    was enumerated, ``same`` (k,) where A's and B's per-image data are identical.
    """

    observed: np.ndarray
    null: np.ndarray
    fraction: np.ndarray
    p_values: np.ndarray
    exact: bool
    same: np.ndarray

    def intervals(self, level: float) -> list[Interval]:
        out = []
        for j in range(len(self.observed)):
            if self.same[j]:
                out.append(Interval(0.0, 0.0, "constant"))
                continue
            low, high = inverted_interval(self.observed[j], self.null[:, j], self.fraction, level, self.exact)
            out.append(Interval(low, high, INVERTED))
        return out

    def tests(self) -> list[TestResult]:
        return [TestResult(1.0, "none (identical per-image data)") if s else TestResult(float(p), "permutation")
                for p, s in zip(self.p_values, self.same, strict=True)]  # fmt: skip


def _permute(ja: Joint, jb: Joint, n_resamples: int, rng: np.random.Generator) -> Permutation:
    """Swap A and B per image at random (``scipy.stats.permutation_test``), keeping each swap's fraction."""
    n = ja.features.shape[0]
    delta = jb.features - ja.features
    sum_a, sum_b = ja.features.sum(axis=0), jb.features.sum(axis=0)
    seen: list[tuple[np.ndarray, np.ndarray]] = []

    def statistic(x, y, axis=-1):
        # x[i] is i (image i of A stays in A) or n + i (swapped with B's): one product per batch
        swap = (np.asarray(x) >= n).astype(np.float64)
        moved = swap @ delta
        t = jb.finish(sum_b - moved, jb.swapped_divisors(ja, swap)) - ja.finish(sum_a + moved,
                                                                                 ja.swapped_divisors(jb, swap))
        seen.append((np.atleast_2d(t), np.atleast_1d(swap.mean(axis=-1))))
        return t

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NaN scores (zhao's 0 / 0) stay NaN
        res = stats.permutation_test(
            (np.arange(n), np.arange(n) + n), statistic, permutation_type="samples", vectorized=True,
            n_resamples=n_resamples, batch=BATCH, rng=rng,
        )  # fmt: skip
    null = np.concatenate([t for t, _ in seen[1:]])
    if not np.array_equal(null, np.reshape(res.null_distribution, null.shape), equal_nan=True):
        raise RuntimeError("scipy.stats.permutation_test called the statistic in an unexpected order")
    same = np.array([np.array_equal(da.require("features"), db.require("features"))
                     for da, db in zip(ja.datas, jb.datas, strict=True)])  # fmt: skip
    exact = n < 63 and 2**n <= n_resamples
    return Permutation(seen[0][0][0], null, np.concatenate([f for _, f in seen[1:]]),
                       np.atleast_1d(res.pvalue), exact, same)  # fmt: skip


@dataclass(frozen=True)
class TestResult:
    """A two-sided p-value and the name of the test."""

    p_value: float
    test: str


#: nonzero differences up to which a Wilcoxon p-value with tied magnitudes enumerates every sign (2**n)
EXACT_TIES_MAX = 16


def wilcoxon_test(a: np.ndarray, b: np.ndarray) -> TestResult:
    """Two-sided Wilcoxon signed-rank test on the per-image differences ``b - a`` (NaN pairs left out).

    Zero differences are dropped (Wilcoxon's own rule, scipy's ``zero_method="wilcox"``). The p-value is
    exact where scipy's normal approximation would be poor: ``method="exact"`` for up to 50 nonzero
    differences with distinct magnitudes, every sign enumerated (``stats.PermutationMethod``) for up to
    :data:`EXACT_TIES_MAX` with tied magnitudes; the normal approximation otherwise (scipy's default). When
    every difference is zero there is nothing to test and the p-value is 1.
    """
    d = b - a
    d = d[~np.isnan(d)]
    d = d[d != 0]
    if not len(d):
        return TestResult(1.0, "none (all per-image differences are zero)")
    ties = len(np.unique(np.abs(d))) < len(d)
    if len(d) <= 50 and not ties:
        return TestResult(float(stats.wilcoxon(d, method="exact").pvalue), "wilcoxon (exact)")
    if len(d) <= EXACT_TIES_MAX:
        exact = stats.PermutationMethod(n_resamples=2 ** len(d))
        return TestResult(float(stats.wilcoxon(d, method=exact).pvalue), "wilcoxon (exact, ties)")
    return TestResult(float(stats.wilcoxon(d, method="approx").pvalue), "wilcoxon")


def permutation_tests(a: list[ScoreData], b: list[ScoreData], *, n_resamples: int, seed: int) -> list[TestResult]:
    """Paired permutation tests of reduction-kind scores: A and B swapped per image at random.

    Under the null hypothesis that A and B are exchangeable on every image, the score difference of each
    random swap is as likely as the observed one; the p-value is two-sided (``scipy.stats.permutation_test``).
    """
    return _permute(Joint(a), Joint(b), n_resamples, rng_for(seed, "permutation")).tests()


def paired_reduction_inference(
    a: list[ScoreData], b: list[ScoreData], *, n_resamples: int, level: float, seed: int
) -> tuple[list[Interval], list[TestResult]]:
    """:func:`paired_reduction_intervals` and :func:`permutation_tests` from one set of swaps."""
    perm = _permute(Joint(a), Joint(b), n_resamples, rng_for(seed, "permutation"))
    return perm.intervals(level), perm.tests()
