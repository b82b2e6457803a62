"""Reading maps and masks, writing maps, and pairing prediction files with ground truth.

Readers return arrays in the file's own polarity; flipping to the canonical P(blur) is the caller's
job (:func:`dbdbench.metrics.counts.flip`), driven by what the dataset and the prediction folder declare.
"""

from __future__ import annotations

import json
import os
import re
import struct
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from dbdbench.settings import IMAGE_EXTS, POLARITIES

MAP_EXTS = (*IMAGE_EXTS, ".npy")
#: suffixes that prediction files commonly add to the image stem (matched case-insensitively)
DEFAULT_SUFFIXES = ("_pred", "_prediction", "_HiFSTBlurMap", "_blurmap", "_blur_map", "_map", "_mask", "_out")
MAPS_META = "meta.json"
#: files that can sit in a maps folder and are not maps (never named as unread)
NOT_MAPS = (".json", ".txt", ".md", ".csv", ".log", ".yaml", ".yml", ".toml")
#: what white can mean in a map or mask file
MAPS_SCHEMA = "dbdbench.maps"
MAX_PIXELS = 100_000_000  # refuse absurd images (decompression bombs) before decoding


class ImageReadError(ValueError):
    """A file could not be read as a map; the message names the file and what to do."""


def _check_complete(path: Path, data: bytes) -> None:
    ext = path.suffix.lower()
    if ext == ".png" and b"IEND" not in data[-64:]:
        raise ImageReadError(f"{path}: truncated PNG (no IEND chunk at the end); re-export the file")
    if ext in (".jpg", ".jpeg") and b"\xff\xd9" not in data[-1024:]:
        raise ImageReadError(f"{path}: truncated JPEG (no end-of-image marker); re-export the file")


#: EXIF Orientation values (TIFF tag 274) and what a viewer does with the stored pixels
ORIENTATIONS = {2: "mirrored", 3: "rotated 180 degrees", 4: "flipped upside down", 5: "transposed",
                6: "rotated 90 degrees clockwise", 7: "transverse", 8: "rotated 90 degrees counter-clockwise"}


def _tiff_orientation(data: bytes, base: int) -> int:
    """Tag 274 of the first IFD of the TIFF structure at ``data[base:]`` (1 when absent or unreadable)."""
    order = {b"II": "<", b"MM": ">"}.get(data[base : base + 2])
    if order is None:
        return 1
    try:
        ifd = base + struct.unpack_from(order + "I", data, base + 4)[0]
        for i in range(struct.unpack_from(order + "H", data, ifd)[0]):
            tag, kind, _ = struct.unpack_from(order + "HHI", data, ifd + 2 + 12 * i)
            if tag == 274 and kind == 3:  # SHORT
                return int(struct.unpack_from(order + "H", data, ifd + 2 + 12 * i + 8)[0])
    except struct.error:
        return 1
    return 1


def exif_orientation(data: bytes) -> int:
    """The EXIF Orientation of an encoded TIFF, PNG (``eXIf`` chunk) or JPEG (APP1 ``Exif``) file; 1 = normal.

    OpenCV decodes the pixels as stored and ignores the tag, while viewers turn the image as it says.
    """
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return _tiff_orientation(data, 0)
    try:
        if data[:8] == b"\x89PNG\r\n\x1a\n":  # walk the chunks up to IEND
            pos = 8
            while pos + 8 <= len(data):
                length, kind = struct.unpack_from(">I4s", data, pos)
                if kind == b"eXIf":
                    return _tiff_orientation(data, pos + 8)
                if kind == b"IEND":
                    break
                pos += 12 + length
        elif data[:2] == b"\xff\xd8":  # walk the segments up to the first scan
            pos = 2
            while pos + 4 <= len(data) and data[pos] == 0xFF and data[pos + 1] not in (0xDA, 0xD9):
                (length,) = struct.unpack_from(">H", data, pos + 2)
                if data[pos + 1] == 0xE1 and data[pos + 4 : pos + 10] == b"Exif\x00\x00":
                    return _tiff_orientation(data, pos + 10)
                pos += 2 + length
    except struct.error:
        return 1
    return 1


