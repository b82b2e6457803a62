"""The metrics core: per-image counts -> pure score functions -> protocols -> :class:`Evaluator`.

>>> from dbdbench.metrics import Evaluator, list_protocols
>>> list_protocols()[0]  # the default protocol first; docs/protocols.md describes each
'dbdbench'

``TorchEvaluator`` (batches of torch tensors on any device) and ``EvaluatorMetric`` (its ``torchmetrics``
form) are imported on first use, so that importing dbdbench never imports torch.
"""

from __future__ import annotations

from dbdbench.metrics.evaluator import Evaluator
from dbdbench.metrics.image import ImageRecord, score_image
from dbdbench.metrics.info import METRICS, ImageTerm, MetricInfo, get_metric, register_metric, unregister_metric
from dbdbench.metrics.protocols import (
    PROTOCOLS,
    Protocol,
    get_protocol,
    list_protocols,
    register_protocol,
    unregister_protocol,
)

__all__ = [
    "METRICS",
    "PROTOCOLS",
    "Evaluator",
    "EvaluatorMetric",
    "ImageRecord",
    "ImageTerm",
    "MetricInfo",
    "Protocol",
    "get_metric",
    "get_protocol",
    "list_protocols",
    "register_metric",
    "register_protocol",
    "score_image",
    "TorchEvaluator",
    "unregister_metric",
    "unregister_protocol",
]

_LAZY = {
    "TorchEvaluator": "dbdbench.metrics.torch_evaluator",
    "EvaluatorMetric": "dbdbench.metrics.torch_metric",
}


def __getattr__(name: str):
    if name in _LAZY:  # torch (and torchmetrics) load only when these are asked for
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
