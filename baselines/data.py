"""Training data: a registered dataset as (ImageNet-normalised image, canonical blur mask) pairs.

Each sample is built by: read the RGB photo and its GT; map the GT to the canonical blur mask
``m = g / full_scale`` (1 = blurred), flipped exactly (``1 - m``) when the dataset's GT white means in focus;
apply the recipe's augmentations in order; resize to ``input_size`` x ``input_size`` (image bilinear, mask
nearest); normalise the image with the ImageNet mean and std. The mask is kept as a float in [0, 1] and is not
binarised (BR²Net's code feeds ``ToTensor(gt)`` to the loss as is).

Augmentations (names used by :class:`baselines.nets.recipe.TrainRecipe`):

* ``hflip``: horizontal flip with probability 0.5 (BR²Net, D-DFFNet).
* ``random_crop``: a random ``input_size`` square crop; an image smaller than that on either side is first
  resized to ``input_size`` x ``input_size`` (BR²Net's ``RandomCrop(300)``).
* ``rotate10``: rotation by an angle uniform in [-10, 10] degrees about the centre, same size, zero border
  (image bilinear, mask nearest; BR²Net's ``RandomRotate(10)``).
* ``rotate`` / ``rot90``: rotation by k x 90 degrees, k uniform in {0, 1, 2, 3}. For DeFusionNet ("randomly
  rotating, resizing and horizontally flipping", 604 -> 9,664 = 16x images) the angles are not stated; the
  16x factor fits 4 right-angle rotations x 2 flips x 2 sizes, so right angles are used (reconstruction).
* ``resize``: resize the whole image to the input size (D-DFFNet's ``Resize(320)``); it is the final step of
  every sample anyway, so it adds no randomness. The *random* sizes of DeFusionNet and DPN (176 / 88 px
  copies) are not reproduced, because a batch has one size (see ``docs/training.md``).
* ``color_jitter``: brightness, contrast and saturation factors each uniform in [0.9, 1.1], applied in that
  fixed order (torchvision's ``ColorJitter(0.1, 0.1, 0.1)`` draws a random order).

Randomness is a pure function of ``(seed, epoch, index)``: a sample's augmentation does not depend on the
number of data-loader workers, on the process rank or on resuming, so training is reproducible.

References
----------
.. [1] C. Tang et al., "BR²Net", IEEE TMM 2021; code ChangTang/BR2Net ``joint_transforms.py``.
.. [2] Y. Jin et al., "Depth and DOF cues make a better defocus blur detector", ICME 2023; code
   yuxinjin-whu/D-DFFNet ``data.py``.
.. [3] C. Tang et al., "DeFusionNET", IEEE TPAMI 44(2), 2022, Sec. 3.5.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator, Sequence, Sized
from typing import cast

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset, DistributedSampler

from dbdbench.datasets import DatasetSpec, get_dataset, index_folder
from dbdbench.io import read_image, read_map
from dbdbench.metrics.counts import to_unit
from dbdbench.settings import BLUR, POLARITIES

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)

Sample = tuple[np.ndarray, np.ndarray]  # (RGB uint8 image (H, W, 3), float32 blur mask (H, W))


def normalise_image(image: np.ndarray) -> torch.Tensor:
    """``(image / 255 - mean) / std`` per channel, as a (3, H, W) float32 tensor (ImageNet statistics)."""
    arr = (np.asarray(image, dtype=np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))


def blur_mask(gt: np.ndarray, gt_white: str) -> np.ndarray:
    """The canonical blur mask in [0, 1] (1 = blurred) of a GT array whose white means ``gt_white``."""
    if gt_white not in POLARITIES:
        raise ValueError(f"GT polarity {gt_white!r} is unknown; the dataset must declare gt_white 'blur' or 'sharp'")
    if gt.dtype == np.bool_:
        gt = gt.astype(np.uint8) * 255
    unit = to_unit(gt)
    return (unit if gt_white == BLUR else 1.0 - unit).astype(np.float32)


def resize_pair(image: np.ndarray, mask: np.ndarray, size: tuple[int, int]) -> Sample:
    """Resize to ``size`` = (H, W): the image bilinearly, the mask by nearest neighbour (D-DFFNet ``data.py``)."""
    h, w = size
    if image.shape[:2] == (h, w):
        return image, mask
    return (cv2.resize(image, (w, h), interpolation=cv2.INTER_LINEAR),
            cv2.resize(mask, (w, h), interpolation=cv2.INTER_NEAREST))


def _hflip(image: np.ndarray, mask: np.ndarray, rng: np.random.Generator, size: int) -> Sample:
    if rng.random() < 0.5:
        return image[:, ::-1], mask[:, ::-1]
    return image, mask


def _random_crop(image: np.ndarray, mask: np.ndarray, rng: np.random.Generator, size: int) -> Sample:
    h, w = image.shape[:2]
    if h < size or w < size:
        return resize_pair(image, mask, (size, size))
    top = int(rng.integers(0, h - size + 1))
    left = int(rng.integers(0, w - size + 1))
    return image[top:top + size, left:left + size], mask[top:top + size, left:left + size]


def _rotate10(image: np.ndarray, mask: np.ndarray, rng: np.random.Generator, size: int) -> Sample:
    angle = float(rng.uniform(-10.0, 10.0))
    h, w = image.shape[:2]
    matrix = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), angle, 1.0)
    img = cv2.warpAffine(np.ascontiguousarray(image), matrix, (w, h), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    msk = cv2.warpAffine(np.ascontiguousarray(mask), matrix, (w, h), flags=cv2.INTER_NEAREST,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return img, msk


def _rot90(image: np.ndarray, mask: np.ndarray, rng: np.random.Generator, size: int) -> Sample:
    k = int(rng.integers(0, 4))
    return np.rot90(image, k), np.rot90(mask, k)


def _resize(image: np.ndarray, mask: np.ndarray, rng: np.random.Generator, size: int) -> Sample:
    return resize_pair(image, mask, (size, size))


def _color_jitter(image: np.ndarray, mask: np.ndarray, rng: np.random.Generator, size: int) -> Sample:
    b, c, s = rng.uniform(0.9, 1.1, size=3)
    img = image.astype(np.float32) * b
    img = np.clip(img, 0, 255)
    gray = img @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    img = np.clip((img - gray.mean()) * c + gray.mean(), 0, 255)
    gray = img @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    img = np.clip((img - gray[..., None]) * s + gray[..., None], 0, 255)
    return np.rint(img).astype(np.uint8), mask


AUGMENTATIONS: dict[str, Callable[[np.ndarray, np.ndarray, np.random.Generator, int], Sample]] = {
    "hflip": _hflip,
    "random_crop": _random_crop,
    "rotate10": _rotate10,
    "rotate": _rot90,
    "rot90": _rot90,
    "resize": _resize,
    "color_jitter": _color_jitter,
}


def check_augment(names: Sequence[str]) -> tuple[str, ...]:
    """Validate augmentation names against :data:`AUGMENTATIONS`."""
    unknown = [n for n in names if n not in AUGMENTATIONS]
    if unknown:
        raise ValueError(f"unknown augmentation(s) {', '.join(unknown)}; valid: {', '.join(sorted(AUGMENTATIONS))}")
    return tuple(names)


def pair_images(spec: DatasetSpec, data_root: str | os.PathLike | None = None) -> list[tuple[str, os.PathLike,
                                                                                           os.PathLike]]:
    """``[(stem, image, gt)]`` for every GT file of ``spec``, matching image stems case-insensitively."""
    gts = spec.gt_files(data_root)
    folder = spec.image_folder(data_root)
    if not folder.is_dir():
        raise FileNotFoundError(f"{spec.name}: image folder {folder} not found; place the photos as "
                                f"<data-root>/{spec.folder}/{spec.image_dir}/")
    images = {k.lower(): v for k, v in index_folder(folder).items()}
    missing = [s for s in gts if s.lower() not in images]
    if missing:
        raise FileNotFoundError(f"{spec.name}: {len(missing)} GT file(s) have no photo in {folder}: "
                                f"{', '.join(missing[:10])}{' ...' if len(missing) > 10 else ''}")
    return [(s, images[s.lower()], g) for s, g in gts.items()]


class BlurDataset(Dataset):
    """A registered dataset as ``(image (3, S, S) float32, mask (1, S, S) float32)`` training samples.

    Index ``i`` may exceed ``len(self)``: sample ``i`` is file ``i % len(self)`` with the augmentation drawn
    from ``(seed, i)``, so a sampler passes ``index + epoch * len`` to get new augmentations every epoch.

    Parameters
    ----------
    dataset : str or DatasetSpec
        Registered name (``dbdbench datasets``) whose GT polarity is known.
    data_root : path, optional
        Dataset root (``--data-root``; default ``$DBDBENCH_DATA``).
    input_size : int
        Side of the square training input.
    augment : sequence of str
        Names from :data:`AUGMENTATIONS`, applied in order.
    seed : int
        Seed of the augmentation randomness.
    """

    def __init__(self, dataset: str | DatasetSpec, data_root: str | os.PathLike | None = None, input_size: int = 320,
                 augment: Sequence[str] = (), seed: int = 0) -> None:
        self.spec = dataset if isinstance(dataset, DatasetSpec) else get_dataset(dataset)
        if self.spec.gt_white not in POLARITIES:
            raise ValueError(f"{self.spec.name}: GT polarity is {self.spec.gt_white!r}; set gt_white to 'blur' or "
                             "'sharp' (register the dataset from a TOML file) before training on it")
        if input_size < 8:
            raise ValueError(f"input_size must be at least 8 pixels, got {input_size}")
        self.items = pair_images(self.spec, data_root)
        if not self.items:
            raise FileNotFoundError(f"{self.spec.name}: no GT files found under {self.spec.gt_folder(data_root)}")
        self.input_size = int(input_size)
        self.augment = check_augment(augment)
        self.seed = int(seed)

    def __len__(self) -> int:
        return len(self.items)

    def load(self, index: int) -> Sample:
        """The photo and its canonical blur mask at file resolution (no augmentation)."""
        stem, image_path, gt_path = self.items[index % len(self.items)]
        image = read_image(image_path)
        mask = blur_mask(read_map(gt_path), self.spec.gt_white)
        if mask.shape != image.shape[:2]:
            raise ValueError(f"{self.spec.name}/{stem}: GT {gt_path} is {mask.shape[1]}x{mask.shape[0]} but the "
                             f"photo {image_path} is {image.shape[1]}x{image.shape[0]}; fix the dataset files")
        return image, mask

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image, mask = self.load(index)
        rng = np.random.default_rng([self.seed, int(index)])
        for name in self.augment:
            image, mask = AUGMENTATIONS[name](image, mask, rng, self.input_size)
        image, mask = resize_pair(np.ascontiguousarray(image), np.ascontiguousarray(mask),
                                  (self.input_size, self.input_size))
        return normalise_image(image), torch.from_numpy(np.ascontiguousarray(mask, dtype=np.float32))[None]


class EpochSampler(DistributedSampler):
    """:class:`DistributedSampler` that yields ``index + epoch * len(dataset)`` and can start mid-epoch.

    The shuffled order of an epoch is the parent's (``torch.randperm`` seeded by ``seed + epoch``, split over
    the ranks); adding ``epoch * len`` gives every epoch fresh augmentations (see :class:`BlurDataset`), and
    ``start`` skips the samples of this rank that a resumed run has already consumed.
    """

    def __init__(self, dataset: Dataset, num_replicas: int = 1, rank: int = 0, seed: int = 0) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed, drop_last=False)
        self.start = 0

    def __iter__(self) -> Iterator[int]:
        offset = self.epoch * len(cast(Sized, self.dataset))
        return itertools.islice((i + offset for i in super().__iter__()), self.start, None)

    def __len__(self) -> int:
        return self.num_samples - self.start
