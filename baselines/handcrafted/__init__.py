"""Hand-crafted defocus blur detectors, ported from the authors' MATLAB code.

``from baselines.handcrafted import hifst, lbp`` gives one public function per method; each takes an RGB or
gray image of any dtype and returns a float map in [0, 1] of the input's size, **high = sharp**, as the
authors' code does (flip it with ``1 - map`` for P(blur)).
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["hifst", "lbp"]


def __getattr__(name: str) -> Any:
    # Lazy so that importing one method never pays for the other; the function replaces the submodule
    # attribute that the import machinery sets on the package.
    if name in __all__:
        func = getattr(importlib.import_module(f"{__name__}.{name}"), name)
        globals()[name] = func
        return func
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
