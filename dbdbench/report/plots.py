"""Paper figures: PR curves, F-measure vs threshold and ROC, one panel per dataset, or a grid of several.

Figures are built on :class:`matplotlib.figure.Figure` directly (Agg canvas, no pyplot state, no display)
and saved in the format given by each file extension (PNG at 300 dpi). Every method gets a colour, line
style and (in crowded figures) marker from :func:`method_styles`, a deterministic function of the sorted
method names, so a method looks the same in every panel and every figure drawn from the same methods.
Each panel's legend gives the headline score (max F for PR and F curves, AUC for ROC), best first; a
footnote line states the protocol's choices.

References
----------
.. [1] C. Tang et al., "DeFusionNet", IEEE TPAMI 44(2), 2022, Figs. 8-10 (PR, F-measure and ROC curves per
   dataset).
.. [2] S. A. Golestaneh, L. J. Karam, "Spatially-Varying Blur Detection Based on Multiscale Fused and Sorted
   Transform Coefficients of Gradient Magnitudes", CVPR 2017 (PR figure of 11 methods on CUHK).
"""

from __future__ import annotations

import math
import textwrap
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib import colormaps, rc_context
from matplotlib.figure import Figure

from dbdbench.report.columns import describe_settings, protocol_settings

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from dbdbench.results import Result

#: curve name -> (x key in ``Result.curves``, y key, x label, y label, title)
CURVES: dict[str, tuple[str, str, str, str, str]] = {
    "pr": ("recall", "precision", "Recall", "Precision", "Precision-recall"),
    "fmeasure": ("thresholds", "f", "Threshold", r"$F_\beta$", "F-measure vs threshold"),
    "roc": ("fpr", "recall", "False positive rate", "True positive rate", "ROC"),
}
#: the score each curve's legend shows
HEADLINE = {"pr": "max_f", "fmeasure": "max_f", "roc": "auc"}
SAVE_FORMATS = (".pdf", ".png", ".svg")
PNG_DPI = 300
#: tab10 and four dark colours: 14 hues before a colour repeats (then with another dash and marker)
PALETTE = (*(colormaps["tab10"](i) for i in range(10)), "black", "#7f0000", "#000080", "#806000")
LINESTYLES = ("-", "--", "-.", ":")
MARKERS = ("o", "s", "^", "D", "v", "P", "X")
#: more methods than this in a figure add markers to the lines and put each legend beside its panel
CROWDED = 6
#: inches added to each panel's width for a legend beside it
LEGEND_WIDTH = 1.7


def method_styles(methods: Iterable[str]) -> dict[str, dict[str, object]]:
    """Colour, line style and marker per method, from the i-th name in sorted order: colour ``i mod 14``
    of :data:`PALETTE` (tab10 and four dark hues), line style ``i mod 4`` of ``-``, ``--``, ``-.``, ``:``
    and marker ``i mod 7``.

    Colours and line styles cycle with periods 14 and 4, so 28 methods get distinct (colour, line style)
    pairs; neighbours in the legend differ in colour, dash and marker. Markers are drawn only in crowded
    figures (more than :data:`CROWDED` methods). The mapping depends only on the set of names; pass it to
    ``plot_curves(styles=...)`` to keep styles fixed across figures of different subsets.
    """
    names = sorted(set(methods), key=lambda m: (m.casefold(), m))
    return {
        name: {"color": PALETTE[i % len(PALETTE)], "linestyle": LINESTYLES[i % len(LINESTYLES)],
               "marker": MARKERS[i % len(MARKERS)]}
        for i, name in enumerate(names)
    }


def check_outs(out: str | Path | Sequence[str | Path] | None) -> list[Path]:
    """The output paths (one or several), each with a supported extension."""
    if out is None:
        return []
    outs = [Path(out)] if isinstance(out, (str, Path)) else [Path(o) for o in out]
    for path in outs:
        if path.suffix.lower() not in SAVE_FORMATS:
            raise ValueError(f"Cannot save a figure as {path.name!r}; use one of the extensions "
                             f"{', '.join(SAVE_FORMATS)}")
    return outs


