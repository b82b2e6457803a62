"""``dbdbench inspect``: one offline HTML page to look at every image of one or more results."""

from __future__ import annotations

from pathlib import Path

import click

from dbdbench.cli._common import data_root_option, input_errors_exit_2


def _overrides(items: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for item in items:
        name, sep, folder = item.partition("=")
        if not sep or not name or not folder:
            raise click.UsageError(f"--map {item!r}: write NAME=DIR (NAME: a method name, a file stem, or A, B ...)")
        out[name] = folder
    return out


def _given(overrides: dict[str, str], tag: str, res, path: Path) -> str | None:
    for name in (tag, res.method, path.stem, str(path)):
        if name in overrides:
            return overrides.pop(name)
    return None


def _comparisons(results, metrics, n_boot, seed, level) -> list[dict]:
    """``compare`` of every later result against the first, computed by the library function compare uses."""
    from dbdbench.metrics import get_metric
    from dbdbench.stats.compare import compare_results, compared_keys
    from dbdbench.stats.intervals import protocol_of

    out = []
    for r, b in enumerate(results[1:], start=1):
        a = results[0]
        keys, note = compared_keys(a, b, metrics)
        diffs = compare_results(a, b, protocol_of(a), keys, n_resamples=n_boot, level=level, seed=seed)
        rows = [{"key": k, "label": get_metric(k).label, "higher": d.higher_is_better, "a": _f(d.a), "b": _f(d.b),
                 "diff": _f(d.diff), "ci_low": _f(d.ci_low), "ci_high": _f(d.ci_high), "p_value": _f(d.p_value),
                 "p_holm": _f(d.p_holm), "test": d.test} for k, d in diffs.items()]  # fmt: skip
        out.append({"a": 0, "b": r, "rows": rows, "n_images": len(a.per_image), "n_resamples": n_boot, "seed": seed,
                    "level": level, "note": note})  # fmt: skip
    return out


def _f(v: float) -> float | None:
    return None if v != v or v in (float("inf"), float("-inf")) else float(v)


@click.command()
@click.argument("results", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="The HTML page to write.")
@click.option("--images", "images_dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="Folder of the input photos (default: the dataset's image folder, when present).")
@click.option("--map", "maps", multiple=True,
              help="NAME=DIR: the maps of one result (NAME: its method, file stem or A, B ...); repeatable. "
              "Default: the folder named in the result's meta.pred_dir, looked up under --maps-root, the result's "
              "folder, its parent and the parent's maps/.")
@click.option("--maps-root", type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="Folder holding the map folders named in the results.")
@click.option("--assets", type=click.Choice(["auto", "inline", "folder"]), default="auto", show_default=True,
              help="Embed the thumbnails in the page, write them to <page>_files/, or embed unless large (24 MiB).")
@click.option("--thumb-height", default=128, show_default=True, type=click.IntRange(32, 512),
              help="Height of the thumbnails in pixels.")
@click.option("--metrics", help="[two or more results] Scores of the paired comparison (as compare --metrics).")
@click.option("--n-boot", default=10_000, show_default=True, type=click.IntRange(100),
              help="[two or more results] Bootstrap resamples and permutations (as compare).")
@click.option("--seed", default=0, show_default=True, type=int, help="[two or more results] Seed (as compare).")
@click.option("--level", default=0.95, show_default=True, type=click.FloatRange(0.5, 0.999),
              help="[two or more results] Confidence level (as compare).")
@click.option("-j", "--jobs", default=2, show_default=True, type=click.IntRange(1), help="Threads reading images.")
@data_root_option
@input_errors_exit_2
def inspect(results, out, images_dir, maps, maps_root, assets, thumb_height, metrics, n_boot, seed, level, jobs,
            data_root) -> None:  # fmt: skip
    """Write one offline HTML page to look at every image of RESULTS (result JSON files of one dataset).

    The page has the protocol, dataset and warnings of each result; with two or more results, the paired
    intervals and tests of `dbdbench compare` (each result against the first, same numbers); and a table of
    every per-image score (sortable, filterable; with several results the differences to the first,
    sorted by the first one) with the photo, the GT, each result's map and its error map (false blur and
    missed blur in two colours) and the per-image PR curve on demand. Every map is read as evaluate read it
    (with the options recorded in the result: --rescale-maps, --transpose-maps, --rotate-maps, --luminance,
    --colormap), scored again and must give the stored per-image MAE, so the pictures are those of the numbers.

    The "figure" button shows (and copies) the `dbdbench plot --grid` command that draws the selected
    images as a PDF for a paper.

    \b
    Examples:
      dbdbench inspect hifst.json --map hifst=maps/hifst --out hifst.html
      dbdbench inspect a.json b.json --maps-root maps/ --images CUHK/image --out a_vs_b.html
    """
    from dbdbench.datasets import get_dataset
    from dbdbench.io import resolve_pred_white
    from dbdbench.report.inspect import FALSE_BLUR, MISSED_BLUR, Source, build, locate_maps, plan, score_columns
    from dbdbench.report.inspect_page import write_page
    from dbdbench.results import load_result
    from dbdbench.stats.compare import check_comparable
    from dbdbench.stats.intervals import protocol_of

    loaded = [load_result(p) for p in results]
    for res in loaded[1:]:
        check_comparable(loaded[0], res)
    overrides = _overrides(maps)
    sources = []
    for r, (res, path) in enumerate(zip(loaded, results, strict=True)):
        folder = locate_maps(res, _given(overrides, chr(65 + r), res, path), maps_root)
        white, _ = resolve_pred_white(folder, res.meta.get("pred_white"))
        sources.append(Source(res, folder, white))
    if overrides:
        raise click.UsageError(f"--map names no result: {', '.join(overrides)} (use a method name, file stem or A, B)")
    spec = get_dataset(loaded[0].dataset or "")
    proto = protocol_of(loaded[0])
    if images_dir is None and spec.image_folder(data_root).is_dir():
        images_dir = spec.image_folder(data_root)
    pl = plan(sources, proto, spec, data_root, images_dir, thumb_height)
    data, thumbs = build(pl, score_columns(loaded), jobs)
    comparisons = _comparisons(loaded, metrics, n_boot, seed, level) if len(loaded) > 1 else []
    data |= {
        "title": f"dbdbench inspect: {' vs '.join(s.name for s in sources)} on {spec.name}",
        "dataset": spec.name,
        "protocol": proto.name,
        "protocol_description": proto.description,
        "results": [_card(chr(65 + r), s, path) for r, (s, path) in enumerate(zip(sources, results, strict=True))],
        "comparisons": comparisons,
        "figure": {"gt": str(spec.gt_folder(data_root).resolve()), "gt_white": spec.gt_white,
                   "images": str(Path(images_dir).resolve()) if images_dir else None,
                   "maps": [{"name": _label(s, r, sources), "dir": str(s.maps.resolve()), "white": s.pred_white}
                            for r, s in enumerate(sources)]},
        "colours": {"false_blur": "rgb({},{},{})".format(*FALSE_BLUR),
                    "missed_blur": "rgb({},{},{})".format(*MISSED_BLUR)},
    }  # fmt: skip
    beside = write_page(data, thumbs, out, assets)
    click.echo(f"wrote {out}" + (f" (thumbnails in {beside})" if beside else ""), err=True)


def _label(src, r: int, sources) -> str:
    """The column name of a result in the figure: its method, with its tag when two results share a method."""
    same = sum(s.name == src.name for s in sources) > 1
    return f"{src.name} ({chr(65 + r)})" if same else src.name


def _card(tag: str, src, path: Path) -> dict:
    res = src.result
    warnings = [{"code": w.get("code", ""), "message": w.get("message", "")} for w in res.meta.get("warnings", [])]
    return {"tag": tag, "name": src.name, "file": str(path), "kind": res.meta.get("kind", "rescored"),
            "maps": str(src.maps), "pred_white": src.pred_white, "version": res.dbdbench_version,
            "warnings": warnings}  # fmt: skip
