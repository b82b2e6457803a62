"""End-to-end evaluation speed (decode included): ``evaluate_folder`` vs a PySODEvalToolkit-style loop.

Run: ``python benchmarks/bench_evaluate.py [--n 1000] [--size 320]``. Writes a temporary dataset of ``n``
PNG maps and masks, then times, on the same folder and the same metrics (MAE + every F/IoU/Dice score):

* the loop PySODEvalToolkit runs (``cv2.imread`` gray for mask and map, PySODMetrics ``MAE`` and
  ``FmeasureV2`` handlers, one image at a time);
* ``dbdbench.evaluate.evaluate_folder`` under the ``pysod`` protocol (same numbers) in one process, with
  ``--jobs 2`` and on a local Dask cluster of two worker processes (``docs/scale.md``; needs ``distributed``);
* the start-up of the command: ``dbdbench evaluate`` on 10 images in a fresh interpreter, with and without
  ``--json`` (which writes the per-image counts beside the result).

Prints images/s, the ratio (target >= 5x with one job), the speed-ups of 2 jobs and of the Dask cluster
over one process, and the start-up ratio; every ratio compares runs of this one invocation.
"""

from __future__ import annotations

import os
import subprocess
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


def ours(preds: Path, spec: DatasetSpec, root: Path, jobs: int, backend: str = "joblib") -> float:
    t = time.perf_counter()
    evaluate_folder(preds, spec, "pysod", pred_white="blur", data_root=root, metrics=CORE_METRICS, jobs=jobs,
                    backend=backend)  # fmt: skip
    return time.perf_counter() - t


def on_dask(preds: Path, spec: DatasetSpec, root: Path, repeat: int) -> float | None:
    """Best time on a local cluster of two single-thread worker processes (None without ``distributed``)."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        return None
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with Client(cluster):
            return min(ours(preds, spec, root, 1, "dask") for _ in range(repeat))


def startup(root: Path, repeat: int) -> tuple[float, float]:
    """Best wall time of ``dbdbench evaluate`` on 10 images in a fresh interpreter: without and with --json."""
    small = root / "small"
    preds, _ = write_folder(small, 10, 64)
    toml = small / "datasets.toml"
    toml.write_text('[datasets.BENCH]\nfolder = "BENCH"\ngt_white = "blur"\nn_images = 10\n')
    env = {**os.environ, "DBDBENCH_DATASETS": str(toml)}
    cmd = [sys.executable, "-m", "dbdbench", "evaluate", str(preds), "-d", "BENCH", "--pred-white", "blur", "-q",
           "--data-root", str(small)]  # fmt: skip
    times: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(repeat):  # alternate so that load changes hit both alike
        for with_json in (False, True):
            t = time.perf_counter()
            subprocess.run(cmd + (["--json", str(small / "r.json")] if with_json else []), env=env, check=True,
                           stdout=subprocess.DEVNULL)  # fmt: skip
            times[with_json].append(time.perf_counter() - t)
    return min(times[False]), min(times[True])


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
        dask_t = on_dask(preds, spec, root, args.repeat)
        plain_t, json_t = startup(root, args.repeat)
        print(f"{n} PNG pairs of {args.size}x{args.size}, decode included, best of {args.repeat}")
        print(f"PySODEvalToolkit-style loop : {n / ref_t:8.1f} img/s")
        print(f"dbdbench evaluate, 1 job    : {n / one_t:8.1f} img/s   ratio {ref_t / one_t:5.1f}x (target >= 5x)")
        print(f"  first run, GT cache cold  : {n / cold_one:8.1f} img/s   ratio {cold_ref / cold_one:5.1f}x")
        print(f"dbdbench evaluate, 2 jobs   : {n / two_t:8.1f} img/s   speed-up over 1 job {one_t / two_t:4.2f}x")
        if dask_t is None:
            print("dask, 2 workers             : skipped (pip install 'dbdbench[dask]')")
        else:
            print(f"dask, 2 worker processes    : {n / dask_t:8.1f} img/s   speed-up over 1 job {one_t / dask_t:4.2f}x")
        print("(1 job = one process; it decodes ahead on 2 threads, since PNG decoding releases the GIL)")
        print("(dask: the cluster is started before the clock runs, as a running cluster would be)")
        print(f"start-up, evaluate 10 images: {plain_t:5.2f} s; with --json {json_t:5.2f} s "
              f"(ratio {json_t / plain_t:4.2f})")  # fmt: skip


if __name__ == "__main__":
    main()
