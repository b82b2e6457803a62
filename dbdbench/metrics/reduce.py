"""From per-image records to dataset scores and curves, as each protocol aggregates."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from dbdbench.metrics import functional as F
from dbdbench.metrics.handlers import get_handler
from dbdbench.metrics.image import ImageRecord
from dbdbench.metrics.info import METRICS, get_metric
from dbdbench.metrics.protocols import Protocol
from dbdbench.settings import SHARP


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
    divisor : int
        How many images the means over images divide by (:func:`_divisor`).
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
        self.divisor = _divisor(records, proto)
        self.curve = _mean_curve(self.curves_i, proto, self.divisor)
        self.thresholds = thresholds_of(proto)
        self._auc_ap: tuple[np.ndarray, np.ndarray] | None = None
        self._single: dict[str, np.ndarray] = {}
        self._cache: dict[str, Any] = {}

    def cached(self, name: str, build: Callable[[], Any]) -> Any:
        """``build()`` computed once per reduction under ``name`` (features that several scores share)."""
        if name not in self._cache:
            self._cache[name] = build()
        return self._cache[name]

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

    def extra_values(self, key: str) -> np.ndarray | None:
        """A per-image term of ``ImageRecord.extra`` stacked over images (N, ...), None when it was not computed."""
        if key not in self.records[0].extra:
            return None
        return np.array([r.extra[key] for r in self.records], dtype=np.float64)

    def extra_curve(self, key: str) -> np.ndarray | None:
        """Mean over images of a per-image extra curve (the E-measure curve), None when it was not computed."""
        if key not in self.records[0].extra:
            return None
        return np.mean(np.array([r.extra[key] for r in self.records], dtype=np.float64), axis=0)


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
            scores[key] = handler.dataset_score(red.records, red.divisor)
            continue
        value = get_metric(key).score(red)
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
    """One row per image: its name, the per-image column of every metric that has one (``MetricInfo.row``),
    the mask flags, the protocol handler's per-image score, then the columns of the map terms computed."""
    columns: dict[str, np.ndarray] = {}
    for key, info in METRICS.items():
        if info.row is False:
            continue
        values = info.per_image if info.row is True else info.row
        column = None if values is None else values(red)
        if column is not None:
            columns[key] = column
    plain = [k for k in columns if METRICS[k].term is None]
    mapped = [k for k in columns if METRICS[k].term is not None]
    handler = get_handler(red.proto.best_f)
    rows = []
    for i, r in enumerate(red.records):
        row: dict = {"name": r.name} | {k: _cell(columns[k][i]) for k in plain}
        row |= {"empty_gt": r.empty_gt, "full_gt": r.full_gt, "resized": r.resized}
        if handler is not None and handler.key in r.extra:
            row[handler.key] = float(r.extra[handler.key])
        row |= {k: _cell(columns[k][i]) for k in mapped}
        rows.append(row)
    return rows


def _cell(value) -> float | None:
    """A per-image value as a JSON number, None where it is undefined (NaN)."""
    return None if np.isnan(value) else float(value)


def protocol_warnings(records: Sequence[ImageRecord], proto: Protocol, curves: dict) -> list[dict]:
    """Findings where the protocol's own rules, reproduced as its toolkit has them, distort or void a number.

    Each is ``{"code", "message", "files"}`` (the image names it concerns), for the result's
    ``meta["warnings"]``.
    """
    out = []
    cls = "in-focus" if proto.positive == SHARP else "blur"
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
