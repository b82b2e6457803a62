"""``dbdbench table``, ``dbdbench plot`` and ``dbdbench sensitivity``: thin wrappers over :mod:`dbdbench.report`."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import click

from dbdbench.cli._common import InputError, data_root_option
from dbdbench.results import Result, find_results
from dbdbench.settings import POLARITIES


def load_results(paths: tuple[str, ...]) -> list[Result]:
    """:func:`dbdbench.results.find_results`, with the passed-over files counted on stderr."""
    results, others = find_results(paths)
    if others:
        click.echo(f"note: {len(others)} JSON file(s) that are not results were passed over "
                   f"(e.g. {others[0]})", err=True)
    return results


def _split(text: str | None) -> list[str] | None:
    return [t.strip() for t in text.split(",") if t.strip()] if text else None


def _write(text: str, out: str | None) -> None:
    if out is None:
        click.echo(text, nl=False)
    else:
        from dbdbench.io import atomic_write_text

        atomic_write_text(Path(out), text)
        click.echo(f"wrote {out}", err=True)


@click.command()
@click.argument("results", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--format", "fmt", type=click.Choice(["latex", "markdown", "csv"]), default="latex", show_default=True)
@click.option("--metrics", help="Comma-separated metric keys in column order, e.g. mae,max_f, or 'all' "
              "(default: the columns papers report under each protocol; see docs/reports.md).")
@click.option("--decimals", type=click.IntRange(0, 8), default=3, show_default=True)
@click.option("--transpose", is_flag=True, help="Methods as columns, (dataset, metric) as rows.")
@click.option("--caption", "caption_style", type=click.Choice(["short", "full"]), default="short", show_default=True,
              help="short: what is compared, the protocol in a few words, image counts; full: every choice of "
              "the protocol for the columns shown.")
@click.option("--caption-text", "caption", help="Your text, placed before the generated caption.")
@click.option("--label", help="LaTeX \\label for the table (one table per protocol: -PROTOCOL is appended).")
@click.option("--wide/--narrow", default=None,
              help="LaTeX table* (page width) or table (column width) [default: table* for several datasets].")
@click.option("--fit", type=click.Choice(["auto", "resize", "none"]), default="auto", show_default=True,
              help="LaTeX: auto scales the tabular down only when wider than the line (needs graphicx); "
              "resize always scales it to the line; none keeps its natural size.")
@click.option("--notes", is_flag=True, help="Print the warnings recorded with the results under the table "
              "(default: on stderr only).")
@click.option("--datasets", help="Comma-separated datasets to show, in column order [default: all, registry order].")
@click.option("--methods", help="Comma-separated methods (result or display names) to show, in row order.")
@click.option("--names", "names_file", type=click.Path(exists=True, dir_okay=False),
              help="JSON or YAML file mapping result names to display names.")
@click.option("--out", type=click.Path(dir_okay=False), help="Write to this file instead of stdout.")
@click.option("--ci", is_flag=True, help="Add 95 % bootstrap intervals; bold = best and those not significantly "
              "different from it (paired tests, Holm). Needs per-image data (docs/statistics.md).")
@click.option("--n-boot", default=10_000, show_default=True, type=click.IntRange(100), help="[--ci] Resamples.")
@click.option("--seed", default=0, show_default=True, type=int, help="[--ci] Seed of the resampling.")
@click.option("--alpha", default=0.05, show_default=True, type=click.FloatRange(0.001, 0.5),
              help="[--ci] Family-wise error rate of each column's comparisons with the best.")
def table(results, fmt, metrics, decimals, transpose, out, ci, n_boot, seed, alpha, names_file, datasets, methods,
          **style) -> None:
    """Write a methods x (dataset, metric) table from RESULTS (result JSON files or folders of them).

    Best numbers are bold and second underlined per column, compared as printed; numbers copied from
    papers carry a dagger. The caption names the datasets with their image counts and states the
    protocol's choices (beta^2, thresholds, positive class); results under several protocols give one
    table per protocol. Warnings recorded with the results go to stderr. With --ci every rescored number
    shows its bootstrap interval and bold marks the best and the methods tied with it.
    """
    from dbdbench.report.naming import load_names
    from dbdbench.report.tables import make_table, table_warnings

    if ci and transpose:
        raise click.UsageError("--ci tables have methods as rows; leave out --transpose")
    if not ci and (n_boot, seed, alpha) != (10_000, 0, 0.05):
        raise click.UsageError("--n-boot, --seed and --alpha apply to --ci tables only; add --ci or leave them out")
    latex_only = [name for name, set_ in (("--label", style["label"]), ("--wide/--narrow", style["wide"] is not None),
                                          ("--fit", style["fit"] != "auto")) if set_]
    if fmt != "latex" and latex_only:
        raise click.UsageError(f"{', '.join(latex_only)} apply to --format latex only; leave them out")
    if fmt == "csv" and (style["caption"] or style["notes"] or style["caption_style"] != "short"):
        raise click.UsageError("CSV has no caption or notes; leave out --caption, --caption-text and --notes")
    try:
        loaded = load_results(results)
        select: dict[str, Any] = {"datasets": _split(datasets), "methods": _split(methods),
                  "names": load_names(names_file) if names_file else None}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if ci:
                from dbdbench.stats.table import make_ci_table

                text = make_ci_table(loaded, _split(metrics), fmt, decimals, n_resamples=n_boot, seed=seed,
                                     alpha=alpha, **select, **style)
            else:
                text = make_table(loaded, _split(metrics), fmt, decimals, transpose, **select, **style)
    except (ValueError, KeyError) as exc:
        raise InputError(str(exc.args[0] if isinstance(exc, KeyError) else exc)) from exc
    for w in caught:
        click.echo(f"warning: {w.message}", err=True)
    if not style["notes"]:
        for line in table_warnings(loaded):
            click.echo(f"warning: {line}", err=True)
    _write(text, out)


def _parse_maps(items: tuple[str, ...]) -> dict[str, str]:
    maps = {}
    for item in items:
        name, sep, folder = item.partition("=")
        if not sep:
            name, folder = Path(item).name, item
        maps[name] = folder
    return maps


@click.command()
@click.argument("results", nargs=-1, type=click.Path(exists=True))
@click.option("--curve", default="pr", show_default=True,
              help="pr, fmeasure or roc; several comma-separated (e.g. pr,fmeasure) draw one row per curve "
              "with one column per dataset.")
@click.option("--out", type=click.Path(dir_okay=False), required=True, multiple=True,
              help="Figure file: .pdf, .png (300 dpi) or .svg; repeat for several formats.")
@click.option("--title", help="Figure title (a single panel keeps only this one).")
@click.option("--grid", is_flag=True, help="Draw a qualitative grid (image, GT, maps) instead of curves.")
@click.option("--gt", "gt_dir", type=click.Path(file_okay=False), help="[--grid] Folder of GT masks.")
@click.option("--images", "image_dir", type=click.Path(file_okay=False), help="[--grid] Folder of input photos.")
@click.option("--map", "maps", multiple=True, help="[--grid] NAME=FOLDER of a method's maps (repeatable).")
@click.option("--stems", help="[--grid] Comma-separated image stems, one row each.")
@click.option("--gt-white", type=click.Choice(POLARITIES), help="[--grid] What white means in the GT masks.")
@click.option("--maps-white", type=click.Choice(POLARITIES),
              help="[--grid] What white means in the maps (all methods; default: each folder's meta.json).")
@click.option("--map-white", "map_white", multiple=True, help="[--grid] NAME=blur|sharp for one method (repeatable).")
@click.option("--size", type=click.Choice(["column", "page"]),
              help="Printed width: column (3.5 in) or page (7.16 in); every text is 7 pt or more at that width "
              "[default: column for one panel, page for a grid].")
@click.option("--legend", type=click.Choice(["inside", "outside", "below"]),
              help="Legend inside each panel, or one shared legend right of / below the panels "
              "[default: inside one panel of up to 6 methods, else below].")
@click.option("--highlight", help="Your method (result or display name): listed first, thicker, reserved colour.")
@click.option("--methods", "methods", help="Comma-separated methods to draw, in legend order.")
@click.option("--names", "names_file", type=click.Path(exists=True, dir_okay=False),
              help="JSON or YAML file mapping result names to display names.")
@click.option("--footnote", is_flag=True, help="Add the protocol text under the panels (default: off; the "
              "caption text is printed instead).")
@click.option("--caption", "caption_file", type=click.Path(dir_okay=False),
              help="Also write the caption text to this file.")
def plot(results, curve, out, title, grid, gt_dir, image_dir, maps, stems, gt_white, maps_white, map_white, size,
         legend, highlight, methods, names_file, footnote, caption_file) -> None:
    """Plot PR / F-measure / ROC curves of RESULTS, one panel per dataset.

    Legends give max F (PR, F curves) or AUC (ROC), best first. The caption text (protocol, beta^2,
    thresholds, image counts) is printed on stdout for the paper.

    With --grid, draw a visual comparison (rows: stems; columns: input, GT, each map) instead:

    \b
    dbdbench plot --grid --gt GT/ --images IMG/ --map HiFST=hifst_maps/ \\
        --map Ours=ours/ --map-white HiFST=sharp --stems out_of_focus0284,out_of_focus0607 --out grid.pdf
    """
    from dbdbench.report.qualitative import plot_qualitative

    try:
        if grid:
            if results:
                raise click.UsageError("--grid draws maps from folders; do not pass result files with it")
            if not (gt_dir and maps and stems):
                raise click.UsageError("--grid needs --gt, at least one --map NAME=FOLDER and --stems")
            folders = _parse_maps(maps)
            if gt_white is None:
                raise click.UsageError("--grid needs --gt-white blur|sharp (what white means in the GT masks)")
            polarity: dict[str, str | None] = {name: maps_white for name in folders}
            for item in map_white:
                name, _, white = item.partition("=")
                if name not in folders:
                    raise click.UsageError(f"--map-white {item!r}: no --map named {name!r} (have {list(folders)})")
                polarity[name] = white
            plot_qualitative(image_dir, gt_dir, folders, _split(stems) or [], list(out), gt_white, polarity)
        else:
            if not results:
                raise click.UsageError("Give result JSON files or folders (or use --grid)")
            _curves(load_results(results), _split(curve) or ["pr"], list(out), title=title, size=size, legend=legend,
                    highlight=highlight, methods=_split(methods), names_file=names_file, footnote=footnote,
                    caption_file=caption_file)
    except (ValueError, FileNotFoundError) as exc:
        raise InputError(str(exc)) from exc
    click.echo(f"wrote {', '.join(out)}", err=True)


def _curves(results, kinds, out, *, names_file, caption_file, **options) -> None:
    from dbdbench.report.naming import load_names
    from dbdbench.report.plots import curve_caption, plot_curves

    names = load_names(names_file) if names_file else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        plot_curves(results, kinds, out, names=names, **options)
        caption = curve_caption(results, kinds, names, options["methods"])
    for w in caught:
        click.echo(f"warning: {w.message}", err=True)
    click.echo(caption)
    if caption_file:
        _write(caption + "\n", caption_file)


@click.command()
@click.argument("pred_dirs", nargs=-1, required=True)
@click.option("--dataset", required=True, help="Registered dataset name (see `dbdbench datasets`).")
@click.option("--pred-white", type=click.Choice(POLARITIES),
              help="What white means in the maps (all folders); required unless each folder's meta.json says it.")
@click.option("--protocols", help="Comma-separated protocols (default: all).")
@click.option("--metrics", help="Comma-separated metric keys (default: those scored under >= 2 protocols).")
@click.option("--reference", help="Protocol the rankings are compared with (default: dbdbench).")
@click.option("--decimals", type=click.IntRange(0, 8), default=3, show_default=True)
@data_root_option
@click.option("--out", type=click.Path(dir_okay=False), help="Write Markdown (.md) or CSV (.csv) here.")
def sensitivity(pred_dirs, dataset, pred_white, protocols, metrics, reference, decimals, data_root, out) -> None:
    """Score the same maps under every protocol and show how the ranking changes.

    PRED_DIRS are NAME=FOLDER or FOLDER (the folder name is the method name).
    """
    from dbdbench.evaluate import evaluate_protocols
    from dbdbench.report.sensitivity import sensitivity_from_results

    dirs = _parse_maps(pred_dirs)
    for name, folder in dirs.items():
        if not Path(folder).is_dir():
            raise InputError(f"Prediction folder {folder} of {name!r} does not exist")
    try:
        results = evaluate_protocols(dirs, dataset, pred_white, _split(protocols), data_root)
        report = sensitivity_from_results(results, _split(metrics), reference, decimals)
    except (ValueError, KeyError, FileNotFoundError) as exc:
        raise InputError(str(exc)) from exc
    _write(report.to_csv() if out and out.endswith(".csv") else report.to_markdown(), out)
