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
    """

    key: str
    label: str
    higher_is_better: bool
    description: str


def _m(key: str, label: str, higher: bool, description: str) -> tuple[str, MetricInfo]:
    return key, MetricInfo(key, label, higher, description)


METRICS: dict[str, MetricInfo] = dict(
    [
        _m("mae", "MAE", False, "mean absolute error between the map and the mask"),
        _m("max_f", "maxF", True, "maximum F-beta over thresholds"),
        _m("mean_f", "meanF", True, "mean F-beta over thresholds"),
        _m("adp_f", "adpF", True, "F-beta at the adaptive threshold min(2 mean, 1)"),
        _m("bin_f", "F", True, "F-beta at the fixed threshold, mean over images"),
        _m("bin_f_pooled", "F(pooled)", True, "F-beta at the fixed threshold from dataset-summed counts"),
        _m("max_iou", "maxIoU", True, "maximum IoU over thresholds"),
        _m("mean_iou", "meanIoU", True, "mean IoU over thresholds"),
        _m("adp_iou", "adpIoU", True, "IoU at the adaptive threshold"),
        _m("bin_iou", "IoU", True, "IoU at the fixed threshold, mean over images"),
        _m("bin_iou_pooled", "IoU(pooled)", True, "IoU at the fixed threshold from dataset-summed counts"),
        _m("max_dice", "maxDice", True, "maximum Dice over thresholds"),
        _m("mean_dice", "meanDice", True, "mean Dice over thresholds"),
        _m("adp_dice", "adpDice", True, "Dice at the adaptive threshold"),
        _m("auc", "AUC", True, "area under the ROC curve"),
        _m("auc_fcurve", "AUC(F)", True, "area under the F-beta-vs-threshold curve (legacy 'AUC' of some toolkits)"),
        _m("ap", "AP", True, "average precision (step-wise, as scikit-learn)"),
        _m("ar", "AR", True, "average recall over thresholds"),
        _m("sm", "S_m", True, "S-measure (Fan et al. 2017)"),
        _m("max_em", "maxE", True, "maximum E-measure over thresholds (Fan et al. 2018)"),
        _m("mean_em", "meanE", True, "mean E-measure over thresholds"),
        _m("adp_em", "adpE", True, "E-measure at the adaptive threshold"),
        _m("wf", "wF", True, "weighted F-measure (Margolin et al. 2014)"),
    ]
)


def get_metric(key: str) -> MetricInfo:
    """Look up a score key, with an error that lists the valid keys."""
    try:
        return METRICS[key]
    except KeyError:
        raise KeyError(f"Unknown metric {key!r}; valid: {', '.join(METRICS)}") from None
