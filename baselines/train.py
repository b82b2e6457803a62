"""The shared trainer of the deep baselines: each paper's recipe, deep supervision, AMP, DDP, resume.

One optimiser step ``t = 0 .. T-1`` (``T`` = ``recipe.iterations``):

1. every parameter group gets ``lr_t = lr_0 (1 - t / T) ** poly_power`` (times ``lr_step_factor`` per
   ``lr_steps`` entry reached) (groups marked ``fixed_lr`` keep
   ``lr_0``); the model's ``param_groups(lr, weight_decay)`` defines the groups when it has one (BR²Net's
   bias groups, D-DFFNet's adapters), else ``backbone.*`` parameters get ``lr * backbone_lr_mult``;
2. the batch (global size ``recipe.batch_size``, split evenly over the DDP processes) goes through the
   train-mode forward, which returns the final and side logit maps;
3. ``loss = model.loss(outputs, mask)``: the paper's deep-supervised loss (computed in float32 outside
   autocast); D-DFFNet's distiller also receives the step for its alpha schedule;
4. backward (scaled by ``GradScaler`` under CUDA AMP), gradients clamped elementwise where the authors do
   (D-DFFNet: +-0.5), optimiser step.

Under ``torchrun`` (``WORLD_SIZE > 1``) the model is wrapped in ``DistributedDataParallel`` (NCCL on GPUs,
gloo on CPUs) and every rank reads its share of each epoch through :class:`baselines.data.EpochSampler`.
BatchNorm statistics stay per process (the papers train on one GPU; no SyncBN). Rank 0 writes
``<out>/last.pt`` every ``save_every`` steps and at the end, and appends one JSON line per step (mean loss over
the ranks, lr, epoch, seconds) to ``<out>/train_log.jsonl``. With a validation set, every ``val_every`` steps
the net is scored under a dbdbench protocol (:mod:`baselines.validate`) and ``<out>/best.pt`` keeps the best.

References
----------
.. [1] W. Liu, A. Rabinovich, A. C. Berg, "ParseNet", 2015 (the "poly" learning-rate policy).
.. [2] PyTorch documentation: "Automatic Mixed Precision" and "DistributedDataParallel".
"""

from __future__ import annotations

import inspect
import json
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, cast

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader

from baselines.checkpoint import (
    check_same_recipe,
    load_checkpoint,
    remove_partial,
    resumed_settings,
    save_checkpoint,
    set_rng_state,
    truncate_log,
)
from baselines.data import BlurDataset, EpochSampler, check_augment, pair_images
from baselines.nets import create_model, model_config
from baselines.nets.recipe import TrainRecipe
from baselines.pipeline import trained_pipeline
from baselines.runtime import (
    Runtime,
    StopSignals,
    TrainingInterrupted,
    ignore_stop_signals,
    seed_everything,
    setup_runtime,
    sync_buffers,
)
from dbdbench import datasets
from dbdbench.datasets import get_dataset

OPTIMIZERS = ("sgd", "adam", "adamw")


@dataclass
class TrainConfig:
    """What to train and the command-line overrides of the recipe (``None`` = the paper's value).

    ``pretrained``: ``True`` ImageNet trunk (download), ``False`` random, a weights file, or ``None`` (the
    default): the model's config (:class:`baselines.nets.ModelConfig`), its ImageNet trunk when it has one.
    ``resume``: a checkpoint path or ``"auto"`` (``<out>/last.pt`` when present). ``stop_at``: stop after this
    many steps of the ``iterations``-step schedule (resume later). ``stage=2`` trains the D-DFFNet distiller from
    ``teacher`` (stage-1 DFFNet checkpoint) and ``depth_weights`` (MiDaS v2.1 file).
    """

    method: str
    train_set: str
    out: Path
    data_root: Path | None = None
    iterations: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    input_size: int | None = None
    augment: tuple[str, ...] | None = None
    device: str = "auto"
    seed: int = 0
    resume: str | Path | None = None
    stop_at: int | None = None
    pretrained: bool | str | Path | None = None
    workers: int = 2
    amp: bool | None = None
    save_every: int = 500
    progress: bool = True
    stage: int = 1
    teacher: str | Path | None = None
    depth_weights: str | Path | None = None
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    val_set: str | None = None
    val_every: int | None = None
    val_protocol: str = "dbdbench"
    val_metric: str | None = None
    val_batch_size: int = 8


