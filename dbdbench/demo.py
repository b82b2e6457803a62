"""The demo run: build SYN-DEMO, predict with built-in methods, evaluate, tabulate.

Also home of the simplest sharpness map, the local variance of the Laplacian (Pech-Pacheco et al. 2000),
used as a built-in predictor that needs nothing beyond OpenCV.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from dbdbench.datasets import get_dataset, index_folder
from dbdbench.evaluate import evaluate_folder
from dbdbench.io import read_image, write_map, write_maps_meta
from dbdbench.plugins import get_method
from dbdbench.results import Result

DEMO_METHODS = ("laplacian", "hifst", "lbp")


def laplacian_sharpness(image: np.ndarray, window: int = 15) -> np.ndarray:
    r"""Local variance of the Laplacian, log-scaled to [0, 1] per image; high = sharp.

    .. math:: s = \log\left(1 + \mathrm{E}_w[L^2] - \mathrm{E}_w[L]^2\right), \quad L = \nabla^2 I

    with :math:`\mathrm{E}_w` a ``window`` x ``window`` box mean, then min-max scaled.

    References
    ----------
    .. [1] J. L. Pech-Pacheco, G. Cristóbal, J. Chamorro-Martínez, J. Fernández-Valdivia, "Diatom
       autofocusing in brightfield microscopy: a comparative study", ICPR 2000.
    """
    gray = image if image.ndim == 2 else cv2.cvtColor(np.ascontiguousarray(image[..., :3]), cv2.COLOR_RGB2GRAY)
    lap = cv2.Laplacian(gray.astype(np.float64) / (255.0 if gray.dtype == np.uint8 else 1.0), cv2.CV_64F, ksize=3)
    mean = cv2.blur(lap, (window, window), borderType=cv2.BORDER_REFLECT)
    var = np.maximum(cv2.blur(lap * lap, (window, window), borderType=cv2.BORDER_REFLECT) - mean * mean, 0)
    s = np.log1p(var * 1e3)
    lo, hi = float(s.min()), float(s.max())
    return (s - lo) / (hi - lo) if hi > lo else np.zeros_like(s)


def _predict_laplacian(images: dict[str, Path], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    write_maps_meta(out, pred_white="sharp", method="laplacian")
    for stem, path in images.items():
        target = out / f"{stem}.png"
        if not target.exists():
            write_map(target, laplacian_sharpness(read_image(path)))


def _predict_constant(images: dict[str, Path], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    write_maps_meta(out, pred_white="blur", method="constant 0.5")
    for stem, path in images.items():
        write_map(out / f"{stem}.png", np.full(read_image(path).shape[:2], 0.5))


def run_demo(
    out_dir: str | os.PathLike = "dbdbench-demo",
    *,
    data_root: str | os.PathLike | None = None,
    methods: tuple[str, ...] = DEMO_METHODS,
    protocol: str = "dbdbench",
    jobs: int = 2,
    progress: bool = True,
    echo=print,
) -> list[Result]:
    """Build SYN-DEMO (first use only), predict with ``methods``, evaluate, write JSON results.

    Writes ``out_dir/maps/<method>/`` (maps + meta.json) and ``out_dir/results/<method>.json`` (the
    command adds ``table.md`` and the figures of :func:`write_figures`); returns the results, a
    constant-0.5 map first as the trivial reference.
    """
    out = Path(out_dir)
    spec = get_dataset("SYN-DEMO")
    spec.gt_files(data_root)  # builds the dataset on first use
    images = index_folder(spec.image_folder(data_root))
    echo(f"SYN-DEMO: {len(images)} images in {spec.root(data_root)}")
    results = []
    for method in ("constant", *methods):
        folder = out / "maps" / method
        echo(f"predicting: {method}")
        if method == "constant":
            _predict_constant(images, folder)
        elif method == "laplacian":
            _predict_laplacian(images, folder)
        else:
            get_method(method)(images, folder, jobs=jobs, progress=progress)
        res = evaluate_folder(folder, spec, protocol, data_root=data_root, method=method, jobs=1)
        res.to_json(out / "results" / f"{method}.json")
        results.append(res)
    return results


def write_figures(results: list[Result], out_dir: str | os.PathLike) -> list[Path]:
    """The demo's figures: PR and F-measure curves side by side, and ROC, each as PNG (300 dpi) and PDF.

    Returns the written files (``out_dir/figures/curves.{png,pdf}`` and ``roc.{png,pdf}``).
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    from dbdbench.report.plots import method_styles, plot_curves

    folder = Path(out_dir) / "figures"
    styles = method_styles(r.method or "" for r in results)
    written = []
    for name, curve in (("curves", ("pr", "fmeasure")), ("roc", "roc")):
        paths = [folder / f"{name}.png", folder / f"{name}.pdf"]
        plt.close(plot_curves(results, curve, paths, styles=styles))
        written += paths
    return written
