"""Digests of decoded GT masks, and the digest lists the registry pins for known datasets.

A digest identifies a mask by its pixels, not by its file: a re-encoded PNG, a 16-bit copy or an RGB copy
with equal channels has the digest of the original, while an inverted, resized or edited copy has another.
It is computed on the *blur mask* (True = blurred, the canonical polarity), so a copy distributed with the
other polarity matches once it is registered with the right ``gt_white``.

A digest list is a text file, one mask a line: ``stem WIDTHxHEIGHT digest``, ``#`` starts a comment.
``dbdbench datasets digest NAME`` writes one; the lists shipped in ``dbdbench/data/digests/`` are the
registry's pins (``DatasetSpec.digests``).
"""

from __future__ import annotations

import hashlib
import os
import struct
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np

DIGEST_SIZE = 8  # bytes: 16 hex digits; collisions among a dataset's masks are out of reach (2**-64 a pair)


def white_mask(arr: np.ndarray) -> np.ndarray | None:
    """``arr == full scale`` when every pixel is black or white (0 or 255, 65535, 1.0, True), else None."""
    if arr.dtype == np.bool_:
        return arr
    full = np.iinfo(arr.dtype).max if arr.dtype.kind == "u" else 1.0
    white = arr == full
    if not np.logical_or(white, arr == 0).all():
        return None
    return white


def mask_digest(mask: np.ndarray) -> str:
    """Digest of a boolean mask: BLAKE2b (8 bytes) of its height, width and row-major bit-packed pixels.

    References
    ----------
    .. [1] RFC 7693, The BLAKE2 Cryptographic Hash and Message Authentication Code (MAC), 2015.
    """
    h = hashlib.blake2b(struct.pack("<II", *mask.shape), digest_size=DIGEST_SIZE)
    h.update(np.packbits(mask).tobytes())
    return h.hexdigest()


@dataclass(frozen=True)
class MaskDigests:
    """What the integrity check needs of one GT file: its size and the digests of both polarities.

    ``white`` is the digest of the mask "white pixels", ``black`` that of "black pixels"; both are None for
    a file that is not black and white only.
    """

    shape: tuple[int, int]
    white: str | None
    black: str | None

    def blur(self, gt_white: str) -> str | None:
        """The digest of the blur mask when white means ``gt_white`` ("blur" or "sharp")."""
        return self.white if gt_white == "blur" else self.black

    def sharp(self, gt_white: str) -> str | None:
        """The digest of the in-focus mask (the blur mask of the inverted file)."""
        return self.black if gt_white == "blur" else self.white


def mask_digests(arr: np.ndarray) -> MaskDigests:
    """:class:`MaskDigests` of a decoded GT array."""
    white = white_mask(arr)
    shape = (int(arr.shape[0]), int(arr.shape[1]))
    if white is None:
        return MaskDigests(shape, None, None)
    return MaskDigests(shape, mask_digest(white), mask_digest(~white))


@dataclass(frozen=True)
class Pin:
    """One line of a digest list: the file's stem as distributed, its size and its blur-mask digest."""

    stem: str
    shape: tuple[int, int]  # (height, width)
    digest: str


def format_digests(pins: list[Pin], header: str = "") -> str:
    """The text of a digest list (``stem WxH digest`` lines after ``#`` comment lines)."""
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    lines += [f"{p.stem} {p.shape[1]}x{p.shape[0]} {p.digest}" for p in sorted(pins, key=lambda p: p.stem)]
    return "\n".join(lines) + "\n"


def parse_digests(text: str, source: str) -> dict[str, Pin]:
    """Lower-case stem -> :class:`Pin` of a digest list's text; malformed lines are errors naming ``source``."""
    out: dict[str, Pin] = {}
    for no, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        try:
            stem, size, digest = line.split()
            width, height = (int(v) for v in size.split("x"))
            int(digest, 16)
        except ValueError:
            raise ValueError(f"{source}:{no}: expected 'stem WIDTHxHEIGHT digest', got {line!r}") from None
        out[stem.lower()] = Pin(stem, (height, width), digest.lower())
    return out


@cache
def read_digests(name: str) -> dict[str, Pin]:
    """A digest list: a name shipped in ``dbdbench/data/digests/`` (``"CUHK"``) or the path of a file."""
    if os.sep in name or "/" in name or name.endswith(".txt"):
        path = Path(name).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"digest list {path} not found (write one with `dbdbench datasets digest NAME`)")
        return parse_digests(path.read_text(encoding="utf-8"), str(path))
    try:
        text = (resources.files("dbdbench") / "data" / "digests" / f"{name}.txt").read_text(encoding="utf-8")
    except FileNotFoundError:
        shipped = sorted(p.name[:-4] for p in (resources.files("dbdbench") / "data" / "digests").iterdir())
        raise KeyError(f"no digest list named {name!r} ships with dbdbench; valid: {', '.join(shipped)}") from None
    return parse_digests(text, f"dbdbench/data/digests/{name}.txt")
