"""State-dict key mapping from the authors' checkpoints to this package's module names.

Every mapping is a table of **key prefixes** ``authors_prefix -> our_prefix``; the rest of the key (``weight``,
``bias``, ``running_mean`` ...) is copied unchanged, the longest matching prefix wins, and prefixes listed as
*dropped* name tensors that the authors saved but never use. Any other key that no prefix matches is an error.
The tables are generated from the block counts, so they are complete and invertible (``to_authors_keys``),
which the tests use to build authors'-style checkpoints.

BR²Net (``ChangTang/BR2Net:model.py``; trunk = the Torch7-converted ResNeXt-101 32x4d of R3Net, where
``layer0 = Sequential(conv, bn, relu, maxpool)`` and ``layer1..4`` are the converted ``nn.Sequential`` stages)::

    layer0.0.                         -> backbone.conv1.
    layer0.1.                         -> backbone.bn1.
    layer{L}.{j}.0.0.0.0. / .0.0.0.1. -> backbone.layer{L}.{j}.conv1. / .bn1.
    layer{L}.{j}.0.0.0.3. / .0.0.0.4. -> backbone.layer{L}.{j}.conv2. / .bn2.        (grouped 3x3, 32 groups)
    layer{L}.{j}.0.0.1.   / .0.0.2.   -> backbone.layer{L}.{j}.conv3. / .bn3.
    layer{L}.{0}.0.1.0.   / .0.1.1.   -> backbone.layer{L}.0.downsample.0. / .1.
    CAlayer{k}.0.conv_du.0. / .2.     -> cam.{k}.fc1. / .fc2.                          (k = 0..4)
    predictL2H0. / predictH2L0.       -> l2h_init. / h2l_init.
    predictL2H{k}. / predictH2L{k}.   -> l2h.{k-1}.body. / h2l.{k-1}.body.             (k = 1..4)

The stand-alone Torch7 ImageNet file ``resnext_101_32x4d.pth`` uses the same block layout under the indices of
the full ``nn.Sequential``: ``0.`` conv1, ``1.`` bn1, ``4.``..``7.`` layer1..4, ``10.1.`` the classifier (dropped).

D-DFFNet / DFFNet (``yuxinjin-whu/D-DFFNet:model/ours/PDNet_resnest.py``, class ``PDnet_ResNest_4F_SL_LA``)::

    resnest.conv1. / resnest.bn1.     -> backbone.conv1. / backbone.bn1.               (deep stem 0,1,3,4,6)
    resnest.layer1. / resnest.layer2. -> backbone.layer1. / backbone.layer2.
    resnest.layer3_1. / .layer4_1.    -> backbone.layer3. / backbone.layer4.
    resnest.layer3_2. / .layer4_2.    -> dropped (CPD leftovers, never in the forward pass; ~44.5 M)
    rfb{k}_1.                         -> rfb.{k-1}.                                    (k = 1..4; same inner names)
    agg1.conv_upsample{n}.            -> dffm.up{n}.                                   (n = 1..7)
    agg1.conv_concat{n}.              -> dffm.cat{n}.                                  (n = 2..4)
    agg1.conv4. / agg1.conv5.         -> dffm.head. / dffm.classifier.
    agg1.side{k}.                     -> dffm.side.{k-1}.
    agg1.spatial_attention{k}.0.      -> dffm.attention.{k-1}.

Inside ResNeSt blocks the names of the ``resnest`` package and of timm agree (``conv1 bn1 conv2.{conv,bn0,fc1,
bn1,fc2} conv3 bn3 downsample.{1,2}``). The authors' model predicts in-focus = 1; :func:`ddffnet_from_authors`
therefore adds ``logit_sign = -1`` so that our DFFNet still outputs P(blur).

MiDaS v2.1 (``midas_v21-f6b98070.pt``, ``MidasNet`` with the ResNeXt-101 32x8d-WSL encoder)::

    pretrained.layer1.0. / .1.        -> conv1. / bn1.
    pretrained.layer1.4.              -> layer1.
    pretrained.layer{2,3,4}.          -> layer{2,3,4}.
    scratch.                          -> dropped (the depth decoder; feature distillation uses the encoder only)

BatchNorm ``num_batches_tracked`` buffers, absent from PyTorch 0.4.0 checkpoints (BR²Net), are filled with 0.

References
----------
.. [1] ChangTang/BR2Net @ce8523c, ``model.py``; zijundeng/R3Net, ``resnext/resnext_101_32x4d_.py``.
.. [2] yuxinjin-whu/D-DFFNet @d75c1da, ``model/ours/{PDNet_resnest,RFB,aggregation}.py``, ``train_kd.py``.
.. [3] isl-org/MiDaS v2.1, ``midas/midas_net.py`` and ``midas/blocks.py`` (``_make_resnet_backbone``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch

from baselines.checkpoint import read_weights

#: blocks per stage of every 101-layer trunk used here
STAGES_101 = (3, 4, 23, 3)

#: Torch7-converted bottleneck (R3Net ``LambdaMap``/``LambdaReduce`` layout) -> timm/torchvision bottleneck
_T7_BLOCK = {
    "0.0.0.0.": "conv1.", "0.0.0.1.": "bn1.", "0.0.0.3.": "conv2.", "0.0.0.4.": "bn2.",
    "0.0.1.": "conv3.", "0.0.2.": "bn3.", "0.1.0.": "downsample.0.", "0.1.1.": "downsample.1.",
}


@dataclass(frozen=True)
class KeyMap:
    """A prefix table ``authors -> ours`` plus prefixes of authors' tensors that are deliberately dropped."""

    table: dict[str, str]
    dropped: tuple[str, ...] = ()
    extra: dict[str, float] = field(default_factory=dict)  # our buffers the authors' file lacks, with values


