"""Scores as functions of image weights equal the protocol's reduction rebuilt from resampled records."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from dbdbench.metrics import METRICS, Evaluator, get_protocol, list_protocols
from dbdbench.metrics.reduce import reduce_records
from dbdbench.stats.resample import weights_of
from dbdbench.stats.samples import row_data, score_data

N = 12


@cache
def _records(protocol: str, structure: bool = True) -> tuple:
    """Records of N small synthetic images, one with an empty mask (so AUC/AP are NaN there)."""
    rng = np.random.default_rng(0)
    ev = Evaluator(protocol, metrics=list(METRICS) if structure else None)
    for i in range(N):
        gt = np.zeros((16, 24), bool)
        gt[:, : 0 if i == 3 else 2 * i] = True
        p = np.clip(gt * 0.55 + rng.random(gt.shape) * 0.5, 0, 1)
        ev.update((p * 255).astype(np.uint8), gt, f"im{i:02d}")
    return tuple(ev.records)


def _slow(records, proto, idx) -> dict[str, float]:
    """The direct reference: the records of a resample, reduced as the dataset score is."""
    return reduce_records([records[i] for i in idx], proto)[0]


@pytest.mark.parametrize("protocol", list_protocols())
def test_uniform_weights_give_the_dataset_scores(protocol):
    proto = get_protocol(protocol)
    records = _records(protocol)
    expected = reduce_records(records, proto)[0]
    for key, data in score_data(records, proto, list(METRICS)).items():
        assert data.score() == pytest.approx(expected[key], abs=1e-12, nan_ok=True), key


@pytest.mark.parametrize("protocol", list_protocols())
def test_resample_weights_equal_the_rebuilt_reduction(protocol):
    proto = get_protocol(protocol)
    records = _records(protocol)
    rng = np.random.default_rng(1)
    idx = rng.integers(0, N, size=(4, N))
    weights = weights_of(idx, N)
    assert np.array_equal(weights.sum(axis=1), np.full(4, N))
    slow = [_slow(records, proto, row) for row in idx]
    for key, data in score_data(records, proto, list(METRICS)).items():
        got = data.score(weights)
        for j in range(4):
            assert got[j] == pytest.approx(slow[j][key], abs=1e-12), (key, j)


def test_kinds_follow_the_protocol():
    """max F is a per-image mean under Zhao's protocol and a reduction of the mean curve elsewhere."""
    zhao = score_data(_records("zhao"), get_protocol("zhao"), ["max_f", "mae", "auc_fcurve"])
    assert [zhao[k].kind for k in ("max_f", "mae", "auc_fcurve")] == ["mean", "mean", "reduction"]
    hifst = score_data(_records("hifst"), get_protocol("hifst"), ["max_f", "bin_iou_pooled"])
    assert {d.kind for d in hifst.values()} == {"reduction"}


def test_unknown_or_missing_score_is_refused():
    records = _records("dbdbench", structure=False)  # no S-measure computed
    with pytest.raises(KeyError, match="valid:"):
        score_data(records, get_protocol("dbdbench"), ["sm"])


def test_row_data_matches_the_counts():
    proto = get_protocol("dbdbench")
    records = _records("dbdbench")
    _, _, rows = reduce_records(records, proto)
    keys = ["mae", "bin_f", "bin_iou", "auc", "ap"]
    from_rows, from_counts = row_data(rows, keys), score_data(records, proto, keys)
    for key in keys:
        np.testing.assert_array_equal(from_rows[key].values, from_counts[key].values)
    with pytest.raises(KeyError):
        row_data(rows, ["max_f"])


@cache
def _zhao_zero_records() -> tuple:
    """Zhao-protocol records whose last-named image and one other have all-zero maps (the totalNum rule)."""
    rng = np.random.default_rng(5)
    ev = Evaluator("zhao")
    for i in range(N):
        gt = np.zeros((16, 24), bool)
        gt[:, : 2 + i] = True
        p = np.clip(gt * 0.55 + rng.random(gt.shape) * 0.5, 0, 1)
        if i in (7, N - 1):
            p[:] = 1  # the map is blur-white: all blur, so the in-focus map is all zero
        ev.update((p * 255).astype(np.uint8), gt, f"im{i:02d}")
    return tuple(ev.records)


def test_zhao_divisor_is_applied_in_every_resample():
    """An all-zero last map lowers the divisor of the full set and of every resample whose last image it is."""
    proto = get_protocol("zhao")
    records = _zhao_zero_records()
    full = reduce_records(records, proto)[0]
    keys = ["max_f", "auc_fcurve", "mae", "mean_f", "max_iou"]
    data = score_data(records, proto, keys)
    plain = float(np.mean([r.extra["best_f"] for r in records]))
    assert full["max_f"] != pytest.approx(plain, abs=1e-9)  # the rule is in force here
    rng = np.random.default_rng(3)
    idx = rng.integers(0, N, size=(40, N))
    idx[0] = np.arange(N)
    idx[1] = np.r_[np.arange(N - 1), 7]  # the last image left out: im07, also all zero, is read last
    weights = weights_of(idx, N)
    for key, d in data.items():
        assert d.score() == pytest.approx(full[key], abs=1e-12, nan_ok=True), key
        got = d.score(weights)
        for j, row in enumerate(idx):
            assert got[j] == pytest.approx(_slow(records, proto, row)[key], abs=1e-12, nan_ok=True), (key, j)


def test_counts_file_keeps_zhaos_zero_maps_and_empty_mask_curves():
    """pack/unpack is the exact inverse for zhao's quirks too, so the reduction of the read records is the same."""
    from dbdbench.stats.sidecar import pack_records, unpack_records

    proto = get_protocol("zhao")
    records = list(_zhao_zero_records())
    empty = Evaluator("zhao")
    empty.update(np.full((16, 24), 40, np.uint8), np.ones((16, 24), bool), "im99")  # all blur: no in-focus mask
    records += empty.records
    assert any(r.curve_counts is not None for r in records) and any(r.zero_map for r in records)
    back = unpack_records(pack_records(records))
    for r, b in zip(records, back, strict=True):
        assert (b.zero_map, b.curve_counts is None) == (r.zero_map, r.curve_counts is None)
        if r.curve_counts is not None:
            assert np.array_equal(b.curve_counts.tp, r.curve_counts.tp)
            assert np.array_equal(b.curve_counts.fp, r.curve_counts.fp)
    assert reduce_records(back, proto)[0] == reduce_records(records, proto)[0]
