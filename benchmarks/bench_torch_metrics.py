"""TorchEvaluator throughput vs the numpy Evaluator and torchmetrics, on the same batches, in one process.

Run: ``python benchmarks/bench_torch_metrics.py [--n 64] [--size 320] [--batch 16] [--repeat 5]
[--protocols dbdbench,hifst] [--threads 1,2] [--rss 2000,8000] [--json FILE]``. Prints images/s (best of
``--repeat``, the numpy and torch runs alternated so that load changes hit both alike; update for every batch
plus the final ``compute``) for:

- the numpy ``Evaluator`` fed the same maps one by one (what ``dbdbench evaluate`` runs per image);
- ``TorchEvaluator`` on the CPU with each number of torch threads in ``--threads`` (its ratio to the numpy
  ``Evaluator`` in the ``x numpy`` column), and on CUDA when a GPU is present (maps already on the device,
  as in a validation loop; the time ends with ``compute()``, which includes the one host copy);
- ``torchmetrics.classification.BinaryPrecisionRecallCurve(thresholds=256)`` where torchmetrics is installed:
  the nearest torchmetrics counterpart (256 ``>=`` thresholds on probabilities), but one curve pooled over all
  pixels, not per image, no MAE, no per-image records, and float32 thresholds ``linspace(0, 1, 256)``;

for 8-bit and float32 maps, and checks that each TorchEvaluator result equals the numpy one bit for bit.

Then the memory: a fresh process per evaluator feeds it ``max(--rss)`` 8-bit ``dbdbench`` maps (the
``--n`` maps over and over, in batches of ``--batch``) and prints its resident set size (RSS) growth over
the first batch after each count in ``--rss``, the numpy ``Evaluator``'s first; what grows is the per-image
state each keeps. With ``$OUT`` set (or ``--json``), the numbers are also written as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from dbdbench.metrics import Evaluator, TorchEvaluator
from dbdbench.metrics.protocols import CORE_METRICS


def make_batches(n: int, size: int, batch: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Smooth blur-map-like float32 probabilities (B, 1, S, S) and bool masks (B, S, S)."""
    rng = np.random.default_rng(seed)
    preds, gts = [], []
    for _ in range(n):
        base = cv2.resize(rng.random((10, 10)), (size, size), interpolation=cv2.INTER_CUBIC)
        gts.append(base > np.median(base))
        p = np.clip(base + rng.normal(0, 0.15, base.shape), 0, 1)
        preds.append(p.astype(np.float32))
    return [(np.stack(preds[i : i + batch])[:, None], np.stack(gts[i : i + batch])) for i in range(0, n, batch)]


def best_of(repeat: int, fn) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def run_numpy(protocol: str, metrics, batches):
    ev = Evaluator(protocol, metrics)
    for preds, gts in batches:
        for p, g in zip(preds, gts, strict=True):
            ev.update(p[0], g)
    return ev.compute()


def run_torch(protocol: str, metrics, batches, device: str):
    ev = TorchEvaluator(protocol, metrics)
    for preds, gts in batches:
        ev.update(preds, gts)
    res = ev.compute()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return res


def run_prcurve(batches, device: str):
    from torchmetrics.classification import BinaryPrecisionRecallCurve

    m = BinaryPrecisionRecallCurve(thresholds=256).to(device)
    for preds, gts in batches:
        m.update(preds[:, 0].float() if preds.dtype == torch.uint8 else preds[:, 0], gts.long())
    out = m.compute()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return out


def _on(batches, device: str, dtype: str):
    out = []
    for p, g in batches:
        p = (np.round(p * 255).astype(np.uint8) if dtype == "uint8" else p)
        out.append((torch.from_numpy(p).to(device), torch.from_numpy(g).to(device)))
    return out


def _identical(a, b) -> bool:
    return a.to_dict() == b.to_dict()