def _t7_trunk_table(stage_prefix: dict[int, str], stem: dict[str, str], out: str) -> dict[str, str]:
    table = {src: out + dst for src, dst in stem.items()}
    for stage, n_blocks in enumerate(STAGES_101, start=1):
        for j in range(n_blocks):
            for src, dst in _T7_BLOCK.items():
                table[f"{stage_prefix[stage]}{j}.{src}"] = f"{out}layer{stage}.{j}.{dst}"
    return table


def br2net_keymap() -> KeyMap:
    """Authors' BR²Net ``model.py`` names -> :class:`baselines.nets.br2net.BR2Net` names."""
    table = _t7_trunk_table({s: f"layer{s}." for s in range(1, 5)}, {"layer0.0.": "conv1.", "layer0.1.": "bn1."},
                            "backbone.")
    for k in range(5):
        table[f"CAlayer{k}.0.conv_du.0."] = f"cam.{k}.fc1."
        table[f"CAlayer{k}.0.conv_du.2."] = f"cam.{k}.fc2."
    table["predictL2H0."], table["predictH2L0."] = "l2h_init.", "h2l_init."
    for k in range(1, 5):
        table[f"predictL2H{k}."] = f"l2h.{k - 1}.body."
        table[f"predictH2L{k}."] = f"h2l.{k - 1}.body."
    return KeyMap(table)


def torch7_resnext_keymap() -> KeyMap:
    """Stand-alone Torch7-converted ``resnext_101_32x4d.pth`` -> trunk names (``conv1.``, ``layer1.`` ...)."""
    table = _t7_trunk_table({s: f"{s + 3}." for s in range(1, 5)}, {"0.": "conv1.", "1.": "bn1."}, "")
    return KeyMap(table, dropped=("10.",))


