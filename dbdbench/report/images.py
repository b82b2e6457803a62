"""Find and read the pictures shown in qualitative grids (photos, masks, maps), for display only.

Scoring reads files through :mod:`dbdbench.io`; this module only needs "show it as it is stored": a gray
image scaled to [0, 1] by its bit depth (8-bit / 255, 16-bit / 65535, float ``.npy`` as is) and an RGB photo.
"""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".npy")


def find_image(folder: Path, stem: str) -> Path:
    """The file for ``stem`` in ``folder``: ``<stem>.<ext>`` (any case), else the only ``<stem>[_-.]*`` file.

    Raises
    ------
    FileNotFoundError
        When the folder is missing or nothing matches; the message lists a few files that are there.
    ValueError
        When several files match and none is exactly ``<stem>.<ext>``.
    """
    if not folder.is_dir():
        raise FileNotFoundError(f"Folder {folder} does not exist; check the path given for the grid")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    exact = [p for p in files if p.stem == stem]
    if len(exact) == 1:
        return exact[0]
    pattern = re.compile(re.escape(stem) + r"[_\-.]")
    candidates = exact or [p for p in files if pattern.match(p.name)]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        some = ", ".join(p.name for p in files[:5]) or "no image files"
        raise FileNotFoundError(f"No image for {stem!r} in {folder} (it holds e.g. {some})")
    raise ValueError(f"Several files match {stem!r} in {folder}: {[p.name for p in candidates]}; keep only one")


def _read(path: Path) -> np.ndarray:
    if path.suffix.lower() == ".npy":
        return np.load(path, allow_pickle=False)
    data = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if data is None:
        raise ValueError(f"Cannot read image {path}; is it a valid image file?")
    return data


def _scale(data: np.ndarray, path: Path) -> np.ndarray:
    if data.dtype == np.uint8:
        return data.astype(np.float64) / 255.0
    if data.dtype == np.uint16:
        return data.astype(np.float64) / 65535.0
    if np.issubdtype(data.dtype, np.floating):
        return data.astype(np.float64)
    raise ValueError(f"Unsupported pixel type {data.dtype} in {path}; use 8/16-bit images or float .npy")


def read_gray(path: Path) -> np.ndarray:
    """A mask or map as a float array in [0, 1] (first channel of R=G=B colour files, else luminance)."""
    data = _read(path)
    if data.ndim == 3:
        colour = data[..., :3]
        same = np.array_equal(colour[..., 0], colour[..., 1]) and np.array_equal(colour[..., 0], colour[..., 2])
        data = colour[..., 0] if same else cv2.cvtColor(colour, cv2.COLOR_BGR2GRAY)
    return np.clip(_scale(data, path), 0.0, 1.0)


def read_rgb(path: Path) -> np.ndarray:
    """A photo as an RGB float array in [0, 1] (gray photos are repeated over three channels)."""
    data = _read(path)
    if data.ndim == 2:
        data = np.repeat(data[..., None], 3, axis=2)
    elif path.suffix.lower() != ".npy":
        data = cv2.cvtColor(data[..., :3], cv2.COLOR_BGR2RGB)
    return np.clip(_scale(data, path), 0.0, 1.0)
