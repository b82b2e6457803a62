"""Protocol-specific per-image scoring that the shared kernel does not express, named by the protocol.

A handler computes one extra number per image from the protocol's normalised map and the mask (stored in
``ImageRecord.extra[key]``) and replaces the dataset scores in ``overrides`` by the mean of that number
over images. ``Protocol.best_f`` names the handler: ``"curve"`` (none: ``max_f`` is the maximum of the
averaged F curve) or ``"per_image"`` (Zhao et al.'s mean of per-image best F).

>>> from dbdbench.metrics.handlers import HANDLERS
>>> sorted(HANDLERS)
['curve', 'per_image']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from dbdbench.metrics.counts import Counts, cumulative_counts
from dbdbench.metrics.functional import fbeta

if TYPE_CHECKING:
    from dbdbench.metrics.image import ImageRecord
    from dbdbench.metrics.protocols import Protocol

#: Zhao et al.'s per-image best-F thresholds, ``i * 0.00392157`` for i = 1..255 (Fmeasure_calu.m)
_ZHAO_BEST = np.concatenate([[0.0], np.arange(1, 256) * 0.00392157])


@dataclass(frozen=True)
class ImageHandler:
    """One protocol-specific per-image score.

    Attributes
    ----------
    key : str
        Key in ``ImageRecord.extra`` and in the per-image rows of a result.
    score : callable
        ``score(p, g, proto) -> float`` on the normalised map ``p`` (float, [0, 1]) and the bool mask ``g``.
    overrides : tuple of str
        Dataset score keys replaced by the mean of ``key`` over images.
    caption : str
        The clause a table caption adds when it shows one of ``overrides``.
    """

    key: str
    score: Callable[[np.ndarray, np.ndarray, Protocol], float]
    overrides: tuple[str, ...]
    caption: str = ""

    def dataset_score(self, records: Sequence[ImageRecord], divisor: int | None = None) -> float:
        """Mean of the per-image values over images (their sum divided by ``divisor`` when given)."""
        values = np.asarray([r.extra[self.key] for r in records], dtype=np.float64)
        if divisor is None or divisor == len(values):
            return float(np.mean(values))
        with np.errstate(divide="ignore", invalid="ignore"):  # MATLAB: x / 0 = Inf, 0 / 0 = NaN
            return float(np.sum(values) / divisor)


def zhao_best_f(p: np.ndarray, g: np.ndarray, beta2: float = 0.3, *, empty_mask: str = "zhao") -> float:
    r"""Best F over the thresholds :math:`t_i = 0.00392157\,i` (i = 1..255), rule ``p >= t_i``: Fmeasure_calu.m.

    .. math:: F = \max_i \frac{(1 + \beta^2) P_i R_i}{\beta^2 P_i + R_i}, \quad F_i = 0 \text{ where } TP_i = 0

    ``p`` is the map as their code thresholds it (in-focus map divided by its maximum), ``g`` the mask.

    Empty mask (``empty_mask="zhao"``, as their code does): the test ``sum(gtMap) == 0`` sits inside the
    threshold loop and, when true, replaces the mask by all ones and the label by its complement. From the
    second threshold on the mask is no longer empty, so only :math:`t_1` scores the inverted label
    ``p < t_1``; :math:`t_2 .. t_{255}` score ``p >= t_i`` itself against the all-ones mask. Against an
    all-ones mask P = 1 wherever anything is labelled and :math:`F = (1 + \beta^2) R / (\beta^2 + R)` with R
    the labelled share, so the best F is 1.0 both for a map below :math:`t_1` everywhere (right: nothing in
    focus) and for a map at or above :math:`t_2` everywhere (completely wrong). ``empty_mask="score"``
    scores the empty mask as it is (F = 0).

    References
    ----------
    .. [1] W. Zhao, F. Zhao, D. Wang, H. Lu, "Defocus blur detection via multi-stream bottom-top-bottom fully
       convolutional network", CVPR 2018; evaluation code wdzhao123/MLDBD ``evaluate_dbd/subcode/Fmeasure_calu.m``.
    """
    levels = np.searchsorted(_ZHAO_BEST, p, side="right") - 1
    if g.any() or empty_mask != "zhao":
        c = cumulative_counts(levels, g, len(_ZHAO_BEST))
        return float(fbeta(c.tp[1:-1], c.fp[1:-1], c.fn[1:-1], beta2).max())  # thresholds i = 1..255
    above = cumulative_counts(levels, np.ones(p.shape, dtype=bool), len(_ZHAO_BEST)).tp[1:-1]  # #(p >= t_i)
    tp = np.concatenate([[p.size - above[0]], above[1:]])  # t_1: the inverted label p < t_1
    return float(fbeta(tp, np.zeros_like(tp), p.size - tp, beta2).max())


def zhao_empty_mask_counts(p: np.ndarray, thresholds: np.ndarray) -> Counts:
    """Curve counts of an image with an empty mask as Zhao et al.'s Pre_Recall_hitRate.m computes them.

    Their code inverts both inputs (mask := 1 - mask, all ones; map := ``1 - p`` in float) and then thresholds
    ``1 - p >= t``: TP = #{1 - p >= t}, FP = 0. So P = 1 and R = TP / N wherever anything is labelled (P = R
    = 0 where nothing is), where scoring the empty mask itself gives P = R = 0 at every threshold.

    References
    ----------
    .. [1] wdzhao123/MLDBD ``evaluate_dbd/subcode/Pre_Recall_hitRate.m``.
    """
    levels = np.searchsorted(thresholds, 1.0 - p, side="right") - 1
    return cumulative_counts(levels, np.ones(p.shape, dtype=bool), len(thresholds))


def _zhao_handler_score(p: np.ndarray, g: np.ndarray, proto: Protocol) -> float:
    return zhao_best_f(p, g, proto.beta2, empty_mask=proto.empty_mask)


#: handler name (``Protocol.best_f``) -> handler, None for the plain reduction
HANDLERS: dict[str, ImageHandler | None] = {
    "curve": None,
    "per_image": ImageHandler("best_f", _zhao_handler_score, ("max_f",), "max F = mean of the per-image best F"),
}


def get_handler(name: str) -> ImageHandler | None:
    """The handler a protocol names, with an error listing the valid names."""
    try:
        return HANDLERS[name]
    except KeyError:
        raise KeyError(f"Unknown image handler {name!r}; valid: {', '.join(HANDLERS)}") from None
