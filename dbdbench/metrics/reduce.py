"""From per-image records to dataset scores and curves, as each protocol aggregates."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from dbdbench.metrics import functional as F
from dbdbench.metrics.handlers import get_handler
from dbdbench.metrics.image import ImageRecord
from dbdbench.metrics.info import METRICS, get_metric
from dbdbench.metrics.protocols import Protocol


def _stack(records: Sequence[ImageRecord]) -> dict[str, np.ndarray]:
    tp = np.stack([r.counts.tp for r in records])
    fp = np.stack([r.counts.fp for r in records])
    fg = np.array([r.counts.fg for r in records])[:, None]
    bg = np.array([r.counts.bg for r in records])[:, None]
    return {"tp": tp, "fp": fp, "fn": fg - tp, "tn": bg - fp}


def _mean0(per_image: np.ndarray) -> np.ndarray:
    # PySODMetrics stacks per-image arrays and averages along axis 0 in image order; do the same so the
    # float sums agree bit for bit.
    return np.mean(np.asarray(per_image, dtype=np.float64), axis=0)


def per_image_curves(records: Sequence[ImageRecord], proto: Protocol) -> dict[str, np.ndarray]:
    """Per-image P, R, FPR, F, IoU, Dice curves, shape (N, n_levels + 1), ascending thresholds, end point last."""
    return _curves_of(_stack(records), proto.beta2)


def _curves_of(c: dict[str, np.ndarray], beta2: float) -> dict[str, np.ndarray]:
    return {
        "precision": F.precision(c["tp"], c["fp"]),
        "recall": F.recall(c["tp"], c["fn"]),
        "fpr": F.fpr(c["fp"], c["tn"]),
        "f": F.fbeta(c["tp"], c["fp"], c["fn"], beta2),
        "iou": F.iou(c["tp"], c["fp"], c["fn"]),
        "dice": F.dice(c["tp"], c["fp"], c["fn"]),
    }


def thresholds_of(proto: Protocol) -> np.ndarray:
    """The protocol's thresholds on the [0, 1] scale, ascending, with the end point when it has one."""
    if proto.thresholds is None:
        t = np.arange(256) / 255
    else:
        t = np.asarray(proto.thresholds, dtype=np.float64)
        if t.max() > 1:  # the HiFST script thresholds a 0..255 score
            t = t / 255
    return np.append(t, 256 / 255) if proto.curve_endpoint else t


class Reduction:
    """Everything the metric table's score functions read, computed once per evaluation.

    Attributes
    ----------
    records : sequence of ImageRecord
    proto : Protocol
    n : int
        Number of thresholds proper; curve index ``n`` is the "nothing positive" end point.
    stacked : dict of str to ndarray
        Per-image cumulative counts ``tp, fp, fn, tn``, shape (N, n_levels + 1), ascending thresholds.
    curves_i : dict of str to ndarray
        Per-image curves (:func:`per_image_curves`).
    curve : dict of str to ndarray
        The protocol's dataset curves: means of per-image curves, or F of mean P and R (``curve_average``).
    thresholds : ndarray
        :func:`thresholds_of` the protocol.
    """

    def __init__(self, records: Sequence[ImageRecord], proto: Protocol) -> None:
        if not records:
            raise ValueError("no images were scored; call update() at least once before compute()")
        self.records, self.proto, self.n = records, proto, proto.n_levels
        self.stacked = _stack(records)
        self.curves_i = _curves_of(self.stacked, proto.beta2)
        self.curve = _average_curves(self.curves_i, proto)
        self.thresholds = thresholds_of(proto)
        self._auc_ap: tuple[np.ndarray, np.ndarray] | None = None
        self._single: dict[str, np.ndarray] = {}

    def curve_desc(self, name: str) -> np.ndarray:
        # PySODMetrics keeps its 256-point curves in descending threshold order; reducing in that order keeps
        # mean-over-thresholds bit-identical.
        return self.curve[name][self.n - 1 :: -1]

    def single(self, kind: str) -> np.ndarray:
        """Counts ``tp, fp, fn, tn`` (rows) of every image (columns) at the ``"adaptive"`` or ``"binary"`` threshold."""
        if kind not in self._single:
            self._single[kind] = np.array([getattr(r, kind) for r in self.records]).T
        return self._single[kind]

    @property
    def per_image_auc(self) -> np.ndarray:
        return self._ranking()[0]

    @property
    def per_image_ap(self) -> np.ndarray:
        return self._ranking()[1]

    def _ranking(self) -> tuple[np.ndarray, np.ndarray]:
        if self._auc_ap is None:
            self._auc_ap = _per_image_auc_ap(self.records, self.curves_i, self.n)
        return self._auc_ap

    def extra_mean(self, key: str) -> float | None:
        """Mean over images of a per-image extra (structure scores), None when it was not computed."""
        if key not in self.records[0].extra:
            return None
        return float(np.mean(np.array([r.extra[key] for r in self.records], dtype=np.float64)))

    def extra_curve(self, key: str) -> np.ndarray | None:
        """Mean over images of a per-image extra curve (the E-measure curve), None when it was not computed."""
        if key not in self.records[0].extra:
            return None
        return np.mean(np.array([r.extra[key] for r in self.records], dtype=np.float64), axis=0)


