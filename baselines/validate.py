"""Validation during training: a dataset scored under a dbdbench protocol, the checkpoint kept by its headline score.

Every ``val_every`` steps (and at the end) the trainer runs the eval-mode net on the validation set through
the **test pipeline** the checkpoint carries (:func:`baselines.pipeline.trained_pipeline`), step for step as
``dbdbench predict`` does: decode and resize the photo with the pipeline's library, normalise, forward in
batches formed by predict's rule (:func:`baselines.predict.batch_by_shape`), upsample the P(blur) map back to
the photo (the pipeline's mode), quantise with :func:`baselines.pipeline.quantise` (float32, the pipeline's
8-bit rule), and resize to the GT as ``dbdbench evaluate`` does when sizes differ. The 8-bit maps and the GT
(read as ``evaluate`` reads it, in canonical polarity) go to :class:`dbdbench.metrics.TorchEvaluator` on the
training device (under DDP the ``torchmetrics`` form, each process scoring its share of the images). A
validation score is therefore the one ``dbdbench evaluate`` gives on ``predict``'s maps of the same
checkpoint under the same protocol, bit for bit (tested). The best checkpoint is the one with the best
``Protocol.headline`` score of the protocol; the tracker of the best score is part of every checkpoint, so a
resumed run keeps it.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset

from baselines.checkpoint import load_checkpoint, truncate_log
from baselines.data import pair_images
from baselines.pipeline import TestPipeline, load_photo, network_input, quantise, resize_photo
from baselines.predict import batch_by_shape
from baselines.runtime import ignore_stop_signals
from dbdbench.datasets import get_dataset
from dbdbench.io import read_map, resize_to
from dbdbench.metrics import get_metric, get_protocol
from dbdbench.metrics.counts import flip, to_unit
from dbdbench.results import Result


def headline_metric(protocol: str, metric: str | None = None) -> tuple[str, bool]:
    """The selection score of ``protocol`` (``Protocol.headline``; ``metric`` overrides it) and whether higher is
    better."""
    proto = get_protocol(protocol)
    key = metric or proto.headline
    if key not in proto.metrics:
        raise ValueError(f"--val-metric {key!r} is not reported by protocol {proto.name!r}; valid: "
                         f"{', '.join(proto.metrics)}")
    return key, get_metric(key).higher_is_better


class ValDataset(Dataset):
    """``(network input (3, h, w) float32, mask at GT resolution in canonical polarity, index, photo (H, W))``
    samples, the input made by ``pipeline`` exactly as ``dbdbench predict`` makes it."""

    def __init__(self, dataset: str, data_root: str | os.PathLike | None, pipeline: TestPipeline) -> None:
        self.spec = get_dataset(dataset)
        if self.spec.gt_white not in ("blur", "sharp"):
            raise ValueError(f"{self.spec.name}: GT polarity is {self.spec.gt_white!r}; it cannot be validated on")
        self.items = pair_images(self.spec, data_root)
        if not self.items:
            raise FileNotFoundError(f"{self.spec.name}: no GT files found under {self.spec.gt_folder(data_root)}")
        self.pipeline = pipeline

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, int, tuple[int, int]]:
        _, image_path, gt_path = self.items[index]
        pipe = self.pipeline
        photo = load_photo(image_path, pipe.library)
        net_in = network_input(resize_photo(photo, pipe.input_size, pipe.library), pipe)
        gt = read_map(gt_path, luminance=True)  # as `dbdbench evaluate` reads GT files
        if gt.dtype == np.uint16:  # torch has no uint16 arithmetic: the exact float64 value instead
            gt = to_unit(gt)
        mask = gt if self.spec.gt_white == "blur" else flip(gt)  # exact, in the file's dtype
        return torch.from_numpy(net_in), torch.from_numpy(np.ascontiguousarray(mask)), index, photo.shape[:2]


def val_loader(dataset: ValDataset, rank: int, world: int, workers: int) -> DataLoader:
    """This process's share ``rank::world`` of the images (no padding, no repeats), in order, one sample at a
    time (the batches are formed afterwards by predict's rule)."""
    shard = list(range(rank, len(dataset), world))
    return DataLoader(torch.utils.data.Subset(dataset, shard), batch_size=None, shuffle=False, num_workers=workers,
                      worker_init_fn=ignore_stop_signals if workers else None)


#: the maps are quantised here (:func:`quantise`), so they are on the 0..255 scale by construction: a model that
#: sees almost no blur in an image (a map whose maximum is 1 to 3) is scored, and the result records it
ACCEPT = ("range-01", "range-few-levels")


def make_metric(protocol: str, world: int):
    """:class:`~dbdbench.metrics.TorchEvaluator`, or its ``torchmetrics`` form when images are sharded."""
    if world == 1:
        from dbdbench.metrics import TorchEvaluator

        return TorchEvaluator(protocol, accept=ACCEPT)
    try:
        from dbdbench.metrics import EvaluatorMetric
    except ImportError:
        raise ImportError("validation under DDP needs torchmetrics (pip install dbdbench[torch])") from None
    return EvaluatorMetric(protocol, accept=ACCEPT)


def predicted_map(prob: torch.Tensor, photo_shape: tuple[int, int], gt_shape: tuple[int, int],
                  pipeline: TestPipeline) -> np.ndarray:
    """The 8-bit map ``dbdbench predict`` writes for one (1, h, w) P(blur) output, brought to the GT size as
    ``dbdbench evaluate`` brings it (bilinear ``resize_to``) when the photo and GT sizes differ."""
    mode = {"mode": "bilinear", "align_corners": False} if pipeline.upsample == "bilinear" else {"mode": "nearest"}
    full = prob[None] if tuple(prob.shape[-2:]) == tuple(photo_shape) else F.interpolate(prob[None],
                                                                                           size=photo_shape, **mode)
    pred = quantise(full[0, 0].cpu().numpy(), pipeline)
    return pred if pred.shape == tuple(gt_shape) else resize_to(pred, (gt_shape[0], gt_shape[1]), "bilinear")


@torch.no_grad()
def validate(model: nn.Module, loader: DataLoader, metric, device: torch.device, pipeline: TestPipeline,
             batch_size: int) -> Result:
    """Score ``model`` (eval mode, P(blur) output) on ``loader`` with ``metric``; the model is put back in train.

    Batches are formed as ``dbdbench predict`` forms them (``batch_size`` photos of one input shape), so each
    map is computed from the same batch, hence bit-identical to predict's with the same ``--batch-size``.
    """
    model.eval()
    metric.reset()
    try:
        for batch in batch_by_shape(loader, batch_size, lambda sample: tuple(sample[0].shape)):
            x = torch.stack([sample[0] for sample in batch]).to(device, non_blocking=True)
            prob = model(x).float()
            maps = [torch.from_numpy(predicted_map(p, shape, tuple(mask.shape), pipeline))
                    for p, (_, mask, _, shape) in zip(prob, batch, strict=True)]
            masks = [sample[1] for sample in batch]
            ids = torch.tensor([sample[2] for sample in batch])
            metric.update([m.to(device) for m in maps], [m.to(device) for m in masks], ids=ids)
        return metric.compute()
    finally:
        model.train()


@dataclass
class BestTracker:
    """The best headline score seen so far and whether a new one beats it."""

    key: str
    higher_is_better: bool
    best: float | None = None
    step: int | None = None

    def offer(self, value: float, step: int) -> bool:
        if value != value:  # NaN never wins
            return False
        better = self.best is None or (value > self.best if self.higher_is_better else value < self.best)
        if better:
            self.best, self.step = value, step
        return better


class Validator:
    """The trainer's validation: when it is due, what it scores, where it logs (``<out>/val_log.jsonl``).

    Parameters
    ----------
    val_set : str
        Registered dataset to validate on (its GT at native resolution).
    pipeline : TestPipeline
        The test pipeline of the checkpoint (what ``dbdbench predict`` will apply).
    protocol : str
        dbdbench protocol of the scores; ``metric`` overrides its selection score ``Protocol.headline``.
    every : int
        Validate after every ``every`` steps and after the last one.
    """

    def __init__(self, val_set: str, data_root, pipeline: TestPipeline, protocol: str, metric: str | None,
                 every: int, batch_size: int, rank: int, world: int, workers: int, out) -> None:
        if every < 1:
            raise ValueError(f"val_every must be positive, got {every}")
        if batch_size < 1:
            raise ValueError(f"val_batch_size must be positive, got {batch_size}")
        self.key, higher = headline_metric(protocol, metric)
        self.tracker = BestTracker(self.key, higher)
        self.protocol, self.every, self.world = get_protocol(protocol).name, every, world
        dataset = ValDataset(val_set, data_root, pipeline)
        self.val_set, self.pipeline, self.batch_size = dataset.spec.name, pipeline, batch_size
        self.loader = val_loader(dataset, rank, world, workers)
        self.metric = make_metric(self.protocol, world)
        self.log_path = None if rank else Path(out) / "val_log.jsonl"

    def due(self, step: int, end: int) -> bool:
        return step % self.every == 0 or step == end

    def begin(self, step: int, saved: dict | None = None, best_file: Path | None = None) -> None:
        """Start (``step = 0``) or resume at ``step``: restore the best-score tracker from ``saved`` (the
        checkpoint's :meth:`summary`) and keep only the log rows up to ``step``.

        A ``best_file`` (``best.pt``) holding a better score of the same selection than ``saved`` (written after
        the resumed checkpoint, by a run killed before its next save) is adopted, so it is never replaced by a
        worse model. A checkpoint selected by another validation set, protocol or score is refused.
        """
        if saved is not None:
            self._check_same_selection(saved, "the resumed checkpoint")
            self.tracker.best, self.tracker.step = saved.get("value"), saved.get("step")
        if step and best_file is not None and best_file.is_file():
            on_file = load_checkpoint(best_file, mmap=True).get("val")
            if on_file is not None and on_file.get("value") is not None:
                self._check_same_selection(on_file, str(best_file))
                if self.tracker.offer(float(on_file["value"]), int(on_file["step"])):
                    warnings.warn(f"{best_file} holds step {on_file['step']}, after the resumed step {step} and "
                                  f"better than the checkpoint's best; it stays the best until a validation beats "
                                  f"{self.key} {on_file['value']:.6g}", stacklevel=3)
        if self.log_path is not None:
            truncate_log(self.log_path, step)

    def _check_same_selection(self, saved: dict, where: str) -> None:
        mine = {"val_set": self.val_set, "protocol": self.protocol, "metric": self.key}
        theirs = {k: saved.get(k, mine[k]) for k in mine}
        if theirs != mine:
            raise ValueError(f"{where} selected its best model by {theirs}, not {mine}; resume with the same "
                             "--val-set/--val-protocol/--val-metric, or start a new --out")

    def run(self, model: nn.Module, step: int, device: torch.device) -> tuple[Result, bool]:
        """Validate ``model`` at ``step`` (every process); returns the result and whether it is the best so far."""
        if self.world > 1:
            from baselines.runtime import sync_buffers

            sync_buffers(model)  # every shard scored with rank 0's BatchNorm statistics
        res = validate(model, self.loader, self.metric, device, self.pipeline, self.batch_size)
        value = float(res.scores[self.key])
        best = self.tracker.offer(value, step)
        if self.log_path is not None:
            row = {"step": step, "protocol": self.protocol, "metric": self.key, "value": value, "best": best,
                   "n_images": res.n_images, "scores": {k: _json_float(v) for k, v in res.scores.items()}}
            with open(self.log_path, "a") as fh:
                fh.write(json.dumps(row) + "\n")
        return res, best

    def summary(self) -> dict:
        """The tracker's state, saved in every checkpoint: validation set, protocol, score key, best value, step."""
        return {"val_set": self.val_set, "protocol": self.protocol, "metric": self.key, "value": self.tracker.best,
                "step": self.tracker.step}


def _json_float(v: float) -> float | None:
    return None if v != v else float(v)
