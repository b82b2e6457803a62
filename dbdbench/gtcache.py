"""A disk cache of decoded ground-truth masks.

Every evaluation of a dataset decodes the same GT files; a PNG decode costs far more than scoring an
image. The first read of a GT file stores the decoded array (bit-packed when the mask is binary) under
``$DBDBENCH_CACHE`` (default ``~/.cache/dbdbench/gt``), keyed by the file's resolved path, size and
modification time, so an edited file is read again. ``DBDBENCH_CACHE=off`` disables it. The cache is
only an accelerator: when it cannot be written or read, the file is decoded as usual.
"""

from __future__ import annotations

import hashlib
import os
import struct
from pathlib import Path

import numpy as np

from dbdbench.io import read_map


def cache_dir() -> Path | None:
    """The cache folder, or None when ``DBDBENCH_CACHE`` is ``off`` (or ``0``)."""
    env = os.environ.get("DBDBENCH_CACHE")
    if env in ("off", "0"):
        return None
    return Path(env).expanduser() / "gt" if env else Path.home() / ".cache" / "dbdbench" / "gt"


def _key(path: Path) -> str:
    st = path.stat()
    text = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
    return hashlib.sha1(text.encode()).hexdigest()


_MAGIC = b"DBGT1"
_HEADER = struct.Struct("<5sIIHB")  # magic, height, width, full scale (0 = raw), itemsize


def _encode(arr: np.ndarray) -> bytes:
    full = int(np.iinfo(arr.dtype).max)
    if bool(((arr == 0) | (arr == full)).all()):  # a binary mask: 1 bit per pixel
        return _HEADER.pack(_MAGIC, *arr.shape, full, arr.dtype.itemsize) + np.packbits(arr == full).tobytes()
    return _HEADER.pack(_MAGIC, *arr.shape, 0, arr.dtype.itemsize) + np.ascontiguousarray(arr).tobytes()


def _decode(blob: bytes) -> np.ndarray:
    magic, h, w, full, itemsize = _HEADER.unpack_from(blob)
    if magic != _MAGIC:
        raise ValueError("not a dbdbench GT cache file")
    dtype = np.dtype(np.uint8 if itemsize == 1 else "<u2")
    body = np.frombuffer(blob, np.uint8, offset=_HEADER.size)
    if full:
        return np.unpackbits(body, count=h * w).reshape(h, w).astype(dtype) * dtype.type(full)
    return np.frombuffer(blob, dtype, offset=_HEADER.size).reshape(h, w).copy()


def read_gt(path: str | os.PathLike) -> np.ndarray:
    """Read a GT file like ``read_map(path, luminance=True)``, through the cache."""
    path = Path(path)
    folder = cache_dir()
    if folder is None:
        return read_map(path, luminance=True)
    try:
        target = folder / f"{_key(path)}.gt"
        if target.is_file():
            return _decode(target.read_bytes())
    except (OSError, ValueError, struct.error):
        target = None
    arr = read_map(path, luminance=True)
    if target is not None and arr.dtype in (np.uint8, np.uint16):
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
            tmp.write_bytes(_encode(arr))
            os.replace(tmp, target)
        except OSError:
            pass  # a read-only or full cache only costs speed
    return arr
