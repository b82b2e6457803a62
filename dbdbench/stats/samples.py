"""Every dataset score as a function of per-image data, so that it can be recomputed on a resample of images.

A score is one of two kinds:

``mean``
    The mean over images of a per-image value (MAE, F or IoU at a fixed or adaptive threshold, per-image
    ROC AUC, S-measure ...). ``values`` holds the per-image values (NaN where a value is undefined, as the
    ROC AUC of an image whose mask has one class; such images are left out as in the dataset score).
``reduction``
    The protocol's own reduction of averaged per-image curves or summed counts (max and mean F of the mean
    curve, F of mean precision and recall, pooled IoU, area under the F curve ...): ``score = finish(w @ X /
    sum(w))`` for per-image features ``X`` of shape (N, K) and image weights ``w``. With ``w`` all ones this is
    the dataset score; with ``w`` the multiplicities of a bootstrap resample (multinomial counts) it is the
    score of that resample, computed for thousands of resamples by one matrix product.

Under a protocol with Zhao et al.'s ``totalNum`` rule (``zero_maps="zhao"``) the means over images of the
scores that use it divide by one fewer than the number of images when the image read last (names sorted)
has an all-zero map. A resample is a list of images like any other, so its divisor follows the same rule:
the sum of the weights, less one when the last-named image *drawn* has an all-zero map
(:func:`divisors`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dbdbench.metrics import functional as F
from dbdbench.metrics.handlers import get_handler
from dbdbench.metrics.image import ImageRecord
from dbdbench.metrics.protocols import Protocol
from dbdbench.metrics.reduce import per_image_curves, reduce_records, thresholds_of

#: the mean-kind scores whose per-image values are columns of the result's per-image rows
ROW_MEANS = ("mae", "bin_f", "bin_iou", "auc", "ap", "sm", "wf")


@dataclass(frozen=True)
class ScoreData:
    """One score of one result as a function of image weights.

    Attributes
    ----------
    key : str
        The score key (``max_f``, ``mae`` ...).
    kind : {"mean", "reduction"}
    values : ndarray of shape (N,), optional
        Per-image values of a ``mean`` score (NaN where undefined).
    features : ndarray of shape (N, K), optional
        Per-image features of a ``reduction`` score.
    finish : callable, optional
        Maps weighted feature means of shape (B, K) to B scores.
    zero_last : tuple of two ndarrays of shape (N,), optional
        ``(zero_map, name_rank)`` where the score's means divide as Zhao et al.'s ``totalNum`` (see
        :func:`divisors`); None where they divide by the number of images.
    """

    key: str
    kind: str
    values: np.ndarray | None = None
    features: np.ndarray | None = None
    finish: Callable[[np.ndarray], np.ndarray] | None = None
    zero_last: tuple[np.ndarray, np.ndarray] | None = None

    def require(self, name: str) -> Any:
        """A field that the score's ``kind`` needs (``values``; ``features`` and ``finish``), never None."""
        value = getattr(self, name)
        if value is None:
            raise ValueError(f"{self.key}: a {self.kind!r} score has no {name}")
        return value

    def score(self, weights: np.ndarray | None = None) -> np.ndarray | float:
        """The score under image ``weights`` of shape (B, N) (B scores), or the dataset score when None."""
        if weights is None:  # the dataset score, reduced as the protocol reduces it (np.mean, or sum / totalNum)
            if self.kind == "mean":
                v = self.require("values")
                v = v[~np.isnan(v)]
                if not len(v):
                    return float("nan")
                return float(np.mean(v) if self.zero_last is None else np.sum(v) / self._full_divisor())
            x = self.require("features")
            m = np.mean(x, axis=0) if self.zero_last is None else np.sum(x, axis=0) / self._full_divisor()
            return float(self.require("finish")(m[None, :])[0])
        w = np.asarray(weights, dtype=np.float64)
        if self.kind == "mean":
            v = self.require("values")
            ok = ~np.isnan(v)
            w = w[..., ok]
            div = w.sum(axis=-1) if self.zero_last is None else divisors(w, *(z[ok] for z in self.zero_last))
            return (w @ v[ok]) / div
        return self.require("finish")((w @ self.require("features")) / self.divisor(w)[..., None])

    def _full_divisor(self) -> float:
        return float(self.divisor(np.ones((1, len(self.require("zero_last")[0]))))[0])

    def divisor(self, weights: np.ndarray) -> np.ndarray:
        """What the means over images divide by under image ``weights`` (B, N): see :func:`divisors`."""
        if self.zero_last is None:
            return weights.sum(axis=-1)
        return divisors(weights, *self.zero_last)


