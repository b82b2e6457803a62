"""The test pipeline of a deep baseline: how a photo becomes the network input and the net's output a map.

For a photo ``I`` (H, W, 3) and a net ``f`` whose eval forward returns ``sigmoid`` probabilities:

1. decode ``I`` as RGB uint8 with ``library`` (PIL ``Image.open(...).convert("RGB")`` or OpenCV);
2. resize to ``input_size`` x ``input_size`` with the same library (PIL ``BILINEAR``, which widens its filter
   support when it shrinks, i.e. anti-aliases, as torchvision's ``Resize`` on PIL images; OpenCV
   ``INTER_LINEAR``, no anti-aliasing); ``input_size = 0`` keeps the photo's size;
3. ``x = (I / 255 - mean) / std`` per channel in float32 (torchvision ``ToTensor`` + ``Normalize``);
4. ``p = f(x)`` (the activation is part of the net's eval forward);
5. resize ``p`` back to (H, W) with ``torch.nn.functional.interpolate`` (``nearest``, or ``bilinear`` with
   ``align_corners=False``);
6. ``1 - p`` when the map is written white = sharp;
7. 8-bit value ``round(255 p)`` (OpenCV ``imwrite`` of a float image, half to even) or ``floor(255 p)``
   (torchvision ``ToPILImage`` of a float tensor), both computed in float32.

:func:`default_pipeline` is the authors' test pipeline of a net, declared with the net
(:func:`baselines.nets.register_model`); :func:`trained_pipeline` is the one a checkpoint of ``dbdbench
train`` carries (the trainer's own decoding and resizing at its input size).

References
----------
.. [1] Y. Jin et al., "Depth and DOF cues make a better defocus blur detector", ICME 2023; code
   yuxinjin-whu/D-DFFNet ``data.py`` (``mode='val'``: PIL decode, ``F.resize(image, (320, 320))``,
   ``ToTensor``, ``Normalize``) and ``test.py`` (``sigmoid``, ``F.interpolate(..., mode='nearest')``).
.. [2] C. Tang et al., "BR²Net", IEEE TMM 2021; code ChangTang/BR2Net ``infer.py`` (PIL decode, full
   resolution, ``ToTensor`` + ``Normalize``, ``ToPILImage`` of the sigmoid map).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import cv2
import numpy as np

from dbdbench.io import read_image

LIBRARIES = ("pil", "opencv")
UPSAMPLING = ("nearest", "bilinear")
QUANTISATION = ("round", "floor")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _choice(name: str, value: str, valid: tuple[str, ...]) -> None:
    if value not in valid:
        raise ValueError(f"{name} {value!r} is unknown; valid: {', '.join(valid)}")


@dataclass(frozen=True)
class TestPipeline:
    """Decode, resize, normalise, upsample and quantise settings of one net's test code (module docstring).

    Attributes
    ----------
    input_size : int
        Side of the square network input; 0 = the photo's own size.
    library : {"pil", "opencv"}
        Decodes the photo and resizes it.
    upsample : {"nearest", "bilinear"}
        How the map goes back to the photo's size.
    quantise : {"round", "floor"}
        8-bit rule of the written map.
    mean, std : tuple of float
        Per-channel normalisation of ``I / 255``.
    pred_white : {"blur", "sharp"}
        What white means in the written map.
    source : str
        Where the settings come from.
    """

    __test__ = False  # not a pytest class despite its name

    input_size: int
    library: str = "opencv"
    upsample: str = "bilinear"
    quantise: str = "round"
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    pred_white: str = "blur"
    source: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.input_size, int) or self.input_size < 0 or 0 < self.input_size < 8:
            raise ValueError(f"input_size must be 0 (native) or at least 8 pixels, got {self.input_size!r}")
        _choice("library", self.library, LIBRARIES)
        _choice("upsample", self.upsample, UPSAMPLING)
        _choice("quantise", self.quantise, QUANTISATION)
        _choice("pred_white", self.pred_white, ("blur", "sharp"))
        object.__setattr__(self, "mean", tuple(float(v) for v in self.mean))
        object.__setattr__(self, "std", tuple(float(v) for v in self.std))
        if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) <= 0:
            raise ValueError(f"mean and std need 3 values each (std > 0), got {self.mean} and {self.std}")

    def to_dict(self) -> dict[str, Any]:
        """Plain values (lists for the tuples), as stored in checkpoints and ``meta.json``."""
        data = asdict(self)
        return {**data, "mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TestPipeline:
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown test pipeline setting(s) {sorted(unknown)}")
        return cls(**data)

    def override(self, **changes: Any) -> TestPipeline:
        """A copy with the non-``None`` ``changes`` applied (the command-line flags)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def default_pipeline(method: str, training_size: int) -> TestPipeline:
    """The authors' pipeline of the registered net ``method`` (its :class:`~baselines.nets.ModelConfig`), else
    the trainer's at ``training_size`` (test code not public: the config has no ``input_size``)."""
    from baselines.nets import model_config

    cfg = model_config(method)
    if cfg.input_size is None:
        return TestPipeline(training_size, "opencv", "bilinear", "round",
                            source="test code not public: the training pipeline at the training size")
    return TestPipeline(cfg.input_size, cfg.library, cfg.upsample, cfg.quantise, mean=cfg.mean or IMAGENET_MEAN,
                        std=cfg.std or IMAGENET_STD, source=cfg.source)


