"""DFFNet (and the D-DFFNet stage-1 loss): ResNeSt-101 + RFB + dense feature fusion with side outputs.

Exact re-implementation of ``PDnet_ResNest_4F_SL_LA`` from ``yuxinjin-whu/D-DFFNet`` @d75c1da [1]_:

1. ResNeSt-101 trunk; ``x1..x4`` = ``layer1..layer4`` (256/512/1024/2048 ch at 1/4, 1/8, 1/16, 1/32).
2. One RFB per level (Cin -> 32): branches 1x1 | 1x1,(1x3),(3x1),3x3 d3 | ... (1x5),(5x1), d5 | (1x7),(7x1), d7,
   ``relu(ConvBN3x3(cat) + ConvBN1x1(x))``. Every ConvBN has no ReLU (``BasicConv2d`` never calls it).
3. DFFM, with ``U`` = bilinear x2 (``align_corners=True``) and ``d32..d4`` the RFB outputs::

       f16 = up1(U d32) * d16
       f8  = up2(U^2 d32) * up3(U d16) * d8
       f4  = up2(U^3 d32) * up3(U^2 d16) * up6(U d8) * d4        (up2, up3 shared)
       g16 = up4(U d32)
       s_k = side_k(.) for (g16, f16, f8, f4);  each feature *= sigmoid(conv3x3(1->32)(s_k))  (spatial attention)
       a16 = cat2([f16, g16]);  a8 = cat3([f8, up5(U a16)]);  a4 = cat4([f4, up7(U a8)])
       logits = classifier(head(a4)), upsampled x4 (``align_corners=True``).

4. Loss (stage 1, ``train_single.py``): ``ECE(P) + sum_k ECE(up(s_k))`` with ``ECE = BCE + 0.5 * DOF-edge dice``.

``U`` is implemented as "resize to the next level's size", identical to x2 when the input side is a multiple
of 32 and still defined otherwise. Training outputs (logits at input size): ``[P, s1, s2, s3, s4]``, the sides
resized with ``align_corners=False`` exactly where the authors' loss resizes them. Evaluation: ``sigmoid(P)``.

Polarity: this class outputs P(blur) and is trained on blur = 1 masks. The authors' D-DFFNet predicts in-focus
= 1 (``gts = 1 - gts`` for CUHK); their checkpoints are loaded with ``logit_sign = -1`` (see
:mod:`baselines.nets.keymap`), which negates every output logit so the maps are P(blur) again.

References
----------
.. [1] Y. Jin, M. Qian, J. Xiong, N. Xue, G.-S. Xia, "Depth and DOF cues make a better defocus blur detector",
   ICME 2023 (arXiv:2306.11334). Code: github.com/yuxinjin-whu/D-DFFNet.
.. [2] S. Liu, D. Huang, Y. Wang, "Receptive field block net for accurate and fast object detection", ECCV 2018.
.. [3] X. Zheng et al., "Parsing very high resolution urban scene images by learning deep ConvNets with
   edge-aware loss", ISPRS J. 2020 (EaNet edge loss).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from baselines.nets import keymap, register_model
from baselines.nets.backbones import create_backbone
from baselines.nets.blocks import ConvBN, resize
from baselines.nets.recipe import TrainRecipe

DFFNET_RECIPE = TrainRecipe(
    optimizer="adam", lr=1e-4, momentum=0.0, weight_decay=0.0, poly_power=0.9, batch_size=6, iterations=7400,
    input_size=320, augment=("hflip", "resize", "color_jitter"), grad_clamp=0.5,
    source="yuxinjin-whu/D-DFFNet train_single.py/data.py: Adam lr 1e-4, poly 0.9 per epoch "
           "lr*(1-e/80)^0.9 for epochs 1..74 (here per iteration), batch 6, 74 epochs x 100 batches (CUHK-TR-1, "
           "drop_last) = 7400 iterations, hflip p=0.5, resize to 320 (GT nearest), ColorJitter(0.1,0.1,0.1), "
           "elementwise gradient clamp +-0.5, seed 42",
)

DOF_EDGE_BETA = 0.5


class RFB(nn.Module):
    """RFB-like multi-scale block of the D-DFFNet code (``model/ours/RFB.py``), ``Cin -> Cout``."""

    def __init__(self, c_in: int, c_out: int = 32) -> None:
        super().__init__()
        self.branch0 = nn.Sequential(ConvBN(c_in, c_out, 1))
        self.branch1 = self._branch(c_in, c_out, 3)
        self.branch2 = self._branch(c_in, c_out, 5)
        self.branch3 = self._branch(c_in, c_out, 7)
        self.conv_cat = ConvBN(4 * c_out, c_out, 3, padding=1)
        self.conv_res = ConvBN(c_in, c_out, 1)

    @staticmethod
    def _branch(c_in: int, c_out: int, k: int) -> nn.Sequential:
        return nn.Sequential(
            ConvBN(c_in, c_out, 1),
            ConvBN(c_out, c_out, (1, k), padding=(0, k // 2)),
            ConvBN(c_out, c_out, (k, 1), padding=(k // 2, 0)),
            ConvBN(c_out, c_out, 3, padding=k, dilation=k),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cat = torch.cat([self.branch0(x), self.branch1(x), self.branch2(x), self.branch3(x)], 1)
        return F.relu(self.conv_cat(cat) + self.conv_res(x))


def _up(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """The authors' ``nn.Upsample(scale_factor=2, bilinear, align_corners=True)`` as "resize to ``ref``"."""
    return resize(x, ref.shape[-2:], align_corners=True)


