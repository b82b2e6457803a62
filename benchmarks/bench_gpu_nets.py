"""Deep baselines on a GPU: AMP (float16, bfloat16), channels-last, train-step and inference throughput per net.

Run on one GPU (the four nets, three precisions, two memory formats)::

    python benchmarks/bench_gpu_nets.py

and at toy scale on a CPU (float32 and bfloat16 autocast only)::

    python benchmarks/bench_gpu_nets.py --nets dpn --size 64 --batch 2 --steps 1 --warmup 1

Per net, precision (``fp32``, ``fp16``, ``bf16``) and memory format (``contiguous``, ``channels_last``):

* **train**: images per second of full optimiser steps (the net's paper optimiser and parameter groups from
  :mod:`baselines.train`, train-mode forward, the paper's deep-supervised loss in float32, backward, step;
  ``GradScaler`` for float16) on a random batch and random target at ``--size``; the loss must stay finite.
* **infer**: images per second of eval forwards under ``torch.inference_mode`` at ``--infer-batch``.
* **max |dp|**: largest difference of the eval P(blur) map from the first row's (float32, contiguous) on the same input:
  the numerical cost of the precision (about 1e-3 for bfloat16 is expected; NaN or 1 means broken).

Nets start from random weights (no downloads). Times are the mean over ``--steps`` after ``--warmup``
untimed steps, with ``torch.cuda.synchronize``; ``cudnn.benchmark`` is on. With two or more GPUs the
script also spawns one NCCL process per GPU, trains ``dpn`` under ``DistributedDataParallel`` and checks
that the replicas stay identical; with fewer it says that DDP was skipped and why. Numbers go to stdout
and, when ``$OUT`` is set (or ``--json`` is given), to ``bench_gpu_nets.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import socket
import time
from pathlib import Path

import torch

from baselines.nets import create_model, list_models
from baselines.train import compute_loss, make_optimizer, param_groups

DTYPES = {"fp32": None, "fp16": torch.float16, "bf16": torch.bfloat16}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _to_format(t: torch.Tensor, channels_last: bool) -> torch.Tensor:
    return t.contiguous(memory_format=torch.channels_last) if channels_last else t.contiguous()


def _timed(fn, steps: int, warmup: int, device: torch.device) -> float:
    """Mean seconds per call of ``fn`` over ``steps`` calls after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    _sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    _sync(device)
    return (time.perf_counter() - start) / steps


def train_throughput(model, name: str, precision: str, channels_last: bool, args, device) -> float:
    """Images per second of full optimiser steps; raises when the loss is not finite."""
    dtype = DTYPES[precision]
    optimizer = make_optimizer(param_groups(model, model.recipe, name), model.recipe)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype is torch.float16)
    gen = torch.Generator(device=device).manual_seed(0)
    x = _to_format(torch.randn(args.batch, 3, args.size, args.size, device=device, generator=gen), channels_last)
    y = (torch.rand(args.batch, 1, args.size, args.size, device=device, generator=gen) > 0.5).float()
    model.train()

    def step() -> None:
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            outputs = model(x)
        loss = compute_loss(model, outputs, y, 0)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"{name} {precision}: loss {loss.item()}")
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()

    return args.batch / _timed(step, args.steps, args.warmup, device)


def infer(model, precision: str, channels_last: bool, x: torch.Tensor, args, device) -> tuple[float, torch.Tensor]:
    """Images per second of eval forwards, and the P(blur) map of ``x`` in float32."""
    dtype = DTYPES[precision]
    model.eval()
    xb = _to_format(x.repeat(math.ceil(args.infer_batch / x.shape[0]), 1, 1, 1)[:args.infer_batch], channels_last)

    def forward() -> torch.Tensor:
        with torch.inference_mode(), torch.autocast(device.type, dtype=dtype or torch.float32,
                                                    enabled=dtype is not None):
            return model(xb)

    rate = args.infer_batch / _timed(forward, args.steps, args.warmup, device)
    return rate, forward()[: x.shape[0]].float()


def bench_net(name: str, args, device: torch.device) -> list[dict]:
    """Every (memory format, precision) row of one net, each from the same random initial weights."""
    torch.manual_seed(0)
    model = create_model(name).to(device)
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    probe = torch.randn(2, 3, args.size, args.size, device=device, generator=torch.Generator(device).manual_seed(1))
    rows, reference = [], None
    for channels_last in (False, True):
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
        for precision in args.precisions:
            model.load_state_dict(initial)  # copies in place: the parameters keep their memory format
            row = {"net": name, "precision": precision, "format": "channels_last" if channels_last else "contiguous"}
            try:
                rate, prob = infer(model, precision, channels_last, probe, args, device)
                reference = prob if reference is None else reference
                row.update(infer_img_s=rate, max_abs_dp=float((prob - reference).abs().max()))
                row["train_img_s"] = train_throughput(model, name, precision, channels_last, args, device)
            except (RuntimeError, FloatingPointError) as exc:  # report and go on: one broken mode is a finding
                row["error"] = f"{type(exc).__name__}: {str(exc)[:200]}"
            rows.append(row)
            print(_format(row), flush=True)
    del model
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return rows


