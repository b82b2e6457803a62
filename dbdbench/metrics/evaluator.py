"""The :class:`Evaluator`: accumulate per-image records, reduce them under one protocol."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from dbdbench.findings import Checks, Finding, SanityError, merged, settle
from dbdbench.metrics.image import ImageRecord, score_image
from dbdbench.metrics.info import METRICS
from dbdbench.metrics.protocols import Protocol, get_protocol
from dbdbench.metrics.reduce import protocol_warnings, reduce_records
from dbdbench.results import Result
from dbdbench.values import gt_as_mask, looks_swapped, map_findings, swapped_finding


class Evaluator:
    """Accumulate (map, mask) pairs and compute dataset scores under a named protocol.

    Parameters
    ----------
    protocol : str or Protocol
        A name from :func:`dbdbench.metrics.list_protocols` (default ``"dbdbench"``) or a protocol object.
    metrics : sequence of str, optional
        Score keys to report (default: the protocol's). Structure metrics (``sm``, ``*_em``, ``wf``) are
        computed only when asked for, since they cost far more than the counts.
    accept : iterable of str
        Refusal codes to score anyway (as ``--accept``); each accepted case is recorded as a warning.
    strict : bool
        Turn every warning into a ``ValueError`` (as ``--strict``), in ``update`` and ``compute``.

    Notes
    -----
    The input contract is the CLI's (``docs/refusals.md``, one implementation: :mod:`dbdbench.values`).
    ``pred`` is a P(blur) map, ``gt`` a mask with True/white = blurred, both 2-D of the same shape:

    =================  ======================================  ==========================================
    dtype              ``pred`` (map)                          ``gt`` (mask)
    =================  ======================================  ==========================================
    bool               False/True = 0/1                        the mask
    uint8              v / 255; max 1 refused (``range-01``),   0/1 read as a mask; else binarised by the
                       max 2..3 refused (``range-few-levels``)  protocol on the 0..255 scale
    uint16             v / 65535; max <= 255 refused           0/1 read as a mask, max <= 255 read as
                       (``range-16bit-8bit-values``)           8-bit; else binarised on the 0..65535 scale
    float16/32/64      values in [0, 1], no NaN/inf            values in [0, 1], binarised by the protocol
    =================  ======================================  ==========================================

    A map with at most two levels next to a mask of which more than 40 % is graded is refused as swapped
    arguments (``swapped-arguments``). Refusals raise :class:`~dbdbench.findings.SanityError` (a
    ``ValueError``) naming the image, the code and the fix; ``accept`` scores them as given, and the
    warnings reach ``Result.meta["warnings"]`` with the CLI's codes.

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

    def __init__(self, protocol: str | Protocol = "dbdbench", metrics: Sequence[str] | None = None, *,
                 accept: Iterable[str] = (), strict: bool = False) -> None:
        self.checks = Checks(accept=frozenset(accept), strict=strict)
        self.protocol = get_protocol(protocol)
        self.metrics = tuple(self.protocol.metrics if metrics is None else metrics)
        unknown = [m for m in self.metrics if m not in METRICS]
        if unknown:
            raise KeyError(f"Unknown metric(s) {', '.join(unknown)}; valid: {', '.join(METRICS)}")
        self.structure = frozenset(m for m in self.metrics if METRICS[m].structure)
        self._records: list[ImageRecord] = []
        self._findings: list[Finding] = []

    def update(
        self, pred: np.ndarray, gt: np.ndarray, name: str | None = None, *, resized: bool = False
    ) -> ImageRecord:
        """Score one image in canonical polarity: ``pred`` = P(blur) map, ``gt`` white/True = blurred.

        The dtypes and ranges accepted are those of the class's table. Raises ``ValueError`` naming the image,
        the problem and the fix for NaN, wrong shapes, dtypes or ranges, and swapped arguments.
        """
        name = f"image{len(self._records):05d}" if name is None else name
        try:
            found = map_findings(np.asarray(pred), name, self.checks)
            settle(found, self.checks)
            gt = gt_as_mask(np.asarray(gt))
            rec = score_image(pred, gt, self.protocol, name=name, structure=self.structure)
        except SanityError:
            raise
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None
        if looks_swapped(_n_levels(rec), gt):
            found.append(swapped_finding([name], self.checks))
            settle(found[-1:], self.checks)
        rec.resized = resized
        self._records.append(rec)
        self._findings += found
        return rec

    def add(self, records: Iterable[ImageRecord], findings: Iterable[Finding] = ()) -> None:
        """Add records scored elsewhere (e.g. by worker processes) with the same protocol, and their findings."""
        self._records.extend(records)
        self._findings.extend(findings)

    def reset(self) -> None:
        """Forget every image."""
        self._records.clear()
        self._findings.clear()

    @property
    def findings(self) -> list[Finding]:
        """The warnings of the input checks so far (accepted refusals), one per code with every image named."""
        return merged(self._findings)

    @property
    def records(self) -> list[ImageRecord]:
        return list(self._records)

    def compute(self, *, dataset: str | None = None, method: str | None = None, meta: dict | None = None) -> Result:
        """Reduce the images seen so far into a :class:`~dbdbench.results.Result`."""
        scores, curves, per_image = reduce_records(self._records, self.protocol, self.metrics)
        meta = dict(meta or {})
        found = [*settle(self.findings, self.checks), *protocol_warnings(self._records, self.protocol, curves)]
        if found:
            meta["warnings"] = [*meta.get("warnings", []), *found]
        if self.checks.strict:
            settle([Finding.recorded(w) for w in found], self.checks)
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


def _n_levels(rec: ImageRecord) -> int:
    """How many distinct threshold levels the image's map holds (from its cumulative counts)."""
    total = rec.counts.tp + rec.counts.fp
    return int(np.count_nonzero(total[:-1] != total[1:]))
