"""Synthetic defocus images with exact masks: the built-in ``SYN-DEMO`` dataset.

Each sample is an in-focus photo (shipped with scikit-image, public domain or CC0) in which a random
smooth region is defocused with a disk (default) or Gaussian point-spread function whose radius grows with
a smooth depth map. The in-focus region is treated as the nearer layer: the blurred background is
computed by *normalised convolution* over background pixels only, so no sharp foreground colour bleeds
into the blur, and the foreground stays sharp up to the mask border (a layered depth model, Hasinoff &
Kutulakos 2007). The mask is therefore exact: white (255) = blurred, black = in focus.

References
----------
.. [1] S. W. Hasinoff, K. N. Kutulakos, "A layer-based restoration framework for variable-aperture
   photography", ICCV 2007.
.. [2] H. Knutsson, C.-F. Westin, "Normalized and differential convolution", CVPR 1993.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import cv2
import numpy as np

GENERATOR_VERSION = 1
#: (scikit-image loader, credit and licence) of the in-focus source photos
SOURCES: dict[str, str] = {
    "astronaut": "Eileen Collins, NASA; public domain",
    "coffee": "Rachel Michetti; CC0",
    "chelsea": "Stefan van der Walt; CC0",
    "rocket": "SpaceX; public domain",
    "camera": "Lav Varshney; CC0",
}
RADII = (2, 3, 4, 5, 6, 7, 8)  # blur radii in pixels at 320 px, from near to far


def _source(name: str) -> np.ndarray:
    import skimage.data

    img = getattr(skimage.data, name)()
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    return img[..., :3]


def _smooth_field(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """A smooth random field in [0, 1]: cubic upsampling of a coarse uniform grid."""
    coarse = rng.random((cells, cells)).astype(np.float32)
    field = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)
    lo, hi = float(field.min()), float(field.max())
    return (field - lo) / max(hi - lo, 1e-6)


def psf_kernel(radius: float, kind: str = "disk") -> np.ndarray:
    """A normalised point-spread function: an anti-aliased disk of ``radius`` or a Gaussian, sigma = radius/2."""
    r = int(np.ceil(radius)) + 1
    y, x = np.mgrid[-r : r + 1, -r : r + 1].astype(np.float64)
    if kind == "gaussian":
        k = np.exp(-(x**2 + y**2) / (2 * (radius / 2) ** 2))
    elif kind == "disk":
        # coverage of each pixel by the disk, from 4x4 supersampling
        sub = (np.arange(4) + 0.5) / 4 - 0.5
        k = np.zeros_like(x)
        for dy in sub:
            for dx in sub:
                k += (x + dx) ** 2 + (y + dy) ** 2 <= radius**2
    else:
        raise ValueError(f"unknown PSF {kind!r}; valid: disk, gaussian")
    return (k / k.sum()).astype(np.float32)


def _crop(img: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    h, w = img.shape[:2]
    side = int(min(h, w) * rng.uniform(0.7, 1.0))
    y0, x0 = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
    return cv2.resize(img[y0 : y0 + side, x0 : x0 + side], (size, size), interpolation=cv2.INTER_AREA)


def make_sample(
    seed: int | np.random.Generator, size: int = 320, psf: str = "disk", blur_fraction: tuple[float, float] = (0.3, 0.7)
) -> tuple[np.ndarray, np.ndarray]:
    """One synthetic image (RGB uint8, size x size) and its exact blur mask (bool, True = blurred)."""
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    name = list(SOURCES)[int(rng.integers(len(SOURCES)))]
    sharp = _crop(_source(name), rng, size).astype(np.float32)
    region = _smooth_field(rng, size, int(rng.integers(3, 6)))
    fraction = rng.uniform(*blur_fraction)
    mask = region >= np.quantile(region, 1 - fraction)
    depth = _smooth_field(rng, size, 3)
    scale = size / 320
    radius_idx = np.clip(np.rint(depth * (len(RADII) - 1)).astype(int), 0, len(RADII) - 1)
    weight = mask.astype(np.float32)
    out = sharp.copy()
    for i, r in enumerate(RADII):
        layer = mask & (radius_idx == i)
        if not layer.any():
            continue
        k = psf_kernel(r * scale, psf)
        num = cv2.filter2D(sharp * weight[..., None], -1, k, borderType=cv2.BORDER_REFLECT)
        den = cv2.filter2D(weight, -1, k, borderType=cv2.BORDER_REFLECT)
        out[layer] = num[layer] / np.maximum(den[layer], 1e-6)[:, None]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8), mask


def generate(
    out_dir: str | os.PathLike,
    n: int = 24,
    seed: int = 0,
    size: int = 320,
    psf: str = "disk",
    overwrite: bool = False,
    progress: bool = False,
) -> Path:
    """Write ``n`` samples as ``out_dir/image/synNNNN.png`` and ``out_dir/gt/synNNNN.png`` (+ ``meta.json``).

    The same arguments give byte-identical files. The dataset is written to a temporary folder beside
    ``out_dir`` and renamed into place, so an interrupted run leaves nothing half written. A non-empty
    ``out_dir`` is refused unless ``overwrite``.
    """
    from tqdm.auto import tqdm

    out = Path(out_dir)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(f"{out} is not empty; pass overwrite=True (--overwrite) to replace it")
    if n < 1 or size < 32:
        raise ValueError(f"need n >= 1 and size >= 32, got n={n}, size={size}")
    psf_kernel(2, psf)  # validate the PSF name before any work
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        (tmp / "image").mkdir()
        (tmp / "gt").mkdir()
        for i in tqdm(range(n), desc="synth", disable=not progress, leave=False):
            img, mask = make_sample(np.random.default_rng([seed, i]), size=size, psf=psf)
            cv2.imwrite(str(tmp / "image" / f"syn{i:04d}.png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
            cv2.imwrite(str(tmp / "gt" / f"syn{i:04d}.png"), mask.astype(np.uint8) * 255)
        meta = {"generator": "dbdbench.synth", "version": GENERATOR_VERSION, "n": n, "seed": seed, "size": size,
                "psf": psf, "radii_px_at_320": list(RADII), "gt_white": "blur", "sources": SOURCES}  # fmt: skip
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def build_demo(folder: str | os.PathLike, n: int = 24) -> Path:
    """Build ``SYN-DEMO`` (24 disk-PSF images, seed 0) in ``folder`` unless it is already there."""
    folder = Path(folder)
    if (folder / "gt").is_dir() and len(list((folder / "gt").glob("*.png"))) == n:
        return folder
    return generate(folder, n=n, seed=0, overwrite=True)
