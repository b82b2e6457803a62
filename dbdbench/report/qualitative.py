"""Visual comparison grids: input, GT and each method's map for chosen images, as in the DBD papers.

References
----------
.. [1] C. Tang et al., "DeFusionNet", IEEE TPAMI 44(2), 2022, Fig. 11 (visual comparison: input, GT, one
   column per method).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from matplotlib.figure import Figure

from dbdbench.io import POLARITIES, resolve_pred_white
from dbdbench.report.images import find_image, read_gray, read_rgb
from dbdbench.report.plots import check_outs, save_figure


def plot_qualitative(
    images: str | Path | None,
    gt: str | Path,
    maps: Mapping[str, str | Path],
    stems: Sequence[str],
    out: str | Path | Sequence[str | Path] | None = None,
    gt_white: str | None = None,
    maps_white: str | Mapping[str, str | None] | None = None,
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
    out : path or list of paths, optional
        Where to save (.pdf, .png, .svg; PNG at 300 dpi).
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
    paths = check_outs(out)
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
    save_figure(fig, paths)
    return fig
