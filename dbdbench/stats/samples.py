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

from dbdbench.metrics.handlers import get_handler
from dbdbench.metrics.image import ImageRecord
from dbdbench.metrics.info import METRICS
from dbdbench.metrics.protocols import Protocol
from dbdbench.metrics.reduce import Reduction


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

    Each score's form comes from the metric table: ``MetricInfo.per_image`` (a ``mean`` score) or
    ``MetricInfo.resample`` (a ``reduction`` score); a score that the protocol's image handler replaces is the
    mean of the handler's per-image value.

    Raises
    ------
    KeyError
        For a key these records cannot give (a structure score that was not computed, an unknown key).
    """
    if not records:
        raise ValueError("no images: a result with per-image records is needed")
    red = Reduction(records, proto)
    zero = _zero_last(records, proto)
    out = {}
    for key in keys:
        data = _score_data(red, key, zero) if key in METRICS else None
        if data is None:
            valid = ", ".join(sorted(k for k in METRICS if _score_data(red, k, zero) is not None))
            raise KeyError(f"score {key!r} cannot be recomputed from these per-image records; valid: {valid}")
        out[key] = data
    return out


def _score_data(red: Reduction, key: str, zero: tuple[np.ndarray, np.ndarray] | None) -> ScoreData | None:
    """``key``'s form from the metric table; ``zero`` (:func:`_zero_last`) goes to the scores whose means over
    images divide as the protocol's dataset curve does (the handler's per-image best F, and the statistics of
    the mean curves), as :class:`~dbdbench.metrics.reduce.Reduction` divides them."""
    handler = get_handler(red.proto.best_f)
    info = METRICS[key]
    if handler is not None and key in handler.overrides:
        values = red.extra_values(handler.key)
        return None if values is None else ScoreData(key, "mean", values=values, zero_last=zero)
    if info.per_image is not None:
        values = info.per_image(red)
        return None if values is None else ScoreData(key, "mean", values=values)
    form = None if info.resample is None else info.resample(red)
    if form is None:
        return None
    mean_curve = info.threshold == "curve" and info.term is None  # a statistic of Reduction.curve
    return ScoreData(key, "reduction", features=form[0], finish=form[1], zero_last=zero if mean_curve else None)


def row_means() -> tuple[str, ...]:
    """The scores whose dataset value is the mean over images of a column of the per-image rows
    (``MetricInfo.row is True``), so that they can be recomputed from the rows alone."""
    return tuple(k for k, m in METRICS.items() if m.row is True)


def row_data(per_image: Sequence[dict], keys: Sequence[str]) -> dict[str, ScoreData]:
    """Mean-kind :class:`ScoreData` from a result's per-image rows alone (no counts file needed).

    Only the scores whose dataset value is the plain mean over images of a per-image row column are
    available this way (:func:`row_means`); anything else needs the counts file.
    """
    out = {}
    means = row_means()
    for key in keys:
        if key not in means or not per_image or key not in per_image[0]:
            raise KeyError(key)
        values = np.array([np.nan if row[key] is None else row[key] for row in per_image], dtype=np.float64)
        out[key] = ScoreData(key, "mean", values=values)
    return out
