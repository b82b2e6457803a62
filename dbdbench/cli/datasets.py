"""``dbdbench datasets``: list registered datasets with their status on disk, verify them, pin their GT."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from dbdbench.cli._common import data_root_option, fail, input_errors_exit_2

if TYPE_CHECKING:
    from dbdbench.datasets import DatasetSpec


@click.group(invoke_without_command=True)
@data_root_option
@click.option(
    "--verify",
    "verify_all",
    is_flag=True,
    help="Also verify every dataset found, as `verify NAME` does; exit 2 when one has a problem.",
)
@click.pass_context
def datasets(ctx: click.Context, data_root: str | None, verify_all: bool) -> None:
    """List every registered dataset with found / missing / incomplete status (and verify them)."""
    ctx.obj = {"data_root": data_root}
    if ctx.invoked_subcommand is not None:
        return
    from dbdbench.datasets import DATASETS, resolve_data_root
    from dbdbench.gt.dataset_check import dataset_status

    click.echo(f"data root: {resolve_data_root(data_root)}")
    click.echo(f"{'name':14s} {'status':10s} {'GT':>5s} {'expected':>8s} {'GT white':8s} resolution")
    found = []
    for spec in DATASETS.values():
        st = dataset_status(spec, data_root)
        exp = "?" if spec.n_images is None else str(spec.n_images)
        click.echo(f"{spec.name:14s} {st.status:10s} {st.n_gt:5d} {exp:>8s} {spec.gt_white:8s} {spec.resolution}")
        if st.status in ("found", "incomplete"):
            found.append(spec)
    if verify_all:
        bad = [spec.name for spec in found if not _report(spec, data_root)]
        if bad:
            fail(f"{len(bad)} dataset(s) with problems: {', '.join(bad)}")


def _report(spec: DatasetSpec, data_root: str | None) -> bool:
    """Verify one dataset and print its problems and notes; True when evaluation can use it."""
    from dbdbench.gt.dataset_check import verify_dataset

    ver = verify_dataset(spec, data_root)
    for note in ver.notes:
        click.echo(f"note: {note}")
    for problem in ver.problems:
        click.echo(f"problem: {problem}")
    if ver.problems:
        return False
    pinned = "digests match the registry" if spec.digests else "readable"
    click.echo(f"{spec.name}: ok ({ver.n_gt} GT files, {pinned})")
    return True


@datasets.command()
@click.argument("name")
@click.pass_context
@input_errors_exit_2
def verify(ctx: click.Context, name: str) -> None:
    """Check the GT of NAME as evaluation needs it.

    Checks GT presence, count, readability and, where the registry pins them, each mask's digest
    (inverted and foreign copies). Photos are optional: missing or odd photos are reported as notes.
    """
    from dbdbench.datasets import get_dataset

    spec = get_dataset(name)
    if not _report(spec, ctx.obj["data_root"]):
        fail(f"{spec.name}: problems found (see above)")


@datasets.command()
@click.argument("name")
@click.option(
    "--out", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write the list here (default: stdout)."
)
@click.pass_context
@input_errors_exit_2
def digest(ctx: click.Context, name: str, out: Path | None) -> None:
    """Write the digest list of NAME's GT masks.

    One line per mask: stem, size and the digest of its blur mask (see docs/datasets.md). Name the file
    in a dataset's ``digests`` to pin that copy.
    """
    from dbdbench.datasets import get_dataset
    from dbdbench.gt.dataset_check import digest_list
    from dbdbench.io import atomic_write_text

    text = digest_list(get_dataset(name), ctx.obj["data_root"], progress=out is not None)
    if out is None:
        click.echo(text, nl=False)
    else:
        atomic_write_text(out, text)
        click.echo(f"wrote {out}")


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
        "digests",
        "url",
        "notes",
    ):
        click.echo(f"{key:13s} {getattr(spec, key)}")
    click.echo(spec.citation)
