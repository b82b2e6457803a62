"""dbdbench: the benchmark and leaderboard toolkit for defocus blur detection (DBD).

Canonical polarity everywhere in the library: a map is P(blur) in [0, 1] and a mask is True where the
pixel is out of focus. Datasets and prediction folders declare what white means in their files; the
readers flip accordingly. Every number carries the :class:`~dbdbench.metrics.Protocol` that produced it.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
