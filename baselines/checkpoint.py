"""Training checkpoints: model, optimiser, AMP scaler, step and RNG states in one ``torch.save`` file.

A checkpoint is a plain dict readable with ``torch.load(path, weights_only=True)`` (no pickled classes)::

    {"format": "dbdbench.train", "version": 1, "method", "stage", "model_kwargs", "pipeline": {...}, "step",
     "iterations", "model": state_dict, "optimizer": state_dict, "scaler": state_dict, "rng": {...},
     "config": {...}, "recipe": {...}}

``pipeline`` is the test pipeline :mod:`baselines.predict` applies (:class:`baselines.pipeline.TestPipeline`:
input size, decode/resize library, ImageNet mean and std, upsampling, 8-bit rule, polarity of the map).

``model`` holds the unwrapped module's keys (no ``module.`` prefix), so ``create_model(method,
pretrained=path)`` and ``dbdbench predict --weights path`` read it directly. Writes are atomic (temporary
file + ``os.replace``), so an interrupted save never leaves a truncated ``last.pt``; the temporary file a
kill during a save leaves behind (``.last.pt.tmp``) is removed by :func:`remove_partial` at the next start.

A resumed run continues the checkpoint's seed and recipe (:func:`resumed_settings`, :func:`check_same_recipe`)
and drops the log lines written after its step (:func:`truncate_log`).

:func:`read_weights` is the one reader of weights files: a file that is not one (a JSON file, a truncated
``.pt``) is refused with one line naming the file and what was expected.
"""

from __future__ import annotations

import json
import os
import pickle
import random
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dbdbench.io import WriteError

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
    """Write ``payload`` (plus the format tag and the RNG states) atomically to ``path``.

    A failed write (a full disk ...) removes the temporary file and raises :class:`dbdbench.io.WriteError`
    naming ``path``; ``path`` keeps its previous checkpoint.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"format": CKPT_FORMAT, "version": CKPT_VERSION, **payload, "rng": rng_state()}
    tmp = partial_path(path)
    try:  # into a Python file: torch.save to a path turns a full disk into a RuntimeError of its C++ writer
        with open(tmp, "wb") as fh:
            torch.save(data, fh)
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):  # full disk, no permission: one line naming the file (exit 2 in the CLI)
            raise WriteError(f"cannot write {path}: {exc.strerror or exc}") from exc
        raise
    return path


def partial_path(path: Path) -> Path:
    """The temporary file :func:`save_checkpoint` writes before renaming it to ``path``."""
    return path.with_name(f".{path.name}.tmp")


def remove_partial(folder: str | os.PathLike) -> list[Path]:
    """Delete the temporary checkpoints (``.*.pt.tmp``) a kill during a save left in ``folder``; returns them."""
    removed = sorted(Path(folder).glob(".*.pt.tmp"))
    for tmp in removed:
        tmp.unlink(missing_ok=True)
    return removed


#: what torch.load raises on a file that is not a (weights-only loadable) torch file
_NOT_TORCH = (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, zipfile.BadZipFile, UnicodeDecodeError)


def read_weights(path: str | os.PathLike, expected: str = "a PyTorch weights file (.pt/.pth)",
                 mmap: bool = False) -> Any:
    """``torch.load(path, weights_only=True)`` on the CPU; a file that is not one raises a one-line ValueError.

    ``expected`` says what the caller wanted (e.g. the trainer's ``last.pt``), so the message names the
    file, the wanted content and torch's reason in its first line, without torch's advice to unpickle
    arbitrary code (``weights_only=False``), which a weights file never needs.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist; expected {expected}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap and zipfile.is_zipfile(path))
    except _NOT_TORCH as exc:
        raise ValueError(f"{path} is not {expected}: {_unreadable_reason(exc)}; pass the complete file "
                         "(a download or copy may have been cut short)") from None


