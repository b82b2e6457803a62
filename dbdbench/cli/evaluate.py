"""``dbdbench evaluate``: score a folder of predicted maps against a registered dataset."""

from __future__ import annotations

import os
import warnings
from contextlib import ExitStack
from pathlib import Path

import click

from dbdbench.cli._common import RegistryChoice, data_root_option, fail, input_errors_exit_2
from dbdbench.cluster import CONNECT_TIMEOUT, WORKER_TIMEOUT
from dbdbench.metrics import list_protocols
from dbdbench.settings import POLARITIES


def _split_metrics(value: str | None) -> list[str] | None:
    return None if not value else [m.strip() for m in value.split(",") if m.strip()]


def _print_table(results) -> None:
    from dbdbench.metrics import METRICS

    rows = {}
    for res in results:
        label = f"{res.dataset} [{res.protocol}]"
        rows[label] = {
            METRICS[k].label + ("↓" if not METRICS[k].higher_is_better else "↑"): v for k, v in res.scores.items()
        }
        rows[label]["images"] = res.n_images
    click.echo(_format_table(rows))
    for res in results:
        if res.n_empty_gt:
            click.echo(f"note: {res.dataset}: {res.n_empty_gt} image(s) with an empty mask")
        for w in res.meta.get("warnings", []):
            files = w.get("files", [])
            shown = ", ".join(files[:5]) + (f" and {len(files) - 5} more" if len(files) > 5 else "")
            click.echo(f"warning: {res.dataset}: {w['message']}" + (f" [{shown}]" if shown else ""), err=True)


def _format_table(rows: dict[str, dict]) -> str:
    """Rows of scores as aligned text: labels left, numbers right with four decimals (pandas is not imported)."""
    columns = list(dict.fromkeys(key for row in rows.values() for key in row))

    def cell(value) -> str:
        if value is None or value != value:  # None or NaN
            return "NaN"
        return str(value) if isinstance(value, (int, str)) else f"{value:.4f}"

    table = [["", *columns]] + [[label, *(cell(row.get(c)) for c in columns)] for label, row in rows.items()]
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    return "\n".join(
        line[0].ljust(widths[0]) + "".join(f"  {text:>{w}}" for text, w in zip(line[1:], widths[1:], strict=True))
        for line in table
    )


@click.command()
@click.argument("pred_dir", type=click.Path(path_type=Path))
@click.option("--dataset", "-d", "datasets", multiple=True, help="Registered dataset name (repeatable).")
@click.option(
    "--protocol",
    "-p",
    default="dbdbench",
    show_default=True,
    type=RegistryChoice(list_protocols),
    help="Evaluation conventions (see `dbdbench protocols`).",
)
@click.option(
    "--pred-white",
    type=click.Choice(POLARITIES),
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
    "--rescale-maps", is_flag=True, help="Read 0/1-valued 8-bit maps as 0/255, 8-bit maps whose maximum is 2 or 3 "
    "stretched to 0..255, and 16-bit files holding 8-bit values as 8-bit (refused otherwise).",
)  # fmt: skip
@click.option("--transpose-maps", is_flag=True, help="Transpose maps whose width and height are the GT's swapped "
              "(exact for maps transposed on writing; maps told rotated are refused).")
@click.option("--rotate-maps", type=click.Choice(["cw", "ccw"]), default=None,
              help="Rotate maps whose width and height are the GT's swapped by 90 degrees clockwise (cw) or "
              "counter-clockwise (ccw): exact for maps rotated the other way on writing.")
@click.option(
    "--accept", "accept", multiple=True, metavar="CODE",
    help="Score despite a refusal of this code, recording it as a warning (repeatable; see docs/refusals.md).",
)  # fmt: skip
@click.option("--strict", is_flag=True, help="Treat every warning as an error (exit code 2).")
@click.option(
    "--suffix", "suffixes", multiple=True, help="Extra file-name suffix after the image stem to tolerate (repeatable)."
)
@click.option("--luminance", is_flag=True, help="Convert true colour maps to gray (ITU-R BT.601) instead of failing; "
              "recorded in the result.")
@click.option("--colormap", "colormap", default=None, metavar="NAME",
              help="Read colour maps as renderings of the matplotlib colormap NAME (plt.imsave output): each pixel "
              "becomes the index of its nearest colour; pixels far from every colour are refused.")