def save_figure(fig: Figure, paths: Sequence[Path]) -> None:
    """Save to every path; PNG at :data:`PNG_DPI`; no dates or random ids (byte-stable PDF/SVG)."""
    from dbdbench.results import atomic_path

    for out in paths:
        suffix = out.suffix.lower()
        meta: dict[str, Any] = {"Creator": "dbdbench"} if suffix != ".png" else {"Software": "dbdbench"}
        if suffix == ".pdf":
            meta["CreationDate"] = None
        elif suffix == ".svg":
            meta["Date"] = None
        with rc_context({"svg.hashsalt": "dbdbench"}), atomic_path(out) as tmp:  # stable SVG element ids
            fig.savefig(tmp, format=suffix[1:], bbox_inches="tight", metadata=meta,
                        dpi=PNG_DPI if suffix == ".png" else "figure")  # fmt: skip


def _panels(results: Sequence[Result], curve: str) -> dict[str, list[Result]]:
    """Group results with a usable curve by panel (dataset, plus protocol when a dataset has several)."""
    x_key, y_key = CURVES[curve][:2]
    usable: list[Result] = []
    skipped: list[Result] = []
    for r in results:
        curves = r.curves or {}
        ok = x_key in curves and y_key in curves and len(curves[x_key]) > 0
        (usable if ok else skipped).append(r)
    if skipped:
        names = ", ".join(f"{r.method}/{r.dataset}" for r in skipped)
        warnings.warn(f"No {curve!r} curve stored for {names}; they are not plotted", stacklevel=3)
    if not usable:
        raise ValueError(f"None of the {len(results)} result(s) has the curves {x_key!r} and {y_key!r} needed "
                         f"for a {curve!r} plot (reported-only entries have no curves)")
    protocols: dict[str | None, set[str]] = {}
    for r in results:
        protocols.setdefault(r.dataset, set()).add(r.protocol)
    panels: dict[str, list[Result]] = {}
    for r in usable:
        title = f"{r.dataset} ({r.protocol})" if len(protocols[r.dataset]) > 1 else str(r.dataset)
        panels.setdefault(title, []).append(r)
    return panels


def _reported(r: Result) -> bool:
    return (r.meta or {}).get("kind") == "reported"


def _label(r: Result) -> str:
    return _method(r) + ("†" if _reported(r) else "")


def _method(r: Result) -> str:
    return r.method or ""


def headline_score(r: Result, curve: str) -> float | None:
    """The legend's score of one result: the stored max F (PR, F curves) or AUC (ROC).

    A curve-only entry (published curves, no scores) gets max F from its curve when that is how its
    protocol defines max F: the stored ``f`` curve's maximum, or, for protocols that take F of the mean
    precision and mean recall (``curve_average == "pr"``), ``max (1 + b2) P R / (b2 P + R)`` over the
    stored points. Otherwise None (no number is shown rather than one of another definition).
    """
    key = HEADLINE[curve]
    value = (r.scores or {}).get(key)
    if value is not None and math.isfinite(value):
        return float(value)
    if key != "max_f":
        return None
    curves = r.curves or {}
    if "f" in curves and len(curves["f"]):
        return float(np.max(curves["f"]))
    settings = protocol_settings(r.protocol, [r]) or {}
    if settings.get("curve_average") != "pr" or "precision" not in curves or "recall" not in curves:
        return None
    p, rec = np.asarray(curves["precision"], float), np.asarray(curves["recall"], float)
    b2 = float(settings.get("beta2", 0.3))
    den = b2 * p + rec
    f = np.divide((1 + b2) * p * rec, den, out=np.zeros_like(den), where=den > 0)
    return float(f.max())


def _draw_panel(ax: Axes, curve: str, rs: list[Result], styles: Mapping[str, Mapping[str, object]],
                crowded: bool) -> list[tuple[float, str, object]]:
    """Draw one panel; returns (score, legend text, handle) per line. A method present both as published
    (reported) and re-scored gets the published curve as a wide pale band under the re-scored line."""
    x_key, y_key = CURVES[curve][:2]
    both = {r.method for r in rs if _reported(r)} & {r.method for r in rs if not _reported(r)}
    entries = []
    for r in sorted(rs, key=lambda r: (_method(r).casefold(), _method(r), _reported(r))):
        x, y = np.asarray(r.curves[x_key], float), np.asarray(r.curves[y_key], float)
        if curve == "pr":
            keep = (x > 0) | (y > 0)
            x, y = x[keep], y[keep]
        style: dict[str, Any] = dict(styles[_method(r)])
        marker = style.pop("marker", None) if crowded else None
        style.pop("marker", None)
        kw: dict[str, Any] = {"linewidth": 1.3, "zorder": 3}
        if marker:
            kw.update(marker=marker, markevery=0.1, markersize=3.5)
        if r.method in both and _reported(r):
            kw.update(linewidth=5.0, alpha=0.35, zorder=2, linestyle="-")
            style.pop("linestyle", None)
        (line,) = ax.plot(x, y, label=_label(r), **style, **kw)
        score = headline_score(r, curve)
        text = _label(r) + (f" {score:.3f}" if score is not None else "")
        entries.append((score if score is not None else -1.0, text, line))
    return sorted(entries, key=lambda e: -e[0])


