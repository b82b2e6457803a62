"""``dbdbench synth``: write a synthetic defocus dataset with exact masks."""

from __future__ import annotations

from pathlib import Path

import click

from dbdbench.cli._common import fail


@click.command()
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--n", default=24, show_default=True, type=click.IntRange(1), help="Number of images.")
@click.option("--seed", default=0, show_default=True, help="Random seed (same seed, same files).")
@click.option("--size", default=320, show_default=True, type=click.IntRange(32), help="Image side in pixels.")
@click.option("--psf", type=click.Choice(["disk", "gaussian"]), default="disk", show_default=True)
@click.option("--overwrite", is_flag=True, help="Replace OUT if it is not empty.")
def synth(out: Path, n: int, seed: int, size: int, psf: str, overwrite: bool) -> None:
    """Write N synthetic defocus images to OUT/image and exact masks (white = blurred) to OUT/gt."""
    from dbdbench.synth import generate

    try:
        generate(out, n=n, seed=seed, size=size, psf=psf, overwrite=overwrite, progress=True)
    except (FileExistsError, ValueError) as exc:
        fail(str(exc))
    click.echo(f"wrote {n} images to {out}")
