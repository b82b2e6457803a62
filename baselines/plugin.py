"""What ``baselines`` registers with dbdbench (entry points in ``pyproject.toml``).

Commands: ``dbdbench predict`` and ``dbdbench train`` (:mod:`baselines.cli`). Methods: the hand-crafted
map predictors by name, used by ``dbdbench demo`` through :func:`dbdbench.plugins.get_method`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from baselines.predict import predict_handcrafted


def lbp(images: Mapping[str, Path], out: Path, *, jobs: int = 1, progress: bool = True) -> Any:
    """Write LBP sharpness maps (Yi & Eramian 2016) of ``images`` into ``out``; see :mod:`baselines.handcrafted.lbp`."""
    return predict_handcrafted("lbp", images, out, jobs=jobs, progress=progress)


def hifst(images: Mapping[str, Path], out: Path, *, jobs: int = 1, progress: bool = True) -> Any:
    """Write HiFST maps (Golestaneh & Karam 2017) of ``images`` into ``out``; see :mod:`baselines.handcrafted.hifst`."""
    return predict_handcrafted("hifst", images, out, jobs=jobs, progress=progress)