@dataclass
class TrainResult:
    """The trained (unwrapped) model, the steps done, the last mean loss and the checkpoint written."""

    model: nn.Module
    step: int
    loss: float
    checkpoint: Path | None
    best: dict | None = None


def poly_lr(base_lr: float, step: int, total: int, power: float) -> float:
    """``base_lr * (1 - step / total) ** power`` (the "poly" policy; ``power = 0`` is constant)."""
    return base_lr * (1.0 - step / total) ** power


def scheduled_lr(base_lr: float, step: int, recipe: TrainRecipe) -> float:
    """The poly schedule times ``lr_step_factor`` for every step of ``recipe.lr_steps`` reached."""
    decays = sum(step >= s for s in recipe.lr_steps)
    return poly_lr(base_lr, step, recipe.iterations, recipe.poly_power) * recipe.lr_step_factor**decays


#: the recipe settings the command line overrides; a resumed run takes them from its checkpoint
RECIPE_OPTIONS = ("iterations", "batch_size", "lr", "input_size", "augment")


def effective_recipe(recipe: TrainRecipe, cfg: TrainConfig) -> TrainRecipe:
    """The paper's recipe with the non-``None`` overrides of ``cfg`` applied and checked."""
    over = {k: getattr(cfg, k) for k in RECIPE_OPTIONS if getattr(cfg, k) is not None}
    out = replace(recipe, **over)
    check_augment(out.augment)
    if out.optimizer not in OPTIMIZERS:
        raise ValueError(f"recipe optimizer {out.optimizer!r} is not supported; valid: {', '.join(OPTIMIZERS)}")
    for name in ("iterations", "batch_size", "input_size"):
        if getattr(out, name) < 1:
            raise ValueError(f"{name} must be positive, got {getattr(out, name)}")
    return out


def canonical_method(name: str) -> str:
    """:func:`baselines.nets.canonical_name` (``"BR²Net"`` -> ``"br2net"``)."""
    from baselines.nets import canonical_name

    return canonical_name(name)


def param_groups(model: nn.Module, recipe: TrainRecipe, method: str) -> list[dict]:
    """Optimiser groups with ``initial_lr`` set; frozen parameters are left out."""
    clamp = recipe.grad_clamp is not None
    if hasattr(model, "param_groups"):
        if recipe.backbone_lr_mult != 1.0:
            raise ValueError(f"{method} defines its own parameter groups; backbone_lr_mult must be 1, got "
                             f"{recipe.backbone_lr_mult}")
        groups = cast(Any, model).param_groups(recipe.lr, recipe.weight_decay)
    else:
        named = [(n, p) for n, p in model.named_parameters()]
        groups = [
            {"params": [p for n, p in named if not n.startswith("backbone.")], "lr": recipe.lr, "clip": clamp},
            {"params": [p for n, p in named if n.startswith("backbone.")], "lr": recipe.lr * recipe.backbone_lr_mult,
             "clip": clamp},
        ]
    out = []
    for group in groups:
        params = [p for p in group["params"] if p.requires_grad]
        if params:
            out.append({"weight_decay": recipe.weight_decay, **group, "params": params, "initial_lr": group["lr"]})
    return out


def make_optimizer(groups: list[dict], recipe: TrainRecipe) -> torch.optim.Optimizer:
    """SGD (with the recipe's momentum), Adam or AdamW over ``groups``."""
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=recipe.lr, momentum=recipe.momentum, weight_decay=recipe.weight_decay)
    cls = torch.optim.Adam if recipe.optimizer == "adam" else torch.optim.AdamW
    return cls(groups, lr=recipe.lr, weight_decay=recipe.weight_decay)


def set_lr(optimizer: torch.optim.Optimizer, step: int, recipe: TrainRecipe) -> float:
    """Apply the recipe's schedule (poly, then step decay) at ``step``; returns the first group's lr."""
    for group in optimizer.param_groups:
        fixed = group.get("fixed_lr", False)
        group["lr"] = group["initial_lr"] if fixed else scheduled_lr(group["initial_lr"], step, recipe)
    return optimizer.param_groups[0]["lr"]


