"""``dbdbench demo``: the whole pipeline on the built-in synthetic dataset."""

from __future__ import annotations

from pathlib import Path

import click

from dbdbench.cli._common import data_root_option, input_errors_exit_2


@click.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default="dbdbench-demo", show_default=True,
              help="Where maps, result JSON files and the table go.")
@data_root_option
@click.option("--methods", default="laplacian,hifst,lbp", show_default=True,
              help="Comma-separated built-in predictors to run.")
@click.option("--protocol", default="dbdbench", show_default=True, help="Evaluation protocol.")
@click.option("--jobs", "-j", default=2, show_default=True, type=click.IntRange(1), help="Worker processes.")
@input_errors_exit_2
def demo(out: Path, data_root: str | None, methods: str, protocol: str, jobs: int) -> None:
    """Build SYN-DEMO, predict with built-in methods, evaluate, print the table.

    A constant map (P(blur) = 0.5 everywhere) is scored first as the trivial reference.
    """
    from dbdbench.demo import run_demo
    from dbdbench.report.tables import make_table
    from dbdbench.results import atomic_write_text

    chosen = tuple(m.strip() for m in methods.split(",") if m.strip())
    results = run_demo(out, data_root=data_root, methods=chosen, protocol=protocol, jobs=jobs, echo=click.echo)
    keys = ["mae", "max_f", "mean_f", "adp_f", "bin_iou_pooled", "auc", "ap"]
    table = make_table(results, metrics=[k for k in keys if k in results[0].scores], fmt="markdown")
    atomic_write_text(out / "table.md", table + "\n")
    click.echo("")
    click.echo(table)
    click.echo(f"\nresults: {out / 'results'}/*.json   table: {out / 'table.md'}   maps: {out / 'maps'}/")
