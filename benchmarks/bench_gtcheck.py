"""Cost of the GT integrity check on the clean path: ``evaluate_folder`` on a pinned vs an unpinned dataset.

Run: ``python benchmarks/bench_gtcheck.py [--n 500] [--size 320] [--repeat 3]``. On the folder that
``bench_evaluate.py`` writes, it times, in one process and alternating, ``evaluate_folder`` (one job, GT
cache warm) on the dataset without digests and on the same dataset pinned by its digest list, and
``verify_gt`` alone; with the real data beside the repository (``../shared/data``) it does the same for
HiFST's maps on CUHK-TE-1. Prints the ratio pinned / unpinned (1.00 = free).
"""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_evaluate import write_folder  # noqa: E402
from bench_metrics import bench_args  # noqa: E402

from dbdbench.datasets import DatasetSpec, get_dataset  # noqa: E402
from dbdbench.evaluate import evaluate_folder  # noqa: E402
from dbdbench.gt.check import verify_gt  # noqa: E402
from dbdbench.gt.dataset_check import digest_list  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def _time(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def compare(label: str, preds: Path, spec: DatasetSpec, root: Path, pred_white: str, repeat: int) -> None:
    """Print best-of-``repeat`` times of evaluate_folder without and with the pinned digests."""
    bare = replace(spec, digests=None)

    def run(s):
        return lambda: evaluate_folder(preds, s, pred_white=pred_white, data_root=root, hashes=False)

    run(spec)()  # warm the GT cache
    plain, pinned = [], []
    for _ in range(repeat):
        plain.append(_time(run(bare)))
        pinned.append(_time(run(spec)))
    files = spec.gt_files(root)
    check = min(_time(lambda: verify_gt(spec, files)) for _ in range(repeat))
    n = len(files)
    print(f"== {label}: {n} images, best of {repeat} ==")
    print(f"evaluate, no digests  : {min(plain):7.3f} s")
    print(f"evaluate, pinned      : {min(pinned):7.3f} s   ratio {min(pinned) / min(plain):5.3f}")
    print(f"verify_gt alone       : {check * 1e3:7.2f} ms  ({check / n * 1e6:.0f} us a file)")


def main() -> None:
    args = bench_args(__doc__)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        preds, spec = write_folder(root, args.n, args.size)
        (root / "BENCH.txt").write_text(digest_list(spec, root))
        compare("synthetic", preds, replace(spec, digests=str(root / "BENCH.txt")), root, "blur", args.repeat)
        if (SHARED / "cuhk" / "gt").is_dir():
            (root / "CUHK").mkdir()
            (root / "CUHK" / "gt").symlink_to(SHARED / "cuhk" / "gt")
            maps = SHARED / "hifst" / "cuhk_maps"
            compare("CUHK-TE-1, HiFST maps", maps, get_dataset("CUHK-TE-1"), root, "sharp", args.repeat)


if __name__ == "__main__":
    main()
