"""Intervals and tests on resamples of images, against direct slow references built with scipy."""

from __future__ import annotations

from dataclasses import replace
from functools import cache

import numpy as np
import pytest
from scipy import stats

from dbdbench.metrics import Evaluator, get_protocol
from dbdbench.metrics.reduce import reduce_records
from dbdbench.stats.inversion import inverted_interval
from dbdbench.stats.resample import (
    BATCH,
    mean_as_reduction,
    paired_mean_intervals,
    paired_reduction_intervals,
    permutation_tests,
    reduction_intervals,
    rng_for,
    wilcoxon_test,
)
from dbdbench.stats.samples import score_data

N = 16
KEYS = ["max_f", "mean_f", "bin_iou_pooled"]


@cache
def _pair(protocol: str) -> tuple[tuple, tuple]:
    """Records of method A and of a noisier method B on the same N synthetic images."""
    rng = np.random.default_rng(2)
    ev_a, ev_b = Evaluator(protocol), Evaluator(protocol)
    for i in range(N):
        gt = np.zeros((20, 24), bool)
        gt[:, : 3 + i] = True
        base = gt * 0.5 + rng.random(gt.shape) * 0.5
        ev_a.update((np.clip(base, 0, 1) * 255).astype(np.uint8), gt, f"im{i:02d}")
        noisy = base + rng.normal(0, 0.15 + 0.01 * i, gt.shape)
        ev_b.update((np.clip(noisy, 0, 1) * 255).astype(np.uint8), gt, f"im{i:02d}")
    return tuple(ev_a.records), tuple(ev_b.records)


def _slow_score(records, proto, idx, key) -> float:
    """The direct reference: the reduction rebuilt from the records of one resample."""
    idx = tuple(np.asarray(idx, dtype=int).tolist())
    memo = (id(records), proto.name, idx)  # one reduction serves every key of a resample
    if memo not in _REDUCED:
        _REDUCED[memo] = reduce_records([records[i] for i in idx], proto)[0]
    return _REDUCED[memo][key]


_REDUCED: dict[tuple, dict[str, float]] = {}


def _shifted(d, delta: float):
    """B's per-image F curves moved by ``delta``: the data of the test of "B is A plus delta"."""
    return replace(d, features=d.features + delta)


@pytest.mark.parametrize("level", [0.9, 0.95])
def test_paired_interval_is_the_set_of_shifts_the_permutation_test_keeps(level):
    """At each end of the interval, B's F curves moved by that end: the permutation p-value crosses 1 - level."""
    proto = get_protocol("dbdbench")  # F curves averaged: max F moves with the curves
    rec_a, rec_b = _pair("dbdbench")
    da, db = score_data(rec_a, proto, ["max_f"])["max_f"], score_data(rec_b, proto, ["max_f"])["max_f"]
    (ci,) = paired_reduction_intervals([da], [db], n_resamples=499, level=level, seed=7)
    (test,) = permutation_tests([da], [db], n_resamples=499, seed=7)
    assert ci.low < db.score() - da.score() < ci.high and (ci.high < 0 or ci.low > 0) == (test.p_value < 1 - level)
    eps = 1e-9
    for end, inside in ((ci.low, ci.low + eps), (ci.high, ci.high - eps)):
        outside = end - (inside - end)

        def p(delta):
            return permutation_tests([da], [_shifted(db, -delta)], n_resamples=499, seed=7)[0].p_value

        assert p(inside) >= 1 - level > p(outside), (end, p(inside), p(outside))


def test_single_result_interval_equals_the_rebuilt_reduction():
    proto = get_protocol("hifst")
    rec_a, _ = _pair("hifst")
    data = score_data(rec_a, proto, ["max_f"])["max_f"]
    (ci,) = reduction_intervals([data], n_resamples=199, level=0.9, seed=3)
    ref = stats.bootstrap((np.arange(N),), lambda idx: _slow_score(rec_a, proto, idx, "max_f"), n_resamples=199,
                          batch=BATCH, vectorized=False, confidence_level=0.9, method="BCa",
                          rng=rng_for(3, "reductions")).confidence_interval  # fmt: skip
    assert (ci.low, ci.high) == pytest.approx((ref.low, ref.high), abs=1e-12)
    assert ci.low < data.score() < ci.high


