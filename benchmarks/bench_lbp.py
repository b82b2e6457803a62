"""LBP defocus segmentation (Yi & Eramian 2016) speed: this port vs the authors' MATLAB code under Octave.

Run: ``python benchmarks/bench_lbp.py [--image PATH] [--repeat 3] [--threads 2] [--score]``. By default it reads the
CUHK photo ``out_of_focus0088.JPG`` (640 x 427) from ``../shared/data`` beside the repo. Prints the best of
``--repeat`` wall times per image (the machine is shared and noisy), a per-stage split, seconds per
megapixel, the ratio to the authors' code (a *recorded* number: 76 s for the full ``demo.m`` on this image
under GNU Octave 7.3 on a 2-vCPU VM, see the baselines notes) and the peak memory. Targets: <= 3 s per
640 x 427 image on 2 cores, peak <= 2 GB. ``--score`` also runs the method on every photo of
``cuhk/images`` and scores P(blur) = 1 - map against the CUHK GT (protocol ``dbdbench``) next to two constant
maps.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
import tracemalloc
from pathlib import Path

import cv2
import numpy as np

from baselines.handcrafted import _lbp_bp, lbp
from baselines.handcrafted._lbp_matting import MattingPyramid, solve_alpha_c2f
from baselines.handcrafted._lbp_sharpness import gray_uint8_levels, lbp_code, sharpness_from_codes
from baselines.handcrafted.lbp import _as_rgb01, _constraints, _paint_distances

OCTAVE_SECONDS = 76.0  # recorded: authors' demo.m on out_of_focus0088 (427 x 640), Octave 7.3, 2 vCPU
DEFAULT_IMAGE = (
    Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cuhk" / "images" / "out_of_focus0088.JPG"
)


def stages(rgb: np.ndarray, threads: int) -> dict[str, float]:
    """Seconds spent in m_LBP, matting and loopy BP for one image (same calls as ``lbp``)."""
    t = {}
    start = time.perf_counter()
    x = _as_rgb01(rgb)
    codes = lbp_code(gray_uint8_levels(x), 0.016 * 255)
    maps = [sharpness_from_codes(codes, s) for s in (11, 15, 21)]
    t["m_LBP (3 scales)"] = time.perf_counter() - start
    start = time.perf_counter()
    pyr, dist = MattingPyramid(x, 3, 1e-7), _paint_distances(x)
    mattes = [np.clip(solve_alpha_c2f(pyr, *_constraints(dist, m, 0.3, 0.01)), 0, 1) for m in maps]
    t["matting (3 scales)"] = time.perf_counter() - start
    start = time.perf_counter()
    _lbp_bp.multiscale_lbp(mattes[::-1], n_threads=threads)
    t["loopy BP"] = time.perf_counter() - start
    return t


def score_cuhk(cuhk: Path) -> None:
    """MAE / max F / AUC of the port and of constant maps on the CUHK photos that have a GT (white = blurred)."""
    from dbdbench.metrics import Evaluator

    evals = {
        "lbp (this port)": Evaluator("dbdbench"),
        "constant 0.5": Evaluator("dbdbench"),
        "constant 1 (all blurred)": Evaluator("dbdbench"),
    }
    for path in sorted((cuhk / "images").iterdir()):
        gt = cv2.imread(str(cuhk / "gt" / f"{path.stem}.png"), cv2.IMREAD_GRAYSCALE)
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if gt is None or bgr is None:
            raise SystemExit(f"cannot read {path} or its GT in {cuhk / 'gt'}")
        p_blur = 1.0 - lbp(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        for name, value in zip(evals, (p_blur, np.full(gt.shape, 0.5), np.ones(gt.shape)), strict=True):
            evals[name].update(value, gt > 128, path.stem)
    for i, (name, ev) in enumerate(evals.items()):
        res = ev.compute()
        if i == 0:
            print(f"CUHK photos in {cuhk / 'images'} ({res.n_images} images), protocol dbdbench, P(blur) = 1 - map:")
        sc = res.scores
        print(f"  {name:<26s} MAE {sc['mae']:.3f}  max F {sc['max_f']:.3f}  AUC {sc['auc']:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image", type=Path, default=DEFAULT_IMAGE)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2, help="threads for the loopy BP (lbp default 2)")
    ap.add_argument("--score", action="store_true", help="also score the CUHK photos beside --image against GT")
    args = ap.parse_args()
    bgr = cv2.imread(str(args.image), cv2.IMREAD_COLOR)
    if bgr is None:
        raise SystemExit(f"cannot read {args.image}; pass --image PATH to a photo")
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    h, w = rgb.shape[:2]
    lbp(rgb)  # warm-up (imports, allocator)
    times, cpu = [], []
    for _ in range(args.repeat):
        t, c = time.perf_counter(), time.process_time()
        lbp(rgb, n_threads=args.threads)
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    best = min(times)
    split = min((stages(rgb, args.threads) for _ in range(args.repeat)), key=lambda d: sum(d.values()))
    tracemalloc.start()
    lbp(rgb)
    traced_peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
    print(f"image {args.image.name}: {w} x {h} ({h * w / 1e6:.3f} MP), best of {args.repeat}")
    print(
        f"  lbp(): {best:.2f} s/image wall (all runs: {', '.join(f'{x:.2f}' for x in times)}; "
        f"CPU {min(cpu):.2f} s), {best / (h * w / 1e6):.2f} s/MP"
    )
    for name, sec in split.items():
        print(f"    {name:<20s} {sec:6.2f} s")
    print(
        f"  authors' MATLAB code under Octave (recorded, not re-run): {OCTAVE_SECONDS:.0f} s/image "
        f"-> this port is {OCTAVE_SECONDS / best:.0f}x faster (target >= 25x, i.e. <= 3 s)"
    )
    print(
        f"  peak memory: {traced_peak:.0f} MiB traced by tracemalloc during one call (NumPy/SciPy arrays), "
        f"{rss_peak:.0f} MiB process peak RSS incl. interpreter and libraries (target <= 2048 MiB)"
    )
    print(f"  machine load average (1 min) after the runs: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    if args.score:
        score_cuhk(args.image.resolve().parents[1])


if __name__ == "__main__":
    main()