def _unreadable_reason(exc: BaseException) -> str:
    """torch's reason in a few words, without its advice to load with ``weights_only=False``."""
    text = str(exc)
    if isinstance(exc, EOFError) or not text.strip():
        return "the file is empty or ends early"
    if isinstance(exc, pickle.UnpicklingError):
        detail = [ln.strip() for ln in text.splitlines() if ln.strip().startswith(("Unsupported", "Trying to"))]
        what = f" ({detail[0][:120]})" if detail else ""
        return f"it is neither a torch.save zip archive nor a pickle of tensors{what}"
    return text.strip().splitlines()[0].split(". ")[0][:160]


def load_checkpoint(path: str | os.PathLike, mmap: bool = False) -> dict[str, Any]:
    """Read a trainer checkpoint on the CPU; errors name the file when it is missing, unreadable or foreign.

    ``mmap``: map the tensors instead of reading them (to look at a large checkpoint's small entries).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist; pass the last.pt written by the trainer")
    data = read_weights(path, "a checkpoint of `dbdbench train` (last.pt)", mmap=mmap)
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


def resumed_settings(path: Path, data: dict[str, Any], method: str, stage: int, seed: int,
                     given: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """The seed and recipe overrides a run resuming checkpoint ``data`` continues with.

    The seed is the checkpoint's (it drives the data order; a warning when ``seed`` differs). ``given`` maps
    the command-line recipe overrides to their values (``None`` = not given): one not given is taken from the
    checkpoint's recipe, one given must equal it. A checkpoint of another (canonical) ``method`` or ``stage``
    is refused.
    """
    if data["method"] != method or data.get("stage", 1) != stage:
        raise ValueError(f"{path} was written for {data['method']} stage {data.get('stage', 1)}, not "
                         f"{method} stage {stage}; resume with the same --method/--stage")
    saved_seed = int(data["config"]["seed"])
    if saved_seed != seed:
        warnings.warn(f"resuming {path}: using its seed {saved_seed} (not {seed}) so the data order continues",
                      stacklevel=4)
    stored = data.get("recipe") or {}
    taken, clashes = {}, []
    for name, value in given.items():
        if name not in stored:
            continue
        saved = tuple(stored[name]) if isinstance(stored[name], (list, tuple)) else stored[name]
        if value is None:
            taken[name] = saved
        elif value != saved:
            clashes.append(f"--{name.replace('_', '-')} {value} (the checkpoint's: {saved})")
    if clashes:
        raise ValueError(f"resuming {path}: {', '.join(clashes)} would change the run's schedule; resume without "
                         "these options (the checkpoint's are used) or start a new --out")
    return saved_seed, taken


def check_same_recipe(path: Path, data: dict[str, Any], recipe: dict[str, Any]) -> None:
    """Refuse to resume under a recipe (``asdict`` of it) that differs from the checkpoint's, e.g. a net's
    recipe changed since the checkpoint was written; ``source`` (the citation text) may differ."""
    if data.get("recipe") is None:
        return
    stored, mine = json.loads(json.dumps(data["recipe"])), json.loads(json.dumps(recipe))  # tuples as lists
    changed = sorted(k for k in mine if k != "source" and k in stored and stored[k] != mine[k])
    if changed:
        raise ValueError(f"resuming {path}: the recipe differs from the checkpoint's in {', '.join(changed)} "
                         f"({', '.join(f'{k}: {stored[k]} -> {mine[k]}' for k in changed)}); resume with the "
                         "dbdbench version that wrote it, or start a new --out")


def truncate_log(path: Path, step: int) -> None:
    """Keep the JSON lines of ``path`` whose ``step`` is at most ``step`` (all dropped for ``step = 0``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    kept = []
    lines = [ln for ln in path.read_text().splitlines() if ln.strip()] if step and path.is_file() else []
    for i, ln in enumerate(lines, 1):
        try:
            row = json.loads(ln)
        except json.JSONDecodeError:
            if i == len(lines):  # a line cut by a kill or a full disk: written after the checkpoint's step
                warnings.warn(f"{path}: dropped its last line, which was cut short", stacklevel=2)
                break
            raise ValueError(f"{path}: line {i} is not JSON; repair or remove the log to resume") from None
        if row["step"] <= step:
            kept.append(ln)
    path.write_text("".join(f"{ln}\n" for ln in kept))