def _average_curves(curves_i: dict[str, np.ndarray], proto: Protocol) -> dict[str, np.ndarray]:
    if proto.curve_average == "pr":
        mp, mr = _mean0(curves_i["precision"]), _mean0(curves_i["recall"])
        curve = {"precision": mp, "recall": mr, "fpr": _mean0(curves_i["fpr"])}
        curve["f"] = F.fbeta_from_pr(mp, mr, proto.beta2)
        return curve | {k: _mean0(curves_i[k]) for k in ("iou", "dice")}
    return {k: _mean0(v) for k, v in curves_i.items()}


def dataset_scores(red: Reduction, metrics: Iterable[str] | None = None) -> dict[str, float]:
    """The dataset scores of ``metrics`` (default: every metric in the table the records support).

    Each score is the ``compute`` function of its :data:`~dbdbench.metrics.info.METRICS` entry; the
    protocol's image handler (:mod:`dbdbench.metrics.handlers`) then replaces the scores it defines.
    """
    keys = list(METRICS) if metrics is None else list(metrics)
    handler = get_handler(red.proto.best_f)
    scores = {}
    for key in keys:
        if handler is not None and key in handler.overrides:
            scores[key] = handler.dataset_score(red.records)
            continue
        value = get_metric(key).compute(red)
        if value is not None:
            scores[key] = value
    return scores


def reduce_records(
    records: Sequence[ImageRecord], proto: Protocol, metrics: Iterable[str] | None = None
) -> tuple[dict[str, float], dict, list[dict]]:
    """Dataset scores, curves and per-image rows from the records of one evaluation.

    Returns
    -------
    scores : dict of str to float
        The scores of ``metrics`` (default: every score the records support).
    curves : dict of str to ndarray
        ``thresholds, precision, recall, fpr, f`` (and ``iou``, ``dice``) in ascending threshold order.
    per_image : list of dict
        One row per image with its per-image scores.
    """
    red = Reduction(records, proto)
    keep = slice(0, red.n + 1) if proto.curve_endpoint else slice(0, red.n)
    out_curves = {"thresholds": red.thresholds} | {k: v[keep] for k, v in red.curve.items()}
    return dataset_scores(red, metrics), out_curves, _per_image_rows(red)


def _per_image_auc_ap(records, curves_i, n) -> tuple[np.ndarray, np.ndarray]:
    """Exact ROC AUC (NaN unless both classes are present) and step-wise AP (NaN for an empty mask).

    Curves run in descending threshold order from the "nothing positive" end point (0, 0) to
    "everything positive" (1, 1), as :func:`~dbdbench.metrics.functional.roc_auc` and
    :func:`~dbdbench.metrics.functional.average_precision` define them, one row per image.
    """
    tpr = curves_i["recall"][:, n::-1]
    fpr = curves_i["fpr"][:, n::-1]
    prec = curves_i["precision"][:, n::-1]
    fg = np.array([r.counts.fg for r in records])
    bg = np.array([r.counts.bg for r in records])
    auc = np.asarray(F.roc_auc(tpr, fpr), dtype=np.float64)
    ap = np.asarray(F.average_precision(prec, tpr), dtype=np.float64)
    auc[(fg == 0) | (bg == 0)] = np.nan
    ap[fg == 0] = np.nan
    return auc, ap


def _per_image_rows(red: Reduction) -> list[dict]:
    records, curves_i, n, proto = red.records, red.curves_i, red.n, red.proto
    auc, ap = red.per_image_auc, red.per_image_ap
    max_f = np.max(curves_i["f"][:, :n], axis=1)
    handler = get_handler(proto.best_f)
    rows = []
    for i, r in enumerate(records):
        tp, fp, fn, _ = r.binary
        row = {
            "name": r.name,
            "mae": r.mae,
            "max_f": float(max_f[i]),
            "bin_f": float(F.fbeta(tp, fp, fn, proto.beta2)),
            "bin_iou": float(F.iou(tp, fp, fn)),
            "auc": None if np.isnan(auc[i]) else float(auc[i]),
            "ap": None if np.isnan(ap[i]) else float(ap[i]),
            "empty_gt": r.empty_gt,
            "full_gt": r.full_gt,
            "resized": r.resized,
        }
        if handler is not None and handler.key in r.extra:
            row[handler.key] = float(r.extra[handler.key])
        row |= {k: float(r.extra[k]) for k in ("sm", "wf") if k in r.extra}
        rows.append(row)
    return rows
