"""End-to-end evaluation speed (decode included): ``evaluate_folder`` vs a PySODEvalToolkit-style loop.

Run: ``python benchmarks/bench_evaluate.py [--n 500] [--size 320]``. Writes a temporary dataset of ``n``
PNG maps and masks, then times, on the same folder and the same metrics (MAE + every F/IoU/Dice score):

* the loop PySODEvalToolkit runs (``cv2.imread`` gray for mask and map, PySODMetrics ``MAE`` and
  ``FmeasureV2`` handlers, one image at a time);
* ``dbdbench.evaluate.evaluate_folder`` under the ``pysod`` protocol (same numbers) with 1 and 2 jobs.

Prints images/s, the ratio (target >= 5x with one job) and the 2-job speed-up.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_metrics import bench_args, make_pairs, pysod_core  # noqa: E402

from dbdbench.datasets import DatasetSpec  # noqa: E402
from dbdbench.evaluate import evaluate_folder  # noqa: E402
from dbdbench.metrics.protocols import CORE_METRICS  # noqa: E402


def write_folder(root: Path, n: int, size: int) -> tuple[Path, DatasetSpec]:
    (root / "BENCH" / "gt").mkdir(parents=True)
    preds = root / "preds"
    preds.mkdir()
    for i, (pred, gt) in enumerate(make_pairs(n, size)):
        cv2.imwrite(str(root / "BENCH" / "gt" / f"im{i:04d}.png"), gt)
        cv2.imwrite(str(preds / f"im{i:04d}.png"), pred)
    return preds, DatasetSpec("BENCH", "BENCH", folder="BENCH", gt_white="blur", n_images=n)


def pysod_toolkit_loop(preds: Path, gt_dir: Path) -> float:
    t = time.perf_counter()
    metrics = pysod_core()
    for gt_path in sorted(gt_dir.glob("*.png")):
        gt = cv2.imread(str(gt_path), cv2.IMREAD_GRAYSCALE)
        pred = cv2.imread(str(preds / gt_path.name), cv2.IMREAD_GRAYSCALE)
        if pred.shape != gt.shape:
            pred = cv2.resize(pred, dsize=gt.shape[::-1], interpolation=cv2.INTER_LINEAR)
        for m in metrics:
            m.step(pred=pred, gt=gt)
    for m in metrics:
        m.get_results()
    return time.perf_counter() - t


def ours(preds: Path, spec: DatasetSpec, root: Path, jobs: int) -> float:
    t = time.perf_counter()
    evaluate_folder(preds, spec, "pysod", pred_white="blur", data_root=root, metrics=CORE_METRICS, jobs=jobs)
    return time.perf_counter() - t


def main() -> None:
    args = bench_args(__doc__)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        preds, spec = write_folder(root, args.n, args.size)
        gt_dir = root / "BENCH" / "gt"
        n = args.n
        cold_ref, cold_one = pysod_toolkit_loop(preds, gt_dir), ours(preds, spec, root, 1)  # GT cache cold
        ref, one = [], []
        for _ in range(args.repeat):  # alternate so that load changes hit both alike
            ref.append(pysod_toolkit_loop(preds, gt_dir))
            one.append(ours(preds, spec, root, 1))
        two = [ours(preds, spec, root, 2) for _ in range(args.repeat)]
        ref_t, one_t, two_t = min(ref), min(one), min(two)
        print(f"{n} PNG pairs of {args.size}x{args.size}, decode included, best of {args.repeat}")
        print(f"PySODEvalToolkit-style loop : {n / ref_t:8.1f} img/s")
        print(f"dbdbench evaluate, 1 job    : {n / one_t:8.1f} img/s   ratio {ref_t / one_t:5.1f}x (target >= 5x)")
        print(f"  first run, GT cache cold  : {n / cold_one:8.1f} img/s   ratio {cold_ref / cold_one:5.1f}x")
        print(f"dbdbench evaluate, 2 jobs   : {n / two_t:8.1f} img/s   speed-up over 1 job {one_t / two_t:4.2f}x")
        print("(1 job = one process; it decodes ahead on 2 threads, since PNG decoding releases the GIL)")


if __name__ == "__main__":
    main()
