"""Training checkpoints: model, optimiser, AMP scaler, step and RNG states in one ``torch.save`` file.

A checkpoint is a plain dict readable with ``torch.load(path, weights_only=True)`` (no pickled classes)::

    {"format": "dbdbench.train", "version": 1, "method", "stage", "model_kwargs", "pipeline": {...}, "step",
     "iterations", "model": state_dict, "optimizer": state_dict, "scaler": state_dict, "rng": {...},
     "config": {...}, "recipe": {...}}

``pipeline`` is the test pipeline :mod:`baselines.predict` applies (:class:`baselines.pipeline.TestPipeline`:
input size, decode/resize library, ImageNet mean and std, upsampling, 8-bit rule, polarity of the map).

``model`` holds the unwrapped module's keys (no ``module.`` prefix), so ``create_model(method,
pretrained=path)`` and ``dbdbench predict --weights path`` read it directly. Writes are atomic (temporary
file + ``os.replace``), so an interrupted save never leaves a truncated ``last.pt``.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

CKPT_FORMAT = "dbdbench.train"
CKPT_VERSION = 1


def rng_state() -> dict[str, Any]:
    """The Python, NumPy, torch CPU and CUDA generator states, as weights-only-loadable values."""
    # the legacy global NumPy generator is what third-party code may draw from, so it is the state to keep
    kind, keys, pos, has_gauss, gauss = np.random.get_state()  # noqa: NPY002
    py_version, py_state, py_gauss = random.getstate()
    state: dict[str, Any] = {
        "python": [py_version, list(py_state), py_gauss],
        "numpy": [kind, torch.from_numpy(np.asarray(keys, dtype=np.int64)), int(pos), int(has_gauss), float(gauss)],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore the generators saved by :func:`rng_state` (CUDA states only when CUDA is present)."""
    version, py_state, gauss = state["python"]
    random.setstate((version, tuple(py_state), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))  # noqa: NPY002
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: str | os.PathLike, payload: dict[str, Any]) -> Path:
    """Write ``payload`` (plus the format tag and the RNG states) atomically to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"format": CKPT_FORMAT, "version": CKPT_VERSION, **payload, "rng": rng_state()}
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(data, tmp)
    os.replace(tmp, path)
    return path


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a trainer checkpoint on the CPU; errors name the file when it is missing or foreign."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist; pass the last.pt written by the trainer")
    data = torch.load(path, map_location="cpu", weights_only=True)
    if not is_train_checkpoint(data):
        raise ValueError(f"{path} is not a dbdbench training checkpoint (no format tag {CKPT_FORMAT!r}); "
                         "to start from foreign weights use --pretrained PATH instead of --resume")
    if data.get("version") != CKPT_VERSION:
        raise ValueError(f"{path}: checkpoint version {data.get('version')!r} is not supported "
                         f"(this dbdbench writes version {CKPT_VERSION})")
    return data


def is_train_checkpoint(obj: object) -> bool:
    """True for a dict written by :func:`save_checkpoint`."""
    return isinstance(obj, dict) and obj.get("format") == CKPT_FORMAT