@cache
def _zhao_pair() -> tuple[tuple, tuple]:
    """Zhao-protocol records: A's last-named map is all zero (divisor N - 1 where it stays in A), B's is not."""
    rng = np.random.default_rng(6)
    ev_a, ev_b = Evaluator("zhao"), Evaluator("zhao")
    for i in range(N):
        gt = np.zeros((20, 24), bool)
        gt[:, : 3 + i] = True
        base = np.clip(gt * 0.5 + rng.random(gt.shape) * 0.5, 0, 1)
        noisy = np.clip(base + rng.normal(0, 0.2, gt.shape), 0, 1)
        if i == N - 1:
            base[:] = 1  # blur-white maps: all blur, so the in-focus map is all zero
        ev_a.update((base * 255).astype(np.uint8), gt, f"im{i:02d}")
        ev_b.update((noisy * 255).astype(np.uint8), gt, f"im{i:02d}")
    return tuple(ev_a.records), tuple(ev_b.records)


@pytest.mark.parametrize(("protocol", "keys"), [("hifst", KEYS), ("zhao", ["max_f", "auc_fcurve", "mean_f"])])
def test_permutation_p_equals_the_rebuilt_reduction(protocol, keys):
    """Swap A and B per image, rebuild both reductions from records: the same p-values (zhao: totalNum kept)."""
    proto = get_protocol(protocol)
    rec_a, rec_b = _pair(protocol) if protocol == "hifst" else _zhao_pair()
    both = rec_a + rec_b  # index i is image i of A, N + i image i of B
    da, db = score_data(rec_a, proto, keys), score_data(rec_b, proto, keys)
    if protocol == "zhao":
        assert da["max_f"].kind == "mean" and da["max_f"].zero_last is not None
    got = permutation_tests([mean_as_reduction(da[k]) if da[k].kind == "mean" else da[k] for k in keys],
                            [mean_as_reduction(db[k]) if db[k].kind == "mean" else db[k] for k in keys],
                            n_resamples=299, seed=5)  # fmt: skip
    for key, res in zip(keys, got, strict=True):

        def slow(x, y, key=key):
            return _slow_score(both, proto, y, key) - _slow_score(both, proto, x, key)

        ref = stats.permutation_test((np.arange(N), np.arange(N) + N), slow, permutation_type="samples",
                                     vectorized=False, n_resamples=299, batch=BATCH,
                                     rng=rng_for(5, "permutation"))  # fmt: skip
        assert res.test == "permutation"
        assert res.p_value == pytest.approx(ref.pvalue, abs=1e-12), key


def test_a_clear_difference_is_detected():
    proto = get_protocol("dbdbench")
    rec_a, rec_b = _pair("dbdbench")
    da, db = score_data(rec_a, proto, ["max_f", "mae"]), score_data(rec_b, proto, ["max_f", "mae"])
    (res,) = permutation_tests([da["max_f"]], [db["max_f"]], n_resamples=999, seed=0)
    (ci,) = paired_reduction_intervals([da["max_f"]], [db["max_f"]], n_resamples=999, level=0.95, seed=0)
    assert res.p_value < 0.01 and ci.high < 0  # B is the noisier map
    assert wilcoxon_test(da["mae"].values, db["mae"].values).p_value < 0.01


def test_mean_interval_ends_are_where_scipys_permutation_test_crosses_alpha():
    """scipy's paired permutation test of mean(b - delta) - mean(a), same swaps: p crosses 0.05 at each end."""
    rng = np.random.default_rng(0)
    a = rng.random(60)
    b = a + rng.normal(0.02, 0.1, 60)
    got = paired_mean_intervals({"mae": (a, b)}, n_resamples=999, level=0.95, seed=0)["mae"]

    def p(delta):
        return stats.permutation_test((a, b - delta), lambda x, y, axis=-1: np.mean(y, axis) - np.mean(x, axis),
                                      permutation_type="samples", vectorized=True, n_resamples=999, batch=BATCH,
                                      rng=rng_for(0, "means")).pvalue  # fmt: skip

    eps = 1e-9
    assert p(got.low + eps) >= 0.05 > p(got.low - eps) and p(got.high - eps) >= 0.05 > p(got.high + eps)
    assert got.method == "permutation test inverted"


