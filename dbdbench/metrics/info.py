"""The metric table: every score key declared once, with its labels, direction, definition and reference.

Each :class:`MetricInfo` names the pure functions that compute the score from a
:class:`~dbdbench.metrics.reduce.Reduction` (the stacked per-image counts, the protocol's averaged curves
and the per-image terms of one evaluation): the dataset score, its per-image form or resampling features
(for the confidence intervals and tests of :mod:`dbdbench.stats`), its column of the per-image rows, and the
per-image term of the map it needs, if any. The reduction, the per-image rows, the statistics, the torch
path, the protocols' metric lists, table captions and columns, and the leaderboard all read this table, so
adding a metric is one function and one :func:`register_metric` call.

>>> from dbdbench.metrics import METRICS
>>> METRICS["auc"].label, METRICS["mae"].higher_is_better
('AUC', False)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from dbdbench.metrics import functional as F

if TYPE_CHECKING:
    from dbdbench.metrics.protocols import Protocol
    from dbdbench.metrics.reduce import Reduction

#: computes one dataset score from a reduction; None when the records lack what it needs
ScoreFn = Callable[["Reduction"], "float | None"]
#: per-image values of shape (N,) from a reduction (NaN where undefined); None when the records lack them
PerImageFn = Callable[["Reduction"], "np.ndarray | None"]
#: maps weighted means of per-image features, shape (B, K), to B scores
FinishFn = Callable[[np.ndarray], np.ndarray]
#: ``(features (N, K), finish)`` of a score that is not a mean over images; None when the records lack them
ResampleFn = Callable[["Reduction"], "tuple[np.ndarray, FinishFn] | None"]
Threshold = Literal["", "curve", "adaptive", "binary"]


@dataclass(frozen=True)
class ImageTerm:
    """A per-image number (or curve) computed from the protocol's normalised map, stored in ``ImageRecord.extra``.

    Attributes
    ----------
    key : str
        Key in ``ImageRecord.extra`` (and in the counts file beside a result); metrics that read the same
        term name the same key, and it is computed once per image.
    compute : callable
        ``compute(p, g, proto) -> float or ndarray`` on the normalised map ``p`` (float64, [0, 1]) and the
        boolean mask ``g``.
    width : int
        Values per image: 1 for a float, more for a curve (the torch path packs terms into fixed columns).
    """

    key: str
    compute: Callable[[np.ndarray, np.ndarray, Protocol], float | np.ndarray]
    width: int = 1


@dataclass(frozen=True)
class MetricInfo:
    """One score key, with everything each consumer of the score needs.

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
    compute : callable or None
        ``compute(reduction) -> float or None``: the dataset score (None when not computable from the records,
        e.g. a structure score that was not asked for). None: the mean over images of ``per_image`` (images
        whose value is NaN left out).
    latex : str or None
        Paper-style LaTeX label; None uses ``label`` escaped.
    reference : str
        Where the definition comes from.
    per_image : callable or None
        ``per_image(reduction) -> ndarray (N,)`` for a score that is the mean over images of a per-image value
        (NaN where undefined): the resampling statistics (:mod:`dbdbench.stats`) recompute the score on a
        resample of images from these values.
    resample : callable or None
        For a score that is not such a mean (a statistic of averaged curves, pooled counts):
        ``resample(reduction) -> (features, finish)`` with per-image features (N, K) such that the score is
        ``finish(w @ features / sum(w))`` for image weights ``w`` (all ones: the dataset score). Features
        that several scores share should come from ``reduction.cached`` so that they are computed once.
    row : bool or callable
        True: the ``per_image`` values are a column of the result's per-image rows (and the score can be
        recomputed from the rows alone). A callable ``row(reduction) -> ndarray (N,)``: that column instead,
        an informative per-image value of which the dataset score is not the mean (e.g. max F of each image's
        own curve). False: no column.
    term : ImageTerm or None
        The per-image term of the normalised map that the score needs (S-measure, E-measure, weighted F).
        Such scores cost far more than the counts and are computed only when asked for (``structure``).
    threshold : {"", "curve", "adaptive", "binary"}
        Where the score thresholds the map: over the protocol's thresholds, at the adaptive threshold
        ``min(adaptive_factor mean(p), 1)``, at ``binary_threshold``, or not at all (table captions; the
        adaptive scores are left out of the default columns).
    reads : tuple of str
        Other :class:`~dbdbench.metrics.protocols.Protocol` settings that the score reads and that a
        table caption states (``"beta2"``, ``"curve_average"``).
    note : str
        A clause that a table caption adds when the score is shown (e.g. how the AUC is computed).
    """

    key: str
    label: str
    higher_is_better: bool
    description: str
    compute: ScoreFn | None = None
    latex: str | None = None
    reference: str = ""
    per_image: PerImageFn | None = None
    resample: ResampleFn | None = None
    row: bool | PerImageFn = False
    term: ImageTerm | None = None
    threshold: Threshold = ""
    reads: tuple[str, ...] = ()
    note: str = ""

    def __post_init__(self) -> None:
        if self.compute is None and self.per_image is None:
            raise ValueError(f"metric {self.key!r}: give compute or per_image (its dataset score is their mean)")
        if self.row is True and self.per_image is None:
            raise ValueError(f"metric {self.key!r}: row=True needs per_image (the column's values)")
        if self.threshold not in ("", "curve", "adaptive", "binary"):
            raise ValueError(f"metric {self.key!r}: threshold={self.threshold!r} is not valid; "
                             "valid: '', 'curve', 'adaptive', 'binary'")

    @property
    def structure(self) -> bool:
        """True for scores that need a per-image term of the normalised map (computed only when asked for)."""
        return self.term is not None

    def score(self, red: Reduction) -> float | None:
        """The dataset score: ``compute``, else the mean over images of ``per_image`` (NaN values left out)."""
        if self.compute is not None:
            return self.compute(red)
        values = self.per_image(red) if self.per_image is not None else None
        return None if values is None else _nanmean(values)


def _nanmean(v: np.ndarray) -> float:
    return float(np.mean(v[~np.isnan(v)])) if np.any(~np.isnan(v)) else float("nan")


def _curve(name: str, stat: Callable[[np.ndarray], np.floating]) -> ScoreFn:
    """A statistic over thresholds of the protocol's averaged ``name`` curve (descending order, no end point)."""
    return lambda r: float(stat(r.curve_desc(name)))


