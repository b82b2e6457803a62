"""Run a baseline on a folder of photos and write one 8-bit PNG map per photo plus the folder's ``meta.json``.

* Deep nets (``br2net``, ``defusionnet``, ``dffnet``, ``dpn``): batched inference on the GPU when present.
  Each photo is resized to ``input_size`` x ``input_size`` (bilinear) and ImageNet-normalised; the P(blur) map
  is resized back to the photo's size and written with ``pred_white="blur"``. Defaults follow the authors' test
  code where it is known: D-DFFNet resizes to 320 and upsamples the map by **nearest** neighbour; BR²Net runs
  at the photo's **native** resolution (``input_size=0``; photos of one size share a batch). DeFusionNet and
  DPN use their training size and bilinear upsampling (their test code is not public).
* Hand-crafted methods (``hifst``, ``lbp``): the authors' maps are high = sharp, and they are written **as is**
  with ``pred_white="sharp"`` (so they stay byte-comparable with the authors' published maps; ``dbdbench
  evaluate`` flips them exactly from the meta file). ``jobs`` photos run in parallel (joblib processes).

Both are resumable: maps already in the output folder are skipped unless ``overwrite``; every map is written
atomically, so an interrupted run never leaves a truncated file.

References
----------
.. [1] Y. Jin et al., "Depth and DOF cues make a better defocus blur detector", ICME 2023; code
   yuxinjin-whu/D-DFFNet ``test.py`` (320 input, nearest upsampling).
.. [2] C. Tang et al., "BR²Net", IEEE TMM 2021; code ChangTang/BR2Net ``infer.py`` (full resolution).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from dbdbench import datasets as ds
from dbdbench.io import read_image, read_maps_meta, write_map, write_maps_meta

HANDCRAFTED = ("hifst", "lbp")
#: method -> (input side, 0 = native resolution, None = the recipe's training size; upsampling of the map)
NET_DEFAULTS: dict[str, tuple[int | None, str]] = {
    "br2net": (0, "bilinear"),
    "defusionnet": (None, "bilinear"),
    "dffnet": (320, "nearest"),
    "dpn": (None, "bilinear"),
}


@dataclass
class PredictReport:
    """What a run did: maps written, stems skipped because their map existed, the output folder."""

    out: Path
    written: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def list_methods() -> list[str]:
    """Every method ``predict`` accepts: the hand-crafted ones, then the registered nets that predict maps.

    (``ddffnet`` is the stage-2 training model; its checkpoints hold a ``dffnet`` student, predicted as such.)
    """
    from baselines.nets import list_models

    return [*HANDCRAFTED, *(m for m in list_models() if m in NET_DEFAULTS)]


def canonical(method: str) -> str:
    key = method.lower().replace("-", "").replace("²", "2")
    if key not in list_methods():
        raise KeyError(f"unknown method {method!r}; valid: {', '.join(list_methods())}")
    return key


def collect_images(images_dir: str | os.PathLike | None = None, dataset: str | None = None,
                   data_root: str | os.PathLike | None = None) -> dict[str, Path]:
    """Stem -> photo for a folder of photos, or for the images of a registered dataset (its split's stems)."""
    if (images_dir is None) == (dataset is None):
        raise ValueError("give either an images folder or --dataset NAME, not both and not neither")
    if images_dir is not None:
        folder = Path(images_dir)
        if not folder.is_dir():
            raise FileNotFoundError(f"image folder {folder} does not exist or is not a folder")
        found = ds.index_folder(folder)
        if not found:
            raise FileNotFoundError(f"image folder {folder} holds no images ({', '.join(ds.IMAGE_EXTS)})")
        return found
    spec = ds.get_dataset(dataset)
    if hasattr(ds, "ensure_dataset"):  # builds SYN-DEMO on first use
        ds.ensure_dataset(spec, data_root)
    stems = spec.gt_files(data_root)
    folder = spec.image_folder(data_root)
    if not folder.is_dir():
        raise FileNotFoundError(f"{spec.name}: image folder {folder} not found; place the photos as "
                                f"<data-root>/{spec.folder}/{spec.image_dir}/")
    photos = {k.lower(): v for k, v in ds.index_folder(folder).items()}
    missing = [s for s in stems if s.lower() not in photos]
    if missing:
        raise FileNotFoundError(f"{spec.name}: {len(missing)} photo(s) missing from {folder}: "
                                f"{', '.join(missing[:10])}{' ...' if len(missing) > 10 else ''}")
    return {s: photos[s.lower()] for s in stems}


def prepare_output(out: str | os.PathLike, method: str, pred_white: str, overwrite: bool, **extra: Any) -> Path:
    """Create ``out`` and declare its polarity; refuse to mix methods or polarities unless ``overwrite``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    meta = read_maps_meta(out)
    if meta is not None and not overwrite and (meta.get("method"), meta["pred_white"]) != (method, pred_white):
        raise ValueError(f"{out} already holds maps of {meta.get('method')!r} (white = {meta['pred_white']}); "
                         f"use another --out for {method!r} or pass --overwrite")
    write_maps_meta(out, pred_white=pred_white, method=method, **extra)
    return out


def split_pending(images: dict[str, Path], out: Path, overwrite: bool) -> tuple[dict[str, Path], list[str]]:
    """(photos still to do, stems whose ``<out>/<stem>.png`` exists and is kept)."""
    if overwrite:
        return dict(images), []
    done = [s for s in images if (out / f"{s}.png").is_file()]
    return {s: p for s, p in images.items() if s not in set(done)}, done


def _progress(total: int, enabled: bool, desc: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not enabled, desc=desc, unit="img", dynamic_ncols=True)


# ----------------------------------------------------------------------------------------------- hand-crafted


def _run_handcrafted(method: str, photo: Path, target: Path) -> str:
    import baselines.handcrafted as hc

    write_map(target, getattr(hc, method)(read_image(photo)))
    return target.stem


def predict_handcrafted(method: str, images: dict[str, Path], out: str | os.PathLike, *, jobs: int = 1,
                        overwrite: bool = False, progress: bool = True) -> PredictReport:
    """Write ``method(photo)`` (high = sharp, ``pred_white="sharp"``) for every photo not done yet."""
    from joblib import Parallel, delayed

    method = canonical(method)
    if method not in HANDCRAFTED:
        raise ValueError(f"{method!r} is not a hand-crafted method ({', '.join(HANDCRAFTED)})")
    out = prepare_output(out, method, "sharp", overwrite)
    todo, skipped = split_pending(images, out, overwrite)
    report = PredictReport(out, skipped=skipped)
    tasks = (delayed(_run_handcrafted)(method, p, out / f"{s}.png") for s, p in todo.items())
    with _progress(len(todo), progress, method) as bar:
        for stem in Parallel(n_jobs=jobs, return_as="generator_unordered")(tasks):
            report.written.append(stem)
            bar.update(1)
    return report


# ------------------------------------------------------------------------------------------------------- nets


def load_net(method: str, weights: str | os.PathLike):
    """The net of ``method`` with ``weights``: a trainer checkpoint (its model kwargs are used) or any file
    ``create_model(method, pretrained=weights)`` reads (our state dicts, the authors' key names)."""
    import torch

    from baselines.checkpoint import is_train_checkpoint
    from baselines.nets import create_model

    path = Path(weights)
    if not path.is_file():
        raise FileNotFoundError(f"weights file {path} does not exist; pass the last.pt of `dbdbench train` or "
                                "the authors' checkpoint")
    obj = torch.load(path, map_location="cpu", weights_only=True)
    if not is_train_checkpoint(obj):
        return create_model(method, pretrained=path)
    if obj["method"] != method:
        raise ValueError(f"{path} holds a {obj['method']!r} model, not {method!r}; pass --method {obj['method']}")
    stage = obj.get("stage", 1)
    # stage 2 is the D-DFFNet distiller: its kwargs build the distiller, and prediction uses its student DFFNet
    model = create_model(method, pretrained=False, **(obj.get("model_kwargs", {}) if stage == 1 else {}))
    state = obj["model"]
    if stage == 2:
        state = {k[len("student."):]: v for k, v in state.items() if k.startswith("student.")}
    model.load_state_dict(state, strict=True)
    return model


def _batches(images: dict[str, Path], size: int, batch_size: int) -> Iterator[list[tuple[str, np.ndarray, tuple]]]:
    """Batches of ``(stem, network input image, original (H, W))``; native size (0) batches equal shapes only."""
    batch: list[tuple[str, np.ndarray, tuple]] = []
    for stem, path in images.items():
        photo = read_image(path)
        shape = photo.shape[:2]
        net_in = photo if size == 0 else cv2.resize(photo, (size, size), interpolation=cv2.INTER_LINEAR)
        if batch and (len(batch) == batch_size or batch[0][1].shape != net_in.shape):
            yield batch
            batch = []
        batch.append((stem, net_in, shape))
    if batch:
        yield batch


def predict_net(method: str, images: dict[str, Path], out: str | os.PathLike, weights: str | os.PathLike, *,
                batch_size: int = 8, device: str = "auto", input_size: int | None = None,
                upsample: str | None = None, overwrite: bool = False, progress: bool = True) -> PredictReport:
    """Write P(blur) maps (``pred_white="blur"``) of a trained net for every photo not done yet.

    ``input_size``: side of the square network input, 0 for native resolution, None for the method's default
    (:data:`NET_DEFAULTS`); ``upsample``: ``"bilinear"`` or ``"nearest"`` back to the photo's size.
    """
    import torch
    import torch.nn.functional as F

    from baselines.data import normalise_image

    method = canonical(method)
    if method in HANDCRAFTED:
        raise ValueError(f"{method!r} is hand-crafted; use predict_handcrafted")
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    model = load_net(method, weights)
    default_size, default_up = NET_DEFAULTS[method]
    size = input_size if input_size is not None else (default_size if default_size is not None
                                                      else model.recipe.input_size)
    upsample = upsample or default_up
    if upsample not in ("bilinear", "nearest"):
        raise ValueError(f"upsample must be 'bilinear' or 'nearest', got {upsample!r}")
    dev = torch.device("cuda" if device == "auto" and torch.cuda.is_available() else
                       ("cpu" if device == "auto" else device))
    model.eval().to(dev)
    out = prepare_output(out, method, "blur", overwrite, weights=Path(weights).name, input_size=size,
                         upsample=upsample)
    todo, skipped = split_pending(images, out, overwrite)
    report = PredictReport(out, skipped=skipped)
    with _progress(len(todo), progress, method) as bar, torch.inference_mode():
        for batch in _batches(todo, size, batch_size):
            x = torch.stack([normalise_image(img) for _, img, _ in batch]).to(dev)
            prob = model(x).float()
            for (stem, _, shape), p in zip(batch, prob, strict=True):
                mode = {"mode": "bilinear", "align_corners": False} if upsample == "bilinear" else {"mode": "nearest"}
                full = p[None] if tuple(p.shape[-2:]) == shape else F.interpolate(p[None], size=shape, **mode)
                write_map(out / f"{stem}.png", full[0, 0].clamp(0, 1).cpu().numpy())
                report.written.append(stem)
            bar.update(len(batch))
    return report