def test_identical_results_give_p_one_and_a_zero_interval():
    proto = get_protocol("hifst")
    rec_a, _ = _pair("hifst")
    da = score_data(rec_a, proto, ["max_f"])["max_f"]
    db = score_data(rec_a, proto, ["max_f"])["max_f"]
    (res,) = permutation_tests([da], [db], n_resamples=199, seed=0)
    (ci,) = paired_reduction_intervals([da], [db], n_resamples=199, level=0.95, seed=0)
    assert res.p_value == 1.0 and (ci.low, ci.high) == (0.0, 0.0)
    v = np.linspace(0, 1, 20)
    assert wilcoxon_test(v, v).p_value == 1.0
    same = paired_mean_intervals({"mae": (v, v)}, n_resamples=199, level=0.95, seed=0)["mae"]
    assert (same.low, same.high, same.method) == (0.0, 0.0, "constant")


def test_same_seed_same_numbers_other_seed_other_draws():
    proto = get_protocol("hifst")
    rec_a, rec_b = _pair("hifst")
    da, db = score_data(rec_a, proto, ["max_f"]), score_data(rec_b, proto, ["max_f"])

    def run(seed):
        (ci,) = paired_reduction_intervals([da["max_f"]], [db["max_f"]], n_resamples=199, level=0.95, seed=seed)
        return ci

    assert run(1) == run(1) and run(1) != run(2)


def test_grouped_mean_intervals_equal_one_score_at_a_time():
    """Scores tested together (shared swaps) get the interval of each score alone."""
    rng = np.random.default_rng(4)
    a = {k: rng.random(80) for k in ("mae", "bin_f", "auc")}
    b = {k: v + rng.normal(0.01, 0.05, 80) for k, v in a.items()}
    a["auc"][[3, 9]] = np.nan  # undefined on two images: its own group
    got = paired_mean_intervals({k: (a[k], b[k]) for k in a}, n_resamples=999, level=0.9, seed=11)
    for key in a:
        ok = ~np.isnan(a[key])
        alone = paired_mean_intervals({key: (a[key][ok], b[key][ok])}, n_resamples=999, level=0.9, seed=11)[key]
        assert (got[key].low, got[key].high) == pytest.approx((alone.low, alone.high), abs=1e-14), key


def test_inverted_interval_equals_a_brute_force_scan():
    """The order-statistic ends equal a scan of the two-sided p-value over a fine grid of shifts."""
    rng = np.random.default_rng(8)
    for exact in (False, True):
        null = rng.normal(0, 1, 300)
        frac = rng.integers(12, 29, 300) / 40
        observed = 1.3
        frac[:2], null[0] = 0, observed  # the identity (always counted) and one more unswapped arrangement
        low, high = inverted_interval(observed, null, frac, 0.9, exact)
        grid = np.linspace(-10, 12, 11_001)
        adj = 0 if exact else 1
        ts = null[None, :] - grid[:, None] * (1 - 2 * frac[None, :])
        to = (observed - grid)[:, None]
        greater = (adj + np.sum(ts >= to, axis=1)) / (300 + adj)
        less = (adj + np.sum(ts <= to, axis=1)) / (300 + adj)
        kept = grid[np.minimum(1, 2 * np.minimum(less, greater)) >= 0.1]
        assert -10 < low and high < 12  # inside the grid
        assert kept.min() == pytest.approx(low, abs=2.1e-3) and kept.max() == pytest.approx(high, abs=2.1e-3)


def test_wilcoxon_is_exact_for_few_nonzero_differences():
    """One nonzero difference: exact p = 1 (scipy's default normal approximation says 0.317)."""
    d = np.zeros(100)
    d[5] = 0.1
    assert wilcoxon_test(np.zeros(100), d).p_value == 1.0
    rng = np.random.default_rng(1)
    a, b = rng.random(30), rng.random(30)
    got = wilcoxon_test(a, b)
    assert got.test == "wilcoxon (exact)" and got.p_value == stats.wilcoxon(b - a, method="exact").pvalue
    tied = np.r_[np.zeros(40), 0.1, 0.1, -0.1, 0.2, 0.3, 0.1]
    # the exact null distribution of the signed-rank sum with midranks, by enumerating every sign
    nz = tied[tied != 0]
    ranks = stats.rankdata(np.abs(nz))
    signs = 1 - 2 * ((np.arange(2 ** len(nz))[:, None] >> np.arange(len(nz))) & 1)
    w = (signs * ranks).sum(axis=1)
    observed = np.sum(np.sign(nz) * ranks)
    ref = np.mean(np.abs(w) >= abs(observed) - 1e-9)
    assert wilcoxon_test(np.zeros(len(tied)), tied).p_value == pytest.approx(ref, abs=1e-12)
    many = rng.normal(0, 1, 200)
    assert wilcoxon_test(np.zeros(200), many).p_value == stats.wilcoxon(many).pvalue
