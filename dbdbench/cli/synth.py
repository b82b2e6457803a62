"""``dbdbench synth``: write a synthetic defocus dataset with exact masks (see ``docs/synth.md``)."""

from __future__ import annotations

from pathlib import Path

import click

from dbdbench.cli._common import fail


@click.command()
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--n", default=24, show_default=True, type=click.IntRange(1), help="Number of images.")
@click.option("--seed", default=0, show_default=True, help="Random seed; image i is seeded by (seed, i).")
@click.option("--size", default=320, show_default=True, type=click.IntRange(32), help="Image side in pixels.")
@click.option("--psf", type=click.Choice(["disk", "gaussian"]), default="disk", show_default=True,
              help="Point-spread function: disk (thin-lens defocus) or Gaussian with sigma = radius / 2.")
@click.option("--blur-fraction", nargs=2, type=float, default=None, metavar="MIN MAX",
              help="Range of the blurred share of each image.  [default: 0.3 0.7]")
@click.option("--radius", nargs=2, type=float, default=None, metavar="MIN MAX",
              help="Range of blur radii in pixels.  [default: 2 8]")
@click.option("--overwrite", is_flag=True, help="Replace OUT if it is not empty.")
def synth(
    out: Path,
    n: int,
    seed: int,
    size: int,
    psf: str,
    blur_fraction: tuple[float, float] | None,
    radius: tuple[float, float] | None,
    overwrite: bool,
) -> None:
    """Write N synthetic defocus images to OUT/image and exact masks (white = blurred) to OUT/gt.

    The same arguments give byte-identical files; OUT/meta.json records them, the sources and their
    licences. The dataset appears in OUT only when complete.
    """
    from dbdbench.synth import generate

    options = {k: v for k, v in (("blur_fraction", blur_fraction), ("radius", radius)) if v}
    try:
        generate(out, n=n, seed=seed, size=size, psf=psf, overwrite=overwrite, progress=True, **options)
    except (FileExistsError, ValueError) as exc:
        fail(str(exc))
    click.echo(f"wrote {n} images ({size}x{size}, {psf} PSF, seed {seed}) to {out}; GT white = blurred")
