"""The metrics core: per-image counts -> pure score functions -> protocols -> :class:`Evaluator`.

>>> from dbdbench.metrics import Evaluator, list_protocols
>>> list_protocols()
['dbdbench', 'pysod', 'ddffnet', 'zhao', 'hifst']
"""

from __future__ import annotations

from dbdbench.metrics.evaluator import Evaluator
from dbdbench.metrics.image import ImageRecord, score_image
from dbdbench.metrics.info import METRICS, MetricInfo, get_metric
from dbdbench.metrics.protocols import PROTOCOLS, Protocol, get_protocol, list_protocols

__all__ = [
    "METRICS",
    "PROTOCOLS",
    "Evaluator",
    "ImageRecord",
    "MetricInfo",
    "Protocol",
    "get_metric",
    "get_protocol",
    "list_protocols",
    "score_image",
]