@click.option("--jobs", "-j", default=1, show_default=True, type=click.IntRange(1), help="Worker processes.")
@click.option(
    "--backend", type=click.Choice(["joblib", "dask"]), default=None,
    help="joblib: --jobs processes here; dask: a Dask cluster (docs/scale.md).  [default: joblib, dask with "
    "--scheduler]",
)  # fmt: skip
@click.option(
    "--scheduler", metavar="ADDRESS",
    help="Evaluate on the Dask cluster of this scheduler (implies --backend dask; with --backend dask and no "
    "address: $DASK_SCHEDULER_ADDRESS, else a local cluster of --jobs workers).",
)  # fmt: skip
@click.option(
    "--timeout", default=WORKER_TIMEOUT, show_default=True, type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS", help="[dask] Give up (exit 2, nothing written) when no worker is left for this long; "
    f"connecting to the scheduler waits at most {CONNECT_TIMEOUT:g} s.",
)  # fmt: skip
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
@click.option("--ci", is_flag=True, help="Add a 95 % bootstrap interval over images to every score.")
@click.option("--n-boot", default=10_000, show_default=True, type=click.IntRange(100), help="[--ci] Resamples.")
@click.option("--seed", default=0, show_default=True, type=int, help="[--ci] Seed of the resampling.")
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
    rescale_maps,
    transpose_maps,
    rotate_maps,
    accept,
    strict,
    suffixes,
    luminance,
    colormap,
    jobs,
    backend,
    scheduler,
    timeout,
    method,
    json_out,
    csv_out,
    quiet,
    ci,
    n_boot,
    seed,
):
    """Score the predicted blur maps in PRED_DIR against a dataset's ground truth.

    \b
    Examples:
      dbdbench evaluate preds/ --dataset DUT-TE --pred-white sharp
      dbdbench evaluate hifst_maps/ -d CUHK-TE-1 -p ddffnet --pred-white sharp --json hifst.json
      dbdbench evaluate runs/mynet/ --jobs 2      # one sub-folder per dataset
    """
    from dbdbench.evaluate import evaluate_folder, evaluation_targets
    from dbdbench.io import DEFAULT_SUFFIXES
    from dbdbench.sanity import Checks

    checks = Checks(rescale_maps=rescale_maps, transpose_maps=transpose_maps, rotate_maps=rotate_maps,
                    accept=frozenset(accept), strict=strict)
    targets, folder_findings = evaluation_targets(pred_dir, datasets, checks)
    backend = _backend(backend, scheduler)
    results = []
    with ExitStack() as stack:
        if backend == "dask":  # the edge: Dask's own variable names the scheduler when --scheduler does not
            _dask_client(stack, scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS"), jobs, timeout)
        for folder, name in targets:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                res = evaluate_folder(
                    folder, name, protocol, pred_white=pred_white, data_root=data_root,
                    metrics=_split_metrics(metrics), resize=resize, allow_missing=allow_missing, jobs=jobs,
                    backend=backend, progress=not quiet, suffixes=(*DEFAULT_SUFFIXES, *suffixes),
                    luminance=luminance, colormap=colormap, method=method, checks=checks, findings=folder_findings,
                    timeout=timeout,
                )  # fmt: skip
            for w in caught:
                click.echo(f"warning: {w.message}", err=True)
            results.append(res)
    _print_table(results)
    if ci:
        from dbdbench.stats.intervals import add_intervals, format_intervals

        for res in results:
            add_intervals(res, n_resamples=n_boot, seed=seed)
            click.echo("\n".join(format_intervals(res)))
    _write_outputs(results, json_out, csv_out)


def _backend(backend: str | None, scheduler: str | None) -> str:
    """``--scheduler`` means Dask; naming another backend with it is a contradiction, not silently local."""
    if scheduler and backend == "joblib":
        fail(f"--scheduler {scheduler} runs on a Dask cluster; drop --backend joblib (or the --scheduler)")
    return backend or ("dask" if scheduler else "joblib")


def _dask_client(stack: ExitStack, address: str | None, jobs: int, timeout: float) -> None:
    """Enter a client of the scheduler at ``address``, or of a local cluster of ``jobs`` worker processes."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        fail("--backend dask needs the [dask] extra: pip install 'dbdbench[dask]'")
    if address:
        from dbdbench.cluster import connect

        stack.enter_context(connect(address, timeout))
    else:
        cluster = stack.enter_context(LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True,
                                                   dashboard_address=None))  # fmt: skip
        stack.enter_context(Client(cluster))


def _out_path(out: Path, res, n: int, ext: str) -> Path:
    if n == 1 and out.suffix.lower() == ext:
        return out
    return out / f"{res.dataset}{ext}"


def _write_outputs(results, json_out: Path | None, csv_out: Path | None) -> None:
    from dbdbench.io import atomic_write_text

    for res in results:
        if json_out is not None:
            path = _out_path(json_out, res, len(results), ".json")
            if res.records is not None:  # per-image counts beside the JSON, for dbdbench compare
                from dbdbench.stats.sidecar import write_result_with_counts

                write_result_with_counts(res, path, res.records)
            else:
                res.to_json(path)
            click.echo(f"wrote {path}")
        if csv_out is not None:
            path = _out_path(csv_out, res, len(results), ".csv")
            import pandas as pd  # only here: a plain evaluate does not import it

            atomic_write_text(path, pd.DataFrame(res.per_image).to_csv(index=False))
            click.echo(f"wrote {path}")