def ddffnet_keymap() -> KeyMap:
    """Authors' ``PDnet_ResNest_4F_SL_LA`` names -> :class:`baselines.nets.dffnet.DFFNet` names."""
    table = {
        "resnest.conv1.": "backbone.conv1.", "resnest.bn1.": "backbone.bn1.",
        "resnest.layer1.": "backbone.layer1.", "resnest.layer2.": "backbone.layer2.",
        "resnest.layer3_1.": "backbone.layer3.", "resnest.layer4_1.": "backbone.layer4.",
        "agg1.conv4.": "dffm.head.", "agg1.conv5.": "dffm.classifier.",
    }
    for k in range(1, 5):
        table[f"rfb{k}_1."] = f"rfb.{k - 1}."
        table[f"agg1.side{k}."] = f"dffm.side.{k - 1}."
        table[f"agg1.spatial_attention{k}.0."] = f"dffm.attention.{k - 1}."
    for n in range(1, 8):
        table[f"agg1.conv_upsample{n}."] = f"dffm.up{n}."
    for n in range(2, 5):
        table[f"agg1.conv_concat{n}."] = f"dffm.cat{n}."
    return KeyMap(table, dropped=("resnest.layer3_2.", "resnest.layer4_2."), extra={"logit_sign": -1.0})


def midas_encoder_keymap() -> KeyMap:
    """MiDaS v2.1 ``MidasNet`` names -> ResNeXt-101 32x8d trunk names; the ``scratch`` decoder is dropped."""
    table = {"pretrained.layer1.0.": "conv1.", "pretrained.layer1.1.": "bn1.", "pretrained.layer1.4.": "layer1."}
    for s in (2, 3, 4):
        table[f"pretrained.layer{s}."] = f"layer{s}."
    return KeyMap(table, dropped=("scratch.",))


def _lookup(key: str, table: Mapping[str, str], prefixes: list[str]) -> str | None:
    for p in prefixes:
        if key.startswith(p):
            return table[p] + key[len(p):]
    return None


def from_authors(state: Mapping[str, torch.Tensor], keymap: KeyMap,
                 reference: Mapping[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """Rename an authors' state dict to our names.

    ``reference`` (our model's ``state_dict()``) lets missing ``num_batches_tracked`` buffers be filled with 0.
    Raises ``KeyError`` naming the first keys that no prefix matches.
    """
    prefixes = sorted(keymap.table, key=len, reverse=True)
    out: dict[str, torch.Tensor] = {}
    unknown = []
    for key, value in state.items():
        if key.startswith(keymap.dropped):
            continue
        new = _lookup(key, keymap.table, prefixes)
        if new is None:
            unknown.append(key)
        else:
            out[new] = value
    if unknown:
        raise KeyError(f"{len(unknown)} checkpoint keys have no mapping (first: {unknown[:5]}); is this the right "
                       "architecture's checkpoint?")
    for name, default in keymap.extra.items():
        out.setdefault(name, torch.tensor(default))
    if reference is not None:
        for name, ref in reference.items():
            if name.endswith("num_batches_tracked") and name not in out:
                out[name] = torch.zeros_like(ref)
    return out


def to_authors_keys(names: list[str], keymap: KeyMap) -> dict[str, str]:
    """Inverse map: our key -> the authors' key, for every name the table covers (``extra`` names are skipped)."""
    inverse = {v: k for k, v in keymap.table.items()}
    prefixes = sorted(inverse, key=len, reverse=True)
    out = {}
    for name in names:
        if name in keymap.extra:
            continue
        old = _lookup(name, inverse, prefixes)
        if old is None:
            raise KeyError(f"our key {name!r} has no authors' counterpart in the table")
        out[name] = old
    return out


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Load a checkpoint file to CPU and unwrap the usual ``{"state_dict"|"model": ...}`` containers.

    A leading ``module.`` (from ``DataParallel``/DDP) is stripped.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist; pass an existing .pth/.pt file")
    state = read_weights(path)  # one-line error for a file that is not a torch file
    for wrapper in ("state_dict", "model"):
        if isinstance(state, Mapping) and wrapper in state and isinstance(state[wrapper], Mapping):
            state = state[wrapper]
    if not isinstance(state, Mapping):
        raise ValueError(f"checkpoint {path} does not hold a state dict (got {type(state).__name__})")
    return {(k[7:] if k.startswith("module.") else k): v for k, v in state.items() if torch.is_tensor(v)}
