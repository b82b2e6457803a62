"""Null calibration of the max-F interval on synthetic per-image F curves (a fast, fixed-seed check).

``benchmarks/bench_calibration.py`` measures every test and interval on real maps; this test keeps the
max-F interval of a difference honest: for two exchangeable methods it must exclude 0 in about 5 % of
replications (the former paired BCa interval of max F excluded 0 in about 11 % on CUHK-TE-1).
"""

from __future__ import annotations

import numpy as np

from dbdbench.stats.resample import paired_reduction_intervals
from dbdbench.stats.samples import ScoreData

N_IMAGES, N_LEVELS, REPS = 60, 32, 300


def _curves(rng: np.random.Generator, peak_shift: float) -> np.ndarray:
    """Per-image F curves over thresholds: concave, peaks at image-specific thresholds and heights."""
    t = np.linspace(0, 1, N_LEVELS)
    height = rng.uniform(0.5, 0.95, (N_IMAGES, 1))
    peak = np.clip(rng.normal(0.5 + peak_shift, 0.15, (N_IMAGES, 1)), 0, 1)
    width = rng.uniform(1.0, 4.0, (N_IMAGES, 1))
    return np.clip(height - width * (t - peak) ** 2, 0, 1)


def _max(m: np.ndarray) -> np.ndarray:
    return np.max(m, axis=-1)


def test_max_f_interval_rejects_a_true_null_in_about_5_percent():
    rng = np.random.default_rng(20)
    one, two = _curves(rng, 0.0), _curves(rng, 0.3)  # two methods, each image's pair of curves fixed
    rejected = 0
    for rep in range(REPS):
        coin = rng.integers(0, 2, N_IMAGES).astype(bool)[:, None]  # exchangeable: a fair coin per image
        a = ScoreData("max_f", "reduction", features=np.where(coin, one, two), finish=_max)
        b = ScoreData("max_f", "reduction", features=np.where(coin, two, one), finish=_max)
        # 499 swaps: the test's exact size is 2 x 12 / 500 = 4.8 % (199 would give 4 %)
        (ci,) = paired_reduction_intervals([a], [b], n_resamples=499, level=0.95, seed=rep)
        rejected += bool(ci.low > 0 or ci.high < 0)
    assert 0.02 <= rejected / REPS <= 0.09, rejected / REPS