def _single(kind: str, fn: Callable[..., np.ndarray], beta: bool = False) -> PerImageFn:
    """Per-image ``fn(tp, fp, fn)`` at the adaptive or fixed threshold."""
    return lambda r: np.asarray(fn(*r.single(kind)[:3], *((r.proto.beta2,) if beta else ())), dtype=np.float64)


def _pooled(fn: Callable[..., np.ndarray], beta: bool = False) -> ScoreFn:
    """``fn(tp, fp, fn)`` of the fixed-threshold counts summed over the dataset."""
    return lambda r: float(fn(*r.single("binary").sum(axis=1)[:3], *((r.proto.beta2,) if beta else ())))


def _pooled_resample(fn: Callable[..., np.ndarray], beta: bool = False) -> ResampleFn:
    # a ratio of the summed counts equals that of the mean counts, so the features are the per-image counts
    def resample(r: Reduction) -> tuple[np.ndarray, FinishFn]:
        beta2 = (r.proto.beta2,) if beta else ()
        counts = r.cached("binary_counts", lambda: np.array(r.single("binary").T, dtype=np.float64)[:, :3])
        return counts, lambda m: fn(m[..., 0], m[..., 1], m[..., 2], *beta2)

    return resample


def _mae(r: Reduction) -> np.ndarray:
    return np.array([rec.mae for rec in r.records], dtype=np.float64)