def build_model(cfg: TrainConfig) -> nn.Module:
    """``create_model`` with the stage-2 (D-DFFNet distillation) arguments when ``cfg.stage == 2``."""
    kwargs = dict(cfg.model_kwargs)
    _check_weight_files(cfg)
    if cfg.stage == 2:
        if canonical_method(cfg.method) != "dffnet":
            raise ValueError(f"--stage 2 is D-DFFNet's distillation and needs --method dffnet, got {cfg.method!r}")
        if not kwargs.get("allow_random_teachers") and (cfg.teacher is None or cfg.depth_weights is None):
            raise ValueError("--stage 2 needs --teacher (the stage-1 DFFNet last.pt, or the authors' DFFNet.pth) "
                             "and --depth-weights (MiDaS v2.1 midas_v21-f6b98070.pt)")
        kwargs.update(teacher_weights=cfg.teacher, depth_weights=cfg.depth_weights)
        return create_model("ddffnet", pretrained=_initial_weights(cfg, "ddffnet"), **kwargs)
    if cfg.stage != 1:
        raise ValueError(f"stage must be 1 or 2, got {cfg.stage}")
    return create_model(cfg.method, pretrained=_initial_weights(cfg, cfg.method), **kwargs)


def _initial_weights(cfg: TrainConfig, method: str) -> bool | str | Path:
    """``cfg.pretrained``, or when None the model config's default (its ImageNet trunk if it has one)."""
    return model_config(method).pretrained if cfg.pretrained is None else cfg.pretrained


def _check_weight_files(cfg: TrainConfig) -> None:
    """Name the command-line option of a weights file that does not exist, before any model is built."""
    files = {"--pretrained": cfg.pretrained if not isinstance(cfg.pretrained, bool) else None,
             "--teacher": cfg.teacher, "--depth-weights": cfg.depth_weights}
    for option, value in files.items():
        if value not in (None, "") and not Path(value).is_file():
            hint = " ('imagenet' downloads the trunk, 'none' starts from random weights)" if option == "--pretrained" \
                else ""
            raise FileNotFoundError(f"{option} {value}: no such file; pass an existing weights file{hint}")


def compute_loss(model: nn.Module, outputs: list[torch.Tensor], target: torch.Tensor, step: int) -> torch.Tensor:
    """``model.loss`` in float32, passing ``step`` to losses that take it (the D-DFFNet distiller)."""
    outputs = [o.float() for o in outputs]
    loss = cast(Callable[..., torch.Tensor], model.loss)  # the net contract (baselines.nets)
    if "step" in inspect.signature(loss).parameters:
        return loss(outputs, target, step=step)
    return loss(outputs, target)


def train_step(net: nn.Module, model: nn.Module, optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler,
               batch: tuple[torch.Tensor, torch.Tensor], step: int, amp: bool, clamp: float | None) -> torch.Tensor:
    """One optimiser step on ``batch``; ``net`` is ``model`` or its DDP wrapper. Returns the detached loss."""
    images, masks = (t.to(next(model.parameters()).device, non_blocking=True) for t in batch)
    with torch.autocast(device_type=images.device.type, dtype=torch.float16, enabled=amp):
        outputs = net(images)
    loss = compute_loss(model, outputs, masks, step)
    if not torch.isfinite(loss):
        raise FloatingPointError(f"loss is {loss.item()} at step {step}; lower --lr or check the data")
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    if clamp is not None:
        scaler.unscale_(optimizer)
        for group in optimizer.param_groups:
            if group.get("clip"):
                for p in group["params"]:
                    if p.grad is not None:
                        p.grad.clamp_(-clamp, clamp)
    scaler.step(optimizer)
    scaler.update()
    return loss.detach()


def _resume_path(cfg: TrainConfig) -> Path | None:
    if cfg.resume in (None, ""):
        return None
    if str(cfg.resume) == "auto":
        last = Path(cfg.out) / "last.pt"
        return last if last.is_file() else None
    return Path(cfg.resume)


def _restore(data: dict, model: nn.Module, optimizer, scaler) -> int:
    """Load the training state of checkpoint ``data`` (model, optimiser, scaler, RNG); returns its step."""
    model.load_state_dict(data["model"], strict=True)
    optimizer.load_state_dict(data["optimizer"])
    scaler.load_state_dict(data["scaler"])
    set_rng_state(data["rng"])
    return int(data["step"])


def _payload(cfg: TrainConfig, recipe: TrainRecipe, model: nn.Module, optimizer, scaler, step: int,
             val_state: dict | None) -> dict:
    """Everything a resumed run needs: ``val`` is the best-score tracker (:meth:`Validator.summary`)."""
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items()}
    method = canonical_method(cfg.method)
    payload = {"method": method, "stage": cfg.stage, "model_kwargs": dict(cfg.model_kwargs),
               "pipeline": trained_pipeline(method, recipe.input_size).to_dict(),
               "step": step, "iterations": recipe.iterations, "model": model.state_dict(),
               "optimizer": optimizer.state_dict(), "scaler": scaler.state_dict(), "config": config,
               "recipe": asdict(recipe)}
    return payload if val_state is None else payload | {"val": val_state}


