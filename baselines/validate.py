"""Validation during training: a dataset scored under a dbdbench protocol, the checkpoint kept by its headline score.

Every ``val_every`` steps (and at the end) the trainer runs the eval-mode net on the validation set: each
photo is resized to the training input size (bilinear, as in training), the P(blur) map is upsampled back to
the GT's size (bilinear) and quantised as ``dbdbench predict`` writes it (``round(255 p)``), and the maps and
masks go to :class:`dbdbench.metrics.TorchEvaluator` on the training device (under DDP the
``torchmetrics`` form, each process scoring its share of the images). The number logged is therefore the one
``dbdbench evaluate`` gives for those maps under the same protocol. The best checkpoint is the one with the
best :data:`HEADLINE` score of the protocol.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset

from baselines.data import normalise_image, pair_images
from dbdbench.datasets import get_dataset
from dbdbench.io import read_image, read_map
from dbdbench.metrics import get_metric, get_protocol
from dbdbench.metrics.counts import flip, to_unit
from dbdbench.results import Result

#: the score that selects the best checkpoint, per protocol: the F-beta the protocol's papers report first
#: (max F over thresholds; for ``ddffnet``, whose scripts use one threshold, F at 0.5)
HEADLINE = {"dbdbench": "max_f", "pysod": "max_f", "ddffnet": "bin_f", "zhao": "max_f", "hifst": "max_f"}


def headline_metric(protocol: str, metric: str | None = None) -> tuple[str, bool]:
    """The selection score of ``protocol`` (``metric`` overrides it) and whether higher is better."""
    proto = get_protocol(protocol)
    key = metric or HEADLINE.get(proto.name, "max_f")
    if key not in proto.metrics:
        raise ValueError(f"--val-metric {key!r} is not reported by protocol {proto.name!r}; valid: "
                         f"{', '.join(proto.metrics)}")
    return key, get_metric(key).higher_is_better


class ValDataset(Dataset):
    """``(image (3, S, S) float32, mask (H, W) at GT resolution in canonical polarity, index)`` samples."""

    def __init__(self, dataset: str, data_root: str | os.PathLike | None, input_size: int) -> None:
        self.spec = get_dataset(dataset)
        if self.spec.gt_white not in ("blur", "sharp"):
            raise ValueError(f"{self.spec.name}: GT polarity is {self.spec.gt_white!r}; it cannot be validated on")
        self.items = pair_images(self.spec, data_root)
        if not self.items:
            raise FileNotFoundError(f"{self.spec.name}: no GT files found under {self.spec.gt_folder(data_root)}")
        self.input_size = int(input_size)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        _, image_path, gt_path = self.items[index]
        s = self.input_size
        image = cv2.resize(read_image(image_path), (s, s), interpolation=cv2.INTER_LINEAR)
        gt = read_map(gt_path)
        if gt.dtype == np.uint16:  # torch has no uint16 arithmetic: the exact float64 value instead
            gt = to_unit(gt)
        mask = gt if self.spec.gt_white == "blur" else flip(gt)  # exact, in the file's dtype
        return normalise_image(image), torch.from_numpy(np.ascontiguousarray(mask)), index


def collate(batch):
    """Stack the inputs; masks stay a list (their sizes differ)."""
    images, masks, ids = zip(*batch, strict=True)
    return torch.stack(images), list(masks), torch.tensor(ids)


def val_loader(dataset: ValDataset, batch_size: int, rank: int, world: int, workers: int) -> DataLoader:
    """This process's share ``rank::world`` of the images (no padding, no repeats), in order."""
    shard = list(range(rank, len(dataset), world))
    return DataLoader(torch.utils.data.Subset(dataset, shard), batch_size, shuffle=False, num_workers=workers,
                      collate_fn=collate)


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


def quantise(prob: torch.Tensor) -> torch.Tensor:
    """``round(255 clip(p, 0, 1))`` as uint8, as ``dbdbench.io.write_map`` writes maps (float64, half to even)."""
    return torch.round(prob.double().clamp(0, 1) * 255).to(torch.uint8)


@torch.no_grad()
def validate(model: nn.Module, loader: DataLoader, metric, device: torch.device) -> Result:
    """Score ``model`` (eval mode, P(blur) output) on ``loader`` with ``metric``; the model is put back in train."""
    model.eval()
    metric.reset()
    try:
        for images, masks, ids in loader:
            prob = model(images.to(device, non_blocking=True)).float()
            maps = [quantise(F.interpolate(p[None], size=tuple(m.shape), mode="bilinear", align_corners=False)[0, 0])
                    for p, m in zip(prob, masks, strict=True)]
            metric.update(maps, [m.to(device) for m in masks], ids=ids)
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
    protocol : str
        dbdbench protocol of the scores; ``metric`` overrides its :data:`HEADLINE` selection score.
    every : int
        Validate after every ``every`` steps and after the last one.
    """

    def __init__(self, val_set: str, data_root, input_size: int, protocol: str, metric: str | None, every: int,
                 batch_size: int, rank: int, world: int, workers: int, out) -> None:
        if every < 1:
            raise ValueError(f"val_every must be positive, got {every}")
        self.key, higher = headline_metric(protocol, metric)
        self.tracker = BestTracker(self.key, higher)
        self.protocol, self.every, self.world = get_protocol(protocol).name, every, world
        self.loader = val_loader(ValDataset(val_set, data_root, input_size), batch_size, rank, world, workers)
        self.metric = make_metric(self.protocol, world)
        self.log_path = None if rank else os.path.join(out, "val_log.jsonl")

    def due(self, step: int, end: int) -> bool:
        return step % self.every == 0 or step == end

    def run(self, model: nn.Module, step: int, device: torch.device) -> tuple[Result, bool]:
        """Validate ``model`` at ``step`` (every process); returns the result and whether it is the best so far."""
        if self.world > 1:
            from baselines.runtime import sync_buffers

            sync_buffers(model)  # every shard scored with rank 0's BatchNorm statistics
        res = validate(model, self.loader, self.metric, device)
        value = float(res.scores[self.key])
        best = self.tracker.offer(value, step)
        if self.log_path is not None:
            import json

            row = {"step": step, "protocol": self.protocol, "metric": self.key, "value": value, "best": best,
                   "n_images": res.n_images, "scores": {k: _json_float(v) for k, v in res.scores.items()}}
            with open(self.log_path, "a") as fh:
                fh.write(json.dumps(row) + "\n")
        return res, best

    def summary(self) -> dict:
        """What goes into ``best.pt``: the protocol, the score key, its value and step."""
        return {"protocol": self.protocol, "metric": self.key, "value": self.tracker.best, "step": self.tracker.step}


def _json_float(v: float) -> float | None:
    return None if v != v else float(v)
