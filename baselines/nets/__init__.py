"""Deep defocus-blur-detection nets and their registry.

Each net declares itself in its own file: the factory, decorated with :func:`register_model`, carries the
net's default config (:class:`ModelConfig`: training recipe, pretrained trunk, the authors' test pipeline).
Listing the models imports every module of this package once.

>>> from baselines.nets import create_model, list_models, model_config
>>> all(model_config(name).recipe.input_size >= 8 for name in list_models())
True

``create_model(name, pretrained=False, **kw)`` returns an ``nn.Module``. Contract shared by every net:

* input: a (B, 3, H, W) ImageNet-normalised batch (the trainer's; an authors' checkpoint is run with the
  config's ``mean`` and ``std``, ImageNet's unless the net declares others);
* ``model.eval()`` forward: (B, 1, H, W) P(blur) in [0, 1] at input size;
* ``model.train()`` forward: a list of logit maps at input size, final prediction first, then the side
  outputs used for deep supervision;
* ``model.loss(outputs, target)``: the paper's training loss for those outputs against a (B, 1, H, W) float
  blur mask (1 = blurred);
* ``model.recipe``: the paper's training recipe (:class:`baselines.nets.recipe.TrainRecipe`), the config's;
* the factory accepts ``pretrained=False`` (random initialisation), a path (a checkpoint) and, when the
  config says ``pretrained=True`` (the net has an ImageNet-pretrained trunk), ``pretrained=True``;
  ``dbdbench train`` starts from the config's ``pretrained`` unless ``--pretrained`` says otherwise, so a net
  without an ImageNet trunk registers ``pretrained=False``.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from baselines.nets.recipe import TrainRecipe


@dataclass(frozen=True)
class ModelConfig:
    """The default config of a registered net.

    Attributes
    ----------
    name : str
        Registry name (lower case).
    factory : callable
        ``factory(pretrained=..., **kwargs) -> nn.Module``.
    recipe : TrainRecipe
        The paper's training recipe (``model.recipe``).
    pretrained : bool
        True when the net has an ImageNet-pretrained trunk, which ``dbdbench train`` downloads by default;
        False: training starts from random weights unless ``--pretrained`` names a file.
    predicts : bool
        False for a training-only model whose checkpoints hold another registered net (``predict`` does not
        offer it).
    input_size : int or None
        Test pipeline (:class:`baselines.pipeline.TestPipeline`): side of the square network input (0 = the
        photo's size); None when the authors' test code is not public (the trainer's pipeline at the
        training size is used, and every setting below is ignored).
    library, upsample, quantise : str
        Test pipeline: decoding and resizing library, upsampling of the map, 8-bit rule.
    mean, std : tuple of float or None
        Test pipeline: per-channel normalisation of ``I / 255`` in the authors' test code; None = ImageNet's
        (the trainer always normalises with ImageNet's, and so does the pipeline of its checkpoints).
    source : str
        Where the test pipeline comes from (the authors' files).
    """

    name: str
    factory: Callable[..., Any]
    recipe: TrainRecipe
    pretrained: bool = True
    predicts: bool = True
    input_size: int | None = None
    library: str = "opencv"
    upsample: str = "bilinear"
    quantise: str = "round"
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    source: str = ""


#: model name -> default config, filled by :func:`register_model` as the net modules are imported
MODELS: dict[str, ModelConfig] = {}
_discovered = False


def register_model(*, recipe: TrainRecipe, name: str | None = None, overwrite: bool = False, **config: Any):
    """Decorator: register ``factory`` under ``name`` (default: the function's name) with its default config.

    ``config`` holds the other :class:`ModelConfig` fields. Raises ``ValueError`` for a name already taken
    (unless ``overwrite``), naming the module that took it. A registration from outside this package (a
    plug-in, a test) first imports the package's nets, so that it collides with a net file here and now, not
    when the models are next listed.
    """

    def decorate(factory: Callable[..., Any]) -> Callable[..., Any]:
        if not factory.__module__.startswith(f"{__name__}."):
            _discover()
        key = canonical_name(name or factory.__name__)
        if key in MODELS and not overwrite:
            raise ValueError(f"model {key!r} is already registered (by {MODELS[key].factory.__module__}); "
                             "choose another name or pass overwrite=True to replace it")
        MODELS[key] = ModelConfig(key, factory, recipe, **config)
        return factory

    return decorate


def unregister_model(name: str) -> None:
    """Remove a registered model (for plug-ins and tests that registered one)."""
    del MODELS[model_config(name).name]


def canonical_name(name: str) -> str:
    """``"BR²Net"`` -> ``"br2net"``: lower case, no hyphens."""
    return name.lower().replace("-", "").replace("²", "2")


def _discover() -> None:
    """Import every module of this package once, so that the nets' :func:`register_model` calls run."""
    global _discovered
    if not _discovered:
        for module in pkgutil.iter_modules(__path__):
            importlib.import_module(f"{__name__}.{module.name}")
        _discovered = True


def list_models(*, predicts: bool | None = None) -> list[str]:
    """Names accepted by :func:`create_model`, sorted; ``predicts=True`` only the nets that predict maps."""
    _discover()
    return sorted(k for k, cfg in MODELS.items() if predicts is None or cfg.predicts == predicts)


def model_config(name: str) -> ModelConfig:
    """The default config of a registered net, with an error that lists the valid names."""
    _discover()
    key = canonical_name(name)
    if key not in MODELS:
        raise KeyError(f"Unknown model {name!r}; valid: {', '.join(list_models())}")
    return MODELS[key]


def create_model(name: str, pretrained: bool | str | os.PathLike = False, **kwargs: Any):
    """Build a registered net.

    Parameters
    ----------
    name : str
        One of :func:`list_models`.
    pretrained : bool or str
        ``False``: random initialisation. ``True``: ImageNet weights for the backbone (needs a download,
        fails with a clear error offline; only for a config with ``pretrained=True``). A path: a checkpoint
        file (authors' key names are mapped).
    **kwargs
        Passed to the architecture's factory.
    """
    cfg = model_config(name)
    if pretrained is True and not cfg.pretrained:
        raise ValueError(f"model {cfg.name!r} has no ImageNet-pretrained trunk; pass pretrained=False "
                         "(random initialisation) or a weights file")
    return cfg.factory(pretrained=pretrained, **kwargs)
