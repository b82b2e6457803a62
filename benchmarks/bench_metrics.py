"""Metrics-core speed: dbdbench vs PySODMetrics on the same maps, in the same process.

Run: ``python benchmarks/bench_metrics.py [--n 500] [--size 320] [--repeat 3]``. Prints images/s for each
metric family and the ratio dbdbench / PySODMetrics for the DBD core set (MAE + all F/IoU/Dice curves and
scalars), which must be at least 10x. Best of ``--repeat`` runs is reported, since this machine is noisy.
"""

from __future__ import annotations

import argparse
import time

import cv2
import numpy as np
import py_sod_metrics as M

from dbdbench.metrics import Evaluator
from dbdbench.metrics.protocols import CORE_METRICS


def make_pairs(n: int, size: int, seed: int = 0, narrow: bool = False) -> list[tuple[np.ndarray, np.ndarray]]:
    """Smooth blur-map-like predictions (full 0..255 range, as saved net outputs) and blob masks."""
    rng = np.random.default_rng(seed)
    pairs = []
    for _ in range(n):
        base = cv2.resize(rng.random((10, 10)), (size, size), interpolation=cv2.INTER_CUBIC)
        gt = base > np.median(base)
        pred = np.clip(base + rng.normal(0, 0.15, base.shape), base.min(), base.max())
        pred = (pred - pred.min()) / (pred.max() - pred.min())
        pred = (pred * (35 if narrow else 255)).astype(np.uint8)
        pairs.append((pred, (gt * 255).astype(np.uint8)))
    return pairs


def pysod_core():
    h = dict(with_dynamic=True, with_adaptive=True)
    fm = M.FmeasureV2(
        {
            "f": M.FmeasureHandler(**h, with_binary=True, beta=0.3),
            "iou": M.IOUHandler(**h, with_binary=True),
            "dice": M.DICEHandler(**h),
            "f_all": M.FmeasureHandler(False, False, with_binary=True, sample_based=False, beta=0.3),
            "iou_all": M.IOUHandler(False, False, with_binary=True, sample_based=False),
        }
    )
    return [M.MAE(), fm]


def run_pysod(metrics, pairs) -> float:
    t = time.perf_counter()
    for pred, gt in pairs:
        for m in metrics:
            m.step(pred=pred, gt=gt)
    for m in metrics:
        m.get_results()
    return time.perf_counter() - t


def run_ours(protocol, metrics, pairs) -> float:
    t = time.perf_counter()
    ev = Evaluator(protocol, metrics=metrics)
    for pred, gt in pairs:
        ev.update(pred, gt)
    ev.compute()
    return time.perf_counter() - t


def best(fn, repeat: int) -> float:
    return min(fn() for _ in range(repeat))


def side_by_side(ref_fn, ours_fn, repeat: int) -> tuple[float, float]:
    """Best time of each, with the runs alternated so that load changes hit both alike."""
    ref, ours = [], []
    for _ in range(repeat):
        ref.append(ref_fn())
        ours.append(ours_fn())
    return min(ref), min(ours)


def bench_args(doc: str | None) -> argparse.Namespace:
    """``--n`` pairs, ``--size`` side and ``--repeat`` runs: the options every metrics benchmark takes."""
    ap = argparse.ArgumentParser(description=doc)
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--size", type=int, default=320)
    ap.add_argument("--repeat", type=int, default=3)
    return ap.parse_args()


def main() -> None:
    args = bench_args(__doc__)
    n, r = args.n, args.repeat
    for label, narrow in (("full-range maps", False), ("narrow-range maps (0..35, min-max path)", True)):
        pairs = make_pairs(n, args.size, narrow=narrow)
        print(f"\n== {n} pairs of {args.size}x{args.size}, {label} ==")
        ref, ours = side_by_side(
            lambda p=pairs: run_pysod(pysod_core(), p), lambda p=pairs: run_ours("pysod", CORE_METRICS, p), r
        )
        print(f"DBD core set   PySODMetrics {n / ref:8.1f} img/s | dbdbench[pysod] {n / ours:8.1f} img/s | "
              f"ratio {ref / ours:5.1f}x (target >= 10x)")
        if narrow:
            continue
        rows = [
            ("MAE", [M.MAE()], ["mae"]),
            ("F/IoU/Dice", pysod_core()[1:], [k for k in CORE_METRICS if k != "mae"]),
            ("S-measure", [M.Smeasure()], ["sm"]),
            ("E-measure", [M.Emeasure()], ["max_em", "mean_em", "adp_em"]),
            ("weighted F", [M.WeightedFmeasure()], ["wf"]),
        ]
        small = pairs[: max(n // 5, 20)]
        for name, ref_metrics, keys in rows:
            ref = best(lambda m=ref_metrics, p=small: run_pysod(m, p), 1)
            ours = best(lambda k=keys, p=small: run_ours("pysod", k, p), 1)
            print(f"{name:12s}   PySODMetrics {len(small) / ref:8.1f} img/s | dbdbench {len(small) / ours:8.1f} img/s"
                  f" | ratio {ref / ours:5.1f}x")
        full = [*CORE_METRICS, "sm", "max_em", "mean_em", "adp_em", "wf"]
        ref_set = [*pysod_core(), M.Smeasure(), M.Emeasure(), M.WeightedFmeasure()]
        ref = best(lambda m=ref_set, p=small: run_pysod(m, p), 1)
        ours = best(lambda k=full, p=small: run_ours("pysod", k, p), 1)
        print(f"full SOD set   PySODMetrics {len(small) / ref:8.1f} img/s | dbdbench {len(small) / ours:8.1f} img/s | "
              f"ratio {ref / ours:5.1f}x")
        ours = best(lambda p=pairs: run_ours("dbdbench", None, p), r)
        print(f"dbdbench protocol (core + AUC/AP/AR): {n / ours:8.1f} img/s")


if __name__ == "__main__":
    main()