def _decode(path: Path) -> np.ndarray:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImageReadError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not data:
        raise ImageReadError(f"{path}: empty file")
    _check_complete(path, data)
    tag = exif_orientation(data)
    if tag != 1:
        raise ImageReadError(
            f"{path}: has an EXIF Orientation tag ({tag}: viewers show it {ORIENTATIONS.get(tag, 'turned')}), and "
            "dbdbench reads the pixels as stored: re-save it with the pixels as they should be scored and no tag "
            "(e.g. PIL.ImageOps.exif_transpose for a map saved turned; for a stale tag on an upright map, only "
            "drop the tag)"
        )
    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if arr is None:
        raise ImageReadError(f"{path}: not a readable image (corrupt or unsupported format)")
    if arr.size > MAX_PIXELS * (arr.shape[2] if arr.ndim == 3 else 1):
        raise ImageReadError(f"{path}: {arr.shape} is larger than {MAX_PIXELS} pixels")
    return arr


def colour_spread(bgr: np.ndarray) -> float:
    """Mean over pixels of ``max - min`` of the colour channels, on the 0..1 scale (0 for a gray image).

    A gray map with a slight tint spreads little; a pseudo-colour rendering (jet spans blue to red) spreads
    about 0.7, and its luminance is not the map value.
    """
    full = float(np.iinfo(bgr.dtype).max) if bgr.dtype.kind == "u" else 1.0
    c = bgr[..., :3]
    return float(np.mean(c.max(axis=2).astype(np.float64) - c.min(axis=2))) / full


#: largest distance (Euclidean, 8-bit RGB) of a pixel from its nearest colormap entry for ``colormap=`` to read it
COLORMAP_TOLERANCE = 6.0


def colormap_table(name: str) -> np.ndarray:
    """The RGB lookup table (N, 3) uint8 that matplotlib renders ``name`` with (``plt.imsave``, ``bytes=True``)."""
    from matplotlib import colormaps

    try:
        cmap = colormaps[name]
    except KeyError:
        raise ValueError(f"unknown colormap {name!r}; valid: matplotlib's colormap names (jet, viridis, copper, "
                         "...)") from None
    return np.asarray(cmap(np.arange(cmap.N), bytes=True))[:, :3]


def invert_colormap(bgr: np.ndarray, name: str, path: Path) -> np.ndarray:
    """The 8-bit map a colour rendering with matplotlib's ``name`` shows: each pixel's nearest table entry.

    Entry ``i`` of an N-entry table becomes ``round(255 i / (N - 1))`` (``i`` itself for the usual N = 256).
    A pixel farther than :data:`COLORMAP_TOLERANCE` from every entry is not a rendering of ``name`` (another
    colormap, lossy compression): the file is refused.
    """
    if bgr.dtype != np.uint8:
        raise ImageReadError(f"{path}: colormap renderings are 8-bit; this file is {bgr.dtype}")
    lut = colormap_table(name).astype(np.int32)
    rgb = bgr[..., 2::-1].reshape(-1, 3).astype(np.int32)
    codes, inverse = np.unique((rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2], return_inverse=True)
    colours = np.stack([codes >> 16, (codes >> 8) & 255, codes & 255], axis=1)
    dist = ((colours[:, None, :] - lut[None, :, :]) ** 2).sum(axis=2)
    nearest = dist.argmin(axis=1)
    far = np.sqrt(dist[np.arange(len(codes)), nearest]) > COLORMAP_TOLERANCE
    if far.any():
        n_far = int(np.count_nonzero(far[inverse]))
        raise ImageReadError(f"{path}: {n_far} pixel(s) are far from every colour of the colormap {name!r}: not a "
                             f"{name} rendering (another colormap, or lossy compression); save the raw gray map")
    values = np.rint(nearest * (255 / (len(lut) - 1))).astype(np.uint8)
    return values[inverse].reshape(bgr.shape[:2])


