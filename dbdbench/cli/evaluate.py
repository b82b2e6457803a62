"""``dbdbench evaluate``: score a folder of predicted maps against a registered dataset."""

from __future__ import annotations

import warnings
from pathlib import Path

import click

from dbdbench.cli._common import data_root_option, fail, input_errors_exit_2
from dbdbench.datasets import get_dataset, list_datasets
from dbdbench.metrics import list_protocols


def _split_metrics(value: str | None) -> list[str] | None:
    return None if not value else [m.strip() for m in value.split(",") if m.strip()]


def _targets(pred_dir: Path, datasets: tuple[str, ...]) -> list[tuple[Path, str]]:
    """(folder, dataset) pairs: the folder itself, or one sub-folder per dataset."""
    if not pred_dir.is_dir():
        fail(f"prediction folder {pred_dir} does not exist")
    subdirs = {p.name.lower(): p for p in pred_dir.iterdir() if p.is_dir()}
    if not datasets:
        found = [name for name in list_datasets() if name.lower() in subdirs]
        if not found:
            fail(
                f"{pred_dir}: pass --dataset NAME, or give a folder with one sub-folder per dataset "
                f"(named as in `dbdbench datasets`)"
            )
        return [(subdirs[n.lower()], n) for n in found]
    names = [get_dataset(d).name for d in datasets]
    if len(names) == 1 and names[0].lower() not in subdirs:
        return [(pred_dir, names[0])]
    missing = [n for n in names if n.lower() not in subdirs]
    if missing:
        fail(f"{pred_dir}: no sub-folder for dataset(s) {', '.join(missing)}")
    return [(subdirs[n.lower()], n) for n in names]


def _print_table(results) -> None:
    import pandas as pd

    from dbdbench.metrics import METRICS

    rows = {}
    for res in results:
        label = f"{res.dataset} [{res.protocol}]"
        rows[label] = {
            METRICS[k].label + ("↓" if not METRICS[k].higher_is_better else "↑"): v for k, v in res.scores.items()
        }
        rows[label]["images"] = res.n_images
    frame = pd.DataFrame.from_dict(rows, orient="index")
    click.echo(frame.to_string(float_format=lambda v: f"{v:.4f}"))
    for res in results:
        notes = []
        if res.n_empty_gt:
            notes.append(f"{res.n_empty_gt} image(s) with an empty mask")
        if res.meta.get("n_resized"):
            notes.append(f"{res.meta['n_resized']} prediction(s) resized to the GT size ({res.meta['resize']})")
        if res.meta.get("missing"):
            notes.append(f"{len(res.meta['missing'])} missing prediction(s) scored as empty maps")
        if res.meta.get("extra_files"):
            notes.append(f"{len(res.meta['extra_files'])} extra file(s) ignored (no GT of that name)")
        for note in notes:
            click.echo(f"note: {res.dataset}: {note}")


@click.command()
@click.argument("pred_dir", type=click.Path(path_type=Path))
@click.option("--dataset", "-d", "datasets", multiple=True, help="Registered dataset name (repeatable).")
@click.option(
    "--protocol",
    "-p",
    default="dbdbench",
    show_default=True,
    type=click.Choice(list_protocols()),
    help="Evaluation conventions (see `dbdbench protocols`).",
)
@click.option(
    "--pred-white",
    type=click.Choice(["blur", "sharp"]),
    help="What white means in the maps; required unless the folder's meta.json says it.",
)
@data_root_option
@click.option("--metrics", help="Comma-separated score keys (default: the protocol's).")
@click.option(
    "--resize",
    type=click.Choice(["bilinear", "nearest", "error"]),
    default="bilinear",
    show_default=True,
    help="Predictions of another size than the GT are resized (or rejected).",
)
@click.option("--allow-missing", is_flag=True, help="Score images without a prediction as empty maps.")
@click.option(
    "--suffix", "suffixes", multiple=True, help="Extra file-name suffix after the image stem to tolerate (repeatable)."
)
@click.option("--luminance", is_flag=True, help="Convert true colour maps to gray instead of failing.")
@click.option(
    "--allow-foreign-gt",
    is_flag=True,
    help="Score a GT copy that differs from the registry's checksums (inverted or foreign); recorded as a warning.",
)
@click.option("--jobs", "-j", default=1, show_default=True, type=click.IntRange(1), help="Worker processes.")
@click.option("--backend", type=click.Choice(["joblib", "dask"]), default="joblib", show_default=True)
@click.option("--scheduler", help="Dask scheduler address (with --backend dask).")
@click.option("--method", help="Method name stored in the results (default: meta.json or the folder name).")
@click.option(
    "--json",
    "json_out",
    type=click.Path(path_type=Path),
    help="Write the result JSON (a file for one dataset, a folder for several).",
)
@click.option(
    "--per-image",
    "csv_out",
    type=click.Path(path_type=Path),
    help="Write per-image scores as CSV (a file for one dataset, a folder for several).",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@input_errors_exit_2
def evaluate(
    pred_dir,
    datasets,
    protocol,
    pred_white,
    data_root,
    metrics,
    resize,
    allow_missing,
    suffixes,
    luminance,
    allow_foreign_gt,
    jobs,
    backend,
    scheduler,
    method,
    json_out,
    csv_out,
    quiet,
):
    """Score the predicted blur maps in PRED_DIR against a dataset's ground truth.

    \b
    Examples:
      dbdbench evaluate preds/ --dataset DUT-TE --pred-white sharp
      dbdbench evaluate hifst_maps/ -d CUHK-TE-1 -p ddffnet --pred-white sharp --json hifst.json
      dbdbench evaluate runs/mynet/ --jobs 2      # one sub-folder per dataset
    """
    from dbdbench.evaluate import evaluate_folder
    from dbdbench.io import DEFAULT_SUFFIXES

    targets = _targets(pred_dir, datasets)
    client = None
    if backend == "dask":
        try:
            from distributed import Client
        except ImportError:
            fail("--backend dask needs the [dask] extra: pip install 'dbdbench[dask]'")
        client = Client(scheduler) if scheduler else Client(processes=True, n_workers=jobs)
    results = []
    try:
        for folder, name in targets:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                res = evaluate_folder(
                    folder, name, protocol, pred_white=pred_white, data_root=data_root,
                    metrics=_split_metrics(metrics), resize=resize, allow_missing=allow_missing, jobs=jobs,
                    backend=backend, progress=not quiet, suffixes=(*DEFAULT_SUFFIXES, *suffixes),
                    luminance=luminance, method=method, allow_foreign_gt=allow_foreign_gt,
                )  # fmt: skip
            for w in caught:
                click.echo(f"warning: {w.message}", err=True)
            results.append(res)
    finally:
        if client is not None:
            client.close()
    _print_table(results)
    _write_outputs(results, json_out, csv_out)


def _out_path(out: Path, res, n: int, ext: str) -> Path:
    if n == 1 and out.suffix.lower() == ext:
        return out
    return out / f"{res.dataset}{ext}"


def _write_outputs(results, json_out: Path | None, csv_out: Path | None) -> None:
    import pandas as pd

    from dbdbench.results import atomic_write_text

    for res in results:
        if json_out is not None:
            path = _out_path(json_out, res, len(results), ".json")
            res.to_json(path)
            click.echo(f"wrote {path}")
        if csv_out is not None:
            path = _out_path(csv_out, res, len(results), ".csv")
            atomic_write_text(path, pd.DataFrame(res.per_image).to_csv(index=False))
            click.echo(f"wrote {path}")
