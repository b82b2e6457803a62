"""The ``pysod`` protocol equals PySODMetrics 1.6 bit for bit (max abs difference 0.0)."""

from __future__ import annotations

import numpy as np
import pytest

from dbdbench.metrics import Evaluator

M = pytest.importorskip("py_sod_metrics")

KEYS = (
    "mae max_f mean_f adp_f bin_f bin_f_pooled max_iou mean_iou adp_iou bin_iou bin_iou_pooled "
    "max_dice mean_dice adp_dice sm max_em mean_em adp_em wf"
).split()


def _reference(pairs):
    """Scores from PySODMetrics' own classes, named as dbdbench names them."""
    fm = M.FmeasureV2(
        {
            "f": M.FmeasureHandler(with_dynamic=True, with_adaptive=True, with_binary=True, beta=0.3),
            "iou": M.IOUHandler(with_dynamic=True, with_adaptive=True, with_binary=True),
            "dice": M.DICEHandler(with_dynamic=True, with_adaptive=True),
            "f_all": M.FmeasureHandler(False, False, with_binary=True, sample_based=False, beta=0.3),
            "iou_all": M.IOUHandler(False, False, with_binary=True, sample_based=False),
        }
    )
    mae, sm, em, wf = M.MAE(), M.Smeasure(), M.Emeasure(), M.WeightedFmeasure()
    for pred, gt in pairs:
        for m in (fm, mae, sm, em, wf):
            m.step(pred=pred, gt=gt)
    r = fm.get_results()
    e = em.get_results()["em"]
    out = {"mae": mae.get_results()["mae"], "sm": sm.get_results()["sm"], "wf": wf.get_results()["wfm"]}
    out |= {"max_em": e["curve"].max(), "mean_em": e["curve"].mean(), "adp_em": e["adp"]}
    for name in ("f", "iou", "dice"):
        out |= {f"max_{name}": r[name]["dynamic"].max(), f"mean_{name}": r[name]["dynamic"].mean()}
        out[f"adp_{name}"] = r[name]["adaptive"]
    out |= {"bin_f": r["f"]["binary"], "bin_iou": r["iou"]["binary"]}
    out |= {"bin_f_pooled": r["f_all"]["binary"], "bin_iou_pooled": r["iou_all"]["binary"]}
    return out, r["f"]["dynamic"]


def _ours(pairs):
    ev = Evaluator("pysod", metrics=KEYS)
    for pred, gt in pairs:
        ev.update(pred, gt)
    return ev.compute()


def _smooth_map(rng, h, w):
    import cv2

    noise = rng.random((max(h // 8, 2), max(w // 8, 2)))
    m = cv2.resize(noise, (w, h), interpolation=cv2.INTER_CUBIC)
    m = (m - m.min()) / max(m.max() - m.min(), 1e-9)
    lo, hi = sorted(rng.integers(0, 256, 2))
    return (lo + m * (hi - lo)).astype(np.uint8)


def _random_pairs(n, seed):
    rng = np.random.default_rng(seed)
    pairs = []
    for i in range(n):
        h, w = (int(v) for v in rng.integers(16, 96, 2))
        pred = _smooth_map(rng, h, w) if i % 2 else rng.integers(0, 256, (h, w), dtype=np.uint8)
        gt = (_smooth_map(rng, h, w) > 127).astype(np.uint8) * 255
        pairs.append((pred, gt))
    return pairs


def _edge_pairs():
    rng = np.random.default_rng(1)
    gt = np.zeros((40, 50), np.uint8)
    gt[8:30, 10:35] = 255
    ramp = np.tile(np.linspace(0, 255, 50).astype(np.uint8), (40, 1))
    nonbinary = rng.integers(0, 256, (40, 50), dtype=np.uint8)
    return {
        "perfect": [(gt.copy(), gt)],
        "all_zero": [(np.zeros_like(gt), gt)],
        "all_255": [(np.full_like(gt, 255), gt)],
        "constant_100": [(np.full_like(gt, 100), gt)],
        "empty_gt": [(ramp, np.zeros_like(gt))],
        "full_gt": [(ramp, np.full_like(gt, 255))],
        "full_gt_all_255": [(np.full_like(gt, 255), np.full_like(gt, 255))],
        "non_binary_gt": [(ramp, nonbinary)],
        "gt_value_128_129": [(ramp, np.where(ramp > 120, 128, 129).astype(np.uint8))],
        "narrow_range_0_35": [((ramp // 8).astype(np.uint8), gt)],
        "narrow_range_200_210": [((200 + ramp // 25).astype(np.uint8), gt)],
        "mixed": [(ramp, gt), (np.zeros_like(gt), np.zeros_like(gt)), ((ramp // 8).astype(np.uint8), gt)],
    }


def _assert_bit_exact(pairs):
    ref, ref_curve = _reference(pairs)
    res = _ours(pairs)
    diffs = {k: abs(res.scores[k] - float(ref[k])) for k in KEYS}
    assert max(diffs.values()) == 0.0, {k: v for k, v in diffs.items() if v}
    # our curve is ascending in threshold; PySOD's is descending
    assert np.array_equal(res.curves["f"], ref_curve[::-1])


@pytest.mark.parametrize("seed", [0, 1])
def test_random_maps_bit_exact(seed):
    _assert_bit_exact(_random_pairs(110, seed))  # 220 maps with random sizes over the two seeds


@pytest.mark.parametrize("case", list(_edge_pairs()))
def test_edge_cases_bit_exact(case):
    _assert_bit_exact(_edge_pairs()[case])


def test_per_image_scores_bit_exact():
    pairs = _random_pairs(30, 7)
    res = _ours(pairs)
    for (pred, gt), row in zip(pairs, res.per_image, strict=True):
        ref, _ = _reference([(pred, gt)])
        assert row["mae"] == float(ref["mae"])
        assert row["bin_f"] == float(ref["bin_f"])
        assert row["bin_iou"] == float(ref["bin_iou"])
        assert row["sm"] == float(ref["sm"])
        assert row["wf"] == float(ref["wf"])
