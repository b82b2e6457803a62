"""From per-image records to dataset scores and curves, as each protocol aggregates."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dbdbench.metrics import functional as F
from dbdbench.metrics.image import ImageRecord
from dbdbench.metrics.protocols import Protocol


def _stack(records: Sequence[ImageRecord]) -> dict[str, np.ndarray]:
    counts = [r.counts if r.curve_counts is None else r.curve_counts for r in records]
    tp = np.stack([c.tp for c in counts])
    fp = np.stack([c.fp for c in counts])
    fg = np.array([c.fg for c in counts])[:, None]
    bg = np.array([c.bg for c in counts])[:, None]
    return {"tp": tp, "fp": fp, "fn": fg - tp, "tn": bg - fp}


def _mean0(per_image: np.ndarray, divisor: int | None = None) -> np.ndarray:
    """Mean over images (axis 0); with ``divisor``, the sum over all images divided by it instead.

    PySODMetrics stacks per-image arrays and averages along axis 0 in image order; doing the same keeps the
    float sums bit-identical.
    """
    arr = np.asarray(per_image, dtype=np.float64)
    if divisor is None or divisor == len(arr):
        return np.mean(arr, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):  # MATLAB: x / 0 = Inf, 0 / 0 = NaN
        return np.sum(arr, axis=0) / divisor


def _last_zero_map(records: Sequence[ImageRecord], proto: Protocol) -> str | None:
    """With ``zero_maps="zhao"``, the name of the image read last (names sorted) if its map is all zero."""
    if proto.zero_maps != "zhao":
        return None
    last = max(records, key=lambda r: r.name)
    return last.name if last.zero_map else None


def _divisor(records: Sequence[ImageRecord], proto: Protocol) -> int:
    """How many images the means divide by: all, or one fewer under Zhao et al.'s ``totalNum`` rule.

    ``performCalcu.m`` resets ``totalNum`` to the number of images inside its image loop and decrements it
    when that image's map is all zero, so only the image read last (``dir`` order: names sorted) can change
    the divisor; all images stay in the sums.
    """
    return len(records) - (_last_zero_map(records, proto) is not None)


def _mean_curve(curves_i: dict[str, np.ndarray], proto: Protocol, divisor: int) -> dict[str, np.ndarray]:
    """The dataset curves: means of the per-image curves, or (``curve_average="pr"``) F of mean P and mean R.

    With ``zero_pr_f="nan"`` F is NaN where the mean P and mean R are both 0, as MATLAB's ``0 / 0``.
    """
    if proto.curve_average != "pr":
        return {k: _mean0(v, divisor) for k, v in curves_i.items()}
    mp, mr = _mean0(curves_i["precision"], divisor), _mean0(curves_i["recall"], divisor)
    curve = {"precision": mp, "recall": mr, "fpr": _mean0(curves_i["fpr"], divisor)}
    curve["f"] = F.fbeta_from_pr(mp, mr, proto.beta2)
    if proto.zero_pr_f == "nan":
        curve["f"] = np.where(proto.beta2 * mp + mr == 0, np.nan, curve["f"])
    return curve | {k: _mean0(curves_i[k], divisor) for k in ("iou", "dice")}


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
    divisor = _divisor(records, proto)
    curve = _mean_curve(curves_i, proto, divisor)
    scores = _curve_scores(curve, n, proto)
    scores |= _single_scores(records, proto)
    scores |= _ranking_scores(records, curves_i, n)
    scores |= _structure_scores(records)
    if proto.best_f == "per_image":
        scores["max_f"] = float(_mean0([r.extra["best_f"] for r in records], divisor))
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


def protocol_warnings(records: Sequence[ImageRecord], proto: Protocol, curves: dict) -> list[dict]:
    """Findings where the protocol's own rules, reproduced as its toolkit has them, distort or void a number.

    Each is ``{"code", "message", "files"}`` (the image names it concerns), for the result's
    ``meta["warnings"]``.
    """
    out = []
    cls = "in-focus" if proto.positive == "sharp" else "blur"
    empty = [r.name for r in records if r.empty_gt]
    if proto.empty_mask == "zhao" and empty:
        out.append({"code": "zhao-empty-mask", "files": empty, "message": (
            f"{len(empty)} image(s) with an empty {cls} mask are scored as Zhao et al.'s code scores them: best F "
            "inverts the map at the first threshold only (F = 1 for a map that is all blur and for one that is all "
            "in focus) and the curves invert map and mask (P = 1 wherever anything is labelled)")})  # fmt: skip
    last = _last_zero_map(records, proto)
    if last is not None:
        out.append({"code": "zhao-zero-map-last", "files": [last], "message": (
            f"the {cls} map of {last}, the image read last, is all zero: as in Zhao et al.'s performCalcu.m "
            f"(totalNum), the means add all {len(records)} images but divide by {len(records) - 1}")})  # fmt: skip
    nan_at = [float(t) for t, f in zip(curves["thresholds"], curves["f"], strict=True) if np.isnan(f)]
    if proto.zero_pr_f == "nan" and nan_at:
        out.append({"code": "zhao-nan-f", "files": [], "message": (
            f"no image has a true positive at threshold(s) {', '.join(f'{t:.4g}' for t in nan_at)}: F of the mean "
            "P and mean R is 0 / 0 = NaN there, as in Zhao et al.'s code, so the F curve's mean and the area "
            "under it (auc_fcurve) are NaN")})  # fmt: skip
    return out
