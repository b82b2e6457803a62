"""The metric table: every score key declared once, with its labels, direction, definition and reference.

Each :class:`MetricInfo` names the pure function that computes the dataset score from a
:class:`~dbdbench.metrics.reduce.Reduction` (the stacked per-image counts, the protocol's averaged curves
and the per-image extras of one evaluation). Reduction, the protocols' metric lists, result tables and the
leaderboard all read this table, so adding a metric is one function and one :func:`register_metric` call.

>>> from dbdbench.metrics import METRICS
>>> METRICS["auc"].label, METRICS["mae"].higher_is_better
('AUC', False)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from dbdbench.metrics import functional as F

if TYPE_CHECKING:
    from dbdbench.metrics.reduce import Reduction

#: computes one dataset score from a reduction; None when the records lack what it needs
ScoreFn = Callable[["Reduction"], "float | None"]


@dataclass(frozen=True)
class MetricInfo:
    """One score key.

    Attributes
    ----------
    key : str
        The key in ``Result.scores``.
    label : str
        Short label for text tables and plots.
    higher_is_better : bool
        Direction used to rank methods (bold/underline in tables, leaderboard order).
    description : str
        One line; the exact definition depends on the protocol (see ``docs/protocols.md``).
    compute : callable
        ``compute(reduction) -> float or None``: the dataset score (None when not computable from the records,
        e.g. a structure score that was not asked for).
    latex : str or None
        Paper-style LaTeX label; None uses ``label`` escaped.
    reference : str
        Where the definition comes from.
    structure : bool
        True for scores that need the per-image normalised map (S-measure, E-measure, weighted F), which are
        computed only when asked for because they cost far more than the counts.
    """

    key: str
    label: str
    higher_is_better: bool
    description: str
    compute: ScoreFn
    latex: str | None = None
    reference: str = ""
    structure: bool = False


def _curve(name: str, stat: Callable[[np.ndarray], np.floating]) -> ScoreFn:
    """A statistic over thresholds of the protocol's averaged ``name`` curve (descending order, no end point)."""
    return lambda r: float(stat(r.curve_desc(name)))


def _single(kind: str, fn: Callable[..., np.ndarray], beta: bool = False) -> ScoreFn:
    """Mean over images of ``fn(tp, fp, fn)`` at the adaptive or fixed threshold."""
    return lambda r: float(np.mean(fn(*r.single(kind)[:3], *((r.proto.beta2,) if beta else ()))))


def _pooled(fn: Callable[..., np.ndarray], beta: bool = False) -> ScoreFn:
    """``fn(tp, fp, fn)`` of the fixed-threshold counts summed over the dataset."""
    return lambda r: float(fn(*r.single("binary").sum(axis=1)[:3], *((r.proto.beta2,) if beta else ())))


def _mae(r: Reduction) -> float:
    return float(np.mean(np.array([rec.mae for rec in r.records], dtype=np.float64)))


def _auc_fcurve(r: Reduction) -> float:
    # Zhao et al.'s evaluate.m "AUC": trapz(0:.05:1, flip(F curve)), the area under F(t) over the thresholds
    return float(F.trapezoid_area(r.curve["f"][: r.n], r.thresholds[: r.n]))


def _auc(r: Reduction) -> float:
    return _nanmean(r.per_image_auc)


def _ap(r: Reduction) -> float:
    return _nanmean(r.per_image_ap)


def _ar(r: Reduction) -> float:
    return float(np.mean(np.mean(r.curves_i["recall"][:, : r.n], axis=1)))


def _nanmean(v: np.ndarray) -> float:
    return float(np.mean(v[~np.isnan(v)])) if np.any(~np.isnan(v)) else float("nan")


def _extra_mean(key: str) -> ScoreFn:
    """Mean over images of a per-image structure score, when it was computed."""
    return lambda r: r.extra_mean(key)


def _em(stat: Callable[[np.ndarray], np.floating]) -> ScoreFn:
    def compute(r: Reduction) -> float | None:
        em = r.extra_curve("em_curve")
        return None if em is None else float(stat(em[::-1]))

    return compute


_ACHANTA = "Achanta et al., CVPR 2009 (F-beta, beta^2 = 0.3)"
_FAN17, _FAN18 = "Fan et al., ICCV 2017", "Fan et al., IJCAI 2018"

#: every score key, in the order tables show them
METRICS: dict[str, MetricInfo] = {}


def register_metric(info: MetricInfo, *, overwrite: bool = False) -> MetricInfo:
    """Add a metric to the table (an error if the key exists, unless ``overwrite``); returns ``info``."""
    if info.key in METRICS and not overwrite:
        raise ValueError(f"metric {info.key!r} is already registered; pass overwrite=True to replace it")
    METRICS[info.key] = info
    return info


def unregister_metric(key: str) -> None:
    """Remove a metric from the table (for plug-ins and tests that registered one)."""
    get_metric(key)
    del METRICS[key]


def get_metric(key: str) -> MetricInfo:
    """Look up a score key, with an error that lists the valid keys."""
    try:
        return METRICS[key]
    except KeyError:
        raise KeyError(f"Unknown metric {key!r}; valid: {', '.join(METRICS)}") from None


