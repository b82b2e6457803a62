"""A disk cache of decoded ground-truth masks.

Every evaluation of a dataset decodes the same GT files; a PNG decode costs far more than scoring an
image. The first read of a GT file stores the decoded array (bit-packed when the mask is binary) under
``$DBDBENCH_CACHE`` (default ``~/.cache/dbdbench/gt``), keyed by the file's content (a BLAKE2b hash of its
bytes, about a twentieth of the cost of decoding them): the same file read through a relative path, an
absolute path or a symbolic link has one entry, and an edited or replaced file is read again.
``DBDBENCH_CACHE=off`` disables it.

The folder is bounded: when it holds more than ``$DBDBENCH_CACHE_MAX`` bytes (default 2G; suffixes K, M, G,
T) the least recently used entries are removed. ``dbdbench cache info`` shows it, ``dbdbench cache clear``
empties it.

The cache is only an accelerator and never a source of truth: every entry carries its payload's length
and a CRC-32 of header and payload. An entry that does not check out (truncated by an interrupted copy or
a full disk, a flipped byte, an older format) is ignored: the file is decoded again and the entry
rewritten atomically. When the cache cannot be written or read, the file is decoded as usual.

The header also holds the mask digests of :mod:`dbdbench.digests` (both polarities), so that the GT
integrity check (:mod:`dbdbench.gt.check`) reads a few bytes a file instead of decoding it.
"""

from __future__ import annotations

import hashlib
import os
import re
import struct
import zlib
from pathlib import Path
from typing import Literal

import numpy as np

from dbdbench.digests import DIGEST_SIZE, MaskDigests, mask_digests
from dbdbench.io import atomic_write_bytes, read_map

#: the ``folder`` value that means "the folder ``DBDBENCH_CACHE`` names" (:func:`cache_dir`); callers that read
#: many files resolve it once with :func:`cache_dir` and pass the folder down
FROM_ENV: Literal["env"] = "env"
CacheFolder = Path | None | Literal["env"]


def cache_dir() -> Path | None:
    """The cache folder, or None when ``DBDBENCH_CACHE`` is ``off`` (or ``0``): the one place it is read."""
    env = os.environ.get("DBDBENCH_CACHE")
    if env in ("off", "0"):
        return None
    return Path(env).expanduser() / "gt" if env else Path.home() / ".cache" / "dbdbench" / "gt"


#: the bound of the cache folder when ``DBDBENCH_CACHE_MAX`` is not set (bytes)
DEFAULT_MAX = 2 << 30
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def cache_max() -> int:
    """The bound of the cache folder in bytes, from ``DBDBENCH_CACHE_MAX`` (the one place it is read).

    Raises
    ------
    ValueError
        When the variable is not a size such as ``500M``, ``2G`` or ``1000000``.
    """
    env = os.environ.get("DBDBENCH_CACHE_MAX", "").strip()
    if not env:
        return DEFAULT_MAX
    match = re.fullmatch(r"(\d+(?:\.\d*)?)\s*([KMGT]?)(?:i?B)?", env, re.IGNORECASE)
    if match is None:
        raise ValueError(f"DBDBENCH_CACHE_MAX={env!r} is not a size; give bytes with an optional K, M, G or T "
                         "suffix, e.g. DBDBENCH_CACHE_MAX=2G") from None  # fmt: skip
    return int(float(match[1]) * _UNITS[match[2].upper()])


def resolve_folder(folder: CacheFolder) -> Path | None:
    """``folder``, or :func:`cache_dir` when it is :data:`FROM_ENV`."""
    return cache_dir() if isinstance(folder, str) else folder


def entry_path(path: str | os.PathLike, folder: CacheFolder = FROM_ENV) -> Path | None:
    """Where the cache entry of a GT file lives in ``folder`` (None when the cache is off).

    The key is a hash of the file's bytes and its suffix (which selects the decoder): whatever path names
    the file, the same content has the same entry. Raises ``OSError`` when the file cannot be read.
    """
    folder = resolve_folder(folder)
    if folder is None:
        return None
    digest = hashlib.blake2b(Path(path).suffix.lower().encode() + b"\0", digest_size=20)
    with open(path, "rb") as fh:
        digest.update(fh.read())
    return folder / f"{digest.hexdigest()}.gt"


