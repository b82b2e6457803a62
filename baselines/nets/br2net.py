"""BR²Net: bidirectional channel-attention residual refining network for defocus blur detection.

Exact re-implementation of the authors' ``model.py`` (``ChangTang/BR2Net`` @ce8523c) [1]_:

1. ResNeXt-101 32x4d trunk ``F1..F5`` = ``layer0`` (stem after max-pool, 64 ch, 1/4), ``layer1..4``.
2. CAM on each ``F_k``: ``F_k * sigmoid(W2 relu(W1 GAP(F_k)))`` (reduction 16).
3. L2H pathway at 1/4: ``O_0 = conv1x1(CA_0)``, ``O_t = O_{t-1} + RLRM_t(cat(O_{t-1}, up(CA_t)))``, t = 1..4.
4. H2L pathway at 1/32: the same from ``CA_4`` down to ``CA_0``.
5. RLRM = conv3x3(->128) BN PReLU conv3x3(128) BN PReLU conv1x1(->1): it learns the residual of the logit map.
6. All 10 maps are upsampled (bilinear, ``align_corners=False``) to the input; fusion = (L2H_4 + H2L_4) / 2.

Training loss: BCE-with-logits summed with weight 1 over the 11 maps. Evaluation output: ``sigmoid(fusion)``,
P(blur) (BR²Net is trained on CUHK masks with blur = white, no inversion). The paper text describes the fusion
as concat + conv + ReLU; the released code averages the two logit maps, which is what is reproduced here.

References
----------
.. [1] C. Tang, X. Liu, S. An, P. Wang, "BR²Net: Defocus blur detection via a bidirectional channel attention
   residual refining network", IEEE Trans. Multimedia 23:624-635, 2021. Code: github.com/ChangTang/BR2Net.
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from baselines.nets import keymap, register_model
from baselines.nets.backbones import create_backbone
from baselines.nets.blocks import ChannelAttention, resize
from baselines.nets.recipe import TrainRecipe

#: ``ChangTang/BR2Net:train.py``; weight lr 1e-3 (wd 5e-4) and bias lr 2e-3 (no wd) via :meth:`param_groups`
BR2NET_RECIPE = TrainRecipe(
    optimizer="sgd", lr=1e-3, momentum=0.9, weight_decay=5e-4, poly_power=0.9, batch_size=8, iterations=6000,
    input_size=300, augment=("random_crop", "hflip", "rotate10"),
    source="ChangTang/BR2Net train.py: SGD m=0.9, lr 1e-3 (biases 2e-3, no wd), wd 5e-4, poly 0.9, batch 8, "
           "6000 iterations (infer.py loads a 20000-iteration snapshot), RandomCrop 300 (resize if smaller), "
           "hflip p=0.5, rotation +-10 deg; seed 2019",
)


class RLRM(nn.Module):
    """Residual learning and refining module: ``O_t = O_{t-1} + body(cat(O_{t-1}, feature))``."""

    def __init__(self, feat_channels: int, width: int = 128) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(feat_channels + 1, width, 3, padding=1), nn.BatchNorm2d(width), nn.PReLU(),
            nn.Conv2d(width, width, 3, padding=1), nn.BatchNorm2d(width), nn.PReLU(),
            nn.Conv2d(width, 1, 1),
        )

    def forward(self, prev: torch.Tensor, feature: torch.Tensor) -> torch.Tensor:
        return self.body(torch.cat((prev, resize(feature, prev.shape[-2:])), 1)) + prev


class BR2Net(nn.Module):
    """BR²Net; see the module docstring. ``forward`` follows the contract of :mod:`baselines.nets`.

    Training output (11 logit maps at input size): ``[fusion, L2H_0..L2H_4, H2L_0..H2L_4]``.
    """

    recipe = BR2NET_RECIPE

    def __init__(self, pretrained: bool | str | Path = False) -> None:
        super().__init__()
        self.backbone = create_backbone("resnext101_32x4d", pretrained=pretrained)
        chans = self.backbone.channels  # 64, 256, 512, 1024, 2048
        self.cam = nn.ModuleList(ChannelAttention(c, 16) for c in chans)
        self.l2h_init = nn.Conv2d(chans[0], 1, 1)
        self.l2h = nn.ModuleList(RLRM(c) for c in chans[1:])
        self.h2l_init = nn.Conv2d(chans[4], 1, 1)
        self.h2l = nn.ModuleList(RLRM(c) for c in reversed(chans[:4]))

    def pathways(self, x: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """The 5 L2H and 5 H2L logit maps at their own resolutions (1/4 and 1/32)."""
        feats = [cam(f) for cam, f in zip(self.cam, self.backbone(x), strict=True)]
        l2h = [self.l2h_init(feats[0])]
        for rlrm, f in zip(self.l2h, feats[1:], strict=True):
            l2h.append(rlrm(l2h[-1], f))
        h2l = [self.h2l_init(feats[4])]
        for rlrm, f in zip(self.h2l, reversed(feats[:4]), strict=True):
            h2l.append(rlrm(h2l[-1], f))
        return l2h, h2l

    def forward(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        l2h, h2l = self.pathways(x)
        size = x.shape[-2:]
        l2h = [resize(o, size) for o in l2h]
        h2l = [resize(o, size) for o in h2l]
        fusion = (l2h[4] + h2l[4]) / 2
        if self.training:
            return [fusion, *l2h, *h2l]
        return torch.sigmoid(fusion)

    def loss(self, outputs: list[torch.Tensor], target: torch.Tensor) -> torch.Tensor:
        """``sum_i BCE(outputs_i, target)`` over the 11 maps, every weight 1 (``train.py``)."""
        if len(outputs) != 11:
            raise ValueError(f"BR2Net.loss expects the 11 training outputs, got {len(outputs)}")
        return cast(torch.Tensor, sum(F.binary_cross_entropy_with_logits(o, target) for o in outputs))

    def param_groups(self, lr: float, weight_decay: float) -> list[dict]:
        """The authors' two SGD groups: biases at ``2 lr`` without weight decay, the rest at ``lr``, ``wd``."""
        bias = [p for n, p in self.named_parameters() if n.endswith("bias")]
        other = [p for n, p in self.named_parameters() if not n.endswith("bias")]
        return [{"params": bias, "lr": 2 * lr, "weight_decay": 0.0},
                {"params": other, "lr": lr, "weight_decay": weight_decay}]


def load_br2net_checkpoint(model: BR2Net, path: str | Path) -> None:
    """Load a full BR²Net checkpoint, in our names or the authors' (``layer0.0.weight``, ``predictL2H0`` ...)."""
    state = keymap.read_state_dict(path)
    if any(k.startswith("predictL2H0.") for k in state):
        state = keymap.from_authors(state, keymap.br2net_keymap(), model.state_dict())
    model.load_state_dict(state, strict=True)


@register_model(recipe=BR2NET_RECIPE, input_size=0, library="pil", upsample="bilinear", quantise="floor",
                source="BR2Net infer.py (native size, ToPILImage)")
def br2net(pretrained: bool | str | Path = False) -> BR2Net:
    """Factory for the registry.

    ``pretrained``: ``False`` random init; ``True`` ImageNet trunk (download); a path to a full BR²Net
    checkpoint (ours or the authors'). For a trunk-only file use ``BR2Net(pretrained=path)``.
    """
    if isinstance(pretrained, (str, Path)):
        model = BR2Net(pretrained=False)
        load_br2net_checkpoint(model, pretrained)
        return model
    return BR2Net(pretrained=bool(pretrained))