def _floor(rs: list[Result], curve: str) -> float:
    """Lower y limit: 0, except PR panels start 0.05 under the lowest precision drawn, on a 0.1 grid, so
    that curves crowded between 0.6 and 0.9 (as on CUHK) are not squeezed into a third of the panel."""
    if curve != "pr" or not rs:
        return 0.0
    low = []
    for r in rs:
        p, rec = np.asarray(r.curves["precision"], float), np.asarray(r.curves["recall"], float)
        keep = (p > 0) | (rec > 0)
        if keep.any():
            low.append(float(p[keep].min()))
    return max(0.0, math.floor((min(low) - 0.05) * 10) / 10) if low else 0.0


def _legend(ax: Axes, entries: list[tuple[float, str, Any]], curve: str, crowded: bool) -> None:
    """Inside the panel for a few methods; beside it (right) when crowded, so no curve is covered."""
    handles, texts = [e[2] for e in entries], [e[1] for e in entries]
    if crowded:
        ax.legend(handles, texts, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0,
                  fontsize="x-small", handlelength=3.0, frameon=False)
    else:
        ax.legend(handles, texts, loc="lower right" if curve == "roc" else "lower left", fontsize="small",
                  framealpha=0.85, handlelength=3.0)


def _footnote(results: Sequence[Result], kinds: Sequence[str]) -> str:
    """One line per protocol: its choices in words, plus the legend of the dagger when needed."""
    shown = [k for k in kinds if any(headline_score(r, k) is not None for r in results)]
    # the curves' own choices ("ar" stands for a threshold curve without F), plus the definition of a score
    # only when the legend shows it
    metrics = {"ar" if k == "roc" else "max_f" for k in kinds} | {HEADLINE[k] for k in shown}
    lines = []
    for protocol in dict.fromkeys(r.protocol for r in results):
        settings = protocol_settings(protocol, results)
        words = describe_settings(settings, metrics) if settings else "numbers as published"
        lines.append(f"Protocol {protocol}: {words}.")
    scores = " / ".join(dict.fromkeys("max F" if HEADLINE[k] == "max_f" else "AUC" for k in shown))
    legend = f"Legend: {scores}, best first." if scores else ""
    if any(_reported(r) for r in results):
        legend = f"† published by the authors (not re-computed by dbdbench). {legend}".strip()
    if legend:
        lines.append(legend)
    return "\n".join(lines)


def _layout(kinds: list[str], names: list[str], ncols: int | None) -> tuple[int, int, list[tuple[str, str]]]:
    """Grid shape and the (curve, panel) of each cell, row by row: curves as rows when several (side by
    side for a single dataset)."""
    if len(kinds) > 1 and len(names) == 1:
        return 1, len(kinds), [(k, names[0]) for k in kinds]
    if len(kinds) > 1:
        return len(kinds), len(names), [(k, n) for k in kinds for n in names]
    ncols = ncols or min(3, len(names))
    return math.ceil(len(names) / ncols), ncols, [(kinds[0], n) for n in names]