def _to_gray(arr: np.ndarray, path: Path, luminance: bool, info: dict | None = None,
             colormap: str | None = None) -> np.ndarray:
    if arr.ndim == 2:
        return arr
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise ImageReadError(f"{path}: unsupported array shape {arr.shape}")
    if arr.shape[2] == 4:
        alpha = arr[..., 3]
        full = np.iinfo(arr.dtype).max if arr.dtype.kind == "u" else 1.0
        if np.any(alpha != full):
            raise ImageReadError(f"{path}: has a transparent alpha channel; save the map without transparency")
        arr = arr[..., :3]
    b, g, r = arr[..., 0], arr[..., 1], arr[..., 2]
    if np.array_equal(b, g) and np.array_equal(g, r):
        return np.ascontiguousarray(b)
    if colormap is not None:
        if info is not None:
            info["colour"] = f"colormap {colormap}"
        return invert_colormap(arr, colormap, path)
    if luminance:
        if info is not None:
            info["colour_spread"] = colour_spread(arr)
            info["colour"] = "luminance"
        return cv2.cvtColor(np.ascontiguousarray(arr), cv2.COLOR_BGR2GRAY)
    raise ImageReadError(
        f"{path}: is a colour image with unequal channels; save gray maps, or pass luminance=True "
        "(--luminance) to convert with ITU-R BT.601 weights, or colormap=NAME (--colormap NAME) for a rendering "
        "with a matplotlib colormap (plt.imsave)"
    )


def read_map(path: str | os.PathLike, *, luminance: bool = False, info: dict | None = None,
             colormap: str | None = None) -> np.ndarray:
    """Read a map or mask as a 2-D array: uint8, uint16, or float64 in [0, 1] for ``.npy``.

    PNG/JPG/BMP/TIFF in 8 or 16 bit; gray, RGB or RGBA (RGB with equal channels reads as gray, an opaque
    alpha channel is dropped; a true colour map is an error unless ``luminance``). ``.npy`` files hold a
    2-D float map in [0, 1] (or uint8/uint16/bool). When a colour map is converted and ``info`` is a dict,
    ``info["colour_spread"]`` receives :func:`colour_spread` of it (the sanity stage judges it).
    ``colormap`` reads colour maps as renderings of that matplotlib colormap (:func:`invert_colormap`);
    ``info["colour"]`` then says which conversion was made.

    Raises
    ------
    ImageReadError
        A ``ValueError`` naming the file: missing, empty, truncated, corrupt, transparent, colour,
        wrong dimensions, NaN or out-of-range values.
    """
    path = Path(path)
    if path.suffix.lower() == ".npy":
        return _read_npy(path)
    arr = _to_gray(_decode(path), path, luminance, info, colormap)
    if arr.dtype not in (np.uint8, np.uint16):
        if arr.dtype.kind == "f":
            return _check_float(arr.astype(np.float64), path)
        raise ImageReadError(f"{path}: unsupported pixel type {arr.dtype}; save 8- or 16-bit maps")
    return arr


def _read_npy(path: Path) -> np.ndarray:
    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ImageReadError(f"{path}: not a readable .npy array ({exc})") from None
    arr = np.squeeze(arr)
    if arr.ndim != 2:
        raise ImageReadError(f"{path}: .npy map must be 2-D, got shape {arr.shape}")
    if arr.dtype in (np.uint8, np.uint16, np.bool_):
        return arr
    if arr.dtype.kind != "f":
        raise ImageReadError(f"{path}: .npy map has dtype {arr.dtype}; use float in [0, 1], uint8 or uint16")
    return _check_float(arr.astype(np.float64), path)