def _auc_fcurve(r: Reduction) -> float:
    # Zhao et al.'s evaluate.m "AUC": trapz(0:.05:1, flip(F curve)), the area under F(t) over the thresholds
    return float(F.trapezoid_area(r.curve["f"][: r.n], r.thresholds[: r.n]))


def _ar(r: Reduction) -> np.ndarray:
    return np.mean(r.curves_i["recall"][:, : r.n], axis=1)


def _own_max_f(r: Reduction) -> np.ndarray:
    """Each image's best F over the thresholds of its own curve (a per-image row, not max F's per-image form)."""
    return np.max(r.curves_i["f"][:, : r.n], axis=1)


def _f_features(r: Reduction) -> np.ndarray:
    """Per-image features whose mean gives the protocol's dataset F curve (:func:`_f_of`)."""
    n = r.n
    if r.proto.curve_average == "pr":
        return r.cached("f_pr", lambda: np.hstack([r.curves_i["precision"][:, :n], r.curves_i["recall"][:, :n]]))
    return r.cached("f_images", lambda: r.curves_i["f"][:, :n])


def _f_of(r: Reduction) -> FinishFn:
    """The dataset F curve from the mean of :func:`_f_features`: F of mean P and R, or the mean F curve."""
    n, beta2 = r.n, r.proto.beta2
    if r.proto.curve_average == "pr":
        return lambda m: F.fbeta_from_pr(m[..., :n], m[..., n:], beta2)
    return lambda m: m


def _f_curve_stat(stat: Callable[[np.ndarray], np.ndarray]) -> ResampleFn:
    """A statistic of the dataset F curve, recomputed from per-image features."""
    def resample(r: Reduction) -> tuple[np.ndarray, FinishFn]:
        f_of = _f_of(r)
        return _f_features(r), lambda m: stat(f_of(m))

    return resample


def _max(m: np.ndarray) -> np.ndarray:
    return np.max(m, axis=-1)


def _mean(m: np.ndarray) -> np.ndarray:
    return np.mean(m, axis=-1)


def _f_area(r: Reduction) -> tuple[np.ndarray, FinishFn]:
    f_of, dx = _f_of(r), np.diff(r.thresholds[: r.n])

    def area(m: np.ndarray) -> np.ndarray:
        y = f_of(m)
        return np.sum(dx * (y[..., 1:] + y[..., :-1]), axis=-1) / 2

    return _f_features(r), area


def _curve_stat(name: str, stat: Callable[[np.ndarray], np.ndarray]) -> ResampleFn:
    """A statistic of the mean of the per-image ``name`` curves (one feature array for all its statistics)."""
    return lambda r: (r.cached(f"curve_{name}", lambda: r.curves_i[name][:, : r.n]), stat)


def _auc(r: Reduction) -> np.ndarray:
    return r.per_image_auc


def _ap(r: Reduction) -> np.ndarray:
    return r.per_image_ap


def _extra(key: str) -> PerImageFn:
    """A per-image term as an array over images, when it was computed."""
    return lambda r: r.extra_values(key)


def _em(stat: Callable[[np.ndarray], np.floating]) -> ScoreFn:
    def compute(r: Reduction) -> float | None:
        em = r.extra_curve("em_curve")
        return None if em is None else float(stat(em[::-1]))

    return compute


def _em_resample(stat: Callable[[np.ndarray], np.ndarray]) -> ResampleFn:
    def resample(r: Reduction) -> tuple[np.ndarray, FinishFn] | None:
        em = r.cached("em_curve", lambda: r.extra_values("em_curve"))
        return None if em is None else (em, stat)

    return resample


def _s_measure(p: np.ndarray, g: np.ndarray, proto: Protocol) -> float:
    from dbdbench.metrics.structure import s_measure

    return s_measure(p, g)


def _e_curve(p: np.ndarray, g: np.ndarray, proto: Protocol) -> np.ndarray:
    from dbdbench.metrics.structure import e_measure_curve

    return e_measure_curve(p, g)


