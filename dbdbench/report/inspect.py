"""The data of ``dbdbench inspect``: per-image scores, thumbnails, error maps and per-image curves of results.

Every map is read and scored again exactly as ``dbdbench evaluate`` read it: by evaluate's own loader
(:func:`dbdbench.loading.load_scored_pair`) with the settings recorded in the result's ``meta`` (pairing,
polarity flip, resize, and ``--rescale-maps``, ``--transpose-maps``, ``--rotate-maps``, ``--luminance``,
``--colormap``), then :func:`dbdbench.metrics.score_image`; each image's MAE must equal the stored one: a
folder that is not the one the result was scored from is refused, never shown next to numbers it did not
produce. The stored SHA-256 of each map file (``meta["files_sha256"]``) is compared as well when the result
has it.

The error map shows the map binarised as the protocol's fixed-threshold scores binarise it (the map
normalised by the protocol, compared with ``binary_threshold``): *false blur* (predicted blurred, sharp in
the GT) and *missed blur* (predicted sharp, blurred in the GT) in two colours over a dimmed GT.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from dbdbench.datasets import DatasetSpec, index_folder
from dbdbench.evaluate import sha256_file
from dbdbench.io import DEFAULT_SUFFIXES, pair_predictions, read_image
from dbdbench.loading import load_scored_pair, map_reading
from dbdbench.metrics import get_metric
from dbdbench.metrics.counts import binarize, full_scale
from dbdbench.metrics.image import score_image
from dbdbench.metrics.protocols import Protocol
from dbdbench.metrics.reduce import per_image_curves, thresholds_of
from dbdbench.results import Result
from dbdbench.settings import SHARP
from dbdbench.values import gt_as_mask

#: error-map colours (Okabe-Ito, distinguishable with colour-blindness): false blur, missed blur (RGB)
FALSE_BLUR = (213, 94, 0)
MISSED_BLUR = (0, 114, 178)
#: per-image row fields that are flags, not scores
_FLAGS = ("name", "empty_gt", "full_gt", "resized")
#: per-image columns that are a protocol's handler score, not a metric key: label (higher is better)
_HANDLER_COLUMNS = {"best_f": "best F"}
#: tolerance of the per-image MAE check (the tolerance of ``dbdbench check``)
MAE_ATOL = 1e-9


@dataclass(frozen=True)
class Source:
    """One result to inspect and the folder of the maps it was scored from."""

    result: Result
    maps: Path
    pred_white: str

    @property
    def name(self) -> str:
        return str(self.result.method or self.maps.name)


def locate_maps(res: Result, given: str | os.PathLike | None, maps_root: str | os.PathLike | None) -> Path:
    """The folder of a result's maps: ``given``, else ``meta["pred_dir"]`` under ``maps_root``, the result's
    folder, its parent or the parent's ``maps/`` (the layout of ``dbdbench demo``), in that order.

    Raises
    ------
    FileNotFoundError
        Naming the result, the folders tried and the option that fixes it.
    """
    if given is not None:
        folder = Path(given)
        if not folder.is_dir():
            raise FileNotFoundError(f"map folder {folder} given for {res.method!r} does not exist")
        return folder
    name = res.meta.get("pred_dir")
    where = res.source or res.method
    if not name:
        raise FileNotFoundError(f"{where}: the result does not name its map folder (meta.pred_dir); pass "
                                f"--map {res.method}=DIR")  # fmt: skip
    bases = [Path(maps_root)] if maps_root is not None else []
    if res.source is not None:
        bases += [res.source.parent, res.source.parent.parent, res.source.parent.parent / "maps"]
    tried = [b / name for b in bases]
    for folder in tried:
        if folder.is_dir():
            return folder
    raise FileNotFoundError(f"{where}: map folder {name!r} not found (tried {', '.join(map(str, tried)) or 'nothing'});"
                            f" pass --maps-root DIR or --map {res.method}=DIR")  # fmt: skip


def score_columns(results: Sequence[Result]) -> list[str]:
    """The per-image score keys every result has, in the order of the first result's rows."""
    if not results[0].per_image:
        raise ValueError(f"{results[0].source or results[0].method}: no per-image rows; inspect needs results "
                         "written by dbdbench evaluate")  # fmt: skip
    keys = [k for k in results[0].per_image[0] if k not in _FLAGS]
    return [k for k in keys if all(r.per_image and k in r.per_image[0] for r in results)]


