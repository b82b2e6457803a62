"""``dbdbench demo``: the whole pipeline on the built-in synthetic dataset."""

from __future__ import annotations

from pathlib import Path

import click

from dbdbench.cli._common import data_root_option, input_errors_exit_2


@click.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default="dbdbench-demo", show_default=True,
              help="Where maps, result JSON files, the table and the figures go.")
@data_root_option
@click.option("--methods", default="laplacian,hifst,lbp", show_default=True,
              help="Comma-separated built-in predictors to run.")
@click.option("--protocol", default="dbdbench", show_default=True, help="Evaluation protocol.")
@click.option("--jobs", "-j", default=2, show_default=True, type=click.IntRange(1), help="Worker processes.")
@input_errors_exit_2
def demo(out: Path, data_root: str | None, methods: str, protocol: str, jobs: int) -> None:
    """Build SYN-DEMO, predict with built-in methods, evaluate, print the table and draw the figures.

    A constant map (P(blur) = 0.5 everywhere) is scored first as the trivial reference. The table has
    the protocol's paper columns; the figures (PR and F-measure curves, ROC) go to OUT/figures/ as PNG
    and PDF.
    """
    from dbdbench.demo import run_demo, write_figures
    from dbdbench.io import atomic_write_text
    from dbdbench.report.tables import make_table

    chosen = tuple(m.strip() for m in methods.split(",") if m.strip())
    results = run_demo(out, data_root=data_root, methods=chosen, protocol=protocol, jobs=jobs, echo=click.echo)
    table = make_table(results, fmt="markdown")
    atomic_write_text(out / "table.md", table + "\n")
    figures = write_figures(results, out)
    click.echo("")
    click.echo(table)
    click.echo(f"\nresults: {out / 'results'}/*.json   table: {out / 'table.md'}   maps: {out / 'maps'}/   "
               f"figures: {', '.join(str(p) for p in figures if p.suffix == '.png')}")
