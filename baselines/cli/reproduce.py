"""``dbdbench reproduce``: train, predict and score a paper's table row, and write a re-scored entry."""

from __future__ import annotations

from pathlib import Path

import click

from baselines.cli.train import pretrained_weights
from dbdbench.cli._common import data_root_option, fail_on


@click.command("reproduce", short_help="Train, predict and score a paper's table row.")
@click.argument("recipe", metavar="RECIPE")
@click.option("--out", "-o", type=click.Path(path_type=Path), default=None,
              help="Run folder: train/, maps/<SET>/, submissions/ [default: runs/reproduce-RECIPE].")
@click.option("--submissions", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also copy the entry into this folder (the one holding the reported entry, e.g. submissions).")
@data_root_option
@click.option("--depth-weights", type=click.Path(path_type=Path), default=None,
              help="ddffnet-cuhk: MiDaS v2.1 weights (midas_v21-f6b98070.pt).")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--pretrained", default=None, metavar="imagenet|none|PATH",
              help="Initial weights (default: the paper's ImageNet trunk, downloaded).")
@click.option("--train-set", default=None, metavar="NAME", help="Smoke runs: another training set.")
@click.option("--test-sets", default=None, metavar="A,B,...", help="Smoke runs: other test sets.")
@click.option("--iterations", type=int, default=None, help="Smoke runs: fewer optimiser steps.")
@click.option("--batch-size", type=int, default=None, help="Smoke runs: another batch size.")
@click.option("--input-size", type=int, default=None, help="Smoke runs: another training input size.")
@click.option("--workers", type=int, default=2, show_default=True, help="Data-loader processes.")
@click.option("--progress/--no-progress", default=True, show_default=True)
def reproduce(recipe: str, out: Path | None, submissions: Path | None, data_root: Path | None,
              depth_weights: Path | None, device: str, pretrained: str | None, train_set: str | None,
              test_sets: str | None, iterations: int | None, batch_size: int | None, input_size: int | None,
              workers: int, progress: bool) -> None:
    """Train RECIPE with the paper's schedule, predict the paper's test sets, score them under the paper's
    protocol and write a re-scored submission entry; recipes: dffnet-cuhk, ddffnet-cuhk, br2net-cuhk.

    Check the entry with `dbdbench check OUT/submissions --maps-root OUT/maps`. Any smoke-run option is
    recorded in the entry's notes.
    """
    from baselines.nets.backbones import WeightsUnavailableError
    from baselines.reproduce import reproduce as run
    from baselines.train import TrainingInterrupted

    sets = tuple(s.strip() for s in test_sets.split(",") if s.strip()) if test_sets else None
    with fail_on(FileNotFoundError, ValueError, KeyError, WeightsUnavailableError):
        try:
            entry = run(recipe, out or Path("runs") / f"reproduce-{recipe}", submissions=submissions,
                        data_root=data_root, train_set=train_set, test_sets=sets, depth_weights=depth_weights,
                        device=device, progress=progress,
                        pretrained=None if pretrained is None else pretrained_weights(pretrained),
                        iterations=iterations, batch_size=batch_size, input_size=input_size, workers=workers)
        except TrainingInterrupted as stop:  # SIGTERM/SIGINT while training: saved; the same command resumes
            click.echo(f"{recipe}: {stop} (for reproduce: run the same command again)", err=True)
            raise SystemExit(128 + stop.signum) from None
    for result in sorted(entry.glob("*.json")):
        click.echo(f"wrote {result}")
