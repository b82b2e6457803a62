"""Run a baseline on a folder of photos and write one 8-bit PNG map per photo plus the folder's ``meta.json``.

* Deep nets (:func:`baselines.nets.list_models`): batched inference on the GPU when present,
  through a :class:`baselines.pipeline.TestPipeline` (decode, resize, normalise, forward, upsample, 8-bit
  rule). An authors' checkpoint gets the authors' test pipeline (D-DFFNet: PIL decode, PIL anti-aliased
  resize to 320, nearest upsampling; BR²Net: PIL decode at the photo's **native** size, ``floor(255 p)``); a
  checkpoint of ``dbdbench train`` carries its own (the trainer's OpenCV decode and resize at its training
  size). DeFusionNet and DPN, whose test code is not public, use the training pipeline. Every setting can be
  overridden; ``meta.json`` records the pipeline used. Maps are P(blur) (``pred_white="blur"``) unless
  ``pred_white="sharp"`` is asked for. Photos of one network-input size share a batch.
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
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from baselines.pipeline import (
    TestPipeline,
    default_pipeline,
    load_photo,
    network_input,
    quantise,
    resize_photo,
    trained_pipeline,
)
from dbdbench import datasets as ds
from dbdbench.evaluate import sha256_file
from dbdbench.io import read_image, read_maps_meta, write_map, write_maps_meta

HANDCRAFTED = ("hifst", "lbp")
T = TypeVar("T")


@dataclass
class PredictReport:
    """What a run did: maps written, stems skipped because their map existed, the output folder."""

    out: Path
    written: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def list_methods() -> list[str]:
    """Every method ``predict`` accepts: the hand-crafted ones, then the registered nets that predict maps
    (``ModelConfig.predicts``: a training-only model's checkpoints hold another net, predicted as such)."""
    from baselines.nets import list_models

    return [*HANDCRAFTED, *list_models(predicts=True)]


def canonical(method: str) -> str:
    """The registered name of ``method`` (:func:`baselines.nets.canonical_name`); a hand-crafted method is
    found without importing the nets (and torch)."""
    from baselines.nets import canonical_name

    key = canonical_name(method)
    if key in HANDCRAFTED:
        return key
    valid = list_methods()
    if key not in valid:
        raise KeyError(f"unknown method {method!r}; valid: {', '.join(valid)}")
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
    spec = ds.get_dataset(str(dataset))
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


#: settings of a net's maps that a resumed run must share with the maps already in the folder
KEPT_SAME = ("weights_sha256", "pipeline")


def prepare_output(out: str | os.PathLike, method: str, pred_white: str, overwrite: bool, **extra: Any) -> Path:
    """Create ``out`` and declare its polarity; refuse to mix methods or polarities unless ``overwrite``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    meta = read_maps_meta(out)
    if meta is not None and not overwrite and (meta.get("method"), meta["pred_white"]) != (method, pred_white):
        raise ValueError(f"{out} already holds maps of {meta.get('method')!r} (white = {meta['pred_white']}); "
                         f"use another --out for {method!r} or pass --overwrite")
    if meta is not None and not overwrite and any(out.glob("*.png")):
        changed = [k for k in KEPT_SAME if k in extra and meta.get(k) != extra[k]]
        if changed:
            raise ValueError(f"{out} already holds maps made with another {' and '.join(changed)} than this run's "
                             f"(meta.json: {', '.join(f'{k} = {meta.get(k)}' for k in changed)}); keeping them "
                             "would mix two models' maps: use another --out or pass --overwrite")
    write_maps_meta(out, pred_white=pred_white, method=method, **extra)
    return out


def split_pending(images: Mapping[str, Path], out: Path, overwrite: bool) -> tuple[dict[str, Path], list[str]]:
    """(photos still to do, stems whose ``<out>/<stem>.png`` exists and is kept).

    With ``overwrite`` the existing maps are deleted first, so that a run stopped half-way never leaves the
    previous maps beside a ``meta.json`` that describes the new ones; call it before :func:`prepare_output`.
    """
    if overwrite:
        for s in images:
            (out / f"{s}.png").unlink(missing_ok=True)
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


def predict_handcrafted(method: str, images: Mapping[str, Path], out: str | os.PathLike, *, jobs: int = 1,
                        overwrite: bool = False, progress: bool = True) -> PredictReport:
    """Write ``method(photo)`` (high = sharp, ``pred_white="sharp"``) for every photo not done yet."""
    from joblib import Parallel, delayed

    method = canonical(method)
    if method not in HANDCRAFTED:
        raise ValueError(f"{method!r} is not a hand-crafted method ({', '.join(HANDCRAFTED)})")
    todo, skipped = split_pending(images, Path(out), overwrite)
    out = prepare_output(out, method, "sharp", overwrite)
    report = PredictReport(out, skipped=skipped)
    tasks = (delayed(_run_handcrafted)(method, p, out / f"{s}.png") for s, p in todo.items())
    with _progress(len(todo), progress, method) as bar:
        for stem in Parallel(n_jobs=jobs, return_as="generator_unordered")(tasks):
            report.written.append(stem)
            bar.update(1)
    return report


# ------------------------------------------------------------------------------------------------------- nets


def load_net(method: str, weights: str | os.PathLike):
    """``(model, pipeline)``: the net of ``method`` with ``weights`` and the test pipeline its checkpoint
    carries (a ``dbdbench train`` checkpoint), or ``None`` for any other file ``create_model(method,
    pretrained=weights)`` reads (our state dicts, the authors' checkpoints with their key names).

    Every tensor of the net must come from the file (:func:`load_complete`); a file that is not a torch
    file, does not fit the net or fills only part of it is refused with a ``ValueError`` naming it.
    """
    from baselines.checkpoint import is_train_checkpoint, read_weights
    from baselines.nets import create_model

    path = Path(weights)
    if not path.is_file():
        raise FileNotFoundError(f"weights file {path} does not exist; pass --weights with the last.pt of "
                                "`dbdbench train` or the authors' checkpoint (see docs/models/)")
    obj = read_weights(path, f"a {method} checkpoint (the last.pt of `dbdbench train`, or the authors' file)")
    if not is_train_checkpoint(obj):
        return load_complete(method, path, obj), None
    if obj["method"] != method:
        raise ValueError(f"{path} holds a {obj['method']!r} model, not {method!r}; pass --method {obj['method']}")
    stage = obj.get("stage", 1)
    # stage 2 is the D-DFFNet distiller: its kwargs build the distiller, and prediction uses its student DFFNet
    model = create_model(method, pretrained=False, **(obj.get("model_kwargs", {}) if stage == 1 else {}))
    state = obj["model"]
    if stage == 2:
        state = {k[len("student."):]: v for k, v in state.items() if k.startswith("student.")}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ValueError(f"{path} does not fit the {method} net: {summarise_load_error(exc)}") from None
    return model, checkpoint_pipeline(obj, path, model.recipe.input_size)


def load_complete(method: str, path: Path, obj: Any = None):
    """``create_model(method, pretrained=path)``, refused unless the file sets **every** tensor of the net.

    The net's own loader maps the file (our names, the authors' names, or, for training only, a trunk such as
    torchvision's VGG16). The net is built twice, under two different random seeds: a tensor that differs
    between the two builds kept its random initialisation, i.e. the file lacks it, and the maps would change
    from run to run. ``obj`` (the loaded file) only serves the error message.
    """
    import torch

    from baselines.nets import create_model

    def build(seed: int):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            try:
                return create_model(method, pretrained=path)
            except (RuntimeError, KeyError) as exc:  # load_state_dict: missing/unexpected keys or shapes
                raise ValueError(f"{path} does not fit the {method} net: {summarise_load_error(exc)}; pass the "
                                 "--method this checkpoint was trained for") from None

    first, second = build(0), build(1)
    a, b = first.state_dict(), second.state_dict()
    missing = [k for k in a if not torch.equal(a[k], b[k])]
    if missing:
        raise ValueError(
            f"{path} does not hold the whole {method} net: at least {len(missing)} of its {len(a)} tensors are not "
            f"in the file and would stay randomly initialised (missing: {_first(missing)}; the file holds "
            f"{_file_keys(obj)}); pass a checkpoint of the whole net (the last.pt of `dbdbench train`, or the "
            "authors' file). A trunk alone (e.g. torchvision's VGG16) only initialises training: "
            "`dbdbench train --pretrained FILE`")
    return first


def _first(keys: list[str], n: int = 4) -> str:
    return ", ".join(keys[:n]) + (f" ... ({len(keys)} in all)" if len(keys) > n else "")


def _file_keys(obj: Any) -> str:
    """``N tensors (first: ...)`` of a loaded weights file, for error messages."""
    for wrapper in ("state_dict", "model"):
        if isinstance(obj, dict) and isinstance(obj.get(wrapper), dict):
            obj = obj[wrapper]
    if not isinstance(obj, dict):
        return "no state dict"
    return f"{len(obj)} tensors: {_first([str(k) for k in obj])}"


_QUOTED = r'"([^"]+)"'


def summarise_load_error(exc: BaseException) -> str:
    """torch's ``load_state_dict`` error as counts and first keys per kind (missing, unexpected, shape)."""
    text = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
    parts = []
    for kind, label in (("Missing key(s)", "missing"), ("Unexpected key(s)", "unexpected")):
        for line in text.splitlines():
            if kind in line:
                parts.append(f"{label}: {_first(re.findall(_QUOTED, line))}")
    shapes = re.findall(r"size mismatch for ([^:]+):", text)
    if shapes:
        parts.append(f"shape differs: {_first(shapes)}")
    return "; ".join(parts) if parts else " ".join(text.split())[:300]


def checkpoint_pipeline(obj: dict, path: Path, recipe_size: int) -> TestPipeline:
    """The pipeline stored in a trainer checkpoint; one without it gets the trainer's at the input size of
    its stored recipe (else ``recipe_size``, the paper's)."""
    if "pipeline" in obj:
        try:
            return TestPipeline.from_dict(dict(obj["pipeline"]))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{path}: invalid stored test pipeline ({exc})") from None
    size = obj["recipe"]["input_size"] if isinstance(obj.get("recipe"), dict) else recipe_size
    return trained_pipeline(obj["method"], int(size))


def batch_by_shape(items: Iterable[T], batch_size: int, shape: Callable[[T], tuple]) -> Iterator[list[T]]:
    """Consecutive ``items`` in batches of at most ``batch_size`` whose ``shape`` is equal; a new shape starts a
    new batch. The one batching rule of ``predict`` and of the trainer's validation, so that both compute
    every map from the same batch."""
    batch: list[T] = []
    for item in items:
        if batch and (len(batch) == batch_size or shape(batch[0]) != shape(item)):
            yield batch
            batch = []
        batch.append(item)
    if batch:
        yield batch


def _batches(images: dict[str, Path], pipe: TestPipeline,
             batch_size: int) -> Iterator[list[tuple[str, np.ndarray, tuple]]]:
    """Batches of ``(stem, network input (3, h, w), photo (H, W))``; native size (0) batches equal shapes only."""
    def samples() -> Iterator[tuple[str, np.ndarray, tuple]]:
        for stem, path in images.items():
            photo = load_photo(path, pipe.library)
            yield stem, network_input(resize_photo(photo, pipe.input_size, pipe.library), pipe), photo.shape[:2]

    return batch_by_shape(samples(), batch_size, lambda sample: sample[1].shape)


def resolve_pipeline(method: str, stored: TestPipeline | None, training_size: int, **overrides: Any) -> TestPipeline:
    """The checkpoint's pipeline, else the method's default (:func:`baselines.pipeline.default_pipeline`),
    with the non-``None`` ``overrides`` (``input_size``, ``library``, ``upsample``, ``quantise``,
    ``pred_white``) applied."""
    base = stored if stored is not None else default_pipeline(method, training_size)
    return base.override(**overrides)


def _device(device: str):
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def predict_net(method: str, images: dict[str, Path], out: str | os.PathLike, weights: str | os.PathLike, *,
                batch_size: int = 8, device: str = "auto", overwrite: bool = False, progress: bool = True,
                **overrides: Any) -> PredictReport:
    """Write the maps of a net through its test pipeline (module docstring) for every photo not done yet.

    ``overrides``: ``input_size`` (0 = native), ``library`` (``"pil"``/``"opencv"``), ``upsample``
    (``"nearest"``/``"bilinear"``), ``quantise`` (``"round"``/``"floor"``), ``pred_white``
    (``"blur"``/``"sharp"``); ``None`` keeps the checkpoint's or the method's setting.
    """
    import torch
    import torch.nn.functional as F

    method = canonical(method)
    if method in HANDCRAFTED:
        raise ValueError(f"{method!r} is hand-crafted; use predict_handcrafted")
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    model, stored = load_net(method, weights)
    pipe = resolve_pipeline(method, stored, model.recipe.input_size, **overrides)
    dev = _device(device)
    model.eval().to(dev)
    todo, skipped = split_pending(images, Path(out), overwrite)
    out = prepare_output(out, method, pipe.pred_white, overwrite, weights=Path(weights).name,
                         weights_sha256=sha256_file(Path(weights)), pipeline=pipe.to_dict())
    report = PredictReport(out, skipped=skipped)
    mode = {"mode": "bilinear", "align_corners": False} if pipe.upsample == "bilinear" else {"mode": "nearest"}
    with _progress(len(todo), progress, method) as bar, torch.inference_mode():
        for batch in _batches(todo, pipe, batch_size):
            x = torch.from_numpy(np.stack([net_in for _, net_in, _ in batch])).to(dev)
            prob = model(x).float()
            for (stem, _, shape), p in zip(batch, prob, strict=True):
                full = p[None] if tuple(p.shape[-2:]) == shape else F.interpolate(p[None], size=shape, **mode)
                write_map(out / f"{stem}.png", quantise(full[0, 0].cpu().numpy(), pipe) / 255.0)
                report.written.append(stem)
            bar.update(len(batch))
    return report
