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


def trapezoid_area(y: np.ndarray, x: np.ndarray) -> np.ndarray | float:
    r"""Plain trapezoid :math:`\sum_k (x_{k+1} - x_k)(y_{k+1} + y_k) / 2` along the last axis (no sorting, no anchors).

    One value per row for 2-D input (a float for 1-D input).

    >>> trapezoid_area(np.array([0.0, 1.0, 1.0]), np.array([0.0, 0.5, 1.0]))
    0.75
    """
    y, x = np.asarray(y), np.asarray(x)
    area = np.sum(np.diff(x, axis=-1) * (y[..., 1:] + y[..., :-1]), axis=-1) / 2
    return float(area) if area.ndim == 0 else area


def roc_auc(tpr_desc: np.ndarray, fpr_desc: np.ndarray) -> np.ndarray | float:
    r"""Exact area under the ROC curve by the trapezoid rule.

    ``tpr_desc`` and ``fpr_desc`` run over thresholds in **descending** order along the last axis and must
    include both anchors: the "nothing positive" point (0, 0) first and the "everything positive" point
    (1, 1) last. On the 8-bit levels this equals ``sklearn.metrics.roc_auc_score`` on the quantised scores
    exactly, since ties then form the diagonal segments that give them half credit. 2-D input (one curve
    per row) gives one area per row.

    .. math:: AUC = \sum_k (FPR_{k+1} - FPR_k) \frac{TPR_{k+1} + TPR_k}{2}

    References
    ----------
    .. [1] T. Fawcett, "An introduction to ROC analysis", Pattern Recognition Letters 27(8), 2006.

    Examples
    --------
    >>> roc_auc(np.array([0.0, 1.0, 1.0]), np.array([0.0, 0.0, 1.0]))  # a perfect ranking
    1.0
    """
    return trapezoid_area(tpr_desc, fpr_desc)


def average_precision(p_desc: np.ndarray, r_desc: np.ndarray) -> np.ndarray | float:
    r"""Step-wise average precision, as ``sklearn.metrics.average_precision_score``.

    .. math:: AP = \sum_k (R_k - R_{k-1}) P_k

    over thresholds in descending order (last axis) with :math:`R_{-1} = 0` (no interpolation). Points
    where the recall does not change (empty levels) contribute nothing, so the 8-bit curve gives the exact
    AP of the quantised scores. 2-D input (one curve per row) gives one AP per row.

    References
    ----------
    .. [1] M. Zhu, "Recall, precision and average precision", University of Waterloo, 2004.

    Examples
    --------
    >>> average_precision(np.array([0.0, 1.0, 0.5]), np.array([0.0, 0.5, 1.0]))
    0.75
    """
    p_desc, r_desc = np.asarray(p_desc), np.asarray(r_desc)
    ap = np.sum(np.diff(r_desc, axis=-1, prepend=0.0) * p_desc, axis=-1)
    return float(ap) if ap.ndim == 0 else ap