class DenseFeatureFusion(nn.Module):
    """DFFM with side classifiers and spatial attention (``aggregation_4feat_side_loss_sa``), width ``c``."""

    up1: ConvBN  # set by name in __init__ (the authors' state-dict keys)
    up2: ConvBN
    up3: ConvBN
    up4: ConvBN
    up5: ConvBN
    up6: ConvBN
    up7: ConvBN
    cat2: ConvBN
    cat3: ConvBN
    cat4: ConvBN

    def __init__(self, c: int = 32) -> None:
        super().__init__()
        for n, width in ((1, c), (2, c), (3, c), (4, c), (5, 2 * c), (6, c), (7, 3 * c)):
            setattr(self, f"up{n}", ConvBN(width, width, 3, padding=1))
        for n in (2, 3, 4):
            setattr(self, f"cat{n}", ConvBN(n * c, n * c, 3, padding=1))
        self.head = ConvBN(4 * c, 4 * c, 3, padding=1)
        self.classifier = nn.Conv2d(4 * c, 1, 1)
        self.side = nn.ModuleList(nn.Conv2d(c, 1, 1) for _ in range(4))
        self.attention = nn.ModuleList(nn.Conv2d(1, c, 3, padding=1, bias=False) for _ in range(4))

    def forward(self, d32: torch.Tensor, d16: torch.Tensor, d8: torch.Tensor,
                d4: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Return the 1/4-resolution logits and the side logits ``[s1 (1/16), s2 (1/16), s3 (1/8), s4 (1/4)]``."""
        u16 = _up(d32, d16)
        u8 = _up(u16, d8)
        d16_8 = _up(d16, d8)
        f16 = self.up1(u16) * d16
        f8 = self.up2(u8) * self.up3(d16_8) * d8
        f4 = self.up2(_up(u8, d4)) * self.up3(_up(d16_8, d4)) * self.up6(_up(d8, d4)) * d4
        feats = [self.up4(u16), f16, f8, f4]
        sides = [side(f) for side, f in zip(self.side, feats, strict=True)]
        g16, f16, f8, f4 = (torch.sigmoid(att(s)) * f for att, s, f in zip(self.attention, sides, feats, strict=True))
        a16 = self.cat2(torch.cat((f16, g16), 1))
        a8 = self.cat3(torch.cat((f8, self.up5(_up(a16, f8))), 1))
        a4 = self.cat4(torch.cat((f4, self.up7(_up(a8, f4))), 1))
        return self.classifier(self.head(a4)), sides


class DFFNet(nn.Module):
    """DFFNet; see the module docstring. ``forward`` follows the contract of :mod:`baselines.nets`."""

    recipe = DFFNET_RECIPE
    logit_sign: torch.Tensor  # a buffer (saved with the model)

    def __init__(self, pretrained: bool | str | Path = False, channel: int = 32) -> None:
        super().__init__()
        self.backbone = create_backbone("resnest101", pretrained=pretrained)
        self.rfb = nn.ModuleList(RFB(c, channel) for c in self.backbone.channels[1:])
        self.dffm = DenseFeatureFusion(channel)
        # +1: logits are P(blur) logits; -1 for the authors' in-focus = 1 checkpoints (kept in the state dict)
        self.register_buffer("logit_sign", torch.tensor(1.0))

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Raw trunk features ``[x4, x3, x2, x1]`` (deepest first), the ones D-DFFNet distils."""
        return self.backbone(x)[:0:-1]

    def forward_with_features(self, x: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Training logits ``[P, s1..s4]`` at input size and the trunk features ``[x4, x3, x2, x1]``."""
        feats = self.features(x)
        d32, d16, d8, d4 = (rfb(f) for rfb, f in zip(reversed(self.rfb), feats, strict=True))
        logits, sides = self.dffm(d32, d16, d8, d4)
        size = x.shape[-2:]
        out = [resize(logits, size, align_corners=True), *(resize(s, size) for s in sides)]
        return [o * self.logit_sign for o in out], feats

    def forward(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        outputs, _ = self.forward_with_features(x)
        return outputs if self.training else torch.sigmoid(outputs[0])

    def loss(self, outputs: list[torch.Tensor], target: torch.Tensor) -> torch.Tensor:
        """Stage 1: ``ECE(P) + sum_k ECE(s_k)`` (``train_single.py``)."""
        return detection_loss(outputs, target, final_weight=1.0)


def dof_edge_loss(logits: torch.Tensor, target: torch.Tensor, alpha: float = 1.0, smooth: float = 1.0) -> torch.Tensor:
    """DOF-edge loss: ``sum_b [1 - (2 sum(e_p e_g) + 1) / (sum e_p^2 + sum e_g^2 + 1)]``.

    ``e_g = [L * g != 0]`` and ``e_p = r^2 / (r^2 + alpha)`` with ``r = L * p``, ``L`` the 3x3 kernel of ones with
    centre -8 (zero padding), summed (not averaged) over the batch as in the authors' ``BinaryDiceLoss``.
    Computed on the **in-focus** maps ``p = 1 - sigmoid(logits)``, ``g = 1 - target`` like the authors (they
    train on in-focus = 1); with zero padding the border response depends on the polarity.
    """
    kernel = torch.ones(1, 1, 3, 3, dtype=logits.dtype, device=logits.device)
    kernel[..., 1, 1] = -8.0
    p = torch.sigmoid(-logits)
    g = 1.0 - target.to(logits.dtype)
    edge_g = (F.conv2d(g, kernel, padding=1) != 0).to(logits.dtype)
    r2 = F.conv2d(p, kernel, padding=1).pow(2)
    edge_p = r2 / (r2 + alpha)
    num = 2 * (edge_p * edge_g).flatten(1).sum(1) + smooth
    den = (edge_p.pow(2) + edge_g.pow(2)).flatten(1).sum(1) + smooth
    return (1 - num / den).sum()


def ece_loss(logits: torch.Tensor, target: torch.Tensor, beta: float = DOF_EDGE_BETA) -> torch.Tensor:
    """``BCE(logits, target) + beta * dof_edge_loss(logits, target)`` (the authors' ``ECELoss``, beta = 0.5)."""
    return F.binary_cross_entropy_with_logits(logits, target) + beta * dof_edge_loss(logits, target)


def detection_loss(outputs: list[torch.Tensor], target: torch.Tensor, final_weight: float) -> torch.Tensor:
    """``final_weight * ECE(P) + sum_k ECE(s_k)`` over ``outputs = [P, s1..s4]`` (1.0 in stage 1, 1.1 in 2)."""
    if len(outputs) != 5:
        raise ValueError(f"DFFNet losses expect the 5 training outputs [P, s1..s4], got {len(outputs)}")
    return final_weight * ece_loss(outputs[0], target) + sum(ece_loss(s, target) for s in outputs[1:])


def load_dffnet_checkpoint(model: DFFNet, path: str | Path) -> None:
    """Load a DFFNet checkpoint: ours, a D-DFFNet distiller's (``student.*``), or the authors' (``resnest.*``)."""
    state = keymap.read_state_dict(path)
    if any(k.startswith("student.") for k in state):
        state = {k[8:]: v for k, v in state.items() if k.startswith("student.")}
    if any(k.startswith("resnest.") for k in state):
        state = keymap.from_authors(state, keymap.ddffnet_keymap(), model.state_dict())
    model.load_state_dict(state, strict=True)


@register_model(recipe=DFFNET_RECIPE, input_size=320, library="pil", upsample="nearest", quantise="round",
                source="D-DFFNet data.py (mode='val') and test.py; rounding of cv2.imwrite")
def dffnet(pretrained: bool | str | Path = False, **kwargs: Any) -> nn.Module:
    """Factory for the registry: :class:`DFFNet`.

    ``pretrained`` is ``False``, ``True`` (ImageNet ResNeSt-101) or a path to a full checkpoint (ours, a
    distiller's or the authors'). The D-DFFNet stage-2 distiller is its own registered model, ``ddffnet``
    (:func:`baselines.nets.ddffnet.ddffnet_distiller`).
    """
    if isinstance(pretrained, (str, Path)):
        model = DFFNet(pretrained=False, **kwargs)
        load_dffnet_checkpoint(model, pretrained)
        return model
    return DFFNet(pretrained=bool(pretrained), **kwargs)
