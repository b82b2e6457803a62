"""DPN: deep pyramid network with recurrent Distinction Enhanced Blocks (DEB) for blur detection.

What the paper states (known through Sik-Ho Tsang's review only; no code, weights or full text are
available): a VGG16 backbone whose five stages Conv1..Conv5 give F1..F5; adjacent features (F_i, F_{i+1})
enter a DEB; in a DEB, F_i gets a 3x3 conv, the higher feature is up-sampled by 2, the two are concatenated
and reduced by a 1x1 conv, F_i also feeds a "distinction block" D(F_i), and the result is
F̂_i = Conv1x1(Cat(F_i, Up(F_{i+1}))) + D(F_i); the F̂_i are refined recurrently; a multi-scale loss
supervises every pyramid level; a Boundary Refinement (BR) module precedes the final maps; an extra boundary
penalty compares the gradient magnitudes of the GT and of the predicted map; the total loss is the sum.

What is reconstructed here (each choice is a keyword argument; see ``docs/models/dpn.md``):

* top-down pyramid: F̂_5 = L_5 and F̂_i = DEB_i(L_i, F̂_{i+1}) for i = 4..1, where L_i = ReLU(BN(conv3x3(F_i)))
  to ``width`` channels, as in FPN/U-Net which the paper's ablation compares the DEB with;
* distinction block D(L) = BN(conv3x3(L - AvgPool3x3(L))): a learned local-contrast (high-pass) term, our
  reading of "capture the distinct information" that "strengthens structure features" (edges, slim parts);
  F̂_i = ReLU(BN(conv1x1(Cat(L_i, Up2(F̂_{i+1})))) + D(L_i));
* recurrence: ``steps`` (default 2) passes of the pyramid with shared weights; from the second pass each
  lateral input is L_i + F̂_i of the previous pass (i = 1..4), so each level is refined from its own state;
* BR as in Peng et al. (CVPR 2017), s + conv3x3(ReLU(conv3x3(s))), on every level's one-channel score, with a
  ``br_width`` hidden layer;
* outputs: final = BR(level 1, last pass), then levels 2..5 of the last pass, then level 1 of earlier passes
  (5 + steps - 1 maps, 6 by default), all bilinearly resized to the input;
* loss: mean BCE on every output (weights 1) + ``boundary_weight`` · mean |‖∇σ(B)‖ - ‖∇G‖| on the final map,
  with Sobel gradients (the review's "gradient magnitude ... at region i", read per pixel).

References
----------
.. [1] "Blur detection via deep pyramid network with recurrent distinction enhanced modules",
   Neurocomputing, 2020 (Shenzhen University, Shenzhen Polytechnic, Southern Illinois University); reviewed
   by S.-H. Tsang, "Review — DPN", The Startup (Medium).
.. [2] C. Peng, X. Zhang, G. Yu, G. Luo, J. Sun, "Large kernel matters - improve semantic segmentation by
   global convolutional network", CVPR 2017 (Boundary Refinement block).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from baselines.nets import register_model
from baselines.nets.recipe import TrainRecipe
from baselines.nets.vgg import VGG16Taps, load_pretrained

#: The review gives the data side only (352x352 input, rotations 0/90/180/270 and resizing to 176/88, 9,000
#: training images from 750 CUHK images); the optimiser and schedule are reconstructed.
DPN_RECIPE = TrainRecipe(
    optimizer="adam", lr=1e-4, momentum=0.9, weight_decay=0.0, poly_power=0.9, batch_size=8,
    iterations=11_250, input_size=352, augment=("rot90", "resize"),
    source="DPN review §4.1: input 352x352, augmentation by rotation (0/90/180/270) and resizing (176, 88) to "
           "9,000 images. Reconstructed (not in the review): Adam lr 1e-4 with poly 0.9, batch 8, 11,250 "
           "iterations (10 epochs of 9,000 images).",
)
_DPN_TAPS = ("conv1_2", "conv2_2", "conv3_3", "conv4_3", "conv5_3")


def _conv_bn(c_in: int, c_out: int, kernel: int, relu: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, bias=False),
                               nn.BatchNorm2d(c_out)]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class DistinctionEnhancedBlock(nn.Module):
    """DEB: F̂_i = ReLU(M(Cat(L_i, Up(F̂_{i+1}))) + D(L_i)), D(L) = BN(conv3x3(L - AvgPool3x3(L))).

    ``M`` is the paper's 1x1 channel-reducing conv (with BN); ``D`` is our reconstruction of the distinction
    block as a learned local-contrast term.
    """

    def __init__(self, width: int) -> None:
        super().__init__()
        self.merge = _conv_bn(2 * width, width, 1, relu=False)
        self.distinction = _conv_bn(width, width, 3, relu=False)

    def forward(self, lateral: torch.Tensor, higher: torch.Tensor) -> torch.Tensor:
        up = F.interpolate(higher, size=lateral.shape[-2:], mode="bilinear", align_corners=False)
        contrast = lateral - F.avg_pool2d(lateral, 3, stride=1, padding=1, count_include_pad=False)
        return F.relu(self.merge(torch.cat([lateral, up], dim=1)) + self.distinction(contrast))


class BoundaryRefinement(nn.Module):
    """BR (Peng et al. 2017): s + conv3x3(ReLU(conv3x3(s))) on a one-channel score map."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, hidden, 3, padding=1), nn.ReLU(inplace=True),
                                  nn.Conv2d(hidden, 1, 3, padding=1))

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        return s + self.body(s)


