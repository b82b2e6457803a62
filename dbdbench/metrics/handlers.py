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

from dbdbench.metrics.counts import cumulative_counts
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
    """

    key: str
    score: Callable[[np.ndarray, np.ndarray, Protocol], float]
    overrides: tuple[str, ...]

    def dataset_score(self, records: Sequence[ImageRecord]) -> float:
        """Mean of the per-image values over images."""
        return float(np.mean([r.extra[self.key] for r in records]))


def zhao_best_f(p: np.ndarray, g: np.ndarray, proto: Protocol) -> float:
    """Best F over thresholds ``i * 0.00392157`` (i = 1..255), rule ``>=``, as Zhao et al.'s Fmeasure_calu.

    An empty mask is scored on the complement (mask and map inverted), as their code does.

    References
    ----------
    .. [1] W. Zhao et al., MLDBD ``evaluate_dbd/Fmeasure_calu.m`` (github.com/wdzhao123/MLDBD).
    """
    if not g.any():
        p, g = 1.0 - p, ~g
    levels = np.searchsorted(_ZHAO_BEST, p, side="right") - 1
    c = cumulative_counts(levels, g, len(_ZHAO_BEST))
    f = fbeta(c.tp[1:-1], c.fp[1:-1], c.fn[1:-1], proto.beta2)  # thresholds i = 1..255
    return float(f.max())


#: handler name (``Protocol.best_f``) -> handler, None for the plain reduction
HANDLERS: dict[str, ImageHandler | None] = {
    "curve": None,
    "per_image": ImageHandler("best_f", zhao_best_f, ("max_f",)),
}


def get_handler(name: str) -> ImageHandler | None:
    """The handler a protocol names, with an error listing the valid names."""
    try:
        return HANDLERS[name]
    except KeyError:
        raise KeyError(f"Unknown image handler {name!r}; valid: {', '.join(HANDLERS)}") from None
