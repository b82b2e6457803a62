"""Which methods a table or figure shows, in which order, under which names (``--methods``, ``--names``).

A names file maps each result's method name to the name the paper prints (``{"d-dffnet-t1": "D-DFFNet"}``),
as JSON or YAML (YAML needs PyYAML). Selection and order come from ``methods``; names given there may be
result names or display names.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dbdbench.results import Result


def load_names(path: str | Path) -> dict[str, str]:
    """Read a ``result name -> display name`` mapping from a JSON or YAML (``.yaml``/``.yml``) file.

    Raises
    ------
    ValueError
        When the file does not hold a flat mapping of strings to strings, or two names map to one
        display name (their rows and lines could not be told apart).
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError as exc:  # pragma: no cover - PyYAML is usually installed
            raise ValueError(f"{path}: reading YAML needs PyYAML (pip install pyyaml); or write the names as "
                             "JSON") from exc
        data = yaml.safe_load(text)
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not valid JSON ({exc}); write {{\"result name\": \"display name\"}}") from exc
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise ValueError(f"{path}: expected a mapping of result names to display names, e.g. "
                         f"{{\"d-dffnet\": \"D-DFFNet\"}}; got {type(data).__name__}")
    check_unique(data, str(path))
    return dict(data)


def check_unique(names: Mapping[str, str], where: str = "names") -> None:
    """Refuse two result names with the same display name."""
    seen: dict[str, str] = {}
    for key, shown in names.items():
        if shown in seen and seen[shown] != key:
            raise ValueError(f"{where}: {seen[shown]!r} and {key!r} are both shown as {shown!r}; give each its own "
                             "display name")
        seen[shown] = key


def select(results: Sequence[Result], methods: Sequence[str] | None = None,
           names: Mapping[str, str] | None = None) -> list[Result]:
    """The results of ``methods`` (result or display names) in that order, renamed by ``names``.

    Without ``methods`` every result is kept in its order. Results are copied, never changed.

    Raises
    ------
    ValueError
        For a method that no result has (the message lists those present).
    """
    names = dict(names or {})
    check_unique({str(r.method): names.get(str(r.method), str(r.method)) for r in results}, "display names")
    if methods is not None:
        present = list(dict.fromkeys(str(r.method) for r in results))
        by_display = {names.get(m, m): m for m in present}
        order = []
        for m in methods:
            key = m if m in present else by_display.get(m)
            if key is None:
                raise ValueError(f"No result for method {m!r}; present: {', '.join(present)}")
            order.append(key)
        rank = {m: i for i, m in enumerate(dict.fromkeys(order))}
        results = sorted((r for r in results if str(r.method) in rank), key=lambda r: rank[str(r.method)])
    return [dataclasses.replace(r, method=names.get(str(r.method), r.method)) if names else r for r in results]


def display(name: str | None, names: Mapping[str, str] | None) -> str | None:
    """The display name of a result or display name (unchanged when ``names`` has no entry)."""
    if name is None or not names:
        return name
    return names.get(name, name)


def slug(name: str) -> str:
    """A file-name-safe form of a protocol or dataset name (``reported:x`` -> ``reported-x``)."""
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in name)
