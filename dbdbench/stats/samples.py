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
    """

    key: str
    kind: str
    values: np.ndarray | None = None
    features: np.ndarray | None = None
    finish: Callable[[np.ndarray], np.ndarray] | None = None

    def require(self, name: str) -> Any:
        """A field that the score's ``kind`` needs (``values``; ``features`` and ``finish``), never None."""
        value = getattr(self, name)
        if value is None:
            raise ValueError(f"{self.key}: a {self.kind!r} score has no {name}")
        return value

    def score(self, weights: np.ndarray | None = None) -> np.ndarray | float:
        """The score under image ``weights`` of shape (B, N) (B scores), or the dataset score when None."""
        if self.kind == "mean":
            v = self.require("values")
            ok = ~np.isnan(v)
            if weights is None:
                return float(np.mean(v[ok])) if ok.any() else float("nan")
            w = np.asarray(weights, dtype=np.float64)[..., ok]
            return (w @ v[ok]) / w.sum(axis=-1)
        features, finish = self.require("features"), self.require("finish")
        if weights is None:
            return float(finish(np.mean(features, axis=0)[None, :])[0])
        w = np.asarray(weights, dtype=np.float64)
        return finish((w @ features) / w.sum(axis=-1, keepdims=True))


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
    out = {}
    for key in keys:
        data = _score_data(red, key) if key in METRICS else None
        if data is None:
            valid = ", ".join(sorted(k for k in METRICS if _score_data(red, k) is not None))
            raise KeyError(f"score {key!r} cannot be recomputed from these per-image records; valid: {valid}")
        out[key] = data
    return out


def _score_data(red: Reduction, key: str) -> ScoreData | None:
    handler = get_handler(red.proto.best_f)
    info = METRICS[key]
    if handler is not None and key in handler.overrides:
        values = red.extra_values(handler.key)
    elif info.per_image is not None:
        values = info.per_image(red)
    else:
        form = None if info.resample is None else info.resample(red)
        return None if form is None else ScoreData(key, "reduction", features=form[0], finish=form[1])
    return None if values is None else ScoreData(key, "mean", values=values)


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