def encode_curve(values: np.ndarray) -> str:
    """A curve in [0, 1] as base64 of little-endian uint16 ``round(65535 v)`` (undefined points become 0).

    The page decodes it for drawing only: 1/65535 is far below a pixel of the plot.
    """
    v = np.nan_to_num(np.clip(np.asarray(values, dtype=np.float64), 0.0, 1.0), nan=0.0)
    return base64.b64encode(np.rint(v * 65535).astype("<u2").tobytes()).decode("ascii")


def _predicted_blur(pred: np.ndarray, proto: Protocol) -> np.ndarray:
    """Where the protocol's fixed threshold calls the (canonical, P(blur)) map blurred."""
    scale = full_scale(pred)
    p = pred.astype(np.float64) / scale if scale is not None else pred.astype(np.float64)
    if proto.positive == SHARP:
        p = 1.0 - p
    if proto.normalize in ("minmax", "mat2gray") and p.max() > p.min():
        p = (p - p.min()) / (p.max() - p.min())
    elif proto.normalize == "max" and p.max() > 0:
        p = p / p.max()
    positive = p > proto.binary_threshold if proto.binary_strict else p >= proto.binary_threshold
    return ~positive if proto.positive == SHARP else positive


#: colour of each error code ``2 * predicted_blur + gt_blur``: correct sharp, missed blur, false blur, correct blur
PALETTE = np.array([(60, 60, 60), MISSED_BLUR, FALSE_BLUR, (150, 150, 150)], dtype=np.uint8)


def error_codes(pred_blur: np.ndarray, gt_blur: np.ndarray) -> np.ndarray:
    """uint8 ``2 * predicted_blur + gt_blur``: 0 correct sharp, 1 missed blur, 2 false blur, 3 correct blur."""
    return np.left_shift(pred_blur.view(np.uint8), 1) | gt_blur.view(np.uint8)


def error_map(pred_blur: np.ndarray, gt_blur: np.ndarray) -> np.ndarray:
    """RGB uint8: dimmed GT (blurred 150, sharp 60), false blur and missed blur in :data:`FALSE_BLUR`,
    :data:`MISSED_BLUR` (:data:`PALETTE` of :func:`error_codes`)."""
    return PALETTE[error_codes(pred_blur, gt_blur)]


class Thumbnailer:
    """Downscale to ``height`` pixels (area averaging) and encode: JPEG for photos and maps, PNG for masks."""

    def __init__(self, height: int = 128, quality: int = 85) -> None:
        self.height, self.quality = height, quality

    def _small(self, arr: np.ndarray) -> np.ndarray:
        h, w = arr.shape[:2]
        if h <= self.height:
            return arr
        width = max(1, round(w * self.height / h))
        return cv2.resize(arr, (width, self.height), interpolation=cv2.INTER_AREA)

    def jpeg(self, arr: np.ndarray) -> bytes:
        small = self._small(arr)
        if small.ndim == 3:
            small = cv2.cvtColor(small, cv2.COLOR_RGB2BGR)
        ok, buf = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        return _checked(ok, buf)

    def nearest(self, arr: np.ndarray) -> np.ndarray:
        """Downscale by picking pixels (for masks and error codes, whose values are classes)."""
        h, w = arr.shape[:2]
        if h <= self.height:
            return arr
        return cv2.resize(arr, (max(1, round(w * self.height / h)), self.height), interpolation=cv2.INTER_NEAREST)

    def photo(self, path: Path, full_height: int) -> bytes:
        """A photo file as a JPEG thumbnail; a JPEG of about ``full_height`` rows is decoded at 1/2, 1/4 or 1/8
        size when that still gives the thumbnail's height (the decoder's DCT scaling: much faster)."""
        factor = max(f for f in (1, 2, 4, 8) if full_height / f >= self.height or f == 1)
        data = None
        if factor > 1 and path.suffix.lower() in (".jpg", ".jpeg"):
            flag = {2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4, 8: cv2.IMREAD_REDUCED_COLOR_8}
            bgr = cv2.imread(str(path), flag[factor])
            data = None if bgr is None else cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        return self.jpeg(read_image(path) if data is None else data)

    def png(self, arr: np.ndarray) -> bytes:
        small = arr
        if small.ndim == 3:
            small = cv2.cvtColor(small, cv2.COLOR_RGB2BGR)
        ok, buf = cv2.imencode(".png", small, [cv2.IMWRITE_PNG_COMPRESSION, 6])
        return _checked(ok, buf)