def divisors(weights: np.ndarray, zero_map: np.ndarray, name_rank: np.ndarray) -> np.ndarray:
    """The ``totalNum`` of Zhao et al.'s ``performCalcu.m`` for image weights (B, N): B divisors.

    The images of a resample, each as often as its weight, are read in name order; the divisor is their
    number, less one when the image read last has an all-zero map (:func:`dbdbench.metrics.reduce._divisor`
    applied to the resampled list). ``name_rank[i]`` is the position of image i in sorted name order.
    """
    w = np.asarray(weights, dtype=np.float64)
    last = np.argmax(np.where(w > 0, name_rank, -1), axis=-1)
    return w.sum(axis=-1) - np.asarray(zero_map, dtype=np.float64)[last]


def _max(m: np.ndarray) -> np.ndarray:
    return np.max(m, axis=-1)


def _mean(m: np.ndarray) -> np.ndarray:
    return np.mean(m, axis=-1)


def _trapezoid(x: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    dx = np.diff(x)
    return lambda y: np.sum(dx * (y[..., 1:] + y[..., :-1]), axis=-1) / 2


def _f_curve(curves: dict[str, np.ndarray], n: int, proto: Protocol):
    """Features and the map from their mean to the protocol's dataset F curve (``curve_average``)."""
    if proto.curve_average == "pr":
        features = np.hstack([curves["precision"][:, :n], curves["recall"][:, :n]])
        return features, lambda m: _f_of_pr(m[..., :n], m[..., n:], proto)
    return curves["f"][:, :n], lambda m: m


def _f_of_pr(p: np.ndarray, r: np.ndarray, proto: Protocol) -> np.ndarray:
    """F of mean P and mean R, NaN where both are 0 under ``zero_pr_f="nan"`` (as the dataset curve)."""
    f = F.fbeta_from_pr(p, r, proto.beta2)
    return np.where(proto.beta2 * p + r == 0, np.nan, f) if proto.zero_pr_f == "nan" else f


def _then(first: Callable, second: Callable) -> Callable:
    return lambda m: second(first(m))


def _pooled(metric: str, beta2: float) -> Callable[[np.ndarray], np.ndarray]:
    # F and IoU of the summed counts equal those of the mean counts: both are ratios of the counts
    if metric == "f":
        return lambda m: F.fbeta(m[..., 0], m[..., 1], m[..., 2], beta2)
    return lambda m: F.iou(m[..., 0], m[..., 1], m[..., 2])


def _reductions(records: Sequence[ImageRecord], proto: Protocol, curves: dict[str, np.ndarray]) -> dict:
    n = proto.n_levels
    f_x, f_curve = _f_curve(curves, n, proto)
    out = {
        "mean_f": (f_x, _then(f_curve, _mean)),
        "auc_fcurve": (f_x, _then(f_curve, _trapezoid(thresholds_of(proto)[:n]))),
    }
    if proto.best_f != "per_image":
        out["max_f"] = (f_x, _then(f_curve, _max))
    for name in ("iou", "dice"):
        x = curves[name][:, :n]  # one array for both scores, so that joint evaluation computes it once
        out[f"max_{name}"], out[f"mean_{name}"] = (x, _max), (x, _mean)
    binary = np.array([r.binary for r in records], dtype=np.float64)[:, :3]
    out["bin_f_pooled"] = (binary, _pooled("f", proto.beta2))
    out["bin_iou_pooled"] = (binary, _pooled("iou", proto.beta2))
    if "em_curve" in records[0].extra:
        em = np.array([r.extra["em_curve"] for r in records], dtype=np.float64)
        out["max_em"], out["mean_em"] = (em, _max), (em, _mean)
    return out


def _means(records: Sequence[ImageRecord], proto: Protocol, curves: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    _, _, rows = reduce_records(records, proto)
    out = {}
    for key in ROW_MEANS:
        if key in rows[0]:
            out[key] = np.array([np.nan if row[key] is None else row[key] for row in rows], dtype=np.float64)
    adp = np.array([r.adaptive for r in records]).T
    out["adp_f"] = F.fbeta(adp[0], adp[1], adp[2], proto.beta2)
    out["adp_iou"] = F.iou(adp[0], adp[1], adp[2])
    out["adp_dice"] = F.dice(adp[0], adp[1], adp[2])
    out["ar"] = np.mean(curves["recall"][:, : proto.n_levels], axis=1)
    if proto.best_f == "per_image":
        out["max_f"] = np.array([r.extra["best_f"] for r in records], dtype=np.float64)
    if "adp_em" in records[0].extra:
        out["adp_em"] = np.array([r.extra["adp_em"] for r in records], dtype=np.float64)
    return out


#: reduction-kind scores of the protocol's mean curves, whose means divide as the dataset curve does
_CURVE_MEANS = ("max_f", "mean_f", "auc_fcurve", "max_iou", "mean_iou", "max_dice", "mean_dice")


def _zero_last(records: Sequence[ImageRecord], proto: Protocol) -> tuple[np.ndarray, np.ndarray] | None:
    """``(zero_map, name_rank)`` of the records under ``zero_maps="zhao"`` (the ``totalNum`` rule), else None.

    The per-image best F (``best_f="per_image"``) and the mean curves divide by ``totalNum``; plain per-image
    means (MAE, F at the fixed threshold ...) do not (:class:`dbdbench.metrics.reduce.Reduction`).
    """
    if proto.zero_maps != "zhao":
        return None
    rank = np.empty(len(records), dtype=np.int64)
    rank[sorted(range(len(records)), key=lambda i: records[i].name)] = np.arange(len(records))
    return np.array([r.zero_map for r in records], dtype=bool), rank


def score_data(records: Sequence[ImageRecord], proto: Protocol, keys: Sequence[str]) -> dict[str, ScoreData]:
    """The :class:`ScoreData` of each score in ``keys``, from the per-image records of one result.

    Raises
    ------
    KeyError
        For a key these records cannot give (a structure score that was not computed, an unknown key).
    """
    if not records:
        raise ValueError("no images: a result with per-image records is needed")
    curves = per_image_curves(records, proto)
    means, reductions = _means(records, proto, curves), _reductions(records, proto, curves)
    zero = _zero_last(records, proto)
    handler = get_handler(proto.best_f)
    overrides = handler.overrides if handler is not None else ()
    out = {}
    for key in keys:
        if key in means:
            out[key] = ScoreData(key, "mean", values=means[key], zero_last=zero if key in overrides else None)
        elif key in reductions:
            features, finish = reductions[key]
            out[key] = ScoreData(key, "reduction", features=features, finish=finish,
                                 zero_last=zero if key in _CURVE_MEANS else None)  # fmt: skip
        else:
            valid = ", ".join(sorted({*means, *reductions}))
            raise KeyError(f"score {key!r} cannot be recomputed from these per-image records; valid: {valid}")
    return out


def row_data(per_image: Sequence[dict], keys: Sequence[str]) -> dict[str, ScoreData]:
    """Mean-kind :class:`ScoreData` from a result's per-image rows alone (no counts file needed).

    Only the scores whose dataset value is the plain mean over images of a per-image row column are
    available this way (:data:`ROW_MEANS`); anything else needs the counts file.
    """
    out = {}
    for key in keys:
        if key not in ROW_MEANS or not per_image or key not in per_image[0]:
            raise KeyError(key)
        values = np.array([np.nan if row[key] is None else row[key] for row in per_image], dtype=np.float64)
        out[key] = ScoreData(key, "mean", values=values)
    return out