def _check_float(arr: np.ndarray, path: Path) -> np.ndarray:
    if not np.isfinite(arr).all():
        raise ImageReadError(f"{path}: contains NaN or infinite values")
    if arr.min() < 0 or arr.max() > 1:
        raise ImageReadError(f"{path}: float values in [{arr.min():g}, {arr.max():g}]; float maps must be in [0, 1]")
    return arr


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read a photo as RGB uint8 (H, W, 3) (16-bit photos are scaled to 8 bit; gray is repeated)."""
    path = Path(path)
    arr = _decode(path)
    if arr.dtype == np.uint16:
        arr = (arr / 257).round().astype(np.uint8)
    if arr.ndim == 2:
        return np.repeat(arr[..., None], 3, axis=2)
    if arr.shape[2] == 4:
        arr = arr[..., :3]
    return cv2.cvtColor(arr, cv2.COLOR_BGR2RGB)


def write_map(path: str | os.PathLike, prob: np.ndarray) -> None:
    """Write a float map in [0, 1] as an 8-bit PNG (``round(255 p)``), atomically."""
    path = Path(path)
    prob = np.asarray(prob, dtype=np.float64)
    if prob.ndim != 2 or not np.isfinite(prob).all():
        raise ValueError(f"{path}: map must be a finite 2-D array, got shape {prob.shape}")
    u8 = np.rint(np.clip(prob, 0, 1) * 255).astype(np.uint8)
    ok, buf = cv2.imencode(".png", u8)
    if not ok:
        raise ValueError(f"{path}: PNG encoding failed")
    atomic_write_bytes(path, buf.tobytes())


def resize_to(arr: np.ndarray, shape: tuple[int, int], mode: str) -> np.ndarray:
    """Resize a map to ``shape`` (H, W): ``bilinear`` (cv2 INTER_LINEAR, as PySODEvalToolkit) or ``nearest``."""
    if mode not in ("bilinear", "nearest"):
        raise ValueError(f"unknown resize mode {mode!r}; valid: bilinear, nearest, error")
    interp = cv2.INTER_LINEAR if mode == "bilinear" else cv2.INTER_NEAREST
    src = arr.astype(np.uint8) if arr.dtype == np.bool_ else arr
    out = cv2.resize(src, (shape[1], shape[0]), interpolation=interp)
    if arr.dtype.kind == "f":
        out = np.clip(out, 0.0, 1.0)
    return out.astype(arr.dtype) if arr.dtype == np.bool_ else out


# ----------------------------------------------------------------------------------------------------------
# prediction folders


def write_maps_meta(folder: str | os.PathLike, *, pred_white: str, method: str, **extra) -> Path:
    """Declare what white means in a folder of maps (``meta.json``: ``pred_white`` = blur | sharp)."""
    if pred_white not in POLARITIES:
        raise ValueError(f"pred_white must be 'blur' or 'sharp', got {pred_white!r}")
    path = Path(folder) / MAPS_META
    data = {"schema": MAPS_SCHEMA, "schema_version": 1, "method": method, "pred_white": pred_white, **extra}
    atomic_write_text(path, json.dumps(data, indent=1, sort_keys=True) + "\n")
    return path


def read_maps_meta(folder: str | os.PathLike) -> dict | None:
    """The folder's ``meta.json`` when it is a dbdbench maps declaration, else None."""
    path = Path(folder) / MAPS_META
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: unreadable maps meta file ({exc})") from None
    if not isinstance(data, dict) or data.get("schema") != MAPS_SCHEMA:
        return None
    if data.get("pred_white") not in POLARITIES:
        raise ValueError(f"{path}: pred_white must be 'blur' or 'sharp', got {data.get('pred_white')!r}")
    return data


def resolve_pred_white(folder: str | os.PathLike, pred_white: str | None) -> tuple[str, str | None]:
    """The one polarity rule of every command that reads maps: what white means in ``folder``'s maps.

    ``pred_white`` when given, else the folder's ``meta.json`` declaration, else an error saying what to
    pass; there is no default. Returns the polarity and, when ``pred_white`` contradicts ``meta.json``, a
    note saying so (the caller records it with the result).
    """
    folder = Path(folder)
    meta = read_maps_meta(folder)
    if pred_white is None:
        if meta is None:
            raise ValueError(
                f"{folder}: what does white mean in these maps? Pass --pred-white blur (white = blurred, "
                "P(blur) maps) or --pred-white sharp (white = in focus), or add a meta.json with "
                '{"schema": "dbdbench.maps", "pred_white": "blur"}'
            )
        return meta["pred_white"], None
    if pred_white not in POLARITIES:
        raise ValueError(f"pred_white must be 'blur' or 'sharp', got {pred_white!r}")
    if meta is not None and meta["pred_white"] != pred_white:
        return pred_white, f"{folder}: --pred-white {pred_white} overrides meta.json's {meta['pred_white']!r}"
    return pred_white, None


