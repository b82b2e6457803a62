"""Small building blocks shared by the ResNeXt/ResNeSt nets (BR²Net, DFFNet).

References
----------
.. [1] J. Hu, L. Shen, G. Sun, "Squeeze-and-excitation networks", CVPR 2018 (channel attention).
.. [2] C. Tang, X. Liu, S. An, P. Wang, "BR²Net: Defocus blur detection via a bidirectional channel attention
   residual refining network", IEEE TMM 23:624-635, 2021 (CAM).
.. [3] Y. Jin et al., "Depth and DOF cues make a better defocus blur detector", ICME 2023 (ConvBN without ReLU).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ConvBN(nn.Module):
    """``BN(conv(x))`` with a bias-free convolution and **no** activation.

    The D-DFFNet code's ``BasicConv2d`` builds a ReLU but never calls it; this block keeps that behaviour so
    that the authors' weights give the authors' outputs. Attribute names (``conv``, ``bn``) follow theirs.
    """

    def __init__(self, c_in: int, c_out: int, kernel_size: int | tuple[int, int], padding: int | tuple[int, int] = 0,
                 dilation: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel_size, padding=padding, dilation=dilation, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x))


class ChannelAttention(nn.Module):
    """CAM: ``x * sigmoid(W2 relu(W1 GAP(x)))`` with 1x1 convolutions (with bias), ``W1: C -> C/r``.

    This is the RCAN/SE-style ``CALayer`` of BR²Net's code (reduction ``r = 16``) [1]_, [2]_.
    """

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(channels, channels // reduction, 1)
        self.fc2 = nn.Conv2d(channels // reduction, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = torch.sigmoid(self.fc2(F.relu(self.fc1(F.adaptive_avg_pool2d(x, 1)))))
        return x * w


def resize(x: torch.Tensor, size: torch.Size | tuple[int, int], align_corners: bool = False) -> torch.Tensor:
    """Bilinear resize of a (B, C, h, w) map to ``size`` (H, W); a no-op when the size already matches."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=align_corners)