_MAGIC = b"DBGT2"
# magic, height, width, full scale (0 = raw values), itemsize, payload length, CRC-32 of header and payload,
# digest of the white mask, digest of the black mask (zeros when the mask is not binary)
_HEADER = struct.Struct(f"<5sIIHBQI{DIGEST_SIZE}s{DIGEST_SIZE}s")
_NO_DIGEST = bytes(DIGEST_SIZE)
_CRC_AT = struct.calcsize("<5sIIHBQ")


def _encode(arr: np.ndarray) -> bytes:
    full = int(np.iinfo(arr.dtype).max)
    digests = mask_digests(arr)
    if digests.white is not None and digests.black is not None:  # a binary mask: 1 bit per pixel
        payload = np.packbits(arr == full).tobytes()
        white, black = bytes.fromhex(digests.white), bytes.fromhex(digests.black)
    else:
        payload, full, white, black = np.ascontiguousarray(arr).tobytes(), 0, _NO_DIGEST, _NO_DIGEST
    fields = [_MAGIC, *arr.shape, full, arr.dtype.itemsize, len(payload), 0, white, black]
    fields[6] = _crc(_HEADER.pack(*fields), payload)
    return _HEADER.pack(*fields) + payload


def _crc(header: bytes, payload: bytes | memoryview) -> int:
    """CRC-32 of the header (its CRC field zeroed) and the payload, so a flipped byte anywhere is seen."""
    zeroed = header[:_CRC_AT] + bytes(4) + header[_CRC_AT + 4 :]
    return zlib.crc32(payload, zlib.crc32(zeroed))


def _expected_length(h: int, w: int, full: int, itemsize: int) -> int:
    return (h * w + 7) // 8 if full else h * w * itemsize


def _check_header(fields: tuple) -> bool:
    """Whether a header is of this format and self-consistent (the payload is not read)."""
    magic, h, w, full, itemsize, length = fields[:6]
    return (
        magic == _MAGIC
        and itemsize in (1, 2)
        and full in (0, (1 << (8 * itemsize)) - 1)
        and length == _expected_length(h, w, full, itemsize)
    )


def _decode(blob: bytes) -> np.ndarray | None:
    """The array of a cache entry, or None when the entry is damaged or of another format."""
    if len(blob) < _HEADER.size:
        return None
    fields = _HEADER.unpack_from(blob)
    if not _check_header(fields) or len(blob) != _HEADER.size + fields[5]:
        return None
    _, h, w, full, itemsize, _, crc = fields[:7]
    payload = memoryview(blob)[_HEADER.size :]
    if _crc(blob[: _HEADER.size], payload) != crc:
        return None
    dtype = np.dtype(np.uint8 if itemsize == 1 else "<u2")
    if full:
        bits = np.unpackbits(np.frombuffer(payload, np.uint8), count=h * w).reshape(h, w)
        if itemsize == 2:
            bits = bits.astype(dtype)
        bits *= dtype.type(full)  # in place: 0/1 -> 0/full
        return bits
    return np.frombuffer(payload, dtype).reshape(h, w).copy()


def _store(target: Path, arr: np.ndarray) -> None:
    """Write an entry atomically (a temporary file, then a rename); a failure only costs speed."""
    if arr.dtype not in (np.uint8, np.uint16):
        return
    blob = _encode(arr)
    try:
        atomic_write_bytes(target, blob)  # removes its temporary file on any failure
    except OSError:
        return  # a read-only or full cache only costs speed
    _after_store(target.parent, len(blob))


def _entry(path: Path, folder: CacheFolder) -> Path | None:
    try:
        return entry_path(path, folder)
    except OSError:
        return None


def read_gt(path: str | os.PathLike, folder: CacheFolder = FROM_ENV) -> np.ndarray:
    """Read a GT file like ``read_map(path, luminance=True)``, through the cache."""
    path = Path(path)
    return _read_through(path, _entry(path, folder))


