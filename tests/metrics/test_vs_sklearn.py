"""ROC AUC, PR points and AP agree with scikit-learn on the same quantised scores."""

from __future__ import annotations

import numpy as np
import pytest

from dbdbench.metrics import Evaluator
from dbdbench.metrics.reduce import per_image_curves

sk = pytest.importorskip("sklearn.metrics")


def _cases():
    rng = np.random.default_rng(3)
    out = []
    for i in range(40):
        h, w = (int(v) for v in rng.integers(8, 64, 2))
        gt = rng.random((h, w)) < rng.uniform(0.05, 0.95)
        if i % 4 == 0:  # few distinct levels: many ties
            pred = (rng.integers(0, 6, (h, w)) * 40).astype(np.uint8)
        else:
            pred = np.clip(gt * rng.normal(150, 60, (h, w)) + ~gt * rng.normal(100, 60, (h, w)), 0, 255)
            pred = pred.astype(np.uint8)
        out.append((pred, gt))
    return out


@pytest.mark.parametrize("i", range(40))
def test_roc_auc_and_ap_per_image(i):
    pred, gt = _cases()[i]
    ev = Evaluator("dbdbench", metrics=["auc", "ap"])
    ev.update(pred, gt)
    row = ev.compute().per_image[0]
    assert abs(row["auc"] - sk.roc_auc_score(gt.ravel(), pred.ravel())) <= 1e-12
    assert abs(row["ap"] - sk.average_precision_score(gt.ravel(), pred.ravel())) <= 1e-12


@pytest.mark.parametrize("i", range(0, 40, 5))
def test_pr_points_equal_sklearn(i):
    pred, gt = _cases()[i]
    ev = Evaluator("dbdbench")
    ev.update(pred, gt)
    curves = per_image_curves(ev.records, ev.protocol)
    p_ref, r_ref, t_ref = sk.precision_recall_curve(gt.ravel(), pred.ravel())
    # sklearn thresholds are the distinct scores; ours are the 256 levels (index = level)
    t = t_ref.astype(int)
    assert np.array_equal(curves["precision"][0, t], p_ref[:-1])
    assert np.array_equal(curves["recall"][0, t], r_ref[:-1])


def test_dataset_auc_is_mean_over_defined_images():
    cases = _cases()[:10]
    empty = (cases[0][0], np.zeros_like(cases[0][1]))
    ev = Evaluator("dbdbench")
    for pred, gt in [*cases, empty]:
        ev.update(pred, gt)
    res = ev.compute()
    expected = np.mean([sk.roc_auc_score(g.ravel(), p.ravel()) for p, g in cases])
    assert abs(res.scores["auc"] - expected) <= 1e-12
    assert res.n_empty_gt == 1
    assert res.per_image[-1]["empty_gt"] and res.per_image[-1]["auc"] is None
