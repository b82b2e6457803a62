"""D-DFFNet stage 2: depth feature distillation into a DFFNet student (``train_kd.py`` of the authors).

The student is a fresh DFFNet (ImageNet trunk, as in the authors' code). Two frozen teachers see the same
ImageNet-normalised batch: the stage-1 DFFNet and the MiDaS v2.1 encoder (ResNeXt-101 32x8d-WSL). The
student's trunk features ``S_l`` (``l`` = layer4..layer1, 2048/1024/512/256 ch) go through two sets of bias-free
1x1 adapters (Xavier-normal init), ``A_l`` towards the DFFNet teacher and ``B_l`` towards MiDaS, and

    L_feat = sum_l mean_xy || n(A_l S_l) - n(T_l) ||^2 + sum_l mean_xy || n(B_l S_l) - n(D_l) ||^2,

with ``n(f) = f / sqrt(sum_c f^2 + 1e-6)``. The total loss is

    L = 1.1 ECE(P) + sum_k ECE(s_k) + alpha(e) L_feat,   alpha(e) = 3 if e < 15 else 3 (e - 15) / (E - 15),

``E = 75`` and the epochs ``e = 1..74`` (read literally, alpha drops to 0 at epoch 15 and climbs back to 2.95).

API chosen for a generic trainer
--------------------------------
* ``DDFFNetDistiller`` follows the registry contract: ``eval()`` forward is the student's P(blur) map; the
  ``train()`` forward returns the student's 5 logit maps ``[P, s1..s4]`` and stores the feature term of that
  batch in ``self.last_feature_loss`` (so the output stays a list of maps, as DDP expects).
* ``loss(outputs, target, step=None)``: ``step`` is the 0-based optimiser step; without it the buffer
  ``steps_seen`` (training forwards so far, saved with the checkpoint, so resuming keeps the schedule) is used.
  The step is mapped to the paper's epoch by ``e = 1 + floor(step (E - 1) / total_steps)``.
* ``param_groups(lr, weight_decay)``: the student at ``lr`` and the adapters with their own Adam settings
  (lr 0.1, weight decay 5e-4, ``"fixed_lr": True`` = no poly decay), equivalent to the authors' two Adam
  optimisers. The elementwise gradient clamp (+-0.5) applies to the student only (``"clip": True``).
* The teachers are frozen (``requires_grad=False``) but, as in the authors' code (they never call ``.eval()``
  on them), run with **batch statistics** in BatchNorm; pass ``teacher_batch_stats=False`` to use running ones.
* ``state_dict()`` holds student, teachers and adapters; :func:`baselines.nets.dffnet.load_dffnet_checkpoint`
  extracts the student (``student.*``) for prediction.

References
----------
.. [1] Y. Jin et al., "Depth and DOF cues make a better defocus blur detector", ICME 2023, Sec. III-B, III-E,
   App. B-B; code yuxinjin-whu/D-DFFNet ``train_kd.py``.
.. [2] R. Ranftl et al., "Towards robust monocular depth estimation", TPAMI 2022 (MiDaS v2.1).
.. [3] W.-H. Li, H. Bilen, "Knowledge distillation for multi-task learning", ECCV 2020 (adapters + L2 norm).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import cast

import torch
from torch import nn

from baselines.nets import register_model
from baselines.nets.backbones import ResNetTrunk, create_backbone
from baselines.nets.dffnet import DFFNET_RECIPE, DFFNet, detection_loss, load_dffnet_checkpoint

DISTILL_LEVELS = (2048, 1024, 512, 256)
ADAPTER_LR, ADAPTER_WEIGHT_DECAY = 0.1, 5e-4


def distill_alpha(epoch: int, epochs: int = 75) -> float:
    """``alpha(e) = 3`` for ``e < 15``, else ``3 (e - 15) / (E - 15)`` (``train_kd.py``)."""
    return 3.0 if epoch < 15 else 3.0 * (epoch - 15) / (epochs - 15)


def step_to_epoch(step: int, total_steps: int, epochs: int = 75) -> int:
    """Map a 0-based optimiser step to the authors' 1-based epoch; training covers epochs ``1..E-1``."""
    if total_steps <= 0:
        raise ValueError(f"total_steps must be positive, got {total_steps}")
    return 1 + min(epochs - 2, math.floor(step * (epochs - 1) / total_steps))


def normalise(f: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """``f / sqrt(sum_c f^2 + eps)`` per pixel."""
    return f / (f.pow(2).sum(1, keepdim=True) + eps).sqrt()


def feature_distance(student: list[torch.Tensor], teacher: list[torch.Tensor]) -> torch.Tensor:
    """``sum_l mean_{b,x,y} sum_c (n(S_l) - n(T_l))^2`` over the levels (teacher detached)."""
    return cast(torch.Tensor, sum((normalise(s) - normalise(t.detach())).pow(2).sum(1).mean()
                                  for s, t in zip(student, teacher, strict=True)))


class FeatureAdapters(nn.Module):
    """One bias-free 1x1 convolution per level (``Adapter_DP2DP`` / ``Adapter_PD2Depth``), Xavier-normal init."""

    def __init__(self, channels: tuple[int, ...] = DISTILL_LEVELS) -> None:
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv2d(c, c, 1, bias=False) for c in channels)
        for conv in self.convs:
            nn.init.xavier_normal_(cast(nn.Conv2d, conv).weight)

    def forward(self, feats: list[torch.Tensor]) -> list[torch.Tensor]:
        return [conv(f) for conv, f in zip(self.convs, feats, strict=True)]


