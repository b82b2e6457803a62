"""Pure score functions of confusion counts.

Every threshold metric in dbdbench is a function of four count arrays ``tp, fp, fn, tn`` (one entry per
threshold, or scalars). Division follows the convention ``x / 0 = 0`` throughout, as PySODMetrics does,
so empty predictions and empty masks give 0 rather than NaN.
"""

from __future__ import annotations

import numpy as np

ArrayLike = np.ndarray | int | float


def safe_divide(num: ArrayLike, den: ArrayLike) -> np.ndarray:
    """Elementwise ``num / den`` in float64 with ``x / 0 = 0``.

    The order of operations (denominator cast to float64, then ``np.divide`` where it is non-zero) is the
    one of PySODMetrics, so results agree with it bit for bit.
    """
    out = np.array(den, dtype=np.float64)
    np.divide(num, out, out=out, where=out != 0)
    return out


def precision(tp: ArrayLike, fp: ArrayLike) -> np.ndarray:
    r"""Precision :math:`P = TP / (TP + FP)`, 0 where nothing is predicted positive."""
    return safe_divide(tp, np.add(tp, fp))


def recall(tp: ArrayLike, fn: ArrayLike) -> np.ndarray:
    r"""Recall (true positive rate) :math:`R = TP / (TP + FN)`, 0 for an empty mask."""
    return safe_divide(tp, np.add(tp, fn))


def fpr(fp: ArrayLike, tn: ArrayLike) -> np.ndarray:
    r"""False positive rate :math:`FPR = FP / (FP + TN)`, 0 for a full mask."""
    return safe_divide(fp, np.add(tn, fp))


def fbeta_from_pr(p: ArrayLike, r: ArrayLike, beta2: float = 0.3) -> np.ndarray:
    r"""F-beta from precision and recall.

    .. math:: F_\beta = \frac{(1 + \beta^2) P R}{\beta^2 P + R}

    with :math:`\beta^2 = 0.3` by default (Achanta et al. 2009) and 0 where :math:`\beta^2 P + R = 0`.

    References
    ----------
    .. [1] R. Achanta, S. Hemami, F. Estrada, S. Süsstrunk, "Frequency-tuned salient region detection",
       CVPR 2009.
    """
    p = np.asarray(p, dtype=np.float64)
    r = np.asarray(r, dtype=np.float64)
    return safe_divide((beta2 + 1) * p * r, beta2 * p + r)


def fbeta(tp: ArrayLike, fp: ArrayLike, fn: ArrayLike, beta2: float = 0.3) -> np.ndarray:
    """F-beta from counts, via :func:`precision`, :func:`recall` and :func:`fbeta_from_pr`."""
    return fbeta_from_pr(precision(tp, fp), recall(tp, fn), beta2)


def iou(tp: ArrayLike, fp: ArrayLike, fn: ArrayLike) -> np.ndarray:
    r"""Intersection over union (Jaccard) :math:`TP / (TP + FP + FN)`, 0 when both sets are empty."""
    return safe_divide(tp, np.add(np.add(tp, fp), fn))


def dice(tp: ArrayLike, fp: ArrayLike, fn: ArrayLike) -> np.ndarray:
    r"""Dice coefficient :math:`2 TP / (2 TP + FP + FN)`, 0 when both sets are empty."""
    return safe_divide(np.multiply(2, tp), np.add(np.add(np.add(tp, fn), tp), fp))


def roc_auc(tpr_desc: np.ndarray, fpr_desc: np.ndarray) -> float:
    r"""Exact area under the ROC curve by the trapezoid rule.

    ``tpr_desc`` and ``fpr_desc`` run over thresholds in **descending** order and must include both
    anchors: the "nothing positive" point (0, 0) first and the "everything positive" point (1, 1) last.
    On the 8-bit levels this equals ``sklearn.metrics.roc_auc_score`` on the quantised scores exactly,
    since ties then form the diagonal segments that give them half credit.

    .. math:: AUC = \sum_k (FPR_{k+1} - FPR_k) \frac{TPR_{k+1} + TPR_k}{2}

    References
    ----------
    .. [1] T. Fawcett, "An introduction to ROC analysis", Pattern Recognition Letters 27(8), 2006.
    """
    return float(np.sum(np.diff(fpr_desc) * (tpr_desc[1:] + tpr_desc[:-1])) / 2)


def average_precision(p_desc: np.ndarray, r_desc: np.ndarray) -> float:
    r"""Step-wise average precision, as ``sklearn.metrics.average_precision_score``.

    .. math:: AP = \sum_k (R_k - R_{k-1}) P_k

    over thresholds in descending order with :math:`R_{-1} = 0` (no interpolation). Points where the
    recall does not change (empty levels) contribute nothing, so the 8-bit curve gives the exact AP of
    the quantised scores.

    References
    ----------
    .. [1] M. Zhu, "Recall, precision and average precision", University of Waterloo, 2004.
    """
    dr = np.diff(r_desc, prepend=0.0)
    return float(np.sum(dr * p_desc))


def trapezoid_area(y: np.ndarray, x: np.ndarray) -> float:
    r"""Plain trapezoid :math:`\sum_k (x_{k+1} - x_k)(y_{k+1} + y_k) / 2` (no sorting, no anchors)."""
    return float(np.sum(np.diff(x) * (y[1:] + y[:-1])) / 2)