@dataclass
class Pairing:
    """Predictions matched to GT stems."""

    pairs: dict[str, Path] = field(default_factory=dict)  # GT stem -> prediction file
    missing: list[str] = field(default_factory=list)  # GT stems without a prediction
    extra: list[Path] = field(default_factory=list)  # prediction files matching no GT stem
    unread: list[Path] = field(default_factory=list)  # files of a format that is not read (e.g. .webp)


def _stem_key(name: str, suffixes: tuple[str, ...]) -> str:
    key = name.lower()
    for suf in sorted(suffixes, key=len, reverse=True):
        if key.endswith(suf.lower()) and len(key) > len(suf):
            return key[: -len(suf)]
    return key


def pair_predictions(
    pred_dir: str | os.PathLike, gt_stems: list[str], suffixes: tuple[str, ...] = DEFAULT_SUFFIXES
) -> Pairing:
    """Match prediction files to GT stems by stem, case-insensitively, tolerating common suffixes.

    Two prediction files for one stem are an error naming both. Symlinks are followed only when they stay
    inside ``pred_dir``.
    """
    pred_dir = Path(pred_dir)
    if not pred_dir.is_dir():
        raise FileNotFoundError(f"prediction folder {pred_dir} does not exist")
    listed = [p for p in sorted(pred_dir.iterdir()) if p.is_file() and not p.name.startswith(".")]
    files = [p for p in listed if p.suffix.lower() in MAP_EXTS]
    unread = [p for p in listed if p.suffix.lower() not in (*MAP_EXTS, *NOT_MAPS)]
    if not files:
        shown = ", ".join(p.name for p in unread[:5]) + (" ..." if len(unread) > 5 else "")
        named = f"; not read: {shown}" if unread else ""
        raise FileNotFoundError(f"prediction folder {pred_dir} has no map files ({', '.join(MAP_EXTS)}){named}; "
                                "convert the maps to one of these formats")
    wanted = {s.lower(): s for s in gt_stems}
    out = Pairing(unread=unread)
    by_stem: dict[str, Path] = {}
    for path in files:
        if path.is_symlink() and pred_dir.resolve() not in path.resolve().parents:
            raise ValueError(f"{path}: symlink pointing outside the prediction folder; copy the file instead")
        key = path.stem.lower() if path.stem.lower() in wanted else _stem_key(path.stem, suffixes)
        if key not in wanted:
            out.extra.append(path)
            continue
        if key in by_stem:
            raise ValueError(
                f"two predictions for image {wanted[key]!r}: {by_stem[key].name} and {path.name}; keep one"
            )
        by_stem[key] = path
    out.pairs = {wanted[k]: p for k, p in by_stem.items()}
    out.missing = [s for s in gt_stems if s.lower() not in by_stem]
    return out


_SAFE = re.compile(r"^[\w.\-]+$")


def safe_name(name: str) -> str:
    """Check that a file or folder name is one plain path component (no separators, no '..')."""
    if not _SAFE.match(name) or name in (".", ".."):
        raise ValueError(f"unsafe name {name!r}: use letters, digits, '.', '_' and '-' only")
    return name


class WriteError(OSError):
    """A file could not be written (full disk, no permission ...); its message names the file, nothing partial
    is left behind. The command line prints it as one line and exits with code 2."""


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path in ``path``'s folder to write to; renamed onto ``path`` when the block succeeds.

    The one way dbdbench writes a file: on any failure the temporary file is removed, ``path`` keeps its old
    content (or stays absent) and an :class:`OSError` becomes a :class:`WriteError` naming ``path``.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
    except OSError as exc:
        raise _write_error(path, exc) from exc
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; results are meant to be shared
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and not isinstance(exc, WriteError):
            raise _write_error(path, exc) from exc
        raise


def _write_error(path: Path, exc: OSError) -> WriteError:
    err = WriteError(f"cannot write {path}: {exc.strerror or exc}")
    err.errno = exc.errno
    return err


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (:func:`atomic_path`)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (:func:`atomic_path`)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
