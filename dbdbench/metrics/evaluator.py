"""The :class:`Evaluator`: accumulate per-image records, reduce them under one protocol."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from dbdbench.metrics.image import ImageRecord, score_image
from dbdbench.metrics.info import METRICS
from dbdbench.metrics.protocols import Protocol, get_protocol
from dbdbench.metrics.reduce import protocol_warnings, reduce_records
from dbdbench.results import Result


class Evaluator:
    """Accumulate (map, mask) pairs and compute dataset scores under a named protocol.

    Parameters
    ----------
    protocol : str or Protocol
        A name from :func:`dbdbench.metrics.list_protocols` (default ``"dbdbench"``) or a protocol object.
    metrics : sequence of str, optional
        Score keys to report (default: the protocol's). Structure metrics (``sm``, ``*_em``, ``wf``) are
        computed only when asked for, since they cost far more than the counts.

    Examples
    --------
    >>> import numpy as np
    >>> from dbdbench.metrics import Evaluator
    >>> gt = np.zeros((8, 8), bool); gt[:, :4] = True          # left half blurred
    >>> ev = Evaluator("dbdbench")
    >>> rec = ev.update(np.where(gt, 230, 20).astype(np.uint8), gt)   # a good P(blur) map
    >>> res = ev.compute()
    >>> round(res.scores["max_f"], 3), round(res.scores["auc"], 3)
    (1.0, 1.0)
    """

    def __init__(self, protocol: str | Protocol = "dbdbench", metrics: Sequence[str] | None = None) -> None:
        self.protocol = get_protocol(protocol)
        self.metrics = tuple(self.protocol.metrics if metrics is None else metrics)
        unknown = [m for m in self.metrics if m not in METRICS]
        if unknown:
            raise KeyError(f"Unknown metric(s) {', '.join(unknown)}; valid: {', '.join(METRICS)}")
        self.structure = frozenset(m for m in self.metrics if METRICS[m].structure)
        self._records: list[ImageRecord] = []

    def update(
        self, pred: np.ndarray, gt: np.ndarray, name: str | None = None, *, resized: bool = False
    ) -> ImageRecord:
        """Score one image in canonical polarity: ``pred`` = P(blur) map, ``gt`` white/True = blurred.

        ``pred`` is uint8, uint16, bool or float in [0, 1]; ``gt`` is a mask of any of those dtypes and is
        binarised by the protocol. Raises ``ValueError`` naming the problem for NaN, wrong shapes or dtypes.
        """
        name = f"image{len(self._records):05d}" if name is None else name
        try:
            rec = score_image(pred, gt, self.protocol, name=name, structure=self.structure)
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None
        rec.resized = resized
        self._records.append(rec)
        return rec

    def add(self, records: Iterable[ImageRecord]) -> None:
        """Add records scored elsewhere (e.g. by worker processes) with the same protocol."""
        self._records.extend(records)

    def reset(self) -> None:
        """Forget every image."""
        self._records.clear()

    @property
    def records(self) -> list[ImageRecord]:
        return list(self._records)

    def compute(self, *, dataset: str | None = None, method: str | None = None, meta: dict | None = None) -> Result:
        """Reduce the images seen so far into a :class:`~dbdbench.results.Result`."""
        scores, curves, per_image = reduce_records(self._records, self.protocol, self.metrics)
        meta = dict(meta or {})
        found = protocol_warnings(self._records, self.protocol, curves)
        if found:
            meta["warnings"] = [*meta.get("warnings", []), *found]
        return Result(
            protocol=self.protocol.name,
            protocol_settings=self.protocol.settings(),
            scores={k: scores[k] for k in self.metrics},
            curves=curves,
            per_image=per_image,
            n_images=len(self._records),
            n_empty_gt=sum(r.empty_gt for r in self._records),
            dataset=dataset,
            method=method,
            meta=meta,
            records=list(self._records),
        )