def plot_curves(
    results: Sequence[Result],
    curve: str | Sequence[str] = "pr",
    out: str | Path | Sequence[str | Path] | None = None,
    styles: Mapping[str, Mapping[str, object]] | None = None,
    ncols: int | None = None,
    panel_size: tuple[float, float] = (3.6, 3.2),
    title: str | None = None,
    footnote: bool = True,
) -> Figure:
    """Plot curves of every result, one panel per dataset; several curve kinds make a grid in one call.

    ``pr``: precision against recall; ``fmeasure``: F-beta against the binarisation threshold; ``roc``:
    true positive rate (recall of the blur class) against false positive rate. ``curve=("pr",
    "fmeasure")`` draws the PR curves of every dataset in the first row and the F curves below, as the DBD
    papers print them. Results without the needed curves (e.g. reported-only entries) are left out with a
    warning naming them. PR curves leave out the points with recall 0 and precision 0: nothing is
    detected there, precision is undefined (stored as 0 by the ``x / 0 = 0`` convention), and drawing them
    would add a spurious segment to the origin.

    Parameters
    ----------
    results : sequence of Result
        With ``curves`` holding ``thresholds``, ``precision``, ``recall``, ``fpr`` and ``f``.
    curve : {"pr", "fmeasure", "roc"} or a sequence of them
    out : path or sequence of paths, optional
        Where to save; each extension (.pdf, .png, .svg) picks the format.
    styles : mapping, optional
        Method -> line keyword arguments; default :func:`method_styles` over the methods of ``results``.
    ncols : int, optional
        Panels per row for a single curve kind (default: up to 3).
    panel_size : (float, float)
        Width and height of one panel in inches.
    title : str, optional
        Figure title. A single panel has one title: this, or the dataset name.
    footnote : bool
        Add the protocol line under the panels.

    Returns
    -------
    matplotlib.figure.Figure

    References
    ----------
    .. [1] Tang et al., DeFusionNet, IEEE TPAMI 2022, Figs. 8-10.
    """
    kinds = [curve] if isinstance(curve, str) else list(curve)
    bad = [k for k in kinds if k not in CURVES]
    if bad or not kinds:
        raise ValueError(f"Unknown curve {bad[0] if bad else curve!r}; choose one of {', '.join(CURVES)}")
    paths = check_outs(out)
    panels = {k: _panels(results, k) for k in kinds}
    names = list(dict.fromkeys(n for k in kinds for n in panels[k]))
    styles = dict(styles) if styles is not None else method_styles(_method(r) for r in results)
    missing = sorted({_method(r) for k in kinds for rs in panels[k].values() for r in rs} - set(styles))
    if missing:
        raise ValueError(f"styles has no entry for method(s) {missing}; build it with method_styles(all methods)")
    nrows, ncols, cells = _layout(kinds, names, ncols)
    crowded = len({r.method for k in kinds for rs in panels[k].values() for r in rs}) > CROWDED
    width = panel_size[0] + (LEGEND_WIDTH if crowded else 0.0)
    note = _footnote(results, kinds) if footnote else ""
    chars = max(40, int(width * ncols * 72 / 4.3))  # characters per footnote line at x-small type
    note = "\n".join(textwrap.fill(line, chars) for line in note.splitlines())
    extra = 0.13 * (note.count("\n") + 1) if note else 0.0  # the footnote's lines get their own height
    fig = Figure(figsize=(width * ncols, panel_size[1] * nrows + extra), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    single = len(cells) == 1
    for i, (ax, (kind, name)) in enumerate(zip(axes, cells, strict=False)):
        _, _, x_label, y_label, _ = CURVES[kind]
        rs = panels[kind].get(name, [])
        entries = _draw_panel(ax, kind, rs, styles, crowded)
        ax.set(xlim=(0, 1), ylim=(_floor(rs, kind), 1.01), xlabel=x_label, ylabel=y_label)
        if single:
            ax.set_title(title or name)
        elif len(names) > 1 and (len(kinds) == 1 or i < ncols):  # a grid names datasets above its top row
            ax.set_title(name)
        ax.grid(True, alpha=0.3)
        if kind == "roc":
            ax.plot([0, 1], [0, 1], color="0.7", linewidth=0.8, linestyle=":", label="_chance")
        if entries and (len(kinds) == 1 or kind == kinds[0] or HEADLINE[kind] != HEADLINE[kinds[0]]):
            _legend(ax, entries, kind, crowded)
    for ax in axes[len(cells):]:
        ax.set_visible(False)
    if not single and (title or len(names) == 1):  # one dataset in several panels: its name once, on top
        fig.suptitle(title or names[0])
    if note:
        fig.supxlabel(note, fontsize="x-small", color="0.3", ha="left", x=0.01, multialignment="left")
    save_figure(fig, paths)
    return fig
