"""Paper figures: PR curves, F-measure vs threshold, ROC (one panel per dataset) and qualitative grids.

Figures are built on :class:`matplotlib.figure.Figure` directly (Agg canvas, no pyplot state, no display)
and saved in the format given by the file extension. Every method gets a colour and line style from
:func:`method_styles`, a deterministic function of the sorted method names, so a method looks the same in
every panel and, given the same result set (or the same ``styles``), in every figure.

References
----------
.. [1] C. Tang et al., "DeFusionNet", IEEE TPAMI 44(2), 2022, Figs. 8-10 (PR, F-measure and ROC curves per
   dataset) and Fig. 11 (visual comparison: input, GT, one column per method).
.. [2] J. Shi, L. Xu, J. Jia, "Discriminative Blur Detection Features", CVPR 2014 (the CUHK dataset and
   its precision-recall comparison).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from matplotlib import colormaps, rc_context
from matplotlib.figure import Figure

from dbdbench.io import POLARITIES, resolve_pred_white
from dbdbench.report.images import find_image, read_gray, read_rgb

if TYPE_CHECKING:
    from dbdbench.results import Result

#: curve name -> (x key in ``Result.curves``, y key, x label, y label, title)
CURVES: dict[str, tuple[str, str, str, str, str]] = {
    "pr": ("recall", "precision", "Recall", "Precision", "Precision-recall"),
    "fmeasure": ("thresholds", "f", "Threshold", r"$F_\beta$", "F-measure vs threshold"),
    "roc": ("fpr", "recall", "False positive rate", "True positive rate", "ROC"),
}
SAVE_FORMATS = (".pdf", ".png", ".svg")
LINESTYLES = ("-", "--", "-.", ":")
#: more methods than this in a figure put the legend outside the panels
CROWDED = 6


def method_styles(methods: Iterable[str]) -> dict[str, dict[str, object]]:
    """Colour and line style per method: the i-th name in sorted order gets colour ``i mod n`` of tab10
    (tab20 for more than 10 methods) and line style ``i div n`` of ``-``, ``--``, ``-.``, ``:``.

    The mapping depends only on the set of names, so two figures drawn from the same methods agree.
    Pass the result to ``plot_curves(styles=...)`` to keep styles fixed across figures of different subsets.
    """
    names = sorted(set(methods), key=lambda m: (m.casefold(), m))
    cmap = colormaps["tab10" if len(names) <= 10 else "tab20"]
    n = cmap.N
    return {
        name: {"color": cmap(i % n), "linestyle": LINESTYLES[(i // n) % len(LINESTYLES)]}
        for i, name in enumerate(names)
    }


def _check_out(out: str | Path | None) -> Path | None:
    if out is None:
        return None
    out = Path(out)
    if out.suffix.lower() not in SAVE_FORMATS:
        raise ValueError(f"Cannot save a figure as {out.name!r}; use one of the extensions {', '.join(SAVE_FORMATS)}")
    return out


def _save(fig: Figure, out: Path | None) -> None:
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        # fixed metadata keeps PDF/SVG output byte-stable across runs (reports/ is checked for staleness)
        meta = {"Creator": "dbdbench"} if out.suffix.lower() != ".png" else {"Software": "dbdbench"}
        if out.suffix.lower() == ".pdf":
            meta["CreationDate"] = None
        elif out.suffix.lower() == ".svg":
            meta["Date"] = None
        with rc_context({"svg.hashsalt": "dbdbench"}):  # stable SVG element ids
            fig.savefig(out, bbox_inches="tight", metadata=meta)


def _panels(results: Sequence[Result], curve: str) -> dict[str, list[Result]]:
    """Group results with a usable curve by panel (dataset, plus protocol when a dataset has several)."""
    x_key, y_key = CURVES[curve][:2]
    usable, skipped = [], []
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
    protocols: dict[str, set[str]] = {}
    for r in usable:
        protocols.setdefault(r.dataset, set()).add(r.protocol)
    panels: dict[str, list[Result]] = {}
    for r in usable:
        title = f"{r.dataset} ({r.protocol})" if len(protocols[r.dataset]) > 1 else r.dataset
        panels.setdefault(title, []).append(r)
    return panels


def _label(r: Result) -> str:
    return r.method + ("†" if (r.meta or {}).get("kind") == "reported" else "")


def plot_curves(
    results: Sequence[Result],
    curve: str = "pr",
    out: str | Path | None = None,
    styles: Mapping[str, Mapping[str, object]] | None = None,
    ncols: int | None = None,
    panel_size: tuple[float, float] = (3.6, 3.2),
    title: str | None = None,
) -> Figure:
    """Plot one curve type for every result, one panel per dataset (per dataset and protocol if mixed).

    ``pr``: precision against recall; ``fmeasure``: F-beta against the binarisation threshold; ``roc``:
    true positive rate (recall of the blur class) against false positive rate. Results without the needed
    curves (e.g. reported-only entries) are left out with a warning naming them. PR curves leave out the
    points with recall 0 and precision 0: nothing is detected there, precision is undefined (stored as 0 by
    the ``x / 0 = 0`` convention), and drawing them would add a spurious segment to the origin.

    Parameters
    ----------
    results : sequence of Result
        With ``curves`` holding ``thresholds``, ``precision``, ``recall``, ``fpr`` and ``f``.
    curve : {"pr", "fmeasure", "roc"}
    out : path, optional
        Where to save; the extension (.pdf, .png, .svg) picks the format.
    styles : mapping, optional
        Method -> line keyword arguments; default :func:`method_styles` over the methods of ``results``.
    ncols : int, optional
        Panels per row (default: up to 3).
    panel_size : (float, float)
        Width and height of one panel in inches.
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure

    References
    ----------
    .. [1] Tang et al., DeFusionNet, IEEE TPAMI 2022, Figs. 8-10.
    """
    if curve not in CURVES:
        raise ValueError(f"Unknown curve {curve!r}; choose one of {', '.join(CURVES)}")
    path = _check_out(out)
    panels = _panels(results, curve)
    styles = dict(styles) if styles is not None else method_styles(r.method for r in results)
    missing = sorted({r.method for rs in panels.values() for r in rs} - set(styles))
    if missing:
        raise ValueError(f"styles has no entry for method(s) {missing}; build it with method_styles(all methods)")
    ncols = ncols or min(3, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    fig = Figure(figsize=(panel_size[0] * ncols, panel_size[1] * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    x_key, y_key, x_label, y_label, kind_title = CURVES[curve]
    handles: dict[str, object] = {}
    for ax, (panel, rs) in zip(axes, panels.items(), strict=False):
        for r in sorted(rs, key=lambda r: (r.method.casefold(), r.method)):
            x, y = np.asarray(r.curves[x_key], float), np.asarray(r.curves[y_key], float)
            if curve == "pr":
                keep = (x > 0) | (y > 0)
                x, y = x[keep], y[keep]
            (line,) = ax.plot(x, y, label=_label(r), linewidth=1.4, **styles[r.method])
            handles.setdefault(_label(r), line)
        ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel=x_label, ylabel=y_label, title=panel)
        ax.grid(True, alpha=0.3)
        if curve == "roc":
            ax.plot([0, 1], [0, 1], color="0.7", linewidth=0.8, linestyle=":", label="_chance")
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    if len(handles) > CROWDED:
        fig.legend(list(handles.values()), list(handles), loc="outside right center", fontsize="small")
    else:
        axes[0].legend(list(handles.values()), list(handles), fontsize="small",
                       loc="lower right" if curve == "roc" else "lower left")
    fig.suptitle(title or kind_title)
    _save(fig, path)
    return fig


def plot_qualitative(
    images: str | Path | None,
    gt: str | Path,
    maps: Mapping[str, str | Path],
    stems: Sequence[str],
    out: str | Path | None = None,
    gt_white: str | None = None,
    maps_white: str | Mapping[str, str] | None = None,
    cell_size: float = 1.6,
) -> Figure:
    """Visual comparison grid: one row per image; columns input, GT, then each method's map.

    Masks and maps are shown in the canonical polarity (white = blurred): a folder whose white means
    "sharp" is flipped (``1 - x``). Files are found by stem (``<stem>.<ext>`` or ``<stem>_*``, e.g. the
    HiFST ``<stem>_HiFSTBlurMap.png``).

    Parameters
    ----------
    images : path or None
        Folder of input photos; None leaves out the input column.
    gt : path
        Folder of ground-truth masks.
    maps : mapping
        Method -> folder of its maps, in column order.
    stems : sequence of str
        Image stems, in row order.
    out : path, optional
        Where to save (.pdf, .png, .svg).
    gt_white : {"blur", "sharp"}
        What white means in the GT files (required: there is no default).
    maps_white : {"blur", "sharp"} or mapping method -> polarity, optional
        What white means in each method's maps; a method not given here must declare it in its folder's
        ``meta.json`` (the rule of :func:`dbdbench.io.resolve_pred_white`, as for ``evaluate``).
    cell_size : float
        Size of one cell in inches.

    Returns
    -------
    matplotlib.figure.Figure

    References
    ----------
    .. [1] Tang et al., DeFusionNet, IEEE TPAMI 2022, Fig. 11.
    """
    path = _check_out(out)
    if not stems:
        raise ValueError("No image stems given; pass the names of the images to show (e.g. out_of_focus0001)")
    if gt_white not in POLARITIES:
        raise ValueError(f"What does white mean in the GT masks? Pass gt_white 'blur' or 'sharp' (--gt-white), "
                         f"got {gt_white!r}")  # fmt: skip
    polarity = {}
    for m, folder in maps.items():
        given = maps_white if isinstance(maps_white, str) or maps_white is None else maps_white.get(m)
        polarity[m], _ = resolve_pred_white(folder, given)
    columns: list[tuple[str, Path, str | None]] = ([("Input", Path(images), None)] if images is not None else [])
    columns += [("GT", Path(gt), gt_white)] + [(m, Path(d), polarity[m]) for m, d in maps.items()]
    fig = Figure(figsize=(cell_size * len(columns), cell_size * len(stems)), layout="constrained")
    axes = fig.subplots(len(stems), len(columns), squeeze=False)
    for i, stem in enumerate(stems):
        for j, (name, folder, white) in enumerate(columns):
            ax = axes[i, j]
            file = find_image(folder, stem)
            if white is None:
                ax.imshow(read_rgb(file))
            else:
                data = read_gray(file)
                ax.imshow(1.0 - data if white == "sharp" else data, cmap="gray", vmin=0.0, vmax=1.0)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(name, fontsize="small")
            if j == 0:
                ax.set_ylabel(stem, fontsize="x-small")
    _save(fig, path)
    return fig
