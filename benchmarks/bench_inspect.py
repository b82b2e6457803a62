"""Speed of ``dbdbench inspect``: the page of two results of N synthetic images of 640x427, and its opening.

Run: ``python benchmarks/bench_inspect.py [--n 1000] [--jobs 2] [--n-boot 10000] [--keep DIR]`` (a ``--keep``
folder of an earlier run is reused).
Builds a dataset of ``n`` photos (JPEG), masks and two methods' maps (PNG) in a temporary folder, registers it
through a datasets TOML, scores both methods (results with their per-image counts files), then times

* the command ``python -m dbdbench inspect A.json B.json ... --out page.html`` in a fresh process (start-up,
  reading, re-scoring every map, thumbnails, the paired statistics of ``compare`` and writing): wall and CPU
  seconds; and the same with ``--n-boot 100`` (the statistics nearly free), so the share of each part shows;
* opening the page in headless Chromium (Playwright, when installed): seconds from navigation to the
  table drawn, and until every thumbnail of the first page is decoded.

On a shared machine the wall time swings with the load; compare numbers of the same run (ratios).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

H, W = 427, 640


def _smooth(rng: np.random.Generator, channels: int) -> np.ndarray:
    small = rng.uniform(0, 255, (6, 9, channels)).astype(np.float32)
    return cv2.resize(small, (W, H), interpolation=cv2.INTER_CUBIC).reshape(H, W, channels)


def build_dataset(root: Path, n: int) -> None:
    """``root/BENCH/{image,gt}`` and the maps of methods A and B (white = blur), n images each."""
    rng = np.random.default_rng(0)
    image, gt_dir, a_dir, b_dir = (root / "BENCH" / "image", root / "BENCH" / "gt", root / "maps" / "a",
                                   root / "maps" / "b")  # fmt: skip
    for d in (image, gt_dir, a_dir, b_dir):
        d.mkdir(parents=True)
    for i in range(n):
        stem = f"im{i:04d}"
        photo = np.clip(_smooth(rng, 3), 0, 255).astype(np.uint8)
        mask = np.zeros((H, W), np.uint8)
        cv2.ellipse(mask, (int(rng.integers(160, 480)), int(rng.integers(120, 300))),
                    (int(rng.integers(60, 200)), int(rng.integers(50, 150))), 0, 0, 360, 255, -1)  # fmt: skip
        blur = 255 - mask  # the background is blurred
        noise = _smooth(rng, 1)[..., 0] - 128
        pred = np.clip(blur * 0.7 + 40 + noise * 0.5, 0, 255).astype(np.uint8)
        cv2.imwrite(str(image / f"{stem}.jpg"), photo, [cv2.IMWRITE_JPEG_QUALITY, 90])
        cv2.imwrite(str(gt_dir / f"{stem}.png"), blur)
        cv2.imwrite(str(a_dir / f"{stem}.png"), pred)
        cv2.imwrite(str(b_dir / f"{stem}.png"), cv2.GaussianBlur(pred, (0, 0), 3))


def _run(args: list[str], env: dict) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "dbdbench", *args], check=True, env=env, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)  # fmt: skip
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def open_page(page: Path) -> tuple[float, float] | None:
    """Seconds until the table is drawn and until the first page's thumbnails are decoded (None: no browser)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        return None
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        t = time.perf_counter()
        pg.goto(page.as_uri())
        pg.wait_for_selector("body[data-ready='1']", timeout=120_000)
        ready = time.perf_counter() - t
        pg.eval_on_selector_all("#grid img", "imgs => imgs.forEach(i => { i.loading = 'eager'; })")
        pg.wait_for_function("() => [...document.querySelectorAll('#grid img')].every(i => i.complete)",
                             timeout=120_000)
        shown = time.perf_counter() - t
        browser.close()
    return ready, shown


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--n-boot", type=int, default=10_000)
    ap.add_argument("--keep", type=Path, help="Build in this folder and keep it (default: a temporary folder).")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_inspect_")) if args.keep is None else args.keep
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        toml = tmp / "datasets.toml"
        toml.write_text(f'[datasets.BENCH]\nfolder = "BENCH"\ngt_white = "blur"\nn_images = {args.n}\n')
        env = os.environ | {"DBDBENCH_DATASETS": str(toml), "DBDBENCH_DATA": str(tmp / "data")}
        t = time.perf_counter()
        data = tmp / "data"
        image, a_dir, b_dir = data / "BENCH" / "image", data / "maps" / "a", data / "maps" / "b"
        if not (tmp / "b.json").is_file():  # --keep DIR of an earlier run: reuse its dataset and results
            build_dataset(data, args.n)
            for label, folder in (("a", a_dir), ("b", b_dir)):
                _run(["evaluate", str(folder), "-d", "BENCH", "--pred-white", "blur", "--json",
                      str(tmp / f"{label}.json"), "-q", "-j", str(args.jobs)], env)  # fmt: skip
        print(f"dataset of {args.n} images {W}x{H} built and scored in {time.perf_counter() - t:.1f} s")
        common = ["inspect", str(tmp / "a.json"), str(tmp / "b.json"), "--map", f"A={a_dir}", "--map", f"B={b_dir}",
                  "--images", str(image), "-j", str(args.jobs)]  # fmt: skip
        for n_boot in (args.n_boot, 100):
            out = tmp / f"page_{n_boot}.html"
            wall, cpu = _run([*common, "--n-boot", str(n_boot), "--out", str(out)], env)
            files = out.with_name(f"{out.stem}_files")
            extra = sum(f.stat().st_size for f in files.iterdir()) if files.is_dir() else 0
            print(f"inspect --n-boot {n_boot:>5}: wall {wall:6.1f} s, CPU {cpu:6.1f} s; page "
                  f"{out.stat().st_size / 2**20:.1f} MiB + {extra / 2**20:.1f} MiB of thumbnail files")  # fmt: skip
        opened = open_page(tmp / f"page_{args.n_boot}.html")
        if opened is None:
            print("page opening: not measured (playwright or chromium missing)")
        else:
            print(f"page opening: table drawn after {opened[0]:.2f} s, first page's thumbnails after {opened[1]:.2f} s")
        print(f"cores available: {len(os.sched_getaffinity(0))}")
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