class LossLog:
    """``train_log.jsonl``: one line per step; on resume, lines after the resumed step are dropped."""

    def __init__(self, path: Path, start: int) -> None:
        self.path = path
        truncate_log(path, start)
        self.fh = path.open("a")
        self.t0 = time.perf_counter()

    def write(self, step: int, epoch: int, loss: float, lr: float) -> None:
        row = {"step": step, "epoch": epoch, "loss": loss, "lr": lr, "seconds": round(time.perf_counter() - self.t0, 3)}
        self.fh.write(json.dumps(row) + "\n")
        self.fh.flush()

    def close(self) -> None:
        self.fh.close()


def train(cfg: TrainConfig) -> TrainResult:
    """Train ``cfg.method`` on ``cfg.train_set`` (module docstring); joins DDP when launched by torchrun."""
    rt = setup_runtime(cfg.device)
    try:
        return _train(cfg, rt)
    finally:
        if rt.world > 1 and dist.is_initialized():
            dist.destroy_process_group()


def _train(cfg: TrainConfig, rt: Runtime) -> TrainResult:
    spec = get_dataset(cfg.train_set)
    if rt.main and hasattr(datasets, "ensure_dataset"):  # builds SYN-DEMO on first use
        datasets.ensure_dataset(spec, cfg.data_root)
    if rt.world > 1:
        dist.barrier()
    pair_images(spec, cfg.data_root)  # fail on a bad data set before building a large model
    resume = _resume_path(cfg)
    saved = load_checkpoint(resume) if resume else None
    if resume and saved is not None:
        seed, taken = resumed_settings(resume, saved, canonical_method(cfg.method), cfg.stage, cfg.seed,
                                       {k: getattr(cfg, k) for k in RECIPE_OPTIONS})
        cfg = replace(cfg, seed=seed, **taken)
    if rt.main:
        for tmp in remove_partial(cfg.out):
            warnings.warn(f"removed {tmp}: a partial checkpoint left by a run stopped while saving", stacklevel=3)
    seed_everything(cfg.seed)
    model = build_model(cfg).to(rt.device)
    recipe = effective_recipe(cast(TrainRecipe, model.recipe), cfg)
    if resume and saved is not None:
        check_same_recipe(resume, saved, asdict(recipe))
    if hasattr(model, "total_steps"):  # the D-DFFNet distiller maps steps to the paper's epochs
        setattr(model, "total_steps", recipe.iterations)  # noqa: B010 (an attribute of some nets only)
    method = canonical_method(cfg.method)
    optimizer = make_optimizer(param_groups(model, recipe, method), recipe)
    amp = rt.device.type == "cuda" if cfg.amp is None else cfg.amp
    if amp and rt.device.type != "cuda":
        raise ValueError("AMP (float16 autocast + GradScaler) is for CUDA devices; drop --amp on the CPU")
    scaler = torch.amp.GradScaler(rt.device.type, enabled=amp)
    step = _restore(saved, model, optimizer, scaler) if saved is not None else 0
    seed = cfg.seed
    if recipe.batch_size % rt.world:
        raise ValueError(f"batch size {recipe.batch_size} does not split over {rt.world} processes; "
                         "pass a --batch-size divisible by the number of processes")
    per_rank = recipe.batch_size // rt.world
    dataset = BlurDataset(cfg.train_set, cfg.data_root, recipe.input_size, recipe.augment, seed=seed)
    sampler = EpochSampler(dataset, rt.world, rt.rank, seed=seed)
    per_epoch = sampler.num_samples // per_rank
    if per_epoch == 0:
        raise ValueError(f"{dataset.spec.name} has {len(dataset)} images: fewer than one batch of {per_rank} per "
                         f"process; lower --batch-size")
    loader = DataLoader(dataset, per_rank, sampler=sampler, num_workers=cfg.workers, drop_last=True,
                        pin_memory=rt.device.type == "cuda", persistent_workers=cfg.workers > 0,
                        worker_init_fn=ignore_stop_signals if cfg.workers > 0 else None)
    net = model
    if rt.world > 1:
        ids = [rt.device.index] if rt.device.type == "cuda" else None
        net = nn.parallel.DistributedDataParallel(model, device_ids=ids)
    val = _validator(cfg, rt, recipe)
    val_state = None if saved is None else saved.get("val")
    if val is not None:
        val.begin(step, val_state, Path(cfg.out) / "best.pt" if saved is not None else None)
    elif rt.main and (Path(cfg.out) / "val_log.jsonl").is_file():  # no validation now: still no stale rows
        truncate_log(Path(cfg.out) / "val_log.jsonl", step)
    return _loop(cfg, rt, recipe, model, net, optimizer, scaler, loader, sampler, per_epoch, per_rank, step, amp,
                 val, val_state)


