"""``dbdbench leaderboard``: regenerate ``reports/`` from ``submissions/`` (or check that it is current)."""

from __future__ import annotations

from pathlib import Path

import click

from dbdbench.cli._common import InputError, data_root_option, input_errors_exit_2


@click.command("leaderboard")
@click.option("--submissions", "submissions", type=click.Path(path_type=Path, file_okay=False),
              default=Path("submissions"), show_default=True, help="The submissions folder.")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), default=Path("reports"),
              show_default=True, help="Where the reports go.")
@click.option("--check", "check_only", is_flag=True,
              help="Write nothing; exit 2 when the reports differ from a fresh generation (stale).")
@click.option("--no-plots", is_flag=True, help="Skip the curve figures (faster; the page then has no plots).")
@click.option("--rescore", is_flag=True,
              help="First re-compute the result files of every re-scored entry from its maps (needs --maps-root).")
@click.option("--maps-root", type=click.Path(path_type=Path), envvar="DBDBENCH_MAPS", default=None,
              help="Folder holding the maps of re-scored entries. [env DBDBENCH_MAPS]")
@data_root_option
@input_errors_exit_2
def leaderboard(submissions: Path, out: Path, check_only: bool, no_plots: bool, rescore: bool,
                maps_root: Path | None, data_root: Path | None) -> None:
    """Regenerate the Markdown leaderboards, LaTeX tables, plots and index.html under --out."""
    from dbdbench.report.leaderboard_build import generate, stale_files
    from dbdbench.submissions import check_tree

    if rescore:
        if check_only:
            raise click.UsageError("--rescore writes result files; it cannot be combined with --check")
        if maps_root is None:
            raise click.UsageError("--rescore needs --maps-root (the folder the entries' rescore.maps are under)")
        from dbdbench.submissions.rescore import rescore_entries

        for line in rescore_entries(submissions, maps_root, data_root):
            click.echo(line)
    problems = check_tree(submissions)
    if problems:
        for problem in problems:
            click.echo(f"error: {problem}", err=True)
        raise InputError("fix the submissions first (see `dbdbench check`)")
    if check_only:
        stale = stale_files(submissions, out, plots=not no_plots)
        if stale:
            raise InputError(f"{out} is stale; run `dbdbench leaderboard` and commit. Differing files:\n"
                             + "\n".join(f"  {name}" for name in stale))
        click.echo(f"OK: {out} is up to date")
        return
    files = generate(submissions, out, plots=not no_plots)
    click.echo(f"wrote {len(files)} files under {out}")