def latex_label(key: str) -> str | None:
    """The paper-style LaTeX label of a metric, or None when it has none (use the escaped text label)."""
    return get_metric(key).latex


for _info in (
    MetricInfo("mae", "MAE", False, "mean absolute error between the map and the mask",
               _mae, latex="MAE", reference="Perazzi et al., CVPR 2012"),
    MetricInfo("max_f", "max F", True, "maximum F-beta over thresholds",
               _curve("f", np.max), latex=r"$F_\beta^{\max}$", reference=_ACHANTA),
    MetricInfo("mean_f", "mean F", True, "mean F-beta over thresholds",
               _curve("f", np.mean), latex=r"$F_\beta^{\mathrm{mean}}$", reference=_ACHANTA),
    MetricInfo("adp_f", "adp F", True, "F-beta at the adaptive threshold min(2 mean, 1)",
               _single("adaptive", F.fbeta, beta=True), latex=r"$F_\beta^{\mathrm{adp}}$", reference=_ACHANTA),
    MetricInfo("bin_f", "F", True, "F-beta at the fixed threshold, mean over images",
               _single("binary", F.fbeta, beta=True), latex=r"$F_\beta$", reference=_ACHANTA),
    MetricInfo("bin_f_pooled", "pooled F", True, "F-beta at the fixed threshold from dataset-summed counts",
               _pooled(F.fbeta, beta=True), latex=r"$F_\beta^{\mathrm{pool}}$", reference=_ACHANTA),
    MetricInfo("max_iou", "max IoU", True, "maximum IoU over thresholds",
               _curve("iou", np.max), latex=r"$\mathrm{IoU}^{\max}$", reference="Jaccard 1912"),
    MetricInfo("mean_iou", "mean IoU", True, "mean IoU over thresholds",
               _curve("iou", np.mean), latex=r"$\mathrm{IoU}^{\mathrm{mean}}$", reference="Jaccard 1912"),
    MetricInfo("adp_iou", "adp IoU", True, "IoU at the adaptive threshold",
               _single("adaptive", F.iou), latex=r"$\mathrm{IoU}^{\mathrm{adp}}$", reference="Jaccard 1912"),
    MetricInfo("bin_iou", "IoU", True, "IoU at the fixed threshold, mean over images",
               _single("binary", F.iou), latex="IoU", reference="Jaccard 1912"),
    MetricInfo("bin_iou_pooled", "pooled IoU", True, "IoU at the fixed threshold from dataset-summed counts",
               _pooled(F.iou), latex=r"$\mathrm{IoU}^{\mathrm{pool}}$", reference="Jaccard 1912"),
    MetricInfo("max_dice", "max Dice", True, "maximum Dice over thresholds",
               _curve("dice", np.max), latex=r"$\mathrm{Dice}^{\max}$", reference="Dice 1945"),
    MetricInfo("mean_dice", "mean Dice", True, "mean Dice over thresholds",
               _curve("dice", np.mean), latex=r"$\mathrm{Dice}^{\mathrm{mean}}$", reference="Dice 1945"),
    MetricInfo("adp_dice", "adp Dice", True, "Dice at the adaptive threshold",
               _single("adaptive", F.dice), latex=r"$\mathrm{Dice}^{\mathrm{adp}}$", reference="Dice 1945"),
    MetricInfo("auc", "AUC", True, "area under the ROC curve",
               _auc, latex="AUC", reference="Fawcett, PRL 2006"),
    MetricInfo("auc_fcurve", "AUC(F)", True, "area under the F-beta-vs-threshold curve (legacy 'AUC' of some toolkits)",
               _auc_fcurve, latex=r"$\mathrm{AUC}_F$", reference="Zhao et al. evaluate_dbd (evaluate.m)"),
    MetricInfo("ap", "AP", True, "average precision (step-wise, as scikit-learn)",
               _ap, latex="AP", reference="Zhu 2004"),
    MetricInfo("ar", "AR", True, "average recall over thresholds",
               _ar, latex="AR", reference="Hosang et al., TPAMI 2016"),
    MetricInfo("sm", "S_m", True, "S-measure (Fan et al. 2017)",
               _extra_mean("sm"), latex="$S_m$", reference=_FAN17, structure=True),
    MetricInfo("max_em", "max E", True, "maximum E-measure over thresholds (Fan et al. 2018)",
               _em(np.max), latex=r"$E_m^{\max}$", reference=_FAN18, structure=True),
    MetricInfo("mean_em", "mean E", True, "mean E-measure over thresholds",
               _em(np.mean), latex=r"$E_m^{\mathrm{mean}}$", reference=_FAN18, structure=True),
    MetricInfo("adp_em", "adp E", True, "E-measure at the adaptive threshold",
               _extra_mean("adp_em"), latex=r"$E_m^{\mathrm{adp}}$", reference=_FAN18, structure=True),
    MetricInfo("wf", "wF", True, "weighted F-measure (Margolin et al. 2014)",
               _extra_mean("wf"), latex=r"$F_\beta^w$", reference="Margolin et al., CVPR 2014", structure=True),
):
    register_metric(_info)
