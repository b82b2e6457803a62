"""Deep defocus-blur-detection nets and their registry.

>>> from baselines.nets import create_model, list_models
>>> list_models()
['br2net', 'ddffnet', 'defusionnet', 'dffnet', 'dpn']

``create_model(name, pretrained=False, **kw)`` returns an ``nn.Module``. Contract shared by every net:

* input: a (B, 3, H, W) ImageNet-normalised batch;
* ``model.eval()`` forward: (B, 1, H, W) P(blur) in [0, 1] at input size;
* ``model.train()`` forward: a list of logit maps at input size, final prediction first, then the side
  outputs used for deep supervision;
* ``model.loss(outputs, target)``: the paper's training loss for those outputs against a (B, 1, H, W) float
  blur mask (1 = blurred);
* ``model.recipe``: the paper's training recipe (:class:`baselines.nets.recipe.TrainRecipe`).
"""

from __future__ import annotations

import importlib
from typing import Any

#: model name -> (module, factory); modules are imported on demand so that listing models is cheap.
_MODELS: dict[str, tuple[str, str]] = {
    "br2net": ("baselines.nets.br2net", "br2net"),
    "ddffnet": ("baselines.nets.ddffnet", "ddffnet_distiller"),  # D-DFFNet stage 2: distils into a DFFNet
    "defusionnet": ("baselines.nets.defusionnet", "defusionnet"),
    "dffnet": ("baselines.nets.dffnet", "dffnet"),
    "dpn": ("baselines.nets.dpn", "dpn"),
}


def list_models() -> list[str]:
    """Names accepted by :func:`create_model`, sorted."""
    return sorted(_MODELS)


def create_model(name: str, pretrained: bool | str = False, **kwargs: Any):
    """Build a registered net.

    Parameters
    ----------
    name : str
        One of :func:`list_models`.
    pretrained : bool or str
        ``False``: random initialisation. ``True``: ImageNet weights for the backbone (needs a download,
        fails with a clear error offline). A path: a checkpoint file (authors' key names are mapped).
    **kwargs
        Passed to the architecture's factory.
    """
    key = name.lower().replace("-", "").replace("²", "2")
    if key not in _MODELS:
        raise KeyError(f"Unknown model {name!r}; valid: {', '.join(list_models())}")
    module, factory = _MODELS[key]
    return getattr(importlib.import_module(module), factory)(pretrained=pretrained, **kwargs)