def _e_adaptive(p: np.ndarray, g: np.ndarray, proto: Protocol) -> float:
    from dbdbench.metrics.structure import e_measure_adaptive

    return e_measure_adaptive(p, g)


def _weighted_f(p: np.ndarray, g: np.ndarray, proto: Protocol) -> float:
    from dbdbench.metrics.structure import weighted_fmeasure

    return weighted_fmeasure(p, g, beta2=proto.wf_beta2)


_SM, _WF = ImageTerm("sm", _s_measure), ImageTerm("wf", _weighted_f)
_EM_CURVE, _EM_ADP = ImageTerm("em_curve", _e_curve, width=256), ImageTerm("adp_em", _e_adaptive)
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


def structure_keys() -> frozenset[str]:
    """The scores that need a per-image term of the normalised map (``MetricInfo.term``)."""
    return frozenset(k for k, m in METRICS.items() if m.term is not None)


def image_terms(keys: Iterable[str]) -> list[ImageTerm]:
    """The distinct per-image terms that the scores ``keys`` need, in table order (each once)."""
    wanted = set(keys)
    terms: dict[str, ImageTerm] = {}
    for key, info in METRICS.items():
        if key in wanted and info.term is not None:
            terms.setdefault(info.term.key, info.term)
    return list(terms.values())


_F, _PR = ("beta2",), ("beta2", "curve_average")
_AUC_NOTE = "AUC = exact area under the ROC curve"
_AUCF_NOTE = "AUC_F = area under the F-vs-threshold curve"

