"""``dbdbench predict``: run a baseline (hand-crafted or a trained net) on photos and write blur maps."""

from __future__ import annotations

from pathlib import Path

import click

from dbdbench.cli._common import data_root_option, fail_on


@click.command("predict", short_help="Run a baseline method on images and write blur maps.")
@click.argument("images_dir", required=False, type=click.Path(path_type=Path))
@click.option("--method", "-m", required=True, metavar="NAME",
              help="A hand-crafted method or a registered net (an unknown name lists them; docs/models/).")
@click.option("--dataset", default=None, metavar="NAME", help="Predict the images of a registered dataset instead.")
@data_root_option
@click.option("--out", "-o", required=True, type=click.Path(path_type=Path), help="Folder for the maps.")
@click.option("--weights", type=click.Path(path_type=Path), default=None,
              help="Nets: a checkpoint: last.pt of `dbdbench train`, or the authors' file as downloaded "
                   "(D-DFFNet.pth / DFFNet.pth, BR2Net's CA_*.pth); see docs/models/.")
@click.option("--jobs", "-j", type=int, default=1, show_default=True, help="Hand-crafted: parallel processes.")
@click.option("--batch-size", type=int, default=8, show_default=True, help="Nets: images per batch.")
@click.option("--input-size", type=int, default=None,
              help="Nets: square input side; 0 = native resolution. Default: the checkpoint's or the authors' "
                   "test pipeline (docs/training.md).")
@click.option("--library", type=click.Choice(["pil", "opencv"]), default=None,
              help="Nets: decode and resize photos with PIL (anti-aliased bilinear) or OpenCV (INTER_LINEAR).")
@click.option("--upsample", type=click.Choice(["bilinear", "nearest"]), default=None,
              help="Nets: how maps are resized back to the photo.")
@click.option("--quantise", type=click.Choice(["round", "floor"]), default=None,
              help="Nets: 8-bit rule of the written map, round(255 p) or floor(255 p).")
@click.option("--pred-white", type=click.Choice(["blur", "sharp"]), default=None,
              help="Nets: what white means in the written maps (default blur; meta.json records it).")
@click.option("--device", default="auto", show_default=True, help="Nets: auto, cpu, cuda or cuda:N.")
@click.option("--overwrite", is_flag=True, help="Recompute maps that already exist (default: skip them).")
@click.option("--progress/--no-progress", default=True, show_default=True)
def predict(images_dir: Path | None, method: str, dataset: str | None, data_root: Path | None, out: Path,
            weights: Path | None, jobs: int, batch_size: int, input_size: int | None, library: str | None,
            upsample: str | None, quantise: str | None, pred_white: str | None, device: str, overwrite: bool,
            progress: bool) -> None:
    """Write one 8-bit PNG map per photo of IMAGES_DIR (or of --dataset) into --out, with meta.json.

    Hand-crafted maps are written as the authors' (white = sharp), net maps as P(blur) (white = blur)
    through the test pipeline of the checkpoint (`dbdbench train`) or of the authors' test code; the meta
    file declares the polarity and the pipeline, so `dbdbench evaluate` needs no --pred-white. Maps already
    in --out are kept (resumable) unless --overwrite.
    """
    from baselines.predict import HANDCRAFTED, canonical, collect_images, predict_handcrafted, predict_net

    with fail_on(FileNotFoundError, ValueError, KeyError):
        key = canonical(method)
        if jobs < 1:
            raise ValueError(f"--jobs must be at least 1, got {jobs}")
        if key in HANDCRAFTED and weights is not None:
            raise ValueError(f"{key} is hand-crafted and takes no --weights")
        if key not in HANDCRAFTED and weights is None:
            raise ValueError(f"{key} needs --weights CKPT (train one with `dbdbench train --method {key}`)")
        images = collect_images(images_dir, dataset, data_root)
        if weights is None:
            report = predict_handcrafted(key, images, out, jobs=jobs, overwrite=overwrite, progress=progress)
        else:
            report = predict_net(key, images, out, weights, batch_size=batch_size, device=device,
                                 overwrite=overwrite, progress=progress, input_size=input_size, library=library,
                                 upsample=upsample, quantise=quantise, pred_white=pred_white)
    click.echo(f"{key}: wrote {len(report.written)} map(s), kept {len(report.skipped)} existing, in {report.out}")