class DPN(nn.Module):
    """DPN: VGG16 F1..F5 -> laterals -> ``steps`` recurrent top-down DEB pyramids -> BR'd level scores.

    Parameters
    ----------
    width : int
        Channels of the laterals and of every F̂_i (not stated; 64).
    steps : int
        Recurrent passes of the pyramid (not stated; 2).
    br_width : int
        Hidden channels of each BR block (not stated; 16).
    boundary_weight : float
        Weight of the boundary penalty in :meth:`loss` (review: "sum of the two losses", so 1).

    Notes
    -----
    Train mode returns ``4 + steps`` logit maps at input size (final first); eval returns sigmoid(final),
    P(blur) (the paper's blur degree of a shaken photo is 0.9972, so high = blur).
    """

    def __init__(self, width: int = 64, steps: int = 2, br_width: int = 16, boundary_weight: float = 1.0) -> None:
        super().__init__()
        if steps < 1:
            raise ValueError(f"DPN needs steps >= 1, got {steps}")
        self.backbone = VGG16Taps(_DPN_TAPS)
        self.steps = steps
        self.boundary_weight = boundary_weight
        self.laterals = nn.ModuleList(_conv_bn(c, width, 3) for c in self.backbone.channels)
        self.debs = nn.ModuleList(DistinctionEnhancedBlock(width) for _ in range(len(_DPN_TAPS) - 1))
        self.scores = nn.ModuleList(nn.Conv2d(width, 1, 1) for _ in _DPN_TAPS)
        self.refiners = nn.ModuleList(BoundaryRefinement(br_width) for _ in _DPN_TAPS)
        self.recipe = DPN_RECIPE

    def _pyramid(self, laterals: list[torch.Tensor]) -> list[torch.Tensor]:
        """One top-down pass: F̂_5 = L_5, F̂_i = DEB_i(L_i, F̂_{i+1}); returns F̂_1..F̂_5."""
        out = [laterals[-1]]
        for i in range(len(laterals) - 2, -1, -1):
            out.insert(0, self.debs[i](laterals[i], out[0]))
        return out

    def _score(self, level: int, feat: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
        s = self.refiners[level](self.scores[level](feat))
        return F.interpolate(s, size=tuple(size), mode="bilinear", align_corners=False) if level else s

    def forward(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        size = x.shape[-2:]
        laterals = [lat(f) for lat, f in zip(self.laterals, self.backbone(x), strict=True)]
        earlier: list[torch.Tensor] = []
        feats = self._pyramid(laterals)
        for _ in range(self.steps - 1):
            if self.training:
                earlier.append(self._score(0, feats[0], size))
            fed = [lat + f for lat, f in zip(laterals[:-1], feats[:-1], strict=True)] + [laterals[-1]]
            feats = self._pyramid(fed)
        final = self._score(0, feats[0], size)
        if not self.training:
            return torch.sigmoid(final)
        return [final, *(self._score(k, feats[k], size) for k in range(1, len(feats))), *earlier]

    def loss(self, outputs: Sequence[torch.Tensor], target: torch.Tensor) -> torch.Tensor:
        """Multi-scale BCE plus the weighted boundary penalty on the final map; see :func:`dpn_loss`."""
        return dpn_loss(outputs, target, self.boundary_weight)


def sobel_magnitude(x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """‖∇x‖ = sqrt(Gx² + Gy² + eps) with 3x3 Sobel kernels and replicate padding, per (B, 1, H, W) map."""
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], dtype=x.dtype, device=x.device)
    kernels = torch.stack([kx, kx.t()])[:, None]
    g = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), kernels)
    return torch.sqrt((g * g).sum(dim=1, keepdim=True) + eps)


def boundary_penalty(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L_b = mean over pixels of |‖∇σ(B)‖ - ‖∇G‖| (reconstructed form of DPN's boundary penalty)."""
    return (sobel_magnitude(torch.sigmoid(logits)) - sobel_magnitude(target)).abs().mean()


def dpn_loss(outputs: Sequence[torch.Tensor], target: torch.Tensor, boundary_weight: float = 1.0) -> torch.Tensor:
    """L = Σ_k BCE(B_k, G) + λ_b · L_b(B_final, G): multi-scale loss plus boundary penalty (weights 1).

    References
    ----------
    .. [1] DPN, Neurocomputing 2020, §3 (loss function), as summarised by Tsang's review.
    """
    if not outputs:
        raise ValueError("dpn_loss got no outputs; pass the train-mode list of logit maps.")
    total = outputs[0].new_zeros(())
    for out in outputs:
        if out.shape != target.shape:
            raise ValueError(f"output shape {tuple(out.shape)} != target shape {tuple(target.shape)}; the target "
                             "must be a (B, 1, H, W) mask at input size.")
        total = total + F.binary_cross_entropy_with_logits(out, target)
    return total + boundary_weight * boundary_penalty(outputs[0], target)


@register_model(recipe=DPN_RECIPE)  # no code published: the training pipeline
def dpn(pretrained: bool | str | Path = False, **kwargs) -> DPN:
    """Build :class:`DPN`; ``pretrained`` as in :func:`baselines.nets.vgg.load_pretrained`."""
    model = DPN(**kwargs)
    load_pretrained(model, pretrained)
    return model