def _checked(ok: bool, buf: np.ndarray) -> bytes:
    if not ok:
        raise ValueError("thumbnail encoding failed")
    return buf.tobytes()


def _to8(arr: np.ndarray) -> np.ndarray:
    scale = full_scale(arr)
    if arr.dtype == np.uint8:
        return arr
    if scale is not None:
        return np.rint(arr.astype(np.float64) * (255.0 / scale)).astype(np.uint8)
    return np.rint(np.clip(arr.astype(np.float64), 0, 1) * 255).astype(np.uint8)


@dataclass(frozen=True)
class _Plan:
    sources: Sequence[Source]
    proto: Protocol
    gt_files: dict[str, Path]
    gt_white: str
    photos: dict[str, Path]
    pairs: list[dict[str, Path]]
    thumbs: Thumbnailer


def plan(sources: Sequence[Source], proto: Protocol, spec: DatasetSpec, data_root, images: Path | None,
         thumb_height: int = 128) -> _Plan:  # fmt: skip
    """Pair every result's images with its map files, the GT and the photos; check the stored hashes."""
    names = [row["name"] for row in sources[0].result.per_image]
    for src in sources[1:]:
        if [row["name"] for row in src.result.per_image] != names:
            raise ValueError(f"{src.result.source or src.name}: not scored on the same images as "
                             f"{sources[0].result.source or sources[0].name}")  # fmt: skip
    all_gt = spec.gt_files(data_root)
    missing_gt = [n for n in names if n not in all_gt]
    if missing_gt:
        raise FileNotFoundError(f"{spec.name}: no GT for {', '.join(missing_gt[:5])} in {spec.gt_folder(data_root)}")
    gt_files = {n: all_gt[n] for n in names}
    pairs = []
    for src in sources:
        map_reading(src.result.meta, str(src.result.source or src.name))  # refused before any image is read
        pairing = pair_predictions(src.maps, names, DEFAULT_SUFFIXES)
        absent = [n for n in names if n not in pairing.pairs]
        if absent:
            raise FileNotFoundError(f"{src.maps}: no map for {len(absent)} image(s) of {src.result.source or src.name}"
                                    f" ({', '.join(absent[:5])}); pass --map {src.name}=DIR with the scored maps")
        _check_hashes(src, pairing.pairs)
        pairs.append(pairing.pairs)
    photos: dict[str, Path] = {}
    if images is not None and Path(images).is_dir():
        found = {k.lower(): v for k, v in index_folder(Path(images)).items()}
        photos = {n: found[n.lower()] for n in names if n.lower() in found}
    return _Plan(sources, proto, gt_files, spec.gt_white, photos, pairs, Thumbnailer(thumb_height))


def _check_hashes(src: Source, pairs: dict[str, Path]) -> None:
    stored = src.result.meta.get("files_sha256") or {}
    for stem, digest in stored.items():
        path = pairs.get(stem)
        if path is not None and sha256_file(path) != digest:
            raise ValueError(f"{path}: not the file {src.result.source or src.name} was scored from (SHA-256 "
                             f"differs); pass --map {src.name}=DIR with the scored maps")  # fmt: skip


