"""Table captions in words: short by default (what is compared, the protocol in a few words, image
counts), full on request (every choice of the protocol for the columns shown).

Private: used by :mod:`dbdbench.report._render`. Captions name no protocol keys (a reader of the paper
cannot look them up) and point into no documentation; they say what the protocol does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from dbdbench.metrics.info import METRICS

if TYPE_CHECKING:
    from dbdbench.report.grid import ScoreGrid

CAPTION_STYLES = ("short", "full")
MARK_LEGENDS = {0: "", 1: "Best in bold (compared as printed); ",
                2: "Best in bold, second underlined (compared as printed); "}


def short_settings(settings: Mapping[str, Any], metrics: Iterable[str]) -> str:
    """The protocol in a few words: positive class, β² of F, thresholds, adaptive rule when shown."""
    wanted = set(metrics)
    infos = [info for key, info in METRICS.items() if key in wanted]
    positive = "blur" if settings.get("positive", "blur") == "blur" else "in-focus"
    parts = [f"{positive} class positive"]
    if any("beta2" in info.reads for info in infos):
        beta2 = float(settings.get("beta2", 0.3))
        parts.append(f"F-measure with β² = {beta2:g}")
    if any(info.threshold == "curve" for info in infos):
        thresholds = settings.get("thresholds")
        parts.append(f"{len(thresholds) if thresholds else 256} thresholds")
    if any(info.threshold == "adaptive" for info in infos):
        parts.append(f"adaptive threshold min({float(settings.get('adaptive_factor', 2.0)):g} mean, 1)")
    return ", ".join(parts)


def _scored(grid: ScoreGrid, datasets: list[str]) -> str:
    named = [f"{d} ({grid.n_images[d]} images)" if grid.n_images.get(d) else d for d in datasets]
    return named[0] if len(named) == 1 else ", ".join(named[:-1]) + " and " + named[-1]


def _published(grid: ScoreGrid, protocol: str) -> str:
    sources = grid.sources.get(protocol)
    where = "; ".join(sources) if sources else "the source paper"
    return f"numbers as printed in {where}, with that paper's definitions"


def caption_sentences(grid: ScoreGrid, style: str) -> list[str]:
    """What is compared (methods, datasets with image counts), then per protocol its choices in words:
    a few words (``short``) or every choice for the columns shown (``full``)."""
    out = []
    n = len({row.method for row in grid.rows})
    for protocol, datasets in grid.protocols().items():
        words = (grid.descriptions if style == "full" else grid.summaries).get(protocol)
        what = f"{n} method{'s' if n != 1 else ''} on {_scored(grid, datasets)}"
        out.append(f"Comparison of {what}: {words or _published(grid, protocol)}.")
    return out


def caption_text(grid: ScoreGrid, caption: str | None, style: str, marks_legend: str) -> str:
    """Plain-text caption: the author's ``caption``, what is compared, the protocol in words, the legend
    of the marks (``marks_legend``, e.g. :data:`MARK_LEGENDS`) and of the arrows."""
    if style not in CAPTION_STYLES:
        raise ValueError(f"Unknown caption style {style!r}; choose one of {', '.join(CAPTION_STYLES)}")
    parts = [caption.rstrip()] if caption else []
    parts += caption_sentences(grid, style)
    parts.append(f"{marks_legend}↑/↓: higher/lower is better.")
    return " ".join(parts)
