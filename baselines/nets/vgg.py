"""VGG16 convolutional trunk with named feature taps (conv1_2 ... conv5_3, pool5).

The trunk is the 13-conv / 5-pool ``features`` part of VGG16 (configuration "D") with the fully connected
layers dropped, laid out with the same module indices as ``torchvision.models.vgg16().features`` so that
torchvision's ImageNet state dict loads key for key. Every tap is taken after the ReLU of its conv layer
(``conv1_2`` is ``relu1_2``), as in HED/DSS-style Caffe nets; ``pool5`` is the last max pool (stride 32).

Pooling rounds down (PyTorch default; Caffe rounds up), so an input side that is not a multiple of 32 gives
slightly smaller deep maps than Caffe would; nets built on the taps resize to the input size at the end.

References
----------
.. [1] K. Simonyan and A. Zisserman, "Very deep convolutional networks for large-scale image recognition",
   ICLR 2015.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import cast

import torch
from torch import nn

from baselines.checkpoint import read_weights
from baselines.nets.backbones import WeightsUnavailableError, offline_advice

#: Output channels of the convs of each VGG16 stage (configuration "D").
VGG16_STAGES: tuple[tuple[int, ...], ...] = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))
#: Tap name -> (index in ``features`` of the module whose output is the tap, channels, stride).
VGG16_TAPS: dict[str, tuple[int, int, int]] = {
    "conv1_2": (3, 64, 1),
    "conv2_2": (8, 128, 2),
    "conv3_3": (15, 256, 4),
    "conv4_3": (22, 512, 8),
    "conv5_3": (29, 512, 16),
    "pool5": (30, 512, 32),
}
#: Number of weights of the 13 conv layers (weights + biases): 14,714,688.
VGG16_TRUNK_PARAMS = 14_714_688
_WEIGHTS_URL = "https://download.pytorch.org/models/vgg16-397923af.pth"


def _make_features() -> nn.Sequential:
    """conv3x3-ReLU stacks and 2x2 max pools, indexed exactly like torchvision's ``vgg16().features``."""
    layers: list[nn.Module] = []
    c_in = 3
    for stage in VGG16_STAGES:
        for c_out in stage:
            layers += [nn.Conv2d(c_in, c_out, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            c_in = c_out
        layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(*layers)


class VGG16Taps(nn.Module):
    """VGG16 trunk returning the feature maps at the requested taps, shallow to deep.

    Parameters
    ----------
    taps : sequence of str
        Names from :data:`VGG16_TAPS`, in increasing depth.

    Attributes
    ----------
    channels, strides : tuple of int
        Channels and down-sampling factor of each returned map.
    """

    def __init__(self, taps: Sequence[str] = tuple(VGG16_TAPS)) -> None:
        super().__init__()
        unknown = [t for t in taps if t not in VGG16_TAPS]
        if unknown or not taps:
            raise ValueError(f"Unknown VGG16 taps {unknown or taps!r}; valid: {', '.join(VGG16_TAPS)}")
        order = [VGG16_TAPS[t][0] for t in taps]
        if order != sorted(set(order)):
            raise ValueError(f"VGG16 taps must be distinct and shallow to deep, got {list(taps)!r}")
        self.taps = tuple(taps)
        self.channels = tuple(VGG16_TAPS[t][1] for t in taps)
        self.strides = tuple(VGG16_TAPS[t][2] for t in taps)
        last = order[-1]
        # Layers after the deepest tap are never used, so they are not built (their weights are ignored on load).
        self.features = _make_features()[: last + 1]
        self._tap_index = {idx: k for k, idx in enumerate(order)}

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        out: list[torch.Tensor] = [x] * len(self.taps)
        for idx, layer in enumerate(self.features):
            x = layer(x)
            if idx in self._tap_index:
                out[self._tap_index[idx]] = x
        return out


def _caffe_index() -> dict[str, int]:
    """Caffe/VGG layer names ``convS_K`` -> index of that conv in ``features``."""
    names: dict[str, int] = {}
    idx = 0
    for s, stage in enumerate(VGG16_STAGES, start=1):
        for k in range(1, len(stage) + 1):
            names[f"conv{s}_{k}"] = idx
            idx += 2
        idx += 1
    return names


def vgg16_trunk_state_dict(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map a VGG16 state dict to trunk keys ``features.N.{weight,bias}``.

    Accepted key styles: torchvision (``features.0.weight``, optionally prefixed by ``module.``,
    ``backbone.`` or ``vgg.``) and Caffe-converted names (``conv1_1.weight``). ``classifier.*``/``fc*`` keys
    are dropped. Note that Caffe VGG weights expect BGR 0-255 mean-subtracted input, not the ImageNet
    normalisation the nets here use; the mapping only renames keys.
    """
    caffe = _caffe_index()
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        name = re.sub(r"^(module\.|backbone\.|vgg\.|model\.)+", "", key)
        m = re.fullmatch(r"(conv\d_\d)\.(weight|bias)", name)
        if m and m.group(1) in caffe:
            out[f"features.{caffe[m.group(1)]}.{m.group(2)}"] = value
        elif re.fullmatch(r"features\.\d+\.(weight|bias)", name):
            out[name] = value
    return out


def load_trunk_weights(trunk: VGG16Taps, state: Mapping[str, torch.Tensor]) -> None:
    """Load VGG16 weights (any style accepted by :func:`vgg16_trunk_state_dict`) into ``trunk``, strictly.

    Raises
    ------
    KeyError
        When a conv of the trunk has no weight in ``state``; the message lists the missing keys.
    """
    mapped = vgg16_trunk_state_dict(state)
    wanted = trunk.state_dict()
    missing = sorted(k for k in wanted if k not in mapped)
    if missing:
        raise KeyError(f"VGG16 weights lack {len(missing)} trunk keys (e.g. {missing[:3]}); got keys like "
                       f"{list(state)[:3]}. Pass a torchvision vgg16 state dict or Caffe-named conv weights.")
    trunk.load_state_dict({k: mapped[k] for k in wanted}, strict=True)


def vgg16_imagenet_state_dict() -> dict[str, torch.Tensor]:
    """Download (or read from the torch hub cache) torchvision's ImageNet VGG16 weights.

    Raises
    ------
    RuntimeError
        When the file cannot be downloaded (e.g. offline), saying how to pass a local copy instead.
    """
    from torchvision.models import VGG16_Weights

    try:
        return VGG16_Weights.IMAGENET1K_V1.get_state_dict(progress=True)
    except (OSError, RuntimeError, ValueError) as err:
        raise WeightsUnavailableError(
            f"Could not download the ImageNet VGG16 weights from {_WEIGHTS_URL} ({err}). "
            + offline_advice("vgg16-397923af.pth", _WEIGHTS_URL)
        ) from err


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a state dict from ``path``, unwrapping ``{"state_dict": ...}`` / ``{"model": ...}`` checkpoints."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Weights file {str(path)!r} does not exist; pass an existing .pth/.pt file.")
    obj = read_weights(path)  # one-line error for a file that is not a torch file
    for key in ("state_dict", "model"):
        if isinstance(obj, Mapping) and isinstance(obj.get(key), Mapping):
            obj = obj[key]
    if not isinstance(obj, Mapping):
        raise ValueError(f"{str(path)!r} does not hold a state dict (found {type(obj).__name__}).")
    return dict(obj)


def load_pretrained(model: nn.Module, pretrained: bool | str | Path) -> None:
    """Initialise ``model`` (which has a :class:`VGG16Taps` at ``model.backbone``) from ``pretrained``.

    ``False``: nothing. ``True``: ImageNet VGG16 into the trunk (download). A path: a full checkpoint of
    ``model`` (keys ``backbone.*`` plus head keys; loaded strictly) or VGG16 weights for the trunk only.
    """
    if pretrained is False or pretrained is None:
        return
    if pretrained is True:
        load_trunk_weights(cast(VGG16Taps, model.backbone), vgg16_imagenet_state_dict())
        return
    state = {re.sub(r"^module\.", "", k): v for k, v in read_state_dict(pretrained).items()}
    own_head = {k for k in model.state_dict() if not k.startswith("backbone.")}
    if own_head & set(state):
        model.load_state_dict(state, strict=True)
    else:
        load_trunk_weights(cast(VGG16Taps, model.backbone), state)
