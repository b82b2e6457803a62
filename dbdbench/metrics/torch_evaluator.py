"""The :class:`TorchEvaluator`: the protocols on batches of torch tensors (CPU or CUDA), as in a training loop.

It is the numpy :class:`~dbdbench.metrics.Evaluator` with a batched front end: ``update`` scores a batch on
the maps' device and keeps per-image states there (one confusion histogram, eight single-threshold counts
and the MAE per image, no host synchronisation); ``compute`` copies them to the host once, rebuilds the
per-image records and reduces them with the ``Evaluator``'s own code, so the :class:`~dbdbench.results.Result`
is the same, bit for bit, as feeding the same maps one by one to the ``Evaluator``. On the CPU the batch is
scored by the numpy kernel itself, on the tensors' memory; on other devices by the torch kernel, which runs
the same protocol steps (:mod:`dbdbench.metrics.steps`). Only Zhao et al.'s per-image best F and the
structure metrics (S, E, weighted F) run on the host there, from the same normalised map (one copy per
batch), because they are the numpy functions themselves.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch

from dbdbench.findings import Finding
from dbdbench.metrics.evaluator import Evaluator
from dbdbench.metrics.protocols import Protocol
from dbdbench.metrics.torch_batch import batch_states, concat_states, extra_layout, records_from_states
from dbdbench.results import Result


class TorchEvaluator:
    """Accumulate batches of (map, mask) tensors and compute dataset scores under a named protocol.

    Parameters
    ----------
    protocol : str or Protocol
        A name from :func:`dbdbench.metrics.list_protocols` (default ``"dbdbench"``) or a protocol object.
    metrics : sequence of str, optional
        Score keys to report (default: the protocol's), as for :class:`~dbdbench.metrics.Evaluator`.
    from_logits : bool
        ``preds`` are logits: the maps scored are ``torch.sigmoid(preds)`` (in the logits' dtype).
    accept, strict
        As for :class:`~dbdbench.metrics.Evaluator`: refusal codes to score anyway (recorded as warnings),
        and every warning turned into an error.

    Notes
    -----
    ``preds`` are P(blur) maps (uint8, bool or float in [0, 1]; bfloat16 is scored as its exact float32
    values), ``gts`` masks (bool, uint8 or float in [0, 1]) with white/True = blurred, read as the
    ``Evaluator`` reads them (the dtype/range table of ``docs/torch.md``): a uint8 mask whose maximum is 1 is
    a 0/1 mask; a uint8 map whose maximum is 1 to 3, or a binary map next to a graded mask (swapped
    arguments) is refused. Each map of a list keeps its own dtype's meaning. Shape and dtype errors raise
    ``ValueError`` in ``update``; value errors (NaN, values outside [0, 1], the value rules) are found on the
    device without a synchronisation and raised by ``compute``, naming the images.

    Examples
    --------
    >>> import torch
    >>> from dbdbench.metrics import TorchEvaluator
    >>> gt = torch.zeros(2, 1, 8, 8, dtype=torch.bool); gt[..., :4] = True       # left half blurred
    >>> ev = TorchEvaluator("dbdbench")
    >>> ev.update(torch.where(gt, 0.9, 0.1), gt)                                 # a batch of 2 good maps
    >>> res = ev.compute()
    >>> res.n_images, round(res.scores["max_f"], 3), round(res.scores["auc"], 3)
    (2, 1.0, 1.0)
    """

    def __init__(self, protocol: str | Protocol = "dbdbench", metrics: Sequence[str] | None = None, *,
                 from_logits: bool = False, accept: Iterable[str] = (), strict: bool = False) -> None:
        # checks the protocol, the metric names and the accepted codes
        self._evaluator = Evaluator(protocol, metrics, accept=accept, strict=strict)
        self.protocol = self._evaluator.protocol
        self.metrics = self._evaluator.metrics
        self.structure = self._evaluator.structure
        self.from_logits = bool(from_logits)
        self._layout = extra_layout(self.protocol, self.structure)
        self._batches: list[dict[str, torch.Tensor]] = []
        self._seen = 0

    def update(self, preds, gts, *, sizes=None, ids=None) -> None:
        """Score a batch: ``(B, 1, H, W)`` or ``(B, H, W)`` tensors, or lists of ``(H, W)`` maps of any sizes.

        Parameters
        ----------
        preds, gts : Tensor or list of Tensor
            Maps and masks on one device; a list may mix image sizes.
        sizes : sequence of (int, int) or Tensor (B, 2), optional
            For a padded batch: the (height, width) of each image, stored top-left; padding is ignored.
        ids : sequence of int or Tensor (B,), optional
            Image ids (e.g. dataset indices): records are named ``image{id:05d}`` and ordered by id. Default:
            the running image count.
        """
        n = len(preds) if isinstance(preds, (list, tuple)) else _batch_len(preds)
        states = batch_states(preds, gts, self.protocol, self.structure, ids, auto_ids=(self._seen, 1, 0),
                              from_logits=self.from_logits, sizes=sizes)
        self._batches.append(states)
        self._seen += n

    def reset(self) -> None:
        """Forget every image."""
        self._batches.clear()
        self._seen = 0

    @property
    def n_images(self) -> int:
        return self._seen

    def records(self, findings: list[Finding] | None = None):
        """The per-image :class:`~dbdbench.metrics.ImageRecord` list, in id order (one host copy).

        Raises the value rules' refusals (:mod:`dbdbench.values`); their accepted warnings go to ``findings``.
        """
        if not self._batches:
            return []
        return records_from_states(concat_states(self._batches), self.protocol, self._layout,
                                   checks=self._evaluator.checks, findings=findings)

    def compute(self, *, dataset: str | None = None, method: str | None = None, meta: dict | None = None) -> Result:
        """Reduce the images seen so far into a :class:`~dbdbench.results.Result` (as ``Evaluator.compute``)."""
        findings: list[Finding] = []
        records = self.records(findings)
        return result_of(records, self._evaluator, findings, dataset=dataset, method=method, meta=meta)


def result_of(records, evaluator: Evaluator, findings: Sequence[Finding] = (), **kwargs) -> Result:
    """``evaluator.compute`` over ``records`` and the input ``findings`` (the evaluator's own are left alone)."""
    ev = Evaluator(evaluator.protocol, evaluator.metrics, accept=evaluator.checks.accept,
                   strict=evaluator.checks.strict)
    ev.add(records, findings)
    return ev.compute(**kwargs)


def _batch_len(preds) -> int:
    shape = torch.as_tensor(preds).shape if not torch.is_tensor(preds) else preds.shape
    return 1 if len(shape) == 2 else int(shape[0])
