"""The registry of score names: what each key in ``Result.scores`` means and which way is better."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MetricInfo:
    """One score key.

    Attributes
    ----------
    key : str
        The key in ``Result.scores``.
    label : str
        Short label for tables and plots.
    higher_is_better : bool
        Direction used to rank methods (bold/underline in tables).
    description : str
        One line; the exact definition depends on the protocol (see ``docs/protocols.md``).
    latex : str
        The label in LaTeX tables, in the notation of the DBD papers (math mode where needed).
    """

    key: str
    label: str
    higher_is_better: bool
    description: str
    latex: str = ""


def _m(key: str, label: str, higher: bool, description: str, latex: str) -> tuple[str, MetricInfo]:
    return key, MetricInfo(key, label, higher, description, latex)


METRICS: dict[str, MetricInfo] = dict(
    [
        _m("mae", "MAE", False, "mean absolute error between the map and the mask", "MAE"),
        _m("max_f", "max F", True, "maximum F-beta over thresholds", r"$F_\beta^{\max}$"),
        _m("mean_f", "mean F", True, "mean F-beta over thresholds", r"$F_\beta^{\mathrm{mean}}$"),
        _m("adp_f", "adp F", True, "F-beta at the adaptive threshold min(2 mean, 1)", r"$F_\beta^{\mathrm{adp}}$"),
        _m("bin_f", "F", True, "F-beta at the fixed threshold, mean over images", r"$F_\beta$"),
        _m(
            "bin_f_pooled",
            "pooled F",
            True,
            "F-beta at the fixed threshold from dataset-summed counts",
            r"$F_\beta^{\mathrm{pool}}$",
        ),
        _m("max_iou", "max IoU", True, "maximum IoU over thresholds", r"$\mathrm{IoU}^{\max}$"),
        _m("mean_iou", "mean IoU", True, "mean IoU over thresholds", r"$\mathrm{IoU}^{\mathrm{mean}}$"),
        _m("adp_iou", "adp IoU", True, "IoU at the adaptive threshold", r"$\mathrm{IoU}^{\mathrm{adp}}$"),
        _m("bin_iou", "IoU", True, "IoU at the fixed threshold, mean over images", "IoU"),
        _m(
            "bin_iou_pooled",
            "pooled IoU",
            True,
            "IoU at the fixed threshold from dataset-summed counts",
            r"$\mathrm{IoU}^{\mathrm{pool}}$",
        ),
        _m("max_dice", "max Dice", True, "maximum Dice over thresholds", r"$\mathrm{Dice}^{\max}$"),
        _m("mean_dice", "mean Dice", True, "mean Dice over thresholds", r"$\mathrm{Dice}^{\mathrm{mean}}$"),
        _m("adp_dice", "adp Dice", True, "Dice at the adaptive threshold", r"$\mathrm{Dice}^{\mathrm{adp}}$"),
        _m("auc", "AUC", True, "area under the ROC curve", "AUC"),
        _m(
            "auc_fcurve",
            "AUC(F)",
            True,
            "area under the F-beta-vs-threshold curve (legacy 'AUC' of some toolkits)",
            r"$\mathrm{AUC}_F$",
        ),
        _m("ap", "AP", True, "average precision (step-wise, as scikit-learn)", "AP"),
        _m("ar", "AR", True, "average recall over thresholds", "AR"),
        _m("sm", "S_m", True, "S-measure (Fan et al. 2017)", r"$S_m$"),
        _m("max_em", "max E", True, "maximum E-measure over thresholds (Fan et al. 2018)", r"$E_m^{\max}$"),
        _m("mean_em", "mean E", True, "mean E-measure over thresholds", r"$E_m^{\mathrm{mean}}$"),
        _m("adp_em", "adp E", True, "E-measure at the adaptive threshold", r"$E_m^{\mathrm{adp}}$"),
        _m("wf", "wF", True, "weighted F-measure (Margolin et al. 2014)", r"$F_\beta^w$"),
    ]
)


def get_metric(key: str) -> MetricInfo:
    """Look up a score key, with an error that lists the valid keys."""
    try:
        return METRICS[key]
    except KeyError:
        raise KeyError(f"Unknown metric {key!r}; valid: {', '.join(METRICS)}") from None
