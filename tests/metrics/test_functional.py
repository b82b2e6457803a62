"""Pure score functions: the x / 0 = 0 convention, formulas, and row-wise equals one-by-one."""

from __future__ import annotations

import numpy as np
import pytest

from dbdbench.metrics import functional as F


def test_division_by_zero_gives_zero():
    assert F.precision(0, 0) == 0 and F.recall(0, 0) == 0 and F.fpr(0, 0) == 0
    assert F.iou(0, 0, 0) == 0 and F.dice(0, 0, 0) == 0 and F.fbeta(0, 0, 0) == 0


def test_formulas_on_one_confusion():
    tp, fp, fn, tn = 6, 2, 3, 9
    p, r = 6 / 8, 6 / 9
    assert F.precision(tp, fp) == p and F.recall(tp, fn) == r and F.fpr(fp, tn) == 2 / 11
    assert F.fbeta(tp, fp, fn, 0.3) == pytest.approx(1.3 * p * r / (0.3 * p + r), abs=1e-15)
    assert F.fbeta(tp, fp, fn, 1.0) == pytest.approx(F.dice(tp, fp, fn), abs=1e-15)  # F1 = Dice
    assert F.iou(tp, fp, fn) == 6 / 11 and F.dice(tp, fp, fn) == 12 / 17


def test_roc_auc_is_the_trapezoid_of_the_roc_curve():
    rng = np.random.default_rng(0)
    fpr = np.concatenate([[0.0], np.sort(rng.uniform(size=8)), [1.0]])
    tpr = np.concatenate([[0.0], np.sort(rng.uniform(size=8)), [1.0]])
    assert F.roc_auc(tpr, fpr) == F.trapezoid_area(tpr, fpr)
    assert F.roc_auc(tpr, fpr) == pytest.approx(np.trapezoid(tpr, fpr), abs=1e-15)


@pytest.mark.parametrize("fn", [F.roc_auc, F.average_precision, F.trapezoid_area])
def test_rows_give_the_same_floats_as_one_curve_at_a_time(fn):
    rng = np.random.default_rng(1)
    y = np.sort(rng.uniform(size=(5, 30)), axis=1)
    x = np.sort(rng.uniform(size=(5, 30)), axis=1)
    rows = fn(y, x)
    assert rows.shape == (5,)
    assert [float(v) for v in rows] == [fn(y[i], x[i]) for i in range(5)]


def test_average_precision_steps_only_where_recall_changes():
    p = np.array([0.0, 1.0, 1.0, 0.5])
    r = np.array([0.0, 0.5, 0.5, 1.0])  # the repeated recall adds nothing
    assert F.average_precision(p, r) == 0.5 * 1.0 + 0.5 * 0.5
