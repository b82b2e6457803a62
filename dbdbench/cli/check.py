"""``dbdbench check [PATH]``: validate submissions for CI (exit 0 when valid, 2 otherwise)."""

from __future__ import annotations

from pathlib import Path

import click

from dbdbench.cli._common import InputError, data_root_option


@click.command("check")
@click.argument("path", default="submissions", type=click.Path(path_type=Path))
@click.option("--base", default=None, metavar="REF",
              help="Git revision to compare with: entries, result files and metrics present there must remain.")
@click.option("--maps-root", type=click.Path(path_type=Path), envvar="DBDBENCH_MAPS", default=None,
              help="Folder holding the maps of re-scored entries (their rescore.maps paths are relative to it); "
                   "re-scored results are re-computed and compared when their maps are found. [env DBDBENCH_MAPS]")
@data_root_option
@click.option("--atol", type=float, default=1e-9, show_default=True,
              help="Largest allowed difference between a stored and a re-computed score.")
def check(path: Path, base: str | None, maps_root: Path | None, data_root: Path | None, atol: float) -> None:
    """Validate the submission folders under PATH (default: submissions/).

    Checks the strict meta/result schema, file names against registered datasets, metric keys and ranges,
    declared polarity, unsafe paths, symlinks and size caps; with --base, that nothing was removed; and
    that re-scored results reproduce from their maps when the maps are present.
    """
    from dbdbench.submissions.validate import validate

    found = validate(path, base=base, maps_root=maps_root, data_root=data_root, atol=atol)
    for note in found.notes:
        click.echo(f"note: {note}")
    if not found.ok:
        for problem in found.problems:
            click.echo(f"error: {problem}", err=True)
        raise InputError(f"{len(found.problems)} problem(s) in {path}")
    click.echo(f"OK: {path} is valid ({found.n_entries} entries, {found.n_files} result files)")