def _read_through(path: Path, target: Path | None) -> np.ndarray:
    """:func:`read_gt` with the cache entry ``target`` already located (None: no cache)."""
    if target is None:
        return read_map(path, luminance=True)
    try:
        arr = _decode(target.read_bytes())
    except OSError:
        arr = None
    if arr is None:
        arr = read_map(path, luminance=True)
        _store(target, arr)
    else:
        _touch(target)
    return arr


def gt_digests(path: str | os.PathLike, *, from_source: bool = False, folder: CacheFolder = FROM_ENV) -> MaskDigests:
    """The :class:`~dbdbench.digests.MaskDigests` of a GT file, from its cache entry's header when it has one.

    Only the header is read; the payload is checked when :func:`read_gt` reads it. A damaged header can
    only give digests that match nothing, so a caller that finds a mismatch confirms it with
    ``from_source=True``, which decodes the file itself: a damaged entry is never reported as a damaged file.
    """
    target = None if from_source else _entry(Path(path), folder)
    if target is None:
        return mask_digests(read_map(path, luminance=True))
    try:
        with open(target, "rb") as fh:
            fields = _HEADER.unpack(fh.read(_HEADER.size))
    except (OSError, struct.error):
        fields = None
    if fields is None or not _check_header(fields):
        return mask_digests(_read_through(Path(path), target))  # decodes and writes the entry
    _touch(target)
    _, h, w, *_, white, black = fields
    if white == _NO_DIGEST:
        return MaskDigests((h, w), None, None)
    return MaskDigests((h, w), white.hex(), black.hex())


# ----------------------------------------------------------------------------------------------------------
# the size bound: least recently used entries out (an entry's modification time is its last use)

#: bytes this process stored per folder since it last checked the folder's size
_written: dict[Path, int] = {}


def _touch(target: Path) -> None:
    """Mark an entry as just used (its modification time), so that the bound removes it last."""
    try:
        os.utime(target)
    except OSError:
        pass  # a read-only cache is still read


def _after_store(folder: Path, size: int) -> None:
    """Check the folder's size on this process's first store and after every sixteenth of the bound written."""
    limit = cache_max()
    written = _written.get(folder)
    if written is not None and written + size < limit // 16:
        _written[folder] = written + size
        return
    _written[folder] = 0
    prune(folder, limit)


def _entries(folder: Path) -> list[tuple[float, int, Path]]:
    """``(last use, size, path)`` of every entry of ``folder``, least recently used first."""
    found = []
    try:
        with os.scandir(folder) as it:
            for item in it:
                if item.name.endswith(".gt"):
                    try:
                        st = item.stat()
                    except OSError:
                        continue  # removed meanwhile by another process
                    found.append((st.st_mtime, st.st_size, Path(item.path)))
    except OSError:
        return []
    return sorted(found)


def prune(folder: str | os.PathLike, max_bytes: int) -> int:
    """Remove the least recently used entries of ``folder`` until it holds at most ``max_bytes``.

    Returns the bytes freed. Another process may use or store entries meanwhile: the bound is approximate.
    """
    entries = _entries(Path(folder))
    excess = sum(size for _, size, _ in entries) - max_bytes
    freed = 0
    for _, size, path in entries:
        if freed >= excess:
            break
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        except OSError:
            break  # a read-only cache cannot shrink
        freed += size
    return freed


def cache_info(folder: str | os.PathLike) -> tuple[int, int]:
    """``(number of entries, bytes)`` of the cache ``folder``."""
    entries = _entries(Path(folder))
    return len(entries), sum(size for _, size, _ in entries)


def clear(folder: str | os.PathLike) -> tuple[int, int]:
    """Remove every entry of ``folder`` (and temporary files left by killed processes); ``(entries, bytes)``."""
    folder = Path(folder)
    n, size = cache_info(folder)
    prune(folder, 0)
    for tmp in folder.glob(".*.tmp") if folder.is_dir() else ():
        tmp.unlink(missing_ok=True)
    left, left_size = cache_info(folder)
    return n - left, size - left_size
