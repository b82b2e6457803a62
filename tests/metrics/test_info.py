"""The metric table: one entry per score, read by the reduction and by every report without other edits."""

from __future__ import annotations

import numpy as np
import pytest

from dbdbench.metrics import METRICS, Evaluator, MetricInfo, get_metric
from dbdbench.metrics import functional as F
from dbdbench.metrics.info import register_metric, unregister_metric
from dbdbench.report.tables import make_table


def balanced_accuracy(tp, fp, fn, tn) -> np.ndarray:
    """Balanced accuracy (TPR + TNR) / 2, the demonstration metric of this test."""
    return (F.recall(tp, fn) + F.safe_divide(tn, np.add(tn, fp))) / 2


@pytest.fixture
def bal_acc():
    """A metric added as a user would: a pure function and one table entry."""
    info = register_metric(MetricInfo(
        key="max_bacc", label="maxBAcc", higher_is_better=True,
        description="maximum balanced accuracy over thresholds, mean of per-image curves",
        compute=lambda r: float(np.max(np.mean(balanced_accuracy(*(r.stacked[k] for k in ("tp", "fp", "fn", "tn"))),
                                               axis=0)[: r.n])),
        latex=r"$\mathrm{BAcc}^{\max}$", reference="Brodersen et al., ICPR 2010",
    ))
    yield info
    unregister_metric(info.key)


def test_new_metric_reaches_results_and_tables(bal_acc):
    gt = np.zeros((10, 10), bool)
    gt[:, :5] = True
    results = []
    for method, noise in (("good", 10), ("poor", 120)):
        ev = Evaluator("dbdbench", metrics=("max_f", "max_bacc"))
        rng = np.random.default_rng(0)
        ev.update(np.clip(np.where(gt, 200, 50) + rng.normal(0, noise, gt.shape), 0, 255).astype(np.uint8), gt)
        results.append(ev.compute(dataset="toy", method=method))
    assert results[0].scores["max_bacc"] == 1.0 > results[1].scores["max_bacc"]
    md = make_table(results, metrics=["max_f", "max_bacc"], fmt="markdown")
    assert "maxBAcc ↑" in md and md.count("**1.000**") == 2  # label, direction and best mark from the table
    assert r"$\mathrm{BAcc}^{\max}\uparrow$" in make_table(results, metrics=["max_bacc"], fmt="latex")  # one math group


def test_duplicate_and_unknown_keys_are_errors():
    with pytest.raises(ValueError, match="already registered"):
        register_metric(METRICS["mae"])
    with pytest.raises(KeyError, match="valid: mae, max_f"):
        get_metric("maxF")


def test_every_entry_is_complete():
    for key, info in METRICS.items():
        assert info.key == key and info.label and info.description and info.reference
        assert callable(info.compute) or callable(info.per_image)
        # the resampling statistics can recompute every score of the table
        assert (info.per_image is None) != (info.resample is None), key
