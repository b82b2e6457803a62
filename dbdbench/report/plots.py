"""Paper figures: PR curves, F-measure vs threshold and ROC, one panel per dataset, or a grid of several.

Figures are built on :class:`matplotlib.figure.Figure` directly (Agg canvas, no pyplot state, no display)
and saved in the format given by each file extension (PNG at 300 dpi). Every method gets a colour, line
style and (in crowded figures) marker from :func:`method_styles`, a deterministic function of the sorted
method names, so a method looks the same in every panel and every figure drawn from the same methods.
Each legend gives the headline score (max F for PR and F curves, AUC for ROC), best first; the caption
text (:func:`curve_caption`) states the protocol's choices. Sizes, type and legend geometry are in
:mod:`dbdbench.report.figure`.

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

from dbdbench.report import figure as layout
from dbdbench.report.columns import protocol_settings
from dbdbench.report.figure import dataset_title

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
#: the colour reserved for the author's own method (``highlight``); no other method gets it
HIGHLIGHT_COLOR = colormaps["tab10"](3)
#: tab10 without its red (reserved) and five dark colours: 14 hues before a colour repeats
PALETTE = (*(colormaps["tab10"](i) for i in range(10) if i != 3), "black", "#000080", "#806000", "#6a006a",
           "#005f5f")
LINESTYLES = ("-", "--", "-.", ":")
MARKERS = ("o", "s", "^", "D", "v", "P", "X")
#: from this many methods in a figure the lines carry markers (two solid lines can look alike in grey)
MARKED = 4
LINE_WIDTH = 1.1
HIGHLIGHT_WIDTH = 2.0


def method_styles(methods: Iterable[str], highlight: str | None = None) -> dict[str, dict[str, object]]:
    """Colour, line style and marker per method, from the i-th name in sorted order: colour ``i mod 14``
    of :data:`PALETTE` (tab10 without red, and five dark hues), line style ``i mod 4`` of ``-``, ``--``,
    ``-.``, ``:`` and marker ``i mod 7``.

    Colours and line styles cycle with periods 14 and 4, so 28 methods get distinct (colour, line style)
    pairs; neighbours in the legend differ in colour, dash and marker. Markers are drawn from
    :data:`MARKED` methods up. ``highlight`` (the author's method) gets the reserved
    :data:`HIGHLIGHT_COLOR`, a solid line and is left out of the cycle. The mapping depends only on the
    set of names; pass it to ``plot_curves(styles=...)`` to keep styles fixed across figures of
    different subsets.
    """
    names = sorted(set(methods) - {highlight}, key=lambda m: (m.casefold(), m))
    styles: dict[str, dict[str, object]] = {
        name: {"color": PALETTE[i % len(PALETTE)], "linestyle": LINESTYLES[i % len(LINESTYLES)],
               "marker": MARKERS[i % len(MARKERS)]}
        for i, name in enumerate(names)
    }
    if highlight is not None:
        styles[highlight] = {"color": HIGHLIGHT_COLOR, "linestyle": "-", "marker": "o"}
    return styles


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


def save_figure(fig: Figure, paths: Sequence[Path], tight: bool = True) -> None:
    """Save to every path; PNG at :data:`PNG_DPI`; no dates or random ids (byte-stable PDF/SVG); PDF and PS
    with TrueType (Type 42) fonts. ``tight=False`` keeps the figure's size (its printed width)."""
    from dbdbench.io import atomic_path

    for out in paths:
        suffix = out.suffix.lower()
        meta: dict[str, Any] = {"Creator": "dbdbench"} if suffix != ".png" else {"Software": "dbdbench"}
        if suffix == ".pdf":
            meta["CreationDate"] = None
        elif suffix == ".svg":
            meta["Date"] = None
        with rc_context({"svg.hashsalt": "dbdbench", "pdf.fonttype": 42, "ps.fonttype": 42}), atomic_path(out) as tmp:
            fig.savefig(tmp, format=suffix[1:], bbox_inches="tight" if tight else None, metadata=meta,
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
        name = dataset_title(str(r.dataset))
        title = f"{name}, protocol {r.protocol}" if len(protocols[r.dataset]) > 1 else name
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
                marked: bool, highlight: str | None) -> list[tuple[float, str, object, str]]:
    """Draw one panel; returns (score, legend text, handle, method) per line. A method present both as
    published (reported) and re-scored gets the published curve as a wide pale band under the re-scored
    line. Markers are spaced along each line and offset per method, so they never pile up."""
    x_key, y_key = CURVES[curve][:2]
    both = {r.method for r in rs if _reported(r)} & {r.method for r in rs if not _reported(r)}
    order = sorted(styles, key=lambda m: (m.casefold(), m))
    entries = []
    for r in sorted(rs, key=lambda r: (_method(r).casefold(), _method(r), _reported(r))):
        x, y = np.asarray(r.curves[x_key], float), np.asarray(r.curves[y_key], float)
        if curve == "pr":
            keep = (x > 0) | (y > 0)
            x, y = x[keep], y[keep]
        style: dict[str, Any] = dict(styles[_method(r)])
        marker = style.pop("marker", None) if marked else None
        style.pop("marker", None)
        own = highlight is not None and _method(r) == highlight
        kw: dict[str, Any] = {"linewidth": HIGHLIGHT_WIDTH if own else LINE_WIDTH, "zorder": 4 if own else 3}
        if marker:
            start = 0.015 * (order.index(_method(r)) % 6) if _method(r) in order else 0.0
            kw.update(marker=marker, markevery=(start, 0.1), markersize=3.0, markeredgewidth=0.6)
        if r.method in both and _reported(r):
            kw.update(linewidth=5.0, alpha=0.35, zorder=2, linestyle="-")
            style.pop("linestyle", None)
        (line,) = ax.plot(x, y, label=_label(r), **style, **kw)
        score = headline_score(r, curve)
        text = _label(r) + (f" {score:.3f}" if score is not None else "")
        entries.append((score if score is not None else -1.0, text, line, _method(r)))
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


def _order(entries: list, methods: Sequence[str] | None, highlight: str | None) -> list:
    """Legend order: the highlighted method first, then the order of ``methods`` or best score first."""
    if methods:
        rank = {m: i for i, m in enumerate(methods)}
        entries = sorted(entries, key=lambda e: rank.get(e[3], len(rank)))
    return sorted(entries, key=lambda e: e[3] != highlight) if highlight else entries


def _panel_legend(ax: Axes, entries: list, curve: str) -> None:
    ax.legend([e[2] for e in entries], [e[1] for e in entries],
              loc="lower right" if curve == "roc" else "lower left", framealpha=0.85, borderaxespad=0.3)


def _shared_legend(fig: Figure, entries: list, geo: layout.Geometry) -> None:
    """One legend for all panels: below them (in rows) or to their right."""
    handles, texts = [e[2] for e in entries], [e[1] for e in entries]
    if geo.legend == "below":
        fig.legend(handles, texts, loc="outside lower center", ncols=geo.legend_cols, frameon=False,
                   columnspacing=1.2, handletextpad=0.5)
    else:
        fig.legend(handles, texts, loc="outside right upper", frameon=False, handletextpad=0.5)


def _footnote(results: Sequence[Result], kinds: Sequence[str]) -> str:
    """One line per protocol: its choices in words, plus the legend of the dagger when needed."""
    shown = [HEADLINE[k] for k in kinds if any(headline_score(r, k) is not None for r in results)]
    return layout.curve_caption(results, kinds, shown)


def plot_curves(
    results: Sequence[Result],
    curve: str | Sequence[str] = "pr",
    out: str | Path | Sequence[str | Path] | None = None,
    styles: Mapping[str, Mapping[str, object]] | None = None,
    ncols: int | None = None,
    title: str | None = None,
    footnote: bool = False,
    *,
    size: str | None = None,
    legend: str | None = None,
    highlight: str | None = None,
    methods: Sequence[str] | None = None,
    names: Mapping[str, str] | None = None,
) -> Figure:
    """Plot curves of every result, one panel per dataset; several curve kinds make a grid in one call.

    ``pr``: precision against recall; ``fmeasure``: F-beta against the binarisation threshold; ``roc``:
    true positive rate (recall of the blur class) against false positive rate. ``curve=("pr",
    "fmeasure")`` draws the PR curves of every dataset in the first row and the F curves below, as the DBD
    papers print them. Results without the needed curves (e.g. reported-only entries) are left out with a
    warning naming them. PR curves leave out the points with recall 0 and precision 0: nothing is
    detected there, precision is undefined (stored as 0 by the ``x / 0 = 0`` convention), and drawing them
    would add a spurious segment to the origin.

    The figure is drawn at its printed width (``size``), with every text at 7 pt or more, and grows in
    height with its panels and legend rows (:mod:`dbdbench.report.figure`).

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
        Panels per row for a single curve kind (default: as many as fit the width).
    title : str, optional
        Figure title. A single panel has one title: this, or the dataset's display name.
    footnote : bool
        Add the caption text (protocol choices in words) under the panels; default off, as it belongs in
        the paper's caption (:func:`curve_caption`).
    size : {"column", "page"}, optional
        Printed width: 3.5 in or 7.16 in; default column for one panel, page for a grid.
    legend : {"inside", "outside", "below"}, optional
        Inside each panel, or one legend right of / below the panels; default inside a single panel of
        up to six methods, else below.
    highlight : str, optional
        The author's method: listed first, drawn on top, thicker, in :data:`HIGHLIGHT_COLOR`.
    methods : sequence of str, optional
        Draw only these methods (result or display names), listed in this order.
    names : mapping, optional
        Result name -> display name (:func:`dbdbench.report.naming.load_names`).

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
    if size is not None and size not in layout.SIZES:
        raise ValueError(f"Unknown size {size!r}; choose one of {', '.join(layout.SIZES)}")
    if legend is not None and legend not in layout.LEGENDS:
        raise ValueError(f"Unknown legend placement {legend!r}; choose one of {', '.join(layout.LEGENDS)}")
    paths = check_outs(out)
    with rc_context(layout.RC):
        fig = _figure(results, kinds, styles, ncols, title, footnote, size, legend, highlight, methods, names)
        save_figure(fig, paths, tight=False)
    return fig


def _figure(results, kinds, styles, ncols, title, footnote, size, legend, highlight, methods, names) -> Figure:
    from dbdbench.report.naming import display, select

    if styles is None:
        styles = method_styles((_method(r) for r in results), highlight=_result_name(results, highlight, names))
    names = dict(names or {})
    styles = {display(m, names) or m: dict(s) for m, s in styles.items()}
    results = select(results, methods, names)
    highlight = display(highlight, names)
    if highlight is not None and highlight not in {_method(r) for r in results}:
        raise ValueError(f"--highlight {highlight!r}: no such method; present: "
                         f"{', '.join(dict.fromkeys(_method(r) for r in results))}")
    shown = [display(m, names) or m for m in methods] if methods else None
    panels = {k: _panels(results, k) for k in kinds}
    titles = list(dict.fromkeys(n for k in kinds for n in panels[k]))
    drawn = {_method(r) for k in kinds for rs in panels[k].values() for r in rs}
    missing = sorted(drawn - set(styles))
    if missing:
        raise ValueError(f"styles has no entry for method(s) {missing}; build it with method_styles(all methods)")
    cells = layout_cells(kinds, titles)
    size = size or layout.default_size(len(cells))
    legend = legend or layout.default_legend(len(cells), len(drawn))
    one_dataset = len(titles) == 1
    fig = Figure(layout="constrained")
    texts = [f"{m}† 0.000" for m in drawn]
    note = _footnote(results, kinds) if footnote else ""
    note_lines = _wrap(note, layout.SIZES[size])
    geo = layout.geometry(kinds, len(titles), texts, size, legend, ncols, bool(title) or not one_dataset,
                          note_lines.count("\n") + 1 if note else 0)
    fig.set_size_inches(geo.width, geo.height)
    axes = fig.subplots(geo.nrows, geo.ncols, squeeze=False).ravel()
    shared: list = []
    for i, (ax, (kind, name)) in enumerate(zip(axes, cells, strict=False)):
        _, _, x_label, y_label, _ = CURVES[kind]
        rs = panels[kind].get(name, [])
        entries = _order(_draw_panel(ax, kind, rs, styles, len(drawn) >= MARKED, highlight), shown, highlight)
        ax.set(xlim=(0, 1), ylim=(_floor(rs, kind), 1.01), xlabel=x_label, ylabel=y_label)
        if len(cells) == 1:
            ax.set_title(title or name)
        elif not one_dataset and (len(kinds) == 1 or i < geo.ncols):  # datasets named above the top row
            ax.set_title(name)
        ax.grid(True, alpha=0.3)
        if kind == "roc":
            ax.plot([0, 1], [0, 1], color="0.7", linewidth=0.8, linestyle=":", label="_chance")
        first = len(kinds) == 1 or kind == kinds[0] or HEADLINE[kind] != HEADLINE[kinds[0]]
        if entries and legend == "inside" and first:
            _panel_legend(ax, entries, kind)
        elif entries and not shared:
            shared = entries
    for ax in axes[len(cells):]:
        ax.set_visible(False)
    if shared:
        if not one_dataset:  # scores differ per dataset: the shared legend names the methods only
            shared = [(s, _label_of(e), h, m) for s, e, h, m in _order(_by_name(shared), shown, highlight)]
        _shared_legend(fig, shared, geo)
    if len(cells) > 1 and (title or one_dataset):  # one dataset in several panels: its name once, on top
        fig.suptitle(title or titles[0])
    if note:
        fig.supxlabel(note_lines, fontsize=layout.MIN_FONT_PT, color="0.3", ha="left", x=0.01,
                      multialignment="left")
    return fig


def layout_cells(kinds: Sequence[str], titles: Sequence[str]) -> list[tuple[str, str]]:
    """The (curve, panel) of each cell, row by row: curves as rows when several."""
    if len(kinds) > 1:
        return [(k, n) for k in kinds for n in titles] if len(titles) > 1 else [(k, titles[0]) for k in kinds]
    return [(kinds[0], n) for n in titles]


def _by_name(entries: list) -> list:
    return sorted(entries, key=lambda e: (e[3].casefold(), e[3]))


def _label_of(text: str) -> str:
    """The legend text without its score (``"HiFST 0.914"`` -> ``"HiFST"``)."""
    head, _, tail = text.rpartition(" ")
    return head if head and tail.replace(".", "", 1).isdigit() else text


def _wrap(note: str, width_in: float) -> str:
    chars = max(40, int(width_in * 72 / (layout.MIN_FONT_PT * 0.56)))
    return "\n".join(textwrap.fill(line, chars) for line in note.splitlines())


def _result_name(results: Sequence[Result], name: str | None, names: Mapping[str, str] | None) -> str | None:
    """The result name of a method given by result or display name."""
    if name is None:
        return None
    for r in results:
        if name in (_method(r), (names or {}).get(_method(r))):
            return _method(r)
    return name


def curve_caption(results: Sequence[Result], curve: str | Sequence[str] = "pr",
                  names: Mapping[str, str] | None = None, methods: Sequence[str] | None = None) -> str:
    """The caption text of :func:`plot_curves` for the same arguments, to paste into the paper."""
    from dbdbench.report.naming import select

    kinds = [curve] if isinstance(curve, str) else list(curve)
    chosen = select(results, methods, names)
    usable = [r for r in chosen if any(CURVES[k][0] in (r.curves or {}) for k in kinds)]
    return _footnote(usable or chosen, kinds)