class DDFFNetDistiller(nn.Module):
    """Stage-2 training wrapper; see the module docstring for the API."""

    recipe = DFFNET_RECIPE
    steps_seen: torch.Tensor  # a buffer (saved with the model)

    def __init__(self, student: DFFNet, teacher: DFFNet, depth_encoder: ResNetTrunk, epochs: int = 75,
                 total_steps: int | None = None, teacher_batch_stats: bool = True) -> None:
        super().__init__()
        self.student, self.teacher, self.depth_encoder = student, teacher, depth_encoder
        for frozen in (teacher, depth_encoder):
            frozen.requires_grad_(False)
        self.adapt_teacher = FeatureAdapters()
        self.adapt_depth = FeatureAdapters()
        self.epochs = epochs
        self.total_steps = total_steps or self.recipe.iterations
        self.teacher_batch_stats = teacher_batch_stats
        self.register_buffer("steps_seen", torch.zeros((), dtype=torch.long))
        self.last_feature_loss: torch.Tensor | None = None
        self.train(self.training)

    def train(self, mode: bool = True) -> DDFFNetDistiller:
        super().train(mode)
        self.teacher.train(mode and self.teacher_batch_stats)
        self.depth_encoder.train(mode and self.teacher_batch_stats)
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        if not self.training:
            return self.student(x)
        outputs, feats = self.student.forward_with_features(x)
        with torch.no_grad():
            t_feats = self.teacher.features(x)
            d_feats = self.depth_encoder(x)[:0:-1]
        self.last_feature_loss = (feature_distance(self.adapt_teacher(feats), t_feats)
                                  + feature_distance(self.adapt_depth(feats), d_feats))
        self.steps_seen += 1
        return outputs

    def alpha(self, step: int | None = None) -> float:
        """The distillation weight at optimiser ``step`` (default: the last training forward)."""
        step = int(self.steps_seen) - 1 if step is None else step
        return distill_alpha(step_to_epoch(max(step, 0), self.total_steps, self.epochs), self.epochs)

    def loss(self, outputs: list[torch.Tensor], target: torch.Tensor, step: int | None = None) -> torch.Tensor:
        """``1.1 ECE(P) + sum_k ECE(s_k) + alpha * L_feat`` for the batch of the last training forward."""
        if self.last_feature_loss is None:
            raise RuntimeError("DDFFNetDistiller.loss needs a training-mode forward first (it holds L_feat)")
        return detection_loss(outputs, target, final_weight=1.1) + self.alpha(step) * self.last_feature_loss

    def param_groups(self, lr: float, weight_decay: float = 0.0) -> list[dict]:
        """Student at ``lr`` (clamped gradients), adapters at a fixed Adam lr 0.1 with weight decay 5e-4."""
        adapters = [*self.adapt_teacher.parameters(), *self.adapt_depth.parameters()]
        return [{"params": list(self.student.parameters()), "lr": lr, "weight_decay": weight_decay, "clip": True},
                {"params": adapters, "lr": ADAPTER_LR, "weight_decay": ADAPTER_WEIGHT_DECAY, "fixed_lr": True}]


@register_model(recipe=DFFNET_RECIPE, name="ddffnet", predicts=False)  # its checkpoints hold a dffnet student
def ddffnet_distiller(pretrained: bool | str | Path = False, teacher_weights: str | Path | None = None,
                      depth_weights: str | Path | None = None, allow_random_teachers: bool = False,
                      **kwargs) -> DDFFNetDistiller:
    """Build the stage-2 distiller.

    Parameters
    ----------
    pretrained : bool or path
        Initialisation of the student's trunk (``True`` = ImageNet, as the authors), or a DFFNet checkpoint.
    teacher_weights : path
        The stage-1 DFFNet checkpoint (ours or the authors' ``DFFNet.pth``).
    depth_weights : path
        MiDaS v2.1 ``midas_v21-f6b98070.pt`` (its encoder is used; see :mod:`baselines.nets.keymap`).
    allow_random_teachers : bool
        Teachers left at random initialisation when their weights are not given (tests only).
    **kwargs
        ``epochs``, ``total_steps``, ``teacher_batch_stats`` of :class:`DDFFNetDistiller`.
    """
    if not allow_random_teachers and (teacher_weights is None or depth_weights is None):
        raise ValueError("D-DFFNet stage 2 needs teacher_weights (stage-1 DFFNet checkpoint) and depth_weights "
                         "(midas_v21-f6b98070.pt); pass both, or allow_random_teachers=True for tests")
    if isinstance(pretrained, (str, Path)):
        student = DFFNet(pretrained=False)
        load_dffnet_checkpoint(student, pretrained)
    else:
        student = DFFNet(pretrained=bool(pretrained))
    teacher = DFFNet(pretrained=False)
    if teacher_weights is not None:
        load_dffnet_checkpoint(teacher, teacher_weights)
    depth = create_backbone("midas_resnext101_32x8d", pretrained=depth_weights or False)
    return DDFFNetDistiller(student, teacher, depth, **kwargs)