def _image(pl: _Plan, i: int, name: str) -> dict:
    """Thumbnails (photo, GT, then map and error map per result) and each result's per-image P/R curves."""
    loaded = [load_scored_pair(pairs[name], pl.gt_files[name], src.result.meta, gt_white=pl.gt_white,
                               pred_white=src.pred_white, stem=name, where=str(src.result.source or src.name))
              for src, pairs in zip(pl.sources, pl.pairs, strict=True)]  # fmt: skip
    gt = gt_as_mask(loaded[0][1])  # the mask as Evaluator.update reads it
    gt_blur = binarize(gt, pl.proto.gt_threshold, pl.proto.gt_strict)
    small_gt = pl.thumbs.nearest(gt_blur.view(np.uint8))
    thumbs: list[bytes | None] = [pl.thumbs.photo(pl.photos[name], gt.shape[0]) if name in pl.photos else None,
                                  pl.thumbs.png(small_gt * np.uint8(255))]
    curves = []
    for src, pairs, (canonical, _, _) in zip(pl.sources, pl.pairs, loaded, strict=True):
        rec = score_image(canonical, gt, pl.proto, name=name)
        stored = src.result.per_image[i].get("mae")
        if stored is not None and abs(rec.mae - stored) > MAE_ATOL:
            raise ValueError(f"{pairs[name]}: MAE {rec.mae:.6f} but {src.result.source or src.name} stored "
                             f"{stored:.6f} for {name}; these are not the scored maps; pass --map {src.name}=DIR "
                             "with the scored maps")  # fmt: skip
        c = per_image_curves([rec], pl.proto)
        curves.append([encode_curve(c["precision"][0]), encode_curve(c["recall"][0])])
        codes = pl.thumbs.nearest(error_codes(_predicted_blur(canonical, pl.proto), gt_blur))
        thumbs += [pl.thumbs.jpeg(_to8(canonical)), pl.thumbs.png(PALETTE[codes])]
    return {"thumbs": thumbs, "curves": curves}


def build(pl: _Plan, columns: Sequence[str], jobs: int = 2) -> tuple[dict, list[list[bytes | None]]]:
    """The page data (JSON-ready, without images) and the thumbnails of each image, in row order.

    Returns
    -------
    data : dict
        ``columns`` (key, label, higher-is-better), ``images`` (name, flags, per-result values), ``curves``
        (per image, per result: base64 precision and recall, see :func:`encode_curve`), ``thresholds``.
    thumbs : list
        Per image: photo (or None), GT, then map and error map of each result (encoded bytes).
    """
    names = [row["name"] for row in pl.sources[0].result.per_image]
    with ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="dbdbench-inspect") as pool:
        done = list(pool.map(lambda item: _image(pl, *item), enumerate(names)))
    rows = []
    for i, name in enumerate(names):
        first = pl.sources[0].result.per_image[i]
        values = [[_num(src.result.per_image[i].get(k)) for k in columns] for src in pl.sources]
        rows.append({"name": name, "empty_gt": bool(first.get("empty_gt")), "resized": bool(first.get("resized")),
                     "values": values, "photo": name in pl.photos})  # fmt: skip
    data = {
        "columns": [_column(k) for k in columns],
        "images": rows,
        "curves": [d["curves"] for d in done],
        "n_thresholds": int(len(thresholds_of(pl.proto))),
    }
    return data, [d["thumbs"] for d in done]


def _column(key: str) -> dict:
    """Label and direction of a per-image column: a metric, or a protocol's per-image handler score (higher
    is better: Zhao et al.'s per-image best F, ``best_f``)."""
    if key in _HANDLER_COLUMNS:
        return {"key": key, "label": _HANDLER_COLUMNS[key], "higher": True}
    info = get_metric(key)
    return {"key": key, "label": info.label, "higher": info.higher_is_better}


def _num(v) -> float | None:
    return None if v is None or (isinstance(v, float) and v != v) else float(v)
