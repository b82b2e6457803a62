"""Speed of the structure metrics (S, E, weighted F) against PySODMetrics 1.6.2, side by side.

500 pairs of 320 x 320 maps (smooth blur-map-like predictions, blob masks), one process. PySODMetrics gets
the 8-bit pair as usual (its ``step`` includes its normalisation); ours gets the normalised float pair,
prepared once outside the timed loop, plus our own input check inside it. Runs of the two alternate.
Prints images/s per metric and the ratio ours / PySOD, and checks that both give the same numbers.

Run: ``python benchmarks/bench_structure.py [--n 500] [--size 320] [--repeat 3]`` (best of ``repeat``).
"""

from __future__ import annotations

import argparse
import time
import warnings

import cv2
import numpy as np
import py_sod_metrics as psm
from py_sod_metrics.utils import prepare_data

from dbdbench.metrics.structure import e_measure_adaptive, e_measure_curve, s_measure, weighted_fmeasure


def make_pairs(n: int, size: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """``n`` 8-bit (prediction, mask) pairs: bicubic-upsampled noise, the mask a threshold of another field."""
    rng = np.random.default_rng(seed)

    def field(cell: int) -> np.ndarray:
        coarse = rng.random((size // cell + 2, size // cell + 2))
        up = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)
        return (up - up.min()) / (up.max() - up.min())

    pairs = []
    for _ in range(n):
        gt = np.where(field(40) > 0.5, 255, 0).astype(np.uint8)
        pred = np.clip(0.7 * (gt / 255) + 0.3 * field(10) + rng.normal(0, 0.05, gt.shape), 0, 1)
        pairs.append(((pred * 255).astype(np.uint8), gt))
    return pairs


def _timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def _best_interleaved(ref_fn, our_fn, repeat: int) -> tuple[float, object, float, object]:
    """Best-of-``repeat`` times of both, alternating runs so that load changes on a shared machine hit both."""
    t_ref = t_ours = np.inf
    for _ in range(repeat):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t, ref_out = _timed(ref_fn)
        t_ref = min(t_ref, t)
        t, our_out = _timed(our_fn)
        t_ours = min(t_ours, t)
    return t_ref, ref_out, t_ours, our_out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--size", type=int, default=320)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    pairs = make_pairs(args.n, args.size)
    prepared = [prepare_data(p, g) for p, g in pairs]

    def pysod(cls):
        def run():
            metric = cls()
            for p, g in pairs:
                metric.step(pred=p, gt=g)
            return metric

        return run

    def ours(fns):
        return lambda: [[f(p, g) for f in fns] for p, g in prepared]

    rows = [
        ("S-measure", pysod(psm.Smeasure), ours([s_measure]), lambda m: np.array(m.sms, np.float64)),
        (
            "E-measure (curve + adaptive)",
            pysod(psm.Emeasure),
            ours([e_measure_curve, e_measure_adaptive]),
            lambda m: np.column_stack([np.array(m.changeable_ems)[:, ::-1], m.adaptive_ems]),
        ),
        (
            "weighted F",
            pysod(psm.WeightedFmeasure),
            ours([weighted_fmeasure]),
            lambda m: np.array(m.weighted_fms, np.float64),
        ),
    ]
    print(f"{args.n} pairs of {args.size}x{args.size}, best of {args.repeat}")
    print(f"{'metric':30s} {'PySOD img/s':>12s} {'ours img/s':>11s} {'ratio':>7s}  max|diff|")
    total_ref = total_ours = 0.0
    for name, ref_fn, our_fn, ref_values in rows:
        t_ref, metric, t_ours, values = _best_interleaved(ref_fn, our_fn, args.repeat)
        ours_arr = np.array([np.concatenate([np.atleast_1d(v) for v in vs]) for vs in values])
        diff = np.abs(ours_arr - ref_values(metric).reshape(ours_arr.shape)).max()
        total_ref, total_ours = total_ref + t_ref, total_ours + t_ours
        print(f"{name:30s} {args.n / t_ref:12.1f} {args.n / t_ours:11.1f} {t_ref / t_ours:6.2f}x  {diff:.1e}")
    print(f"{'all three':30s} {args.n / total_ref:12.1f} {args.n / total_ours:11.1f} {total_ref / total_ours:6.2f}x")


if __name__ == "__main__":
    main()
