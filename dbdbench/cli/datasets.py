"""``dbdbench datasets``: list registered datasets with their status on disk, and verify one."""

from __future__ import annotations

import click

from dbdbench.cli._common import data_root_option, fail, input_errors_exit_2


@click.group(invoke_without_command=True)
@data_root_option
@click.pass_context
def datasets(ctx: click.Context, data_root: str | None) -> None:
    """List every registered dataset with found / missing / incomplete status."""
    ctx.obj = {"data_root": data_root}
    if ctx.invoked_subcommand is not None:
        return
    from dbdbench.dataset_check import dataset_status
    from dbdbench.datasets import DATASETS, resolve_data_root

    click.echo(f"data root: {resolve_data_root(data_root)}")
    click.echo(f"{'name':14s} {'status':10s} {'GT':>5s} {'expected':>8s} {'GT white':8s} resolution")
    for spec in DATASETS.values():
        st = dataset_status(spec, data_root)
        exp = "?" if spec.n_images is None else str(spec.n_images)
        click.echo(f"{spec.name:14s} {st.status:10s} {st.n_gt:5d} {exp:>8s} {spec.gt_white:8s} {spec.resolution}")


@datasets.command()
@click.argument("name")
@click.pass_context
@input_errors_exit_2
def verify(ctx: click.Context, name: str) -> None:
    """Check NAME file by file: counts, readability, image/GT sizes."""
    from dbdbench.dataset_check import verify_dataset
    from dbdbench.datasets import get_dataset

    spec = get_dataset(name)
    problems = verify_dataset(spec, ctx.obj["data_root"], progress=True)
    if not spec.image_folder(ctx.obj["data_root"]).is_dir():
        click.echo(
            f"note: {spec.image_folder(ctx.obj['data_root'])} not found: only the GT was checked "
            "(evaluation needs only the GT)"
        )
    for p in problems:
        click.echo(f"problem: {p}")
    if problems:
        fail(f"{spec.name}: {len(problems)} problem(s)")
    click.echo(f"{spec.name}: ok")


@datasets.command()
@click.argument("name")
def info(name: str) -> None:
    """Show a dataset's layout, polarity, citation and download page."""
    from dbdbench.datasets import get_dataset

    try:
        spec = get_dataset(name)
    except KeyError as exc:
        fail(str(exc.args[0]))
    for key in (
        "name",
        "display_name",
        "folder",
        "image_dir",
        "gt_dir",
        "n_images",
        "resolution",
        "gt_white",
        "split",
        "listed",
        "url",
        "notes",
    ):
        click.echo(f"{key:13s} {getattr(spec, key)}")
    click.echo(spec.citation)
