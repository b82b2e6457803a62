"""Plug-in registry: commands and map predictors that other packages add to dbdbench.

dbdbench never imports the packages that extend it (``baselines`` depends on dbdbench, not the reverse).
They declare what they add as package entry points in their ``pyproject.toml``::

    [project.entry-points."dbdbench.commands"]
    predict = "baselines.cli.predict:predict"       # a click command of the `dbdbench` group

    [project.entry-points."dbdbench.methods"]
    lbp = "baselines.plugin:lbp"                    # predict(images, out, *, jobs, progress)

and dbdbench finds them through :mod:`importlib.metadata` when a command or method is asked for.

>>> from dbdbench.plugins import METHODS_GROUP
>>> METHODS_GROUP
'dbdbench.methods'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any, Protocol

COMMANDS_GROUP = "dbdbench.commands"
METHODS_GROUP = "dbdbench.methods"


class MapPredictor(Protocol):
    """A registered method: write one map per image into ``out`` (with the ``meta.json`` of its polarity)."""

    def __call__(self, images: Mapping[str, Path], out: Path, *, jobs: int = 1, progress: bool = True) -> Any: ...


def registered(group: str) -> dict[str, EntryPoint]:
    """Name -> entry point of every plug-in of ``group`` installed in the environment, sorted by name."""
    return {ep.name: ep for ep in sorted(entry_points(group=group), key=lambda ep: ep.name)}


def _load(group: str, name: str, what: str) -> Any:
    found = registered(group)
    if name not in found:
        valid = ", ".join(found) or "none installed"
        raise KeyError(f"Unknown {what} {name!r}; valid: {valid} (plug-ins such as the baselines come with "
                       "`pip install dbdbench[baselines]`)")
    return found[name].load()


def get_method(name: str) -> MapPredictor:
    """The map predictor registered as ``name`` (e.g. ``"lbp"``), with an error listing the valid names."""
    fn: Callable[..., Any] = _load(METHODS_GROUP, name, "method")
    return fn


def list_methods() -> list[str]:
    """Names of the registered map predictors."""
    return list(registered(METHODS_GROUP))


def get_command(name: str) -> Any:
    """The click command registered as ``name`` by a plug-in."""
    return _load(COMMANDS_GROUP, name, "command")
