"""Intervals and tests on resamples of images, against direct slow references built with scipy."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
from scipy import stats

from dbdbench.metrics import Evaluator, get_protocol
from dbdbench.metrics.reduce import reduce_records
from dbdbench.stats.resample import (
    BATCH,
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


@pytest.mark.parametrize("protocol", ["hifst", "dbdbench"])
def test_paired_interval_equals_the_rebuilt_reduction(protocol):
    """Same scipy draws, statistic rebuilt from resampled records one resample at a time: same interval."""
    proto = get_protocol(protocol)
    rec_a, rec_b = _pair(protocol)
    da, db = score_data(rec_a, proto, KEYS), score_data(rec_b, proto, KEYS)
    got = paired_reduction_intervals([da[k] for k in KEYS], [db[k] for k in KEYS], n_resamples=199,
                                     level=0.95, seed=7)  # fmt: skip
    for key, ci in zip(KEYS, got, strict=True):

        def slow(idx, key=key):
            return _slow_score(rec_b, proto, idx, key) - _slow_score(rec_a, proto, idx, key)

        ref = stats.bootstrap((np.arange(N),), slow, n_resamples=199, batch=BATCH, vectorized=False,
                              method="BCa", rng=rng_for(7, "reductions")).confidence_interval  # fmt: skip
        assert (ci.low, ci.high) == pytest.approx((ref.low, ref.high), abs=1e-12), key


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


def test_permutation_p_equals_the_rebuilt_reduction():
    """Swap A and B per image, rebuild both reductions from records: the same p-values."""
    proto = get_protocol("hifst")
    rec_a, rec_b = _pair("hifst")
    both = rec_a + rec_b  # index i is image i of A, N + i image i of B
    da, db = score_data(rec_a, proto, KEYS), score_data(rec_b, proto, KEYS)
    got = permutation_tests([da[k] for k in KEYS], [db[k] for k in KEYS], n_resamples=299, seed=5)
    for key, res in zip(KEYS, got, strict=True):

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


def test_mean_interval_is_scipys_paired_bca_within_monte_carlo_error():
    """Another seed of scipy's own paired BCa bootstrap agrees to a small fraction of the standard error."""
    rng = np.random.default_rng(0)
    a = rng.random(300)
    b = a + rng.normal(0.02, 0.1, 300)
    got = paired_mean_intervals({"mae": (a, b)}, n_resamples=10_000, level=0.95, seed=0)["mae"]
    ref = stats.bootstrap((a, b), lambda x, y, axis=-1: np.mean(y, axis) - np.mean(x, axis), paired=True,
                          n_resamples=10_000, method="BCa", rng=12345).confidence_interval  # fmt: skip
    se = np.std(b - a, ddof=1) / np.sqrt(300)
    # the Monte-Carlo error of a 2.5 % quantile from 10 000 resamples is about 0.03 standard errors
    assert abs(got.low - ref.low) < 0.15 * se and abs(got.high - ref.high) < 0.15 * se


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


def test_grouped_mean_intervals_equal_scipy_one_score_at_a_time():
    """Scores bootstrapped together (shared draws) get exactly scipy's interval for each score alone."""
    rng = np.random.default_rng(4)
    a = {k: rng.random(80) for k in ("mae", "bin_f", "auc")}
    b = {k: v + rng.normal(0.01, 0.05, 80) for k, v in a.items()}
    a["auc"][[3, 9]] = np.nan  # undefined on two images: its own group
    got = paired_mean_intervals({k: (a[k], b[k]) for k in a}, n_resamples=999, level=0.9, seed=11)
    for key in a:
        ok = ~np.isnan(a[key])
        ref = stats.bootstrap((a[key][ok], b[key][ok]), lambda x, y, axis=-1: np.mean(y, axis) - np.mean(x, axis),
                              paired=True, n_resamples=999, batch=BATCH, confidence_level=0.9, method="BCa",
                              rng=rng_for(11, "means")).confidence_interval  # fmt: skip
        assert (got[key].low, got[key].high) == pytest.approx((ref.low, ref.high), abs=1e-14), key
