"""DeFusionNet, TPAMI version: recurrent cross-layer fusion and refinement of VGG16 features.

Pipeline (paper §3, Fig. 2): six VGG16 taps (conv1_2, conv2_2, conv3_3, conv4_3, conv5_3, pool5; n = 6) each
get two appended 3x3 conv layers and a deconvolution to the input size. The first m = 3 are shallow, the
rest deep. At each of t = 3 recurrent steps an FFRM (§3.1) fuses the shallow features into FSHF and the deep
ones into FSEF (1x1 conv after a CAM, Eqs. 1-2, 4-7), passes both through a FAM (§3.3), refines every deep
layer with FSHF and every shallow layer with FSEF (Eq. 3) and predicts one map per layer (deep supervision).
The six maps of the last step are fused by a conv into the final map (Eq. 8). Loss: pixel-summed cross
entropy on all 6·3 + 1 = 19 outputs with unit weights (Eqs. 9-10).

No code was released (the authors' repository holds only a README), so these choices are ours and are
listed in ``docs/models/defusionnet.md``: side width 64; the appended convs are 3x3 + ReLU; deconvolutions
are depthwise, bilinear-initialised and learnable; the Eq. (3) refinement conv is 1x1 (it "reduces the number
of channels" like the 1x1 of Eq. 1, and a 3x3 one would not fit the reported 0.056 s); CAM reduction 16 with
W_D shared by the GAP and GMP branches (as Eq. 6 writes it); FAM = X + X ⊙ sigmoid(conv3x3(ReLU(conv3x3(X))))
with a one-channel position weight; every step has its own weights (Eq. 3 indexes W by step j); the Eq. (8)
ReLU is dropped because a ReLU on the fused logit would forbid P(blur) < 0.5.

References
----------
.. [1] C. Tang, X. Liu, X. Zheng, W. Li, J. Xiong, L. Wang, A. Zomaya, A. Longo, "DeFusionNET: Defocus blur
   detection via recurrently fusing and refining discriminative multi-scale deep features", IEEE TPAMI
   44(2):955-968, 2022.
.. [2] C. Tang, X. Zhu, X. Liu, L. Wang, A. Zomaya, "DeFusionNET: Defocus blur detection via recurrently
   fusing and refining multi-scale deep features", CVPR 2019, pp. 2700-2709.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from baselines.nets import register_model
from baselines.nets.recipe import TrainRecipe
from baselines.nets.vgg import VGG16Taps, load_pretrained

#: TPAMI §3.5: constant lr, divided by 10 at 5k of 10k iterations.
DEFUSIONNET_RECIPE = TrainRecipe(
    optimizer="sgd", lr=1e-8, momentum=0.9, weight_decay=5e-4, poly_power=0.0, batch_size=4, iterations=10_000,
    input_size=320, augment=("rotate", "resize", "hflip"), lr_steps=(5_000,), lr_step_factor=0.1,
    source="TPAMI 2022 §3.5: SGD momentum 0.9, wd 5e-4, lr 1e-8 (x0.1 at 5k iterations), batch 4, 10k "
           "iterations, random rotate/resize/hflip (604 CUHK images -> 9,664). "
           "Reconstructed: input 320x320 (the size the paper times; training size not stated).",
)


def bilinear_kernel(stride: int) -> torch.Tensor:
    """The (2s, 2s) bilinear interpolation kernel that a stride-s transposed conv uses to upsample by s."""
    size = 2 * stride
    centre = stride - 0.5
    ramp = 1.0 - (torch.arange(size, dtype=torch.float32) - centre).abs() / stride
    return ramp[:, None] * ramp[None, :]


class SideBranch(nn.Module):
    """Two appended conv3x3 + ReLU layers on one VGG tap, then a deconvolution to the input size (§3, §3.5)."""

    def __init__(self, in_channels: int, width: int, stride: int) -> None:
        super().__init__()
        self.convs = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, padding=1), nn.ReLU(inplace=True),
        )
        self.up: nn.Module = nn.Identity()
        if stride > 1:
            deconv = nn.ConvTranspose2d(width, width, 2 * stride, stride=stride, padding=stride // 2,
                                        groups=width, bias=False)
            with torch.no_grad():
                deconv.weight.copy_(bilinear_kernel(stride).expand_as(deconv.weight))
            self.up = deconv

    def forward(self, x: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
        x = self.up(self.convs(x))
        if tuple(x.shape[-2:]) != tuple(size):  # input side not a multiple of the stride
            x = F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)
        return x


class ChannelAttention(nn.Module):
    """CAM, Eqs. (4)-(7): w = sigmoid(W_U (ReLU(W_D GAP(F)) + ReLU(W_D GMP(F)))), F^w = w ⊙ F."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = max(1, channels // reduction)
        self.down = nn.Conv2d(channels, hidden, 1)
        self.up = nn.Conv2d(hidden, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gap = x.mean(dim=(2, 3), keepdim=True)
        gmp = x.amax(dim=(2, 3), keepdim=True)
        w = torch.sigmoid(self.up(F.relu(self.down(gap)) + F.relu(self.down(gmp))))
        return x * w


class FeatureAdaptation(nn.Module):
    """FAM (§3.3, Fig. 6): X + X ⊙ sigmoid(conv_w(ReLU(conv_f(X)))), a learned weight per position."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.feature = nn.Conv2d(channels, channels, 3, padding=1)
        self.weight = nn.Conv2d(channels, 1, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + x * torch.sigmoid(self.weight(F.relu(self.feature(x))))


class FFRMStep(nn.Module):
    """One recurrent step of the FFRM (§3.1): Eqs. (1)-(3) with CAM and FAM, plus one prediction per layer."""

    def __init__(self, n: int, m: int, width: int, reduction: int, refine_kernel: int) -> None:
        super().__init__()
        self.m = m
        self.cam_shallow = ChannelAttention(m * width, reduction)
        self.cam_deep = ChannelAttention((n - m) * width, reduction)
        self.fuse_shallow = nn.Conv2d(m * width, width, 1)
        self.fuse_deep = nn.Conv2d((n - m) * width, width, 1)
        self.fam_shallow = FeatureAdaptation(width)
        self.fam_deep = FeatureAdaptation(width)
        pad = refine_kernel // 2
        self.refine = nn.ModuleList(nn.Conv2d(2 * width, width, refine_kernel, padding=pad) for _ in range(n))
        self.predict = nn.ModuleList(nn.Conv2d(width, 1, 1) for _ in range(n))

    def forward(self, feats: list[torch.Tensor]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        m = self.m
        fshf = F.relu(self.fuse_shallow(self.cam_shallow(torch.cat(feats[:m], dim=1))))  # Eq. (1)
        fsef = F.relu(self.fuse_deep(self.cam_deep(torch.cat(feats[m:], dim=1))))  # Eq. (2)
        fshf, fsef = self.fam_shallow(fshf), self.fam_deep(fsef)
        # Eq. (3): shallow layers take the semantic FSEF, deep layers the detailed FSHF.
        new = [F.relu(conv(torch.cat([f, fsef if i < m else fshf], dim=1)))
               for i, (conv, f) in enumerate(zip(self.refine, feats, strict=True))]
        return new, [head(f) for head, f in zip(self.predict, new, strict=True)]


class DeFusionNet(nn.Module):
    """DeFusionNet (TPAMI): VGG16 taps -> side branches -> ``steps`` FFRM steps -> fused map (Eq. 8).

    Parameters
    ----------
    width : int
        Channels of every side feature, FSHF and FSEF (not stated in the paper).
    steps : int
        Recurrent steps t (paper: 3).
    shallow : int
        Number m of shallow layers among the n = 6 taps (paper: 3).
    reduction : int
        CAM channel reduction of W_D (not stated; 16 as in the cited RCAN/SE).
    refine_kernel : int
        Kernel of the Eq. (3) refinement conv (not stated; 1, see the module docstring).

    Notes
    -----
    Train mode returns ``[final, B_1^1, ..., B_6^1, ..., B_1^t, ..., B_6^t]`` logits at input size
    (1 + 6·t maps); eval mode returns sigmoid(final) = P(blur).
    """

    def __init__(self, width: int = 64, steps: int = 3, shallow: int = 3, reduction: int = 16,
                 refine_kernel: int = 1) -> None:
        super().__init__()
        self.backbone = VGG16Taps()
        n = len(self.backbone.taps)
        if not 0 < shallow < n or steps < 1:
            raise ValueError(f"DeFusionNet needs 0 < shallow < {n} and steps >= 1, got shallow={shallow}, "
                             f"steps={steps}")
        self.sides = nn.ModuleList(SideBranch(c, width, s)
                                   for c, s in zip(self.backbone.channels, self.backbone.strides, strict=True))
        self.ffrm = nn.ModuleList(FFRMStep(n, shallow, width, reduction, refine_kernel) for _ in range(steps))
        self.fuse = nn.Conv2d(n, 1, 1)
        with torch.no_grad():  # start as the mean of the last-step maps
            self.fuse.weight.fill_(1.0 / n)
            cast(torch.Tensor, self.fuse.bias).zero_()
        self.recipe = DEFUSIONNET_RECIPE

    def forward(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        size = x.shape[-2:]
        feats = [side(tap, size) for side, tap in zip(self.sides, self.backbone(x), strict=True)]
        side_logits: list[torch.Tensor] = []
        for step in self.ffrm:
            feats, logits = step(feats)
            side_logits += logits
        final = self.fuse(torch.cat(logits, dim=1))  # Eq. (8) without its ReLU (see module docstring)
        if self.training:
            return [final, *side_logits]
        return torch.sigmoid(final)

    def loss(self, outputs: Sequence[torch.Tensor], target: torch.Tensor) -> torch.Tensor:
        """Eq. (10) with all weights 1; see :func:`defusionnet_loss`."""
        return defusionnet_loss(outputs, target)


def defusionnet_loss(outputs: Sequence[torch.Tensor], target: torch.Tensor,
                     weights: Sequence[float] | None = None) -> torch.Tensor:
    """L = λ_f L_f + Σ_i Σ_j λ_i^j L_i^j (Eq. 10), each L the pixel-summed cross entropy of Eq. (9).

    Each term is ``BCEWithLogits`` summed over the pixels of an image and averaged over the batch (Caffe's
    per-image normalisation; the summed form is what makes the paper's lr 1e-8 usable). All λ = 1 unless
    ``weights`` (one per output) is given. ``target`` is the (B, 1, H, W) blur mask in [0, 1].

    References
    ----------
    .. [1] Tang et al., TPAMI 2022, §3.5, Eqs. (9)-(10).
    """
    if not outputs:
        raise ValueError("defusionnet_loss got no outputs; pass the train-mode list of logit maps.")
    weights = [1.0] * len(outputs) if weights is None else list(weights)
    if len(weights) != len(outputs):
        raise ValueError(f"{len(weights)} loss weights for {len(outputs)} outputs; give one weight per output.")
    total = outputs[0].new_zeros(())
    for w, out in zip(weights, outputs, strict=True):
        if out.shape != target.shape:
            raise ValueError(f"output shape {tuple(out.shape)} != target shape {tuple(target.shape)}; the target "
                             "must be a (B, 1, H, W) mask at input size.")
        total = total + w * F.binary_cross_entropy_with_logits(out, target, reduction="sum") / target.shape[0]
    return total


@register_model(recipe=DEFUSIONNET_RECIPE)  # test code not public: the training pipeline
def defusionnet(pretrained: bool | str | Path = False, **kwargs) -> DeFusionNet:
    """Build :class:`DeFusionNet`; ``pretrained`` as in :func:`baselines.nets.vgg.load_pretrained`."""
    model = DeFusionNet(**kwargs)
    load_pretrained(model, pretrained)
    return model