def _format(row: dict) -> str:
    if "error" in row:
        return f"{row['net']:<12} {row['precision']:<5} {row['format']:<14} ERROR {row['error']}"
    return (f"{row['net']:<12} {row['precision']:<5} {row['format']:<14} {row['train_img_s']:>10.1f} "
            f"{row['infer_img_s']:>10.1f} {row['max_abs_dp']:>10.2e}")


def _ddp_worker(rank: int, world: int, port: int, args, queue) -> None:
    """One NCCL rank: ``dpn`` under DDP, fp16 AMP, ``args.steps`` timed steps; reports rate and a checksum."""
    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("nccl", rank=rank, world_size=world)
    device = torch.device("cuda", rank)
    torch.cuda.set_device(device)
    torch.manual_seed(0)
    model = create_model("dpn").to(device)
    ddp = torch.nn.parallel.DistributedDataParallel(model, device_ids=[rank])
    ddp.recipe = model.recipe
    ddp.loss = model.loss
    rate = train_throughput(ddp, "dpn", "fp16", False, args, device) * world
    checksum = torch.stack([p.detach().double().sum() for p in model.parameters()]).sum()
    gathered = [torch.zeros_like(checksum) for _ in range(world)]
    dist.all_gather(gathered, checksum)
    if rank == 0:
        queue.put({"world": world, "train_img_s": rate, "replicas_equal": len({float(g) for g in gathered}) == 1})
    dist.destroy_process_group()


def bench_ddp(args) -> dict:
    """DDP over NCCL with every visible GPU, or the reason it was skipped."""
    n = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if n < 2 or not torch.distributed.is_nccl_available():
        reason = f"{n} CUDA device(s) visible" if n < 2 else "this torch build has no NCCL"
        return {"skipped": f"DDP over NCCL needs 2 or more GPUs: {reason}"}
    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    queue = mp.get_context("spawn").SimpleQueue()
    mp.spawn(_ddp_worker, args=(n, port, args, queue), nprocs=n, join=True)
    return queue.get()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nets", default=",".join(list_models()))
    parser.add_argument("--size", type=int, default=320)
    parser.add_argument("--batch", type=int, default=8, help="train batch")
    parser.add_argument("--infer-batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--precisions", default=None, help="default: fp32,fp16,bf16 on CUDA, fp32,bf16 on the CPU")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--json", type=Path, default=None, help="default: $OUT/bench_gpu_nets.json when $OUT is set")
    args = parser.parse_args()
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))
    args.precisions = (args.precisions or ("fp32,fp16,bf16" if device.type == "cuda" else "fp32,bf16")).split(",")
    unknown = set(args.precisions) - set(DTYPES)
    if unknown:
        parser.error(f"unknown precision(s) {sorted(unknown)}; valid: {', '.join(DTYPES)}")
    torch.backends.cudnn.benchmark = True
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({os.cpu_count()} cores)"
    print(f"{where}, torch {torch.__version__}, {args.size}x{args.size}, train batch {args.batch}, "
          f"infer batch {args.infer_batch}, {args.steps} timed steps after {args.warmup}")
    print(f"{'net':<12} {'prec':<5} {'format':<14} {'train im/s':>10} {'infer im/s':>10} {'max |dp|':>10}")
    target = args.json or (Path(os.environ["OUT"]) / "bench_gpu_nets.json" if os.environ.get("OUT") else None)
    report = {"device": where, "torch": torch.__version__, "size": args.size, "batch": args.batch, "rows": []}
    for name in args.nets.split(","):
        report["rows"] += bench_net(name, args, device)
        _save(report, target)  # after every net, so a cut-short run keeps what it measured
    report["ddp"] = bench_ddp(args) if device.type == "cuda" else {"skipped": "DDP over NCCL needs CUDA devices"}
    print(f"ddp: {json.dumps(report['ddp'])}")
    _save(report, target)
    if target is not None:
        print(f"wrote {target}")


def _save(report: dict, target: Path | None) -> None:
    if target is not None:
        target.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
