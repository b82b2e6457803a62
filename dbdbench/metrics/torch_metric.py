"""``EvaluatorMetric``: the :class:`~dbdbench.metrics.TorchEvaluator` as a ``torchmetrics.Metric``.

The per-image states (histograms, single-threshold counts, MAE, host-computed extras, image ids) are
``torchmetrics`` list states with ``dist_reduce_fx="cat"``, so under DDP or Lightning ``compute()`` gathers
every process's images first (``torchmetrics`` handles uneven shards) and then reduces them in image-id order:
the result equals a single process that saw all images, bit for bit. Needs ``torchmetrics``
(``pip install dbdbench[torch]``); :class:`~dbdbench.metrics.TorchEvaluator` works without it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence

import torch
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from dbdbench.findings import Finding
from dbdbench.metrics.evaluator import Evaluator
from dbdbench.metrics.protocols import Protocol
from dbdbench.metrics.torch_batch import STATE_KEYS, batch_states, empty_states, extra_layout, records_from_states
from dbdbench.metrics.torch_evaluator import _batch_len, result_of
from dbdbench.results import Result


class EvaluatorMetric(Metric):
    """A dbdbench protocol as a ``torchmetrics.Metric``: ``update(preds, gts)`` per batch, ``compute()`` a Result.

    Parameters
    ----------
    protocol, metrics, from_logits, accept, strict
        As for :class:`~dbdbench.metrics.TorchEvaluator`.
    **kwargs
        ``torchmetrics.Metric`` options (``sync_on_compute``, ``process_group``, ...).

    Notes
    -----
    Without ``ids``, image ``k`` of process ``r`` (of ``W``) gets id ``k * W + r``, the global index under a
    ``DistributedSampler(shuffle=False)`` that does not pad; pass dataset indices as ``ids`` otherwise. Ids
    seen twice (a padding sampler repeats images) are refused by ``compute()``. ``compute()`` returns a
    :class:`~dbdbench.results.Result`; log ``result.scores[key]``. Calling the metric (``forward``) only
    updates it and returns None.
    """

    is_differentiable = False
    higher_is_better = None
    full_state_update = False

    def __init__(self, protocol: str | Protocol = "dbdbench", metrics: Sequence[str] | None = None, *,
                 from_logits: bool = False, accept: Iterable[str] = (), strict: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self._evaluator = Evaluator(protocol, metrics, accept=accept, strict=strict)
        self.protocol = self._evaluator.protocol
        self.metrics = self._evaluator.metrics
        self.structure = self._evaluator.structure
        self.from_logits = bool(from_logits)
        self._layout = extra_layout(self.protocol, self.structure)
        self._seen = 0
        for key in STATE_KEYS:
            self.add_state(key, default=[], dist_reduce_fx="cat")

    def update(self, preds, gts, sizes=None, ids=None) -> None:
        """Score a batch (see :meth:`TorchEvaluator.update <dbdbench.metrics.TorchEvaluator.update>`)."""
        n = len(preds) if isinstance(preds, (list, tuple)) else _batch_len(preds)
        rank, world = _rank_world(self.process_group)
        states = batch_states(preds, gts, self.protocol, self.structure, ids, auto_ids=(self._seen, world, rank),
                              from_logits=self.from_logits, sizes=sizes)
        for key in STATE_KEYS:
            getattr(self, key).append(states[key])
        self._seen += n

    def forward(self, preds, gts, sizes=None, ids=None) -> None:
        """``update`` only: a per-batch Result would cost a host copy per batch; call ``compute()`` at the end."""
        self.update(preds, gts, sizes=sizes, ids=ids)

    def compute(self) -> Result:
        """The :class:`~dbdbench.results.Result` of all images seen (on every process, after the sync)."""
        if isinstance(self.ids, list) and not self.ids:
            raise ValueError("no images were scored; call update() at least once before compute()")
        states = {k: dim_zero_cat(getattr(self, k)) for k in STATE_KEYS}
        if not len(states["ids"]):
            raise ValueError("no images were scored by any process; call update() at least once before compute()")
        findings: list[Finding] = []
        records = records_from_states(states, self.protocol, self._layout, checks=self._evaluator.checks,
                                      findings=findings)
        return result_of(records, self._evaluator, findings)

    def _sync_dist(self, dist_sync_fn=None, process_group=None) -> None:
        """torchmetrics' gather, with typed zero-image states where this process scored no image.

        torchmetrics stands in an empty float32 vector for an empty list state, which the other processes'
        (k, width) int64 states do not match (gloo aborts the job); a (0, width) state of the right dtype is
        gathered like any other, and this process then contributes nothing.
        """
        for key, empty in empty_states(self.protocol, self._layout, self.device).items():
            if isinstance(getattr(self, key), list) and not getattr(self, key):
                setattr(self, key, [empty])  # a new list: the cached local state (restored after compute) is kept
        kwargs = {} if dist_sync_fn is None else {"dist_sync_fn": dist_sync_fn}
        super()._sync_dist(process_group=process_group, **kwargs)

    def _wrap_compute(self, compute: Callable) -> Callable:
        """torchmetrics' compute wrapper (sync, cache) without its walk over the value: a Result holds no
        tensors, and the walk would try to rebuild the frozen per-image counts in ``Result.records``."""

        @functools.wraps(compute)
        def wrapped(*args, **kwargs):
            if self._computed is not None:
                return self._computed
            with self.sync_context(dist_sync_fn=self.dist_sync_fn, should_sync=self._to_sync,
                                   should_unsync=self._should_unsync):
                value = compute(*args, **kwargs)
            if self.compute_with_cache:
                self._computed = value
            return value

        return wrapped

    def reset(self) -> None:
        super().reset()
        self._seen = 0


def _rank_world(group) -> tuple[int, int]:
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(group), dist.get_world_size(group)
    return 0, 1
