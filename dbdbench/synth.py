"""Synthetic defocus blur data with exact masks: the embedded demo dataset (SYN-DEMO).

Each sample is an all-in-focus photo crop, re-rendered with a layered thin-lens model: a smooth random
field splits the frame into an in-focus layer and out-of-focus depth layers whose blur radius grows with
depth (2-8 px by default), each layer is blurred together with its own alpha by a disk (default) or
Gaussian point-spread function and composited with the "over" operator. The mask (True = blurred) is the
union of the out-of-focus layers, so the ground truth is exact by construction. Everything is seeded by
``(seed, index)`` and needs no network: the photos ship inside scikit-image. See ``docs/synth.md``.

References
----------
.. [1] S. W. Hasinoff and K. N. Kutulakos, "A layer-based restoration framework for variable-aperture
       photography," ICCV 2007 (layered image formation with blurred colour and alpha per depth layer).
.. [2] T. Porter and T. Duff, "Compositing digital images," SIGGRAPH 1984 (the "over" operator).
.. [3] A. P. Pentland, "A new sense for depth of field," IEEE TPAMI 9(4), 1987 (disk/Gaussian defocus PSF).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

#: bump whenever the same arguments would produce different files (1 was the first, single-layer version)
GENERATOR_VERSION = 2
GT_POLARITY = "white_is_blur"
PSFS = ("disk", "gaussian")


@dataclass(frozen=True)
class SourcePhoto:
    """An in-focus photo bundled with scikit-image (``skimage.data.<name>()``, no download)."""

    name: str
    credit: str
    licence: str
    url: str


#: chosen for being in focus over (nearly) the whole frame; see docs/synth.md for the excluded ones
SOURCES: dict[str, SourcePhoto] = {
    s.name: s
    for s in (
        SourcePhoto("astronaut", "Eileen Collins, NASA Great Images database", "public domain (NASA)",
                    "https://flic.kr/p/r9qvLn"),
        SourcePhoto("coffee", "Rachel Michetti, courtesy of Pikolo Espresso Bar", "CC0",
                    "https://scikit-image.org/docs/stable/api/skimage.data.html#skimage.data.coffee"),
        SourcePhoto("camera", "Lav Varshney", "CC0", "https://github.com/scikit-image/scikit-image/issues/3927"),
        SourcePhoto("immunohistochemistry", "Center for Microscopy And Molecular Imaging (CMMI)",
                    "no known copyright restrictions",
                    "https://scikit-image.org/docs/stable/api/skimage.data.html#skimage.data.immunohistochemistry"),
        SourcePhoto("coins", "Greek coins from Pompeii, Brooklyn Museum Collection",
                    "no known copyright restrictions",
                    "https://www.brooklynmuseum.org/opencollection/archives/image/51611"),
        SourcePhoto("brick", "CC0Textures, Bricks25", "CC0", "https://cc0textures.com/view.php?tex=Bricks25"),
        SourcePhoto("grass", "linolafett (DeviantArt), Grass-01", "CC0",
                    "https://www.deviantart.com/linolafett/art/Grass-01-434853879"),
        SourcePhoto("gravel", "CC0Textures, Gravel04", "CC0", "https://cc0textures.com/view.php?tex=Gravel04"),
    )
}


@dataclass
class Sample:
    """One rendered sample: the blurred image, its exact mask, the sharp crop it came from, and how."""

    image: np.ndarray  # uint8 (size, size, 3), RGB
    mask: np.ndarray  # bool (size, size), True = blurred
    sharp: np.ndarray  # uint8 (size, size, 3), the all-in-focus crop before blurring
    info: dict = field(default_factory=dict)


@functools.cache
def load_source(name: str) -> np.ndarray:
    """Return source photo ``name`` as a read-only uint8 RGB array (gray photos are repeated to 3 channels)."""
    if name not in SOURCES:
        raise ValueError(f"unknown source photo {name!r}; choose from {sorted(SOURCES)}")
    import skimage.data

    photo = np.asarray(getattr(skimage.data, name)(), dtype=np.uint8)
    if photo.ndim == 2:
        photo = np.repeat(photo[:, :, None], 3, axis=2)
    photo = np.ascontiguousarray(photo[:, :, :3])
    photo.setflags(write=False)
    return photo


def source_sha256(name: str) -> str:
    """SHA-256 of the decoded source pixels, recorded in meta.json (a changed photo changes the dataset)."""
    return hashlib.sha256(load_source(name).tobytes()).hexdigest()


def disk_psf(radius: float, supersample: int = 8) -> np.ndarray:
    """Pillbox PSF ``h(x) = 1/(pi r^2)`` for ``|x| <= r``, area-sampled on the pixel grid and normalised to sum 1.

    Each kernel pixel holds the fraction of its area inside the circle (``supersample``^2 sub-pixels), so
    radii between integers give distinct kernels; this is the geometric-optics defocus PSF of [1]_.

    References
    ----------
    .. [1] A. P. Pentland, "A new sense for depth of field," IEEE TPAMI 9(4), 1987.
    """
    if radius <= 0:
        raise ValueError(f"disk PSF radius must be > 0 px, got {radius}")
    half = int(np.ceil(radius))
    offsets = (np.arange(supersample) + 0.5) / supersample - 0.5
    coords = (np.arange(-half, half + 1)[:, None] + offsets[None, :]).ravel()
    inside = (coords[:, None] ** 2 + coords[None, :] ** 2) <= radius**2
    n = 2 * half + 1
    kernel = inside.reshape(n, supersample, n, supersample).mean(axis=(1, 3))
    return (kernel / kernel.sum()).astype(np.float32)


def gaussian_psf(radius: float) -> np.ndarray:
    """Gaussian PSF with ``sigma = r / 2``: the same per-axis variance ``r^2/4`` as a disk of radius ``r``.

    Truncated at ``3 sigma`` and normalised to sum 1; the common smooth approximation of defocus [1]_.

    References
    ----------
    .. [1] A. P. Pentland, "A new sense for depth of field," IEEE TPAMI 9(4), 1987.
    """
    if radius <= 0:
        raise ValueError(f"Gaussian PSF radius must be > 0 px, got {radius}")
    sigma = radius / 2.0
    half = int(np.ceil(3.0 * sigma))
    x = np.arange(-half, half + 1, dtype=np.float64)
    g = np.exp(-(x**2) / (2.0 * sigma**2))
    kernel = np.outer(g, g)
    return (kernel / kernel.sum()).astype(np.float32)


def make_psf(kind: str, radius: float) -> np.ndarray:
    """The PSF ``kind`` (``"disk"`` or ``"gaussian"``) of blur radius ``radius`` px."""
    if kind == "disk":
        return disk_psf(radius)
    if kind == "gaussian":
        return gaussian_psf(radius)
    raise ValueError(f"unknown PSF {kind!r}; choose one of {list(PSFS)}")


def smooth_field(rng: np.random.Generator, size: int, cells: int = 5) -> np.ndarray:
    """Low-pass random field on ``size x size``: white noise on a ``cells x cells`` grid, bicubic upsampling.

    Blobs are about ``size / cells`` px across, so masks have a few smooth regions rather than speckle.
    """
    coarse = rng.standard_normal((cells + 2, cells + 2)).astype(np.float32)
    big = cv2.resize(coarse, (size + 2 * size // cells,) * 2, interpolation=cv2.INTER_CUBIC)
    off = size // cells
    return np.ascontiguousarray(big[off : off + size, off : off + size]).astype(np.float64)


def make_mask(rng: np.random.Generator, size: int, blur_fraction: tuple[float, float]) -> np.ndarray:
    """Blur mask ``F > t``: ``F`` = smooth noise + a random tilted plane (a receding ground), ``t`` a quantile.

    ``t`` is chosen so that exactly ``k = round(f N)`` of the ``N`` pixels are blurred, with ``f`` drawn
    uniformly from ``blur_fraction`` and ``k`` clipped into the range; specks are then absorbed
    (:func:`absorb_specks`) unless that would leave the range, so the fraction is always within it.
    """
    lo, hi = blur_fraction
    if not 0.0 < lo <= hi < 1.0:
        raise ValueError(f"blur_fraction must satisfy 0 < min <= max < 1, got {blur_fraction}")
    noise = smooth_field(rng, size)
    angle = rng.uniform(0.0, 2.0 * np.pi)
    yy, xx = np.mgrid[0:size, 0:size] / size - 0.5
    plane = np.cos(angle) * xx + np.sin(angle) * yy
    f = noise / (noise.std() + 1e-12) + rng.uniform(0.0, 4.0) * plane
    n = size * size
    k = int(np.clip(round(rng.uniform(lo, hi) * n), np.ceil(lo * n), np.floor(hi * n)))
    # ties are measure-zero for a continuous field; argsort ranks make the count exact regardless
    order = np.argsort(f, axis=None, kind="stable")
    flat = np.zeros(n, dtype=bool)
    flat[order[n - k :]] = True
    mask = flat.reshape(size, size)
    cleaned = absorb_specks(mask, min_area=max(4, (size // 20) ** 2))
    return cleaned if lo <= cleaned.mean() <= hi else mask


def absorb_specks(mask: np.ndarray, min_area: int) -> np.ndarray:
    """Flip connected components (blurred or sharp, 4-connected) smaller than ``min_area`` px to the other class.

    Specks of a few pixels, where the smooth field barely crosses the threshold, carry no visible blur
    difference and would only add label noise.
    """
    out = mask.copy()
    for value in (True, False):
        count, labels, stats, _ = cv2.connectedComponentsWithStats((out == value).astype(np.uint8), connectivity=4)
        small = np.flatnonzero(stats[1:, cv2.CC_STAT_AREA] < min_area) + 1
        if small.size:
            out[np.isin(labels, small)] = not value
    return out


def radius_map(rng: np.random.Generator, mask: np.ndarray, radius: tuple[float, float], step: float) -> np.ndarray:
    """Blur radius per pixel: ``r = r_a + (r_b - r_a) D`` in the mask (``D`` smooth depth in [0, 1]), 0 outside.

    ``r_a <= r_b`` are drawn in ``radius`` per sample and ``r`` is quantised to ``step`` px, which defines
    the depth layers.
    """
    rmin, rmax = radius
    if not 0.0 < rmin <= rmax:
        raise ValueError(f"radius must satisfy 0 < min <= max (px), got {radius}")
    r_a, r_b = np.sort(rng.uniform(rmin, rmax, size=2))
    depth = smooth_field(rng, mask.shape[0], cells=3)
    d_in = depth[mask]
    depth = (depth - d_in.min()) / max(d_in.max() - d_in.min(), 1e-12)
    r = np.clip(np.round((r_a + (r_b - r_a) * depth) / step) * step, max(rmin, step), rmax)
    return np.where(mask, r, 0.0)


def composite_layers(image: np.ndarray, alphas: Sequence[np.ndarray], psfs: Sequence[np.ndarray | None]) -> np.ndarray:
    """Layered defocus rendering, back to front: ``A <- h_k*(a_k I) + (1 - h_k*a_k) A``, then ``A_rgb / A_a``.

    Each layer's premultiplied colour and its alpha are blurred by the same PSF ``h_k`` (``None`` = in
    focus) and laid over the layers behind it (Porter-Duff "over", [2]_), as in the layered image formation
    of [1]_. Because colour and alpha are blurred together, an in-focus object in front keeps a hard edge
    and its colour never leaks into the blurred background (no halo), while a blurred object in front
    spills softly over the sharp background. The final division by accumulated alpha fills the
    disocclusion gaps behind front layers with the layer's own colours (normalised convolution).

    References
    ----------
    .. [1] S. W. Hasinoff and K. N. Kutulakos, "A layer-based restoration framework for variable-aperture
           photography," ICCV 2007.
    .. [2] T. Porter and T. Duff, "Compositing digital images," SIGGRAPH 1984.
    """
    rgb = image.astype(np.float32)
    acc = np.zeros(image.shape[:2] + (4,), dtype=np.float32)
    for alpha, psf in zip(alphas, psfs, strict=True):
        a = alpha.astype(np.float32)[:, :, None]
        layer = np.concatenate([rgb * a, a], axis=2)
        if psf is not None:
            layer = cv2.filter2D(layer, -1, psf, borderType=cv2.BORDER_REFLECT)
        acc = layer + (1.0 - layer[:, :, 3:]) * acc
    return acc[:, :, :3] / np.maximum(acc[:, :, 3:], 1e-6)


def random_crop(rng: np.random.Generator, photo: np.ndarray, size: int) -> tuple[np.ndarray, dict]:
    """A random square crop (side between ``max(size, 0.6 m)`` and ``m``, the short side) resized to ``size``.

    Crops are downsampled with area averaging (sharpness is kept); a photo smaller than ``size`` is
    upsampled bicubically (only ``coins``, by 1.06 at the default size). Half of the crops are mirrored.
    """
    h, w = photo.shape[:2]
    m = min(h, w)
    side = int(rng.integers(min(m, max(size, int(0.6 * m))), m + 1))
    y0, x0 = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
    crop = photo[y0 : y0 + side, x0 : x0 + side]
    interp = cv2.INTER_AREA if side >= size else cv2.INTER_CUBIC
    crop = cv2.resize(crop, (size, size), interpolation=interp)
    flip = bool(rng.integers(0, 2))
    if flip:
        crop = crop[:, ::-1]
    return np.ascontiguousarray(crop), {"crop_yx_side": [y0, x0, side], "mirrored": flip}


def render_sample(
    rng: np.random.Generator | int | Sequence[int],
    size: int = 320,
    psf: str = "disk",
    blur_fraction: tuple[float, float] = (0.3, 0.7),
    radius: tuple[float, float] = (2.0, 8.0),
    radius_step: float = 0.5,
    p_blur_front: float = 0.25,
    sources: Sequence[str] | None = None,
) -> Sample:
    """Render one sample: crop -> mask -> radius layers -> layered PSF compositing (:func:`composite_layers`).

    Depth order: with probability ``1 - p_blur_front`` the in-focus layer is in front and the blurred
    layers lie behind it, farther (larger radius) at the back, so the sharp region keeps a hard edge and no
    halo; otherwise the blurred layers are in front, nearer (larger radius) at the front, and spill softly
    over the sharp background. Either way the in-focus pixels away from the border are the crop's pixels.

    References
    ----------
    .. [1] S. W. Hasinoff and K. N. Kutulakos, "A layer-based restoration framework for variable-aperture
           photography," ICCV 2007.
    """
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    names = list(SOURCES) if sources is None else list(sources)
    unknown = [k for k in names if k not in SOURCES]
    if unknown or not names:
        what = f"unknown source photo {unknown[0]!r}" if unknown else "sources is empty"
        raise ValueError(f"{what}; choose from {sorted(SOURCES)}")
    if psf not in PSFS:
        raise ValueError(f"unknown PSF {psf!r}; choose one of {list(PSFS)}")
    name = names[int(rng.integers(len(names)))]
    sharp, info = random_crop(rng, load_source(name), size)
    mask = make_mask(rng, size, blur_fraction)
    radii = radius_map(rng, mask, radius, radius_step)
    blur_front = bool(rng.random() < p_blur_front)
    levels = [float(v) for v in np.unique(radii[mask])]  # ascending = nearest to the focal plane first
    blurred = [(radii == v, make_psf(psf, v)) for v in levels]
    if blur_front:
        layers = [(~mask, None), *blurred]
    else:
        layers = [*blurred[::-1], (~mask, None)]
    out = composite_layers(sharp, [a for a, _ in layers], [k for _, k in layers])
    image = np.clip(np.rint(out), 0, 255).astype(np.uint8)
    info.update(source=name, psf=psf, blur_fraction=round(float(mask.mean()), 6), blur_in_front=blur_front,
                radius_px=[levels[0], levels[-1]])  # fmt: skip
    return Sample(image=image, mask=mask, sharp=sharp, info=info)


def make_sample(
    rng: np.random.Generator | int | Sequence[int],
    size: int = 320,
    psf: str = "disk",
    blur_fraction: tuple[float, float] = (0.3, 0.7),
    **options,
) -> tuple[np.ndarray, np.ndarray]:
    """One synthetic image (uint8 RGB, ``size x size``) and its exact blur mask (bool, True = blurred).

    ``rng`` is a generator or a seed (``generate`` uses ``(seed, index)``); ``options`` go to
    :func:`render_sample` (``radius``, ``radius_step``, ``p_blur_front``, ``sources``).
    """
    sample = render_sample(rng, size=size, psf=psf, blur_fraction=blur_fraction, **options)
    return sample.image, sample.mask


def psf_kernel(radius: float, kind: str = "disk") -> np.ndarray:
    """Alias of :func:`make_psf` with the arguments the other way round (kept for existing callers)."""
    return make_psf(kind, radius)


def _write_png(path: Path, array: np.ndarray) -> None:
    if array.ndim == 3:
        array = cv2.cvtColor(array, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".png", array)
    if not ok:
        raise ValueError(f"{path}: PNG encoding failed")
    try:
        path.write_bytes(buf.tobytes())
    except OSError as exc:  # named, so that a full disk is one line on the command line
        raise OSError(exc.errno, exc.strerror, str(path)) from exc


def _meta(n: int, seed: int, size: int, psf: str, options: dict, samples: list[dict]) -> dict:
    from dbdbench import __version__

    names = options.get("sources") or list(SOURCES)
    return {
        "generator": "dbdbench.synth", "version": GENERATOR_VERSION, "dbdbench_version": __version__,
        "n": n, "seed": seed, "size": size, "psf": psf, "options": options,
        "gt_polarity": GT_POLARITY, "gt_white": "blur", "image_dir": "image", "gt_dir": "gt",
        "sources": {k: {"credit": SOURCES[k].credit, "licence": SOURCES[k].licence, "url": SOURCES[k].url,
                        "pixels_sha256": source_sha256(k)} for k in names},
        "library_versions": _library_versions(), "samples": samples,
    }  # fmt: skip


def _library_versions() -> dict[str, str]:
    """Versions that affect the bytes (decoded photos, resampling, filtering, PNG encoding)."""
    import skimage

    return {"numpy": np.__version__, "opencv": cv2.__version__, "scikit-image": skimage.__version__}  # type: ignore[attr-defined]


def _check_target(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out} exists and is not a folder; choose another output folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(f"{out} is not empty; pass overwrite=True (--overwrite) to replace it, "
                              "or choose an empty or new folder")  # fmt: skip


def generate(
    out_dir: str | os.PathLike,
    n: int = 24,
    seed: int = 0,
    size: int = 320,
    psf: str = "disk",
    overwrite: bool = False,
    progress: bool = False,
    **options,
) -> Path:
    """Write ``n`` samples as ``out_dir/image/synNNNN.png``, ``out_dir/gt/synNNNN.png`` (255 = blurred), meta.json.

    Sample ``i`` is :func:`render_sample` seeded with ``(seed, i)``, so the same arguments give
    byte-identical files (with the same library versions, recorded in meta.json), and sample ``i`` does not
    depend on ``n``. Files go to a temporary folder beside ``out_dir`` that is renamed into place, so an
    interrupted run never leaves a half-written dataset. A non-empty ``out_dir`` is refused unless
    ``overwrite``. ``options`` go to :func:`render_sample`.
    """
    from tqdm.auto import tqdm

    out = Path(out_dir)
    _check_target(out, overwrite)
    if n < 1 or size < 32:
        raise ValueError(f"need n >= 1 and size >= 32, got n={n}, size={size}")
    render_sample(np.random.default_rng([seed, 0]), size=32, psf=psf, **options)  # bad options fail before any I/O
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        (tmp / "image").mkdir()
        (tmp / "gt").mkdir()
        samples = []
        for i in tqdm(range(n), desc="synth", unit="img", disable=not progress, leave=False):
            s = render_sample(np.random.default_rng([seed, i]), size=size, psf=psf, **options)
            _write_png(tmp / "image" / f"syn{i:04d}.png", s.image)
            _write_png(tmp / "gt" / f"syn{i:04d}.png", s.mask.astype(np.uint8) * 255)
            samples.append({"stem": f"syn{i:04d}", **s.info})
        meta = _meta(n, seed, size, psf, {k: list(v) if isinstance(v, tuple) else v for k, v in options.items()},
                     samples)  # fmt: skip
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
        _replace_folder(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _replace_folder(new: Path, out: Path) -> None:
    """Move ``new`` to ``out``; an existing ``out`` is first renamed aside, so ``out`` is never half written."""
    if not out.exists():
        os.replace(new, out)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
    os.replace(out, old / "data")
    os.replace(new, out)
    shutil.rmtree(old, ignore_errors=True)


def build_demo(folder: str | os.PathLike, n: int = 24) -> Path:
    """Build ``SYN-DEMO`` (``n`` disk-PSF images, 320 px, seed 0) in ``folder`` unless it is already current.

    A folder written by an older generator version (see meta.json) is rebuilt.
    """
    folder = Path(folder)
    try:
        meta = json.loads((folder / "meta.json").read_text())
    except (OSError, ValueError):
        meta = {}
    current = meta.get("version") == GENERATOR_VERSION and meta.get("n") == n and meta.get("seed") == 0
    if current and len(list((folder / "gt").glob("*.png"))) == n:
        return folder
    return generate(folder, n=n, seed=0, overwrite=True)
