"""``dbdbench train``: train a deep baseline with its paper's recipe (single process, or under torchrun)."""

from __future__ import annotations

from pathlib import Path

import click

from dbdbench.cli._common import data_root_option, fail_on


def pretrained_weights(value: str | None) -> bool | str | None:
    """The ``--pretrained`` option's value for the trainer: ``imagenet`` -> True, ``none`` -> False, not given
    -> None (the net's default: its ImageNet trunk when it has one), else a path."""
    if value is None:
        return None
    return {"imagenet": True, "none": False}.get(value.lower(), value)


def _augment(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    return () if value.strip().lower() == "none" else tuple(v.strip() for v in value.split(",") if v.strip())


@click.command("train", short_help="Train a deep baseline on a registered dataset.")
@click.option("--method", "-m", required=True, metavar="NAME",
              help="A registered net (an unknown name lists them; docs/models/).")
@click.option("--train-set", required=True, metavar="NAME", help="A registered dataset, e.g. CUHK-TR-1 or SYN-DEMO.")
@data_root_option
@click.option("--out", "-o", type=click.Path(path_type=Path), default=None,
              help="Run folder for last.pt and train_log.jsonl [default: runs/METHOD-TRAINSET].")
@click.option("--iterations", type=int, default=None, help="Optimiser steps (default: the paper's).")
@click.option("--batch-size", type=int, default=None, help="Global batch, split over the processes (paper's).")
@click.option("--lr", type=float, default=None, help="Base learning rate (default: the paper's).")
@click.option("--input-size", type=int, default=None, help="Square training input side (default: the paper's).")
@click.option("--augment", default=None, metavar="A,B,...",
              help="Augmentations in order (default: the paper's; see docs/training.md; 'none' for none).")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--resume", default=None, metavar="CKPT|auto",
              help="Continue from a checkpoint; 'auto' = OUT/last.pt when it exists.")
@click.option("--stop-at", type=int, default=None, help="Stop after this many steps of the schedule (resume later).")
@click.option("--pretrained", default=None, metavar="imagenet|none|PATH",
              help="Initial weights: ImageNet trunk (downloads; offline, pass the saved file instead), random, "
                   "or a weights file [default: imagenet for a net with an ImageNet trunk, else none].")
@click.option("--workers", type=int, default=2, show_default=True, help="Data-loader processes per rank.")
@click.option("--amp/--no-amp", default=None, help="Mixed precision (default: on for CUDA, off on the CPU).")
@click.option("--save-every", type=int, default=500, show_default=True, help="Checkpoint period in steps.")
@click.option("--stage", type=click.IntRange(1, 2), default=1, show_default=True,
              help="dffnet only: 2 = D-DFFNet depth/DOF distillation (needs --teacher and --depth-weights).")
@click.option("--teacher", type=click.Path(path_type=Path), default=None, help="Stage 2: stage-1 DFFNet weights.")
@click.option("--depth-weights", type=click.Path(path_type=Path), default=None,
              help="Stage 2: MiDaS v2.1 weights (midas_v21-f6b98070.pt).")
@click.option("--val-set", default=None, metavar="NAME",
              help="Validate on this registered dataset; keeps OUT/best.pt by the protocol's headline score.")
@click.option("--val-every", type=int, default=None, help="Validation period in steps [default: --save-every].")
@click.option("--val-protocol", default="dbdbench", show_default=True,
              help="Protocol of the validation scores (`dbdbench protocols` lists them).")
@click.option("--val-metric", default=None, metavar="KEY",
              help="Score that selects best.pt [default: the protocol's headline score, Protocol.headline].")
@click.option("--progress/--no-progress", default=True, show_default=True)
def train(method: str, train_set: str, data_root: Path | None, out: Path | None, iterations: int | None,
          batch_size: int | None, lr: float | None, input_size: int | None, augment: str | None, device: str, seed: int,
          resume: str | None, stop_at: int | None, pretrained: str | None, workers: int, amp: bool | None,
          save_every: int, stage: int, teacher: Path | None, depth_weights: Path | None, val_set: str | None,
          val_every: int | None, val_protocol: str, val_metric: str | None, progress: bool) -> None:
    """Train METHOD on a registered dataset with the paper's recipe; options override single settings.

    Multi-GPU or multi-node: `torchrun --nproc_per_node N -m baselines.train --method ...` (same options).
    SIGTERM or Ctrl-C saves OUT/last.pt after the current step, then exits (128 + the signal's number).
    """
    from baselines.nets.backbones import WeightsUnavailableError
    from baselines.train import TrainConfig, TrainingInterrupted
    from baselines.train import train as run

    out = out or Path("runs") / f"{method.lower()}-{train_set}"
    cfg = TrainConfig(method=method, train_set=train_set, out=out, data_root=data_root, iterations=iterations,
                      batch_size=batch_size, lr=lr, input_size=input_size, augment=_augment(augment), device=device,
                      seed=seed, resume=resume, stop_at=stop_at, pretrained=pretrained_weights(pretrained),
                      workers=workers, amp=amp, save_every=save_every, progress=progress, stage=stage, teacher=teacher,
                      depth_weights=depth_weights, val_set=val_set, val_every=val_every, val_protocol=val_protocol,
                      val_metric=val_metric)
    with fail_on(FileNotFoundError, ValueError, KeyError, WeightsUnavailableError):
        try:
            result = run(cfg)
        except TrainingInterrupted as stop:  # SIGTERM/SIGINT: saved, then the exit status of that signal
            click.echo(f"{method}: {stop}", err=True)
            raise SystemExit(128 + stop.signum) from None
    if result.checkpoint is not None:
        click.echo(f"{method}: {result.step} steps, last loss {result.loss:.4g}; checkpoint {result.checkpoint}")
    if result.best is not None and result.best["value"] is not None:
        b = result.best
        click.echo(f"best {b['metric']} ({b['protocol']} protocol) {b['value']:.4f} at step {b['step']}: "
                   f"{out / 'best.pt'}")