for _info in (
    MetricInfo("mae", "MAE", False, "mean absolute error between the map and the mask",
               per_image=_mae, row=True, latex="MAE", reference="Perazzi et al., CVPR 2012"),
    MetricInfo("max_f", "max F", True, "maximum F-beta over thresholds",
               _curve("f", np.max), resample=_f_curve_stat(_max), row=_own_max_f, threshold="curve", reads=_PR,
               latex=r"$F_\beta^{\max}$", reference=_ACHANTA),
    MetricInfo("mean_f", "mean F", True, "mean F-beta over thresholds",
               _curve("f", np.mean), resample=_f_curve_stat(_mean), threshold="curve", reads=_PR,
               latex=r"$F_\beta^{\mathrm{mean}}$", reference=_ACHANTA),
    MetricInfo("adp_f", "adp F", True, "F-beta at the adaptive threshold min(2 mean, 1)",
               per_image=_single("adaptive", F.fbeta, beta=True), threshold="adaptive", reads=_F,
               latex=r"$F_\beta^{\mathrm{adp}}$", reference=_ACHANTA),
    MetricInfo("bin_f", "F", True, "F-beta at the fixed threshold, mean over images",
               per_image=_single("binary", F.fbeta, beta=True), row=True, threshold="binary", reads=_F,
               latex=r"$F_\beta$", reference=_ACHANTA),
    MetricInfo("bin_f_pooled", "pooled F", True, "F-beta at the fixed threshold from dataset-summed counts",
               _pooled(F.fbeta, beta=True), resample=_pooled_resample(F.fbeta, beta=True), threshold="binary",
               reads=_F, latex=r"$F_\beta^{\mathrm{pool}}$", reference=_ACHANTA),
    MetricInfo("max_iou", "max IoU", True, "maximum IoU over thresholds",
               _curve("iou", np.max), resample=_curve_stat("iou", _max), threshold="curve",
               latex=r"$\mathrm{IoU}^{\max}$", reference="Jaccard 1912"),
    MetricInfo("mean_iou", "mean IoU", True, "mean IoU over thresholds",
               _curve("iou", np.mean), resample=_curve_stat("iou", _mean), threshold="curve",
               latex=r"$\mathrm{IoU}^{\mathrm{mean}}$", reference="Jaccard 1912"),
    MetricInfo("adp_iou", "adp IoU", True, "IoU at the adaptive threshold",
               per_image=_single("adaptive", F.iou), threshold="adaptive",
               latex=r"$\mathrm{IoU}^{\mathrm{adp}}$", reference="Jaccard 1912"),
    MetricInfo("bin_iou", "IoU", True, "IoU at the fixed threshold, mean over images",
               per_image=_single("binary", F.iou), row=True, threshold="binary", latex="IoU", reference="Jaccard 1912"),
    MetricInfo("bin_iou_pooled", "pooled IoU", True, "IoU at the fixed threshold from dataset-summed counts",
               _pooled(F.iou), resample=_pooled_resample(F.iou), threshold="binary",
               latex=r"$\mathrm{IoU}^{\mathrm{pool}}$", reference="Jaccard 1912"),
    MetricInfo("max_dice", "max Dice", True, "maximum Dice over thresholds",
               _curve("dice", np.max), resample=_curve_stat("dice", _max), threshold="curve",
               latex=r"$\mathrm{Dice}^{\max}$", reference="Dice 1945"),
    MetricInfo("mean_dice", "mean Dice", True, "mean Dice over thresholds",
               _curve("dice", np.mean), resample=_curve_stat("dice", _mean), threshold="curve",
               latex=r"$\mathrm{Dice}^{\mathrm{mean}}$", reference="Dice 1945"),
    MetricInfo("adp_dice", "adp Dice", True, "Dice at the adaptive threshold",
               per_image=_single("adaptive", F.dice), threshold="adaptive",
               latex=r"$\mathrm{Dice}^{\mathrm{adp}}$", reference="Dice 1945"),
    MetricInfo("auc", "AUC", True, "area under the ROC curve",
               per_image=_auc, row=True, threshold="curve", note=_AUC_NOTE, latex="AUC", reference="Fawcett, PRL 2006"),
    MetricInfo("auc_fcurve", "AUC(F)", True, "area under the F-beta-vs-threshold curve (legacy 'AUC' of some toolkits)",
               _auc_fcurve, resample=_f_area, threshold="curve", reads=_PR, note=_AUCF_NOTE,
               latex=r"$\mathrm{AUC}_F$", reference="Zhao et al. evaluate_dbd (evaluate.m)"),
    MetricInfo("ap", "AP", True, "average precision (step-wise, as scikit-learn)",
               per_image=_ap, row=True, threshold="curve", latex="AP", reference="Zhu 2004"),
    MetricInfo("ar", "AR", True, "average recall over thresholds",
               per_image=_ar, threshold="curve", latex="AR", reference="Hosang et al., TPAMI 2016"),
    MetricInfo("sm", "S_m", True, "S-measure (Fan et al. 2017)",
               per_image=_extra("sm"), row=True, term=_SM, latex="$S_m$", reference=_FAN17),
    MetricInfo("max_em", "max E", True, "maximum E-measure over thresholds (Fan et al. 2018)",
               _em(np.max), resample=_em_resample(_max), term=_EM_CURVE, threshold="curve",
               latex=r"$E_m^{\max}$", reference=_FAN18),
    MetricInfo("mean_em", "mean E", True, "mean E-measure over thresholds",
               _em(np.mean), resample=_em_resample(_mean), term=_EM_CURVE, threshold="curve",
               latex=r"$E_m^{\mathrm{mean}}$", reference=_FAN18),
    MetricInfo("adp_em", "adp E", True, "E-measure at the adaptive threshold",
               per_image=_extra("adp_em"), term=_EM_ADP, threshold="adaptive",
               latex=r"$E_m^{\mathrm{adp}}$", reference=_FAN18),
    MetricInfo("wf", "wF", True, "weighted F-measure (Margolin et al. 2014)",
               per_image=_extra("wf"), row=True, term=_WF, reads=("wf_beta2",),
               latex=r"$F_\beta^w$", reference="Margolin et al., CVPR 2014"),
):
    register_metric(_info)