def side_by_side(repeat: int, fns: dict) -> dict:
    """Best wall time, best CPU time (this process, all threads) and last output of each function, the
    functions run in turn ``repeat`` times."""
    best, cpu, out = dict.fromkeys(fns, float("inf")), dict.fromkeys(fns, float("inf")), {}
    for _ in range(repeat):
        for key, fn in fns.items():
            c = time.process_time()
            t, out[key] = best_of(1, fn)
            best[key], cpu[key] = min(best[key], t), min(cpu[key], time.process_time() - c)
    return {k: (best[k], cpu[k], out[k]) for k in fns}


def _with_threads(n: int, fn):
    def run():
        before = torch.get_num_threads()
        torch.set_num_threads(n)
        try:
            return fn()
        finally:
            torch.set_num_threads(before)

    return run


def bench(args) -> dict:
    batches = make_batches(args.n, args.size, args.batch)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    rows = []
    for protocol in args.protocols:
        metrics = CORE_METRICS if protocol == "pysod" else None  # structure metrics run on the host anyway
        for dtype in ("uint8", "float32"):
            host = _on(batches, "cpu", dtype)
            numpy_batches = [(p.numpy(), g.numpy()) for p, g in host]
            run_torch(protocol, metrics, host[:1], "cpu")  # warm-up: tables, imports
            fns = {"numpy": lambda nb=numpy_batches, pr=protocol, me=metrics: run_numpy(pr, me, nb)}
            for k in args.threads:
                fns[k] = _with_threads(k, lambda d=host, pr=protocol, me=metrics: run_torch(pr, me, d, "cpu"))
            timed = side_by_side(args.repeat, fns)
            t_np, c_np, ref = timed.pop("numpy")
            rows.append(dict(protocol=protocol, dtype=dtype, impl="numpy Evaluator", device="cpu", seconds=t_np))
            for k, (t, c, res) in timed.items():
                rows.append(dict(protocol=protocol, dtype=dtype, impl=f"TorchEvaluator, {k} thread(s)", device="cpu",
                                 seconds=t, identical=_identical(res, ref), vs_numpy=t_np / t, cpu_vs_numpy=c_np / c))
            for device in devices[1:]:
                dev = _on(batches, device, dtype)
                run_torch(protocol, metrics, dev[:1], device)  # warm-up: plans, kernels
                t, res = best_of(args.repeat,
                                 lambda d=dev, dv=device, pr=protocol, me=metrics: run_torch(pr, me, d, dv))
                rows.append(dict(protocol=protocol, dtype=dtype, impl="TorchEvaluator", device=device, seconds=t,
                                 identical=_identical(res, ref), vs_numpy=t_np / t))
            if args.prcurve and protocol == args.protocols[0]:
                for device in devices:
                    dev = host if device == "cpu" else _on(batches, device, dtype)
                    run_prcurve(dev[:1], device)
                    repeat = 1 if device == "cpu" else args.repeat  # slow on the CPU; one run says enough
                    t_pr, _ = best_of(repeat, lambda d=dev, dv=device: run_prcurve(d, dv))
                    rows.append(dict(protocol="-", dtype=dtype, impl="tm BinaryPrecisionRecallCurve(256)",
                                     device=device, seconds=t_pr, vs_numpy=t_np / t_pr))
    for row in rows:
        row["images_per_s"] = args.n / row["seconds"]
    return {"n": args.n, "size": args.size, "batch": args.batch, "repeat": args.repeat, "torch": torch.__version__,
            "threads": args.threads, "machine": platform.processor() or platform.machine(),
            "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None, "rows": rows}


def _rss_bytes() -> int:
    """This process's resident set size (Linux ``/proc``; elsewhere the peak from ``getrusage``)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def rss_child(impl: str, args) -> dict:
    """Feed ``max(args.rss)`` 8-bit maps to one evaluator; RSS growth (bytes) over the first batch at each count."""
    torch.set_num_threads(1)
    batches = _on(make_batches(args.n, args.size, args.batch), "cpu", "uint8")
    ev = Evaluator("dbdbench") if impl == "numpy" else TorchEvaluator("dbdbench")
    seen, base, growth, k = 0, None, {}, 0
    while seen < max(args.rss):
        preds, gts = batches[k % len(batches)]
        k += 1
        if impl == "numpy":
            for p, g in zip(preds.numpy(), gts.numpy(), strict=True):
                ev.update(p[0], g)
        else:
            ev.update(preds, gts)
        seen += len(preds)
        if base is None:
            base = _rss_bytes()
        for count in args.rss:
            if seen >= count and count not in growth:
                growth[count] = _rss_bytes() - base
    n_images = ev.compute().n_images
    return {"impl": impl, "growth": growth, "after_compute": _rss_bytes() - base, "n_images": n_images}


def rss(args) -> list[dict]:
    """:func:`rss_child` for the numpy Evaluator and TorchEvaluator, each in a fresh process."""
    out = []
    for impl in ("numpy", "torch"):
        cmd = [sys.executable, __file__, "--rss-child", impl, "--n", str(args.n), "--size", str(args.size),
               "--batch", str(args.batch), "--rss", ",".join(map(str, args.rss))]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
        out.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=64, help="images")
    ap.add_argument("--size", type=int, default=320, help="square image side")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--protocols", default="dbdbench,hifst", type=lambda s: s.split(","))
    ints = lambda s: [int(v) for v in s.split(",") if v]  # noqa: E731
    ap.add_argument("--threads", type=ints, default=[1, 2],
                    help="torch CPU thread counts to time TorchEvaluator with (the numpy Evaluator runs on one core)")
    ap.add_argument("--rss", type=ints, default=[2000, 8000],
                    help="map counts after which RSS is printed (empty: no memory run)")
    ap.add_argument("--rss-child", choices=["numpy", "torch"], help=argparse.SUPPRESS)
    ap.add_argument("--json", type=Path, default=None, help="also write the numbers here (default: $OUT/...)")
    args = ap.parse_args()
    if args.rss_child:
        print(json.dumps(rss_child(args.rss_child, args)))
        return
    torch.set_num_threads(1)
    try:
        import torchmetrics  # noqa: F401

        args.prcurve = True
    except ImportError:
        args.prcurve = False
    out = bench(args)
    print(f"{args.n} images {args.size}x{args.size}, batches of {args.batch}, best of {args.repeat}; torch "
          f"{out['torch']}, GPU: {out['gpu']}")
    print("x numpy: time of the numpy Evaluator / time of the row (wall clock); cpu x: the same with this "
          "process's CPU time,\nwhich other jobs on the machine do not inflate (CPU rows only)")
    print(f"{'protocol':10} {'maps':8} {'implementation':36} {'device':7} {'images/s':>10} {'x numpy':>8} "
          f"{'cpu x':>6}  identical")
    for r in out["rows"]:
        ratio = f"{r['vs_numpy']:8.2f}" if "vs_numpy" in r else f"{'1.00':>8}"
        cpu = f"{r['cpu_vs_numpy']:6.2f}" if "cpu_vs_numpy" in r else f"{'':6}"
        print(f"{r['protocol']:10} {r['dtype']:8} {r['impl']:36} {r['device']:7} {r['images_per_s']:10.1f} {ratio} "
              f"{cpu}  {r.get('identical', '')}")
    if args.rss:
        out["rss"] = rss(args)
        print(f"\nRSS growth over the first batch, 8-bit {args.size}x{args.size} maps under dbdbench (MB):")
        print(f"{'evaluator':16} " + " ".join(f"{f'{k} maps':>11}" for k in args.rss) + f" {'+ compute':>11}")
        for r in out["rss"]:
            cells = " ".join(f"{r['growth'][str(k)] / 2**20:11.1f}" for k in args.rss)
            print(f"{r['impl']:16} {cells} {r['after_compute'] / 2**20:11.1f}")
        np_g, t_g = (out["rss"][i]["growth"][str(max(args.rss))] for i in (0, 1))
        print(f"TorchEvaluator / numpy Evaluator growth after {max(args.rss)} maps: {t_g / max(np_g, 1):.2f}")
    path = args.json or (Path(os.environ["OUT"]) / "bench_torch_metrics.json" if os.environ.get("OUT") else None)
    if path is not None:
        path.write_text(json.dumps(out, indent=1))
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
