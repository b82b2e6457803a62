"""Speed of ``dbdbench compare``: two results of N images, every score, 10 000 resamples.

Run: ``python benchmarks/bench_compare.py [A.json B.json] [--n 1000] [--protocol dbdbench] [--n-boot 10000]``.
Without result files it scores ``n`` synthetic 64x64 maps of two methods (A, and A with a 5-pixel blur)
and writes both results with their per-image counts files to a temporary folder. It then times

* the command ``python -m dbdbench compare A.json B.json --n-boot N`` in a fresh process (start-up,
  imports and file reading included): wall time and CPU time (user + system, all threads);
* :func:`dbdbench.stats.compare_results` alone in this process (statistics only), best of ``--repeat``.

On a shared machine the wall time of the command swings with the load; the CPU time and the
in-process time are the steadier numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from dbdbench.metrics import Evaluator
from dbdbench.stats.sidecar import write_result_with_counts


def synthetic_results(folder: Path, n: int, protocol: str) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    ev_a, ev_b = Evaluator(protocol), Evaluator(protocol)
    for i in range(n):
        gt = np.zeros((64, 64), bool)
        gt[:, : rng.integers(4, 60)] = True
        pred = np.clip(gt * 150 + rng.normal(60, 40, gt.shape), 0, 255).astype(np.uint8)
        ev_a.update(pred, gt, f"im{i:04d}")
        ev_b.update(cv2.blur(pred, (5, 5)), gt, f"im{i:04d}")
    paths = folder / "a.json", folder / "b.json"
    for ev, path, method in zip((ev_a, ev_b), paths, ("A", "A-blurred"), strict=True):
        res = ev.compute(dataset="SYNTH", method=method)
        write_result_with_counts(res, path, res.records)
    return paths


def time_command(a: Path, b: Path, n_boot: int) -> tuple[float, float]:
    """Wall and CPU seconds of ``dbdbench compare`` in a child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "dbdbench", "compare", str(a), str(b), "--n-boot", str(n_boot)],
                   check=True, stdout=subprocess.DEVNULL, env=os.environ.copy())  # fmt: skip
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def time_library(a: Path, b: Path, n_boot: int, repeat: int) -> float:
    from dbdbench.results import load_result
    from dbdbench.stats.compare import compare_results
    from dbdbench.stats.intervals import protocol_of

    res_a, res_b = load_result(a), load_result(b)
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        compare_results(res_a, res_b, protocol_of(res_a), n_resamples=n_boot)
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", nargs="*", type=Path, help="two result JSON files (default: synthetic)")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--protocol", default="dbdbench")
    ap.add_argument("--n-boot", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.results:
            a, b = args.results
        else:
            a, b = synthetic_results(Path(tmp), args.n, args.protocol)
        from dbdbench.results import load_result

        res = load_result(a)
        print(f"{a.name} vs {b.name}: {res.n_images} images, protocol {res.protocol}, {len(res.scores)} scores, "
              f"{args.n_boot} resamples; {len(os.sched_getaffinity(0))} CPUs, load average {os.getloadavg()[0]:.1f}")
        wall, cpu = time_command(a, b, args.n_boot)
        lib = time_library(a, b, args.n_boot, args.repeat)
        print(f"dbdbench compare (fresh process): wall {wall:6.2f} s   CPU {cpu:6.2f} s")
        print(f"compare_results (in process)    : wall {lib:6.2f} s (best of {args.repeat})")
    if os.environ.get("OUT"):
        numbers = {"n_images": res.n_images, "protocol": res.protocol, "n_resamples": args.n_boot,
                   "command_wall_s": wall, "command_cpu_s": cpu, "library_wall_s": lib,
                   "cpus": len(os.sched_getaffinity(0)), "load_average": os.getloadavg()[0]}  # fmt: skip
        Path(os.environ["OUT"], "bench_compare.json").write_text(json.dumps(numbers, indent=1) + "\n")


if __name__ == "__main__":
    main()
