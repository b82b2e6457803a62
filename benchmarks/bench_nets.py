"""Deep baselines: parameters, GFLOPs at 320 x 320 and CPU latency (batch 1, 2 threads) per net.

Run: ``python benchmarks/bench_nets.py [--nets dpn,br2net] [--size 320] [--threads 2] [--repeat 3]``.

* Parameters: ``sum(p.numel())`` over the module (random initialisation; the D-DFFNet teachers are training-only
  and not part of ``dffnet``).
* FLOPs: :class:`torch.utils.flop_counter.FlopCounterMode` on one eval-mode forward of a (1, 3, S, S) batch.
  It counts 2 FLOPs per multiply-add of convolutions and matrix products (element-wise ops, BatchNorm and
  interpolation are not counted); GMACs = GFLOPs / 2, the unit many papers call "FLOPs".
* Latency: best of ``--repeat`` timed eval forwards under ``torch.inference_mode`` after one warm-up, with
  ``torch.set_num_threads(threads)``. The machine may be shared, so the best run is the fairest figure and
  the current load average is printed beside it.
"""

from __future__ import annotations

import argparse
import os
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from baselines.nets import create_model, list_models


def count_flops(model: torch.nn.Module, size: int) -> int:
    """FLOPs of one eval forward at ``size`` x ``size`` (2 per multiply-add, as FlopCounterMode counts)."""
    x = torch.randn(1, 3, size, size)
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        model(x)
    return counter.get_total_flops()


def latency(model: torch.nn.Module, size: int, repeat: int) -> float:
    """Best wall time in seconds of an eval forward of one ``size`` x ``size`` image."""
    x = torch.randn(1, 3, size, size)
    times = []
    with torch.inference_mode():
        model(x)
        for _ in range(repeat):
            start = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nets", default=",".join(list_models()), help="comma-separated registry names")
    parser.add_argument("--size", type=int, default=320)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{args.size}x{args.size}, batch 1, {args.threads} threads, torch {torch.__version__}, "
          f"load average {load:.1f} on {os.cpu_count()} CPUs")
    print(f"{'net':<12} {'params (M)':>10} {'GFLOPs':>8} {'GMACs':>8} {'CPU s/img':>10}")
    for name in args.nets.split(","):
        torch.manual_seed(0)
        model = create_model(name).eval()
        params = sum(p.numel() for p in model.parameters()) / 1e6
        gflops = count_flops(model, args.size) / 1e9
        seconds = latency(model, args.size, args.repeat)
        print(f"{name:<12} {params:>10.2f} {gflops:>8.1f} {gflops / 2:>8.1f} {seconds:>10.3f}", flush=True)


if __name__ == "__main__":
    main()