def trained_pipeline(method: str, training_size: int) -> TestPipeline:
    """What a ``dbdbench train`` checkpoint carries: the authors' steps, decoded, resized and normalised as the
    trainer does (OpenCV, ImageNet statistics) at the training size; nets the authors run at native
    resolution stay native."""
    base = default_pipeline(method, training_size)
    size = 0 if base.input_size == 0 else training_size
    return replace(base, input_size=size, library="opencv", quantise="round", mean=IMAGENET_MEAN, std=IMAGENET_STD,
                   source=f"dbdbench train ({method}, input {training_size})")


def load_photo(path: str | os.PathLike, library: str) -> np.ndarray:
    """The photo as RGB uint8 (H, W, 3), decoded by ``library``."""
    _choice("library", library, LIBRARIES)
    if library == "opencv":
        return read_image(path)
    from PIL import Image

    try:
        with Image.open(path) as img:
            return np.asarray(img.convert("RGB"))
    except OSError as exc:
        raise ValueError(f"{path}: not a readable image ({exc})") from None


def resize_photo(photo: np.ndarray, size: int, library: str) -> np.ndarray:
    """``photo`` resized to ``size`` x ``size`` (bilinear; PIL anti-aliases when it shrinks); 0 = unchanged."""
    if size == 0 or photo.shape[:2] == (size, size):
        return photo
    if library == "opencv":
        return cv2.resize(photo, (size, size), interpolation=cv2.INTER_LINEAR)
    from PIL import Image

    return np.asarray(Image.fromarray(photo).resize((size, size), Image.Resampling.BILINEAR))


def network_input(photo: np.ndarray, pipeline: TestPipeline) -> np.ndarray:
    """``(photo / 255 - mean) / std`` as a float32 (3, H, W) array."""
    arr = np.asarray(photo, dtype=np.float32) / np.float32(255.0)
    mean = np.asarray(pipeline.mean, dtype=np.float32)
    std = np.asarray(pipeline.std, dtype=np.float32)
    return np.ascontiguousarray(((arr - mean) / std).transpose(2, 0, 1))


def quantise(prob: np.ndarray, pipeline: TestPipeline) -> np.ndarray:
    """The 8-bit map of a P(blur) array: flipped for white = sharp, then ``round`` or ``floor`` of 255 p."""
    p = np.clip(np.asarray(prob, dtype=np.float32), 0, 1)
    if pipeline.pred_white == "sharp":
        p = np.float32(1) - p
    scaled = p * np.float32(255)
    return (np.rint(scaled) if pipeline.quantise == "round" else np.floor(scaled)).astype(np.uint8)