def _validator(cfg: TrainConfig, rt: Runtime, recipe: TrainRecipe):
    """The validation of ``cfg.val_set`` (None without one), every ``val_every`` steps (default ``save_every``)."""
    if cfg.val_set is None:
        return None
    from baselines.validate import Validator

    pipeline = trained_pipeline(canonical_method(cfg.method), recipe.input_size)  # what the checkpoint carries
    return Validator(cfg.val_set, cfg.data_root, pipeline, cfg.val_protocol, cfg.val_metric,
                     cfg.val_every or cfg.save_every, cfg.val_batch_size, rt.rank, rt.world, cfg.workers, cfg.out)


def _loop(cfg: TrainConfig, rt: Runtime, recipe: TrainRecipe, model: nn.Module, net: nn.Module, optimizer, scaler,
          loader: DataLoader, sampler: EpochSampler, per_epoch: int, per_rank: int, step: int,
          amp: bool, val=None, val_state: dict | None = None) -> TrainResult:
    end = recipe.iterations if cfg.stop_at is None else min(cfg.stop_at, recipe.iterations)
    out = Path(cfg.out)
    log = None
    if rt.main:
        out.mkdir(parents=True, exist_ok=True)
        log = LossLog(out / "train_log.jsonl", step)
    bar = _progress(cfg.progress and rt.main, step, end, canonical_method(cfg.method))
    clamp = recipe.grad_clamp
    loss_value, ckpt, saved_at = math.nan, None, step

    def save(name: str) -> Path:
        state = val.summary() if val is not None else val_state  # a run without validation keeps the tracker
        return save_checkpoint(out / name, _payload(cfg, recipe, model, optimizer, scaler, step, state))

    net.train()
    stop = StopSignals(rt.world, rt.device).install()
    try:
        while step < end:
            epoch, offset = divmod(step, per_epoch)
            sampler.set_epoch(epoch)
            sampler.start = offset * per_rank
            for batch in loader:
                lr = set_lr(optimizer, step, recipe)
                loss = train_step(net, model, optimizer, scaler, batch, step, amp, clamp)
                if rt.world > 1:
                    dist.all_reduce(loss)
                    loss /= rt.world
                loss_value = float(loss)
                step += 1
                if log is not None:
                    log.write(step, epoch, loss_value, lr)
                bar.update(1)
                bar.set_postfix(loss=f"{loss_value:.4g}", epoch=epoch)
                if step == end and rt.world > 1:
                    sync_buffers(model)
                if val is not None and val.due(step, end):
                    res, is_best = val.run(model, step, rt.device)
                    bar.set_postfix(loss=f"{loss_value:.4g}", **{f"val_{val.key}": f"{res.scores[val.key]:.4f}"})
                    if rt.main and is_best:
                        save("best.pt")
                if rt.main and (step % cfg.save_every == 0 or step == end):
                    ckpt, saved_at = save("last.pt"), step
                signum = stop.requested()
                if signum:
                    if rt.main and saved_at != step:
                        ckpt, saved_at = save("last.pt"), step
                    raise TrainingInterrupted(signum, step, ckpt)
                if step >= end:
                    break
    finally:
        stop.uninstall()
        bar.close()
        if log is not None:
            log.close()
    return TrainResult(model, step, loss_value, ckpt, None if val is None else val.summary())


def _progress(enabled: bool, start: int, end: int, name: str):
    from tqdm.auto import tqdm

    return tqdm(total=end, initial=start, desc=f"train {name}", unit="step", disable=not enabled, dynamic_ncols=True)


if __name__ == "__main__":  # python -m baselines.train / torchrun -m baselines.train: the `dbdbench train` options
    import sys

    from dbdbench.cli import main as _cli  # finds `train` through the plug-in registry, so no import cycle

    _cli(["train", *sys.argv[1:]])
