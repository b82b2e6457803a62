"""From per-image records to dataset scores and curves, as each protocol aggregates."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dbdbench.metrics import functional as F
from dbdbench.metrics.image import ImageRecord
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
    c = _stack(records)
    return {
        "precision": F.precision(c["tp"], c["fp"]),
        "recall": F.recall(c["tp"], c["fn"]),
        "fpr": F.fpr(c["fp"], c["tn"]),
        "f": F.fbeta(c["tp"], c["fp"], c["fn"], proto.beta2),
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


def reduce_records(records: Sequence[ImageRecord], proto: Protocol) -> tuple[dict[str, float], dict, list[dict]]:
    """Dataset scores, curves and per-image rows from the records of one evaluation.

    Returns
    -------
    scores : dict of str to float
        Every score the records support (the caller keeps the requested subset).
    curves : dict of str to ndarray
        ``thresholds, precision, recall, fpr, f`` (and ``iou``, ``dice``) in ascending threshold order.
    per_image : list of dict
        One row per image with its per-image scores.
    """
    if not records:
        raise ValueError("no images were scored; call update() at least once before compute()")
    curves_i = per_image_curves(records, proto)
    n = proto.n_levels  # thresholds proper; index n is the "nothing positive" end point
    keep = slice(0, n + 1) if proto.curve_endpoint else slice(0, n)
    if proto.curve_average == "pr":
        mp, mr = _mean0(curves_i["precision"]), _mean0(curves_i["recall"])
        curve = {"precision": mp, "recall": mr, "fpr": _mean0(curves_i["fpr"])}
        curve["f"] = F.fbeta_from_pr(mp, mr, proto.beta2)
        curve |= {k: _mean0(curves_i[k]) for k in ("iou", "dice")}
    else:
        curve = {k: _mean0(v) for k, v in curves_i.items()}
    scores = _curve_scores(curve, n, proto)
    scores |= _single_scores(records, proto)
    scores |= _ranking_scores(records, curves_i, n)
    scores |= _structure_scores(records)
    if proto.best_f == "per_image":
        scores["max_f"] = float(np.mean([r.extra["best_f"] for r in records]))
    out_curves = {"thresholds": thresholds_of(proto)} | {k: v[keep] for k, v in curve.items()}
    return scores, out_curves, _per_image_rows(records, curves_i, n, proto)


def _desc(v: np.ndarray, n: int) -> np.ndarray:
    # PySODMetrics keeps its 256-point curves in descending threshold order; reducing in that order keeps
    # mean-over-thresholds bit-identical.
    return v[n - 1 :: -1]


def _curve_scores(curve: dict[str, np.ndarray], n: int, proto: Protocol) -> dict[str, float]:
    out = {}
    for key, name in (("f", "f"), ("iou", "iou"), ("dice", "dice")):
        v = _desc(curve[key], n)
        out[f"max_{name}"] = float(np.max(v))
        out[f"mean_{name}"] = float(np.mean(v))
    # Zhao et al.'s evaluate.m "AUC": trapz(0:.05:1, flip(F curve)), the area under F(t) over the thresholds
    out["auc_fcurve"] = F.trapezoid_area(curve["f"][:n], thresholds_of(proto)[:n])
    return out


def _single_scores(records: Sequence[ImageRecord], proto: Protocol) -> dict[str, float]:
    adp = np.array([r.adaptive for r in records]).T  # tp, fp, fn, tn
    bnr = np.array([r.binary for r in records]).T
    pooled = bnr.sum(axis=1)
    return {
        "mae": float(np.mean(np.array([r.mae for r in records], dtype=np.float64))),
        "adp_f": float(np.mean(F.fbeta(adp[0], adp[1], adp[2], proto.beta2))),
        "adp_iou": float(np.mean(F.iou(adp[0], adp[1], adp[2]))),
        "adp_dice": float(np.mean(F.dice(adp[0], adp[1], adp[2]))),
        "bin_f": float(np.mean(F.fbeta(bnr[0], bnr[1], bnr[2], proto.beta2))),
        "bin_iou": float(np.mean(F.iou(bnr[0], bnr[1], bnr[2]))),
        "bin_f_pooled": float(F.fbeta(pooled[0], pooled[1], pooled[2], proto.beta2)),
        "bin_iou_pooled": float(F.iou(pooled[0], pooled[1], pooled[2])),
    }


def _ranking_scores(records: Sequence[ImageRecord], curves_i: dict[str, np.ndarray], n: int) -> dict[str, float]:
    """ROC AUC, AP and average recall: per image, then the mean over images where they are defined."""
    auc, ap = _per_image_auc_ap(records, curves_i, n)
    ar = np.mean(curves_i["recall"][:, :n], axis=1)
    return {"auc": _nanmean(auc), "ap": _nanmean(ap), "ar": float(np.mean(ar))}


def _per_image_auc_ap(records, curves_i, n) -> tuple[np.ndarray, np.ndarray]:
    """Exact ROC AUC (NaN unless both classes are present) and step-wise AP (NaN for an empty mask).

    Curves run in descending threshold order from the "nothing positive" end point (0, 0) to
    "everything positive" (1, 1), as :func:`~dbdbench.metrics.functional.roc_auc` and
    :func:`~dbdbench.metrics.functional.average_precision` define them, vectorised over images.
    """
    tpr = curves_i["recall"][:, n::-1]
    fpr = curves_i["fpr"][:, n::-1]
    prec = curves_i["precision"][:, n::-1]
    fg = np.array([r.counts.fg for r in records])
    bg = np.array([r.counts.bg for r in records])
    auc = np.sum(np.diff(fpr, axis=1) * (tpr[:, 1:] + tpr[:, :-1]), axis=1) / 2
    ap = np.sum(np.diff(tpr, axis=1, prepend=0.0) * prec, axis=1)
    auc[(fg == 0) | (bg == 0)] = np.nan
    ap[fg == 0] = np.nan
    return auc, ap


def _nanmean(v: np.ndarray) -> float:
    return float(np.mean(v[~np.isnan(v)])) if np.any(~np.isnan(v)) else float("nan")


def _structure_scores(records: Sequence[ImageRecord]) -> dict[str, float]:
    """Means over images of the structure scores that were computed (PySOD's order of reduction)."""
    extra = records[0].extra
    out = {}
    for key in ("sm", "adp_em", "wf"):
        if key in extra:
            out[key] = float(np.mean(np.array([r.extra[key] for r in records], dtype=np.float64)))
    if "em_curve" in extra:
        em = np.mean(np.array([r.extra["em_curve"] for r in records], dtype=np.float64), axis=0)[::-1]
        out["max_em"], out["mean_em"] = float(np.max(em)), float(np.mean(em))
    return out


def _per_image_rows(records, curves_i, n, proto) -> list[dict]:
    auc, ap = _per_image_auc_ap(records, curves_i, n)
    max_f = np.max(curves_i["f"][:, :n], axis=1)
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
        if "best_f" in r.extra:
            row["best_f"] = float(r.extra["best_f"])
        row |= {k: float(r.extra[k]) for k in ("sm", "wf") if k in r.extra}
        rows.append(row)
    return rows
