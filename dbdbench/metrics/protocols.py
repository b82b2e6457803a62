"""Named evaluation protocols: frozen sets of the choices that make one toolkit's numbers.

The same maps give max-F from 0.80 to 0.91 depending on how the mask is binarised, whether maps are
normalised, which thresholds and comparator are used, which class is positive and how images are
aggregated. A :class:`Protocol` fixes all of these; every result carries the protocol's name and settings.
``docs/protocols.md`` states each choice and its source.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from dbdbench.metrics.info import METRICS
from dbdbench.settings import BLUR, SHARP, Polarity, check_choice, check_literals

#: the DBD core set: MAE and every threshold score that comes from the confusion counts
CORE_METRICS = (
    "mae", "max_f", "mean_f", "adp_f", "bin_f", "bin_f_pooled", "max_iou", "mean_iou", "adp_iou", "bin_iou",
    "bin_iou_pooled", "max_dice", "mean_dice", "adp_dice",
)  # fmt: skip
#: the scores that need the normalised map itself (declared ``structure=True`` in the metric table)
STRUCTURE_METRICS = tuple(k for k, m in METRICS.items() if m.structure)

Normalize = Literal["none", "minmax", "max", "mat2gray"]
Levels = Literal["round", "floor", "search"]
CurveAverage = Literal["images", "pr"]
BestF = Literal["curve", "per_image"]  # names of dbdbench.metrics.handlers.HANDLERS
EmptyMask = Literal["score", "zhao"]
ZeroPrF = Literal["zero", "nan"]
ZeroMaps = Literal["count", "zhao"]
#: fields that say how a protocol is presented, not how it scores (left out of ``settings()``)
_PRESENTATION = ("primary", "columns", "headline")


@dataclass(frozen=True)
class Protocol:
    """One named set of evaluation conventions.

    Attributes
    ----------
    name, description, source : str
        Identity, one-line summary and where the conventions were read from.
    positive : {"blur", "sharp"}
        Class scored as positive. Canonical arrays are P(blur); "sharp" flips map and mask exactly.
    gt_threshold : float
        Mask binarisation on the [0, 1] scale: ``gt >= gt_threshold`` (``>`` when ``gt_strict``).
    gt_strict : bool
    normalize : {"none", "minmax", "max", "mat2gray"}
        Prediction normalisation: none; ``(p - min) / (max - min)`` unless constant (PySOD); ``p / max``
        (MATLAB sal_eval_toolbox); MATLAB ``mat2gray`` then ``255 - 255 m`` as the HiFST scripts.
    levels : {"round", "floor", "search"}
        How a normalised map becomes threshold levels: nearest 8-bit level, PySOD's ``uint8(255 p)``
        truncation, or an exact float comparison against ``thresholds`` (searchsorted).
    thresholds : tuple of float or None
        Explicit ascending thresholds for ``levels="search"``; None means the 256 levels t/255.
    curve_endpoint : bool
        Append the "nothing positive" point to curves (the 256 + 1 convention of dbdbench).
    curve_average : {"images", "pr"}
        Curves as the mean of per-image curves, or F of the mean precision and mean recall.
    adaptive_factor : float
        Adaptive threshold ``min(factor * mean(p), 1)``, rule ``>=``.
    binary_threshold : float
        Fixed threshold of ``bin_*`` scores; ``binary_strict`` selects ``>`` instead of ``>=``.
    binary_strict : bool
    best_f : {"curve", "per_image"}
        ``max_f`` as the maximum of the averaged F curve, or the mean of per-image best F (Zhao et al.).
    empty_mask : {"score", "zhao"}
        An image whose positive-class mask is empty is scored like any other image, or as Zhao et al.'s
        ``Fmeasure_calu.m`` and ``Pre_Recall_hitRate.m`` score it (see :func:`dbdbench.metrics.handlers.zhao_best_f`
        and :func:`dbdbench.metrics.handlers.zhao_empty_mask_counts`).
    zero_pr_f : {"zero", "nan"}
        F of the mean precision and mean recall where both are 0: 0, or NaN as MATLAB's ``0 / 0`` in
        Zhao et al.'s ``performCalcu.m`` (which then makes their area under the F curve NaN).
    zero_maps : {"count", "zhao"}
        Means over images divide by the number of images, or as ``performCalcu.m``'s ``totalNum``: one fewer
        when the image read last (names sorted) has an all-zero positive-class map (every image stays in the
        sums; the count is reset per image, so an all-zero map elsewhere changes nothing).
    beta2, wf_beta2 : float
        Beta^2 of F-beta (0.3) and of the weighted F-measure.
    metrics : tuple of str
        The score keys the protocol reports by default (keys of :data:`dbdbench.metrics.METRICS`).
    primary : str
        The score that ranks methods under this protocol (leaderboard order); one of ``metrics``. Empty
        (the default) means ``max_f`` when the protocol reports it, else its first metric.
    columns : tuple of str
        What a paper table shows by default under this protocol (what the papers that use it report), in
        column order; empty means the first five of ``metrics`` without the adaptive scores (see
        :mod:`dbdbench.report.columns`). Any key of :data:`dbdbench.metrics.METRICS`.
    headline : str
        The score that selects the best checkpoint when a net is validated under this protocol during
        training: the F-beta the protocol's papers report first; one of ``metrics``. Empty (the default)
        means ``max_f`` when the protocol reports it, else ``primary``.

    Raises
    ------
    ValueError
        When made with a value that is not valid, naming the field and the valid values.
    """

    name: str
    description: str
    source: str
    positive: Polarity = BLUR
    gt_threshold: float = 0.5
    gt_strict: bool = False
    normalize: Normalize = "none"
    levels: Levels = "round"
    thresholds: tuple[float, ...] | None = None
    curve_endpoint: bool = True
    curve_average: CurveAverage = "images"
    adaptive_factor: float = 2.0
    binary_threshold: float = 0.5
    binary_strict: bool = False
    best_f: BestF = "curve"
    empty_mask: EmptyMask = "score"
    zero_pr_f: ZeroPrF = "zero"
    zero_maps: ZeroMaps = "count"
    beta2: float = 0.3
    wf_beta2: float = 1.0
    metrics: tuple[str, ...] = field(default=CORE_METRICS)
    primary: str = ""
    columns: tuple[str, ...] = ()
    headline: str = ""

    def __post_init__(self) -> None:
        owner = f"Protocol {self.name!r}"
        if not self.name:
            raise ValueError("Protocol: name must not be empty")
        check_literals(self, owner)
        for flag in ("gt_strict", "curve_endpoint", "binary_strict"):
            if not isinstance(getattr(self, flag), bool):  # 1 == True, so check the type, not the value
                raise ValueError(f"{owner}: {flag}={getattr(self, flag)!r} is not valid; valid: False, True")
        self._check_numbers(owner)
        self._check_thresholds(owner)
        if self.empty_mask == "zhao" and self.levels != "search":
            raise ValueError(f"{owner}: empty_mask='zhao' needs levels='search' and its thresholds")
        if not self.metrics:
            raise ValueError(f"{owner}: metrics must name at least one score; valid: {', '.join(METRICS)}")
        for key in self.metrics:
            check_choice(owner, "metrics entry", key, METRICS)
        if not self.primary and self.metrics:
            object.__setattr__(self, "primary", "max_f" if "max_f" in self.metrics else self.metrics[0])
        check_choice(owner, "primary", self.primary, self.metrics)
        if not self.headline:
            object.__setattr__(self, "headline", "max_f" if "max_f" in self.metrics else self.primary)
        check_choice(owner, "headline", self.headline, self.metrics)
        for key in self.columns:
            check_choice(owner, "columns entry", key, METRICS)

    def _check_numbers(self, owner: str) -> None:
        for key in ("gt_threshold", "binary_threshold"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise ValueError(f"{owner}: {key}={value!r} is not valid; valid: a number in [0, 1]")
        for key in ("adaptive_factor", "beta2", "wf_beta2"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"{owner}: {key}={value!r} is not valid; valid: a number > 0")

    def _check_thresholds(self, owner: str) -> None:
        if (self.levels == "search") != (self.thresholds is not None):
            raise ValueError(f"{owner}: thresholds are required with levels='search' and only then "
                             f"(levels={self.levels!r}, thresholds={self.thresholds!r})")
        if self.thresholds is not None:
            t = self.thresholds
            if not isinstance(t, tuple) or len(t) < 2 or any(b <= a for a, b in zip(t, t[1:], strict=False)):
                raise ValueError(f"{owner}: thresholds={t!r} is not valid; valid: a tuple of >= 2 ascending numbers")

    @property
    def n_levels(self) -> int:
        return 256 if self.thresholds is None else len(self.thresholds)

    def settings(self) -> dict[str, Any]:
        """All settings as a JSON-ready dict (stored in every result)."""
        out = asdict(self)
        for key in _PRESENTATION:
            del out[key]
        out["thresholds"] = None if self.thresholds is None else list(self.thresholds)
        out["metrics"] = list(self.metrics)
        return out


def matlab_colon(base: float, step: float, limit: float) -> tuple[float, ...]:
    r"""MATLAB's ``base:step:limit`` for a non-zero step, element for element.

    MATLAB does not add ``step`` repeatedly: the first half of the vector is ``base`` plus integer multiples
    of ``step``, the second half the end point minus integer multiples of ``step`` [1]_. With ``n`` intervals
    and end point ``e``, element ``k = 0..n`` is

    .. math:: v_k = \begin{cases} base + k \cdot step & k \le n / 2 \\ e - (n - k) \cdot step & k > n / 2 \end{cases}

    Here ``n = round((limit - base) / step)``, one fewer when ``base + n * step`` overshoots ``limit`` by more
    than ``tol = 2 eps max(|base|, |limit|)``, and ``e = limit`` unless ``base + n * step`` falls short of it by
    more than ``tol`` (this count and end-point rule is ours; it is exact for the vectors dbdbench uses, whose
    ends are exact multiples of the step). The middle element of an even ``n``, where both halves meet, comes
    from the first rule; for ``1:-.05:0`` both give exactly 0.5. The vector is symmetric about its midpoint,
    so ``flip(1:-.05:0)`` equals ``0:.05:1``. ``1:-.05:0`` has ``0.6499999999999999`` (``1 - 7 * 0.05``)
    for 0.65 and ``0.35000000000000003`` (``7 * 0.05``) for 0.35.

    GNU Octave 7 computes every element as ``base + k * step`` (the end point kept exactly), which agrees
    with MATLAB on the first half only: 8 of the 21 values of its ``1:-.05:0`` differ (0.45 to 0.05 except
    0.25; for example ``0.44999999999999996`` for 0.45 and ``0.35`` where MATLAB has ``0.35000000000000003``).

    References
    ----------
    .. [1] MathWorks Technical Solution 1-4FLI96, "How does the COLON operator work?" (2009).
    """
    if step == 0 or (limit - base) * step < 0:
        return ()
    tol = 2.0 * np.finfo(float).eps * max(abs(base), abs(limit))
    sign = 1.0 if step > 0 else -1.0
    n = int(round((limit - base) / step))
    if sign * (base + n * step - limit) > tol:
        n -= 1
    end = base + n * step
    if sign * (end - limit) >= -tol:
        end = limit
    return tuple(float(base + k * step) if 2 * k <= n else float(end - (n - k) * step) for k in range(n + 1))


#: performCalcu.m's curve thresholds ``1:-.05:0`` (MATLAB colon values), ascending
_ZHAO_CURVE = tuple(sorted(matlab_colon(1.0, -0.05, 0.0)))

PROTOCOLS: dict[str, Protocol] = {
    p.name: p
    for p in (
        Protocol(
            name="dbdbench",
            description="blur positive; GT >= 0.5; no normalisation; 256 levels + end point; per-image means, "
            "pooled IoU; exact ROC AUC",
            source="docs/protocols.md",
            metrics=(*CORE_METRICS, "auc", "ap", "ar"),
            primary="auc",
            columns=("mae", "max_f", "bin_f", "bin_iou_pooled", "auc"),
        ),
        Protocol(
            name="pysod",
            description="PySODMetrics 1.6 defaults: min-max map, GT > 128, floor levels, mean of per-image curves",
            source="PySODMetrics 1.6.2 (py_sod_metrics/utils.py, fmeasurev2.py, sod_metrics.py)",
            gt_threshold=128 / 255,
            gt_strict=True,
            normalize="minmax",
            levels="floor",
            curve_endpoint=False,
            binary_strict=True,
            metrics=(*CORE_METRICS, *STRUCTURE_METRICS),
            columns=("mae", "max_f", "adp_f", "sm", "max_em"),
        ),
        Protocol(
            name="ddffnet",
            description="D-DFFNet test scripts: maps and GT binarised at 0.5, per-image F on the blur class, "
            "MAE on the map, IoU pooled over the dataset",
            source="yuxinjin-whu/D-DFFNet test1.py, test_iou.py, utils.F_score1",
            gt_strict=True,
            binary_strict=True,
            curve_endpoint=False,
            metrics=("mae", "bin_f", "bin_iou_pooled", "bin_iou"),
            primary="bin_f",
            columns=("mae", "bin_f", "bin_iou_pooled"),
            headline="bin_f",  # its scripts score one threshold
        ),
        Protocol(
            name="zhao",
            description="MATLAB evaluate_dbd (BTBNet/CENet group), quirks included: in-focus positive, GT >= 0.1, "
            "map / max, curves at MATLAB's 1:-.05:0, F = mean per-image best F, AUC = area under the F curve",
            source="wdzhao123/MLDBD evaluate_dbd/ (performCalcu.m, Fmeasure_calu.m, Pre_Recall_hitRate.m, evaluate.m)",
            positive=SHARP,
            gt_threshold=0.1,
            normalize="max",
            levels="search",
            thresholds=_ZHAO_CURVE,
            curve_endpoint=False,
            curve_average="pr",
            best_f="per_image",
            empty_mask="zhao",
            zero_pr_f="nan",
            zero_maps="zhao",
            metrics=("max_f", "auc_fcurve", "mae"),
            columns=("max_f", "auc_fcurve", "mae"),
        ),
        Protocol(
            name="hifst",
            description="HiFST PRDataComputation.m: GT > 0, 255 - 255 mat2gray(sharp map), thresholds 0..255 "
            "(>=), per-image P/R averaged (TP = 0 adds 0), F of mean P and R",
            source="isalirezag/HiFST Evaluation/PRDataComputation.m",
            gt_threshold=0.0,
            gt_strict=True,
            normalize="mat2gray",
            levels="search",
            thresholds=tuple(float(t) for t in range(256)),
            curve_endpoint=False,
            curve_average="pr",
            metrics=("max_f", "mean_f"),
            columns=("max_f", "mean_f"),
        ),
    )
}


def register_protocol(protocol: Protocol, *, overwrite: bool = False) -> Protocol:
    """Add a protocol to the registry (an error if the name exists, unless ``overwrite``); returns it."""
    if protocol.name in PROTOCOLS and not overwrite:
        raise ValueError(f"protocol {protocol.name!r} is already registered; pass overwrite=True to replace it")
    PROTOCOLS[protocol.name] = protocol
    return protocol


def unregister_protocol(name: str) -> None:
    """Remove a protocol from the registry (for plug-ins and tests that registered one)."""
    del PROTOCOLS[get_protocol(name).name]


def list_protocols() -> list[str]:
    """Names of the registered protocols, the default first."""
    return list(PROTOCOLS)


def get_protocol(protocol: str | Protocol) -> Protocol:
    """Resolve a protocol name (or pass a :class:`Protocol` through), with an error listing valid names."""
    if isinstance(protocol, Protocol):
        return protocol
    try:
        return PROTOCOLS[protocol]
    except KeyError:
        raise KeyError(f"Unknown protocol {protocol!r}; valid: {', '.join(PROTOCOLS)}") from None
