"""ResNet-family trunks with multi-scale outputs: ResNeXt-101 32x4d, ResNeSt-101, MiDaS' ResNeXt-101 32x8d.

A trunk returns ``[c1, c2, c3, c4, c5]``: the stem after max-pooling (stride 4) and the four residual stages
(strides 4, 8, 16, 32). The stem output is what BR²Net calls ``layer0``; timm's ``features_only`` taps the stem
*before* the max-pool, so the trunk keeps timm's modules (and therefore timm's state-dict names) but has its own
forward. Parameter counts exclude the classifier, as in the authors' code.

=========================  ==========================  =====================================  =========
name                       timm architecture           weights for ``pretrained=True``        params
=========================  ==========================  =====================================  =========
``resnext101_32x4d``       ``resnext101_32x4d``        ``gluon_in1k`` (ImageNet-1k)           42.13 M
``resnest101``             ``resnest101e``             ``in1k`` (= ``resnest.torch``)         46.23 M
``midas_resnext101_32x8d`` ``resnext101_32x8d``        ``fb_wsl_ig1b_ft_in1k`` (WSL-Images)   86.74 M
=========================  ==========================  =====================================  =========

BR²Net's trunk is the Torch7 ``fb.resnet`` ResNeXt-101 32x4d converted to PyTorch (R3Net's file): a plain 7x7
stem, stride on the grouped 3x3, 1x1 projection shortcuts; timm's ``resnext101_32x4d`` has the same layers and
count (42.13 M) but its ImageNet weights are Gluon's, not the Torch7 ones (pass the converted file as a path to
use those). D-DFFNet's ResNeSt-101 (radix 2, deep stem 64, avg-down, avd after the 3x3, no avd in the first
block of ``layer1``) is timm's ``resnest101e`` layer for layer, with identical parameter names.

References
----------
.. [1] S. Xie et al., "Aggregated residual transformations for deep neural networks", CVPR 2017.
.. [2] H. Zhang et al., "ResNeSt: Split-attention networks", CVPRW 2022.
.. [3] R. Ranftl et al., "Towards robust monocular depth estimation", TPAMI 2022 (MiDaS v2.1 encoder).
.. [4] D. Mahajan et al., "Exploring the limits of weakly supervised pretraining", ECCV 2018 (WSL weights).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from baselines.nets import keymap


@dataclass(frozen=True)
class BackboneSpec:
    """One trunk: the timm architecture, the weight tag used for ``pretrained=True``, and its channels."""

    timm_name: str
    weights_tag: str
    channels: tuple[int, int, int, int, int]  # stem, layer1..layer4


BACKBONES: dict[str, BackboneSpec] = {
    "resnext101_32x4d": BackboneSpec("resnext101_32x4d", "gluon_in1k", (64, 256, 512, 1024, 2048)),
    "resnest101": BackboneSpec("resnest101e", "in1k", (128, 256, 512, 1024, 2048)),
    "midas_resnext101_32x8d": BackboneSpec("resnext101_32x8d", "fb_wsl_ig1b_ft_in1k", (64, 256, 512, 1024, 2048)),
}


class ResNetTrunk(nn.Module):
    """The convolutional part of a timm ResNet-family model; ``forward`` gives the five multi-scale maps."""

    def __init__(self, net: Any, channels: tuple[int, ...]) -> None:
        super().__init__()
        self.conv1, self.bn1, self.act1, self.maxpool = net.conv1, net.bn1, net.act1, net.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = net.layer1, net.layer2, net.layer3, net.layer4
        self.channels = tuple(channels)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        c1 = self.maxpool(self.act1(self.bn1(self.conv1(x))))
        c2 = self.layer1(c1)
        c3 = self.layer2(c2)
        c4 = self.layer3(c3)
        return [c1, c2, c3, c4, self.layer4(c4)]


def _hub_reachable(host: str = "huggingface.co") -> bool:
    """Cheap online check so that an offline machine fails at once instead of after ~1 min of retries."""
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        return False
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY")):
        return True  # name resolution may be the proxy's job
    try:
        socket.getaddrinfo(host, 443)
    except OSError:
        return False
    return True


class WeightsUnavailableError(RuntimeError):
    """ImageNet weights asked for with ``pretrained=True`` cannot be downloaded (offline machine, hub down)."""


def offline_advice(weights: str, url_or_tag: str) -> str:
    """What to pass instead of a download, for the command line and for Python."""
    return (f"On a machine with internet save {weights} ({url_or_tag}) as a file, then pass it: "
            f"`dbdbench train --pretrained FILE` (Python: pretrained='path/to/FILE'); or train from random "
            f"weights with `--pretrained none` (Python: pretrained=False).")


def _download_error(name: str, spec: BackboneSpec, cause: object) -> WeightsUnavailableError:
    tag = f"{spec.timm_name}.{spec.weights_tag}"
    saved = f"the state_dict() of timm.create_model('{tag}', pretrained=True)"
    return WeightsUnavailableError(
        f"Cannot download the ImageNet weights of backbone {name!r} (timm '{tag}' from the Hugging Face hub): "
        f"{cause}. " + offline_advice(saved, f"timm '{tag}'")
    )


def _build(spec: BackboneSpec, download: bool) -> nn.Module:
    import timm  # imported lazily: listing models must not need timm

    name = f"{spec.timm_name}.{spec.weights_tag}" if download else spec.timm_name
    return timm.create_model(name, pretrained=download, num_classes=0, global_pool="")


def create_backbone(name: str, pretrained: bool | str | Path = False) -> ResNetTrunk:
    """Build a trunk from :data:`BACKBONES`.

    Parameters
    ----------
    name : str
        A key of :data:`BACKBONES`.
    pretrained : bool or path
        ``False``: random init; ``True``: download the weights named in :data:`BACKBONES` (a clear
        ``RuntimeError`` when offline); a path: a local file with timm/torchvision names, the Torch7-converted
        ``resnext_101_32x4d.pth`` of R3Net/BR²Net, or a MiDaS v2.1 checkpoint (see :mod:`baselines.nets.keymap`).
    """
    if name not in BACKBONES:
        raise KeyError(f"Unknown backbone {name!r}; valid: {', '.join(sorted(BACKBONES))}")
    spec = BACKBONES[name]
    download = pretrained is True
    if download and not _hub_reachable():
        raise _download_error(name, spec, "the hub host cannot be resolved (offline?)")
    try:
        net = _build(spec, download)
    except Exception as err:  # timm/hub raise many types (OSError, LocalEntryNotFoundError, HTTPError ...)
        if download:
            raise _download_error(name, spec, err) from err
        raise
    trunk = ResNetTrunk(net, spec.channels)
    if isinstance(pretrained, (str, Path)):
        load_trunk_weights(trunk, pretrained)
    return trunk


def load_trunk_weights(trunk: ResNetTrunk, path: str | Path) -> None:
    """Load a local trunk checkpoint strictly, converting the Torch7-ResNeXt or MiDaS key layouts if present."""
    state = keymap.read_state_dict(path)
    if "4.0.0.0.0.0.weight" in state:
        state = keymap.from_authors(state, keymap.torch7_resnext_keymap(), trunk.state_dict())
    elif any(k.startswith("pretrained.layer1.") for k in state):
        state = keymap.from_authors(state, keymap.midas_encoder_keymap(), trunk.state_dict())
    state = {k: v for k, v in state.items() if not k.startswith("fc.")}
    missing, unexpected = trunk.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise RuntimeError(f"{path}: does not fit this trunk; missing {missing[:5]} ({len(missing)}), "
                           f"unexpected {unexpected[:5]} ({len(unexpected)})")
