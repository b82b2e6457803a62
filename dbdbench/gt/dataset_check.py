"""Find datasets on disk, verify them file by file, and write their digest lists (``dbdbench datasets``)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from dbdbench.datasets import DatasetSpec, index_folder
from dbdbench.digests import Pin, format_digests, mask_digests
from dbdbench.gt.check import gt_states, judge
from dbdbench.io import read_image, read_map
from dbdbench.sanity import Checks


@dataclass
class DatasetStatus:
    """What was found of one dataset under a data root."""

    name: str
    status: str  # found | missing | incomplete | unlisted
    n_gt: int = 0
    n_images: int = 0
    problems: list[str] = field(default_factory=list)


def dataset_status(spec: DatasetSpec, data_root: str | os.PathLike | None = None) -> DatasetStatus:
    """Cheap presence check: folders exist and the expected number of GT files is there."""
    if not spec.listed:
        return DatasetStatus(spec.name, "unlisted", problems=["image list not public"])
    if not spec.gt_folder(data_root).is_dir():
        return DatasetStatus(spec.name, "missing")
    try:
        gts = spec.gt_files(data_root)
    except (FileNotFoundError, ValueError) as exc:
        return DatasetStatus(spec.name, "incomplete", problems=[str(exc)])
    n_img = 0
    img_dir = spec.image_folder(data_root)
    if img_dir.is_dir():
        images = {k.lower() for k in index_folder(img_dir)}
        n_img = sum(s.lower() in images for s in gts)
    st = DatasetStatus(spec.name, "found", n_gt=len(gts), n_images=n_img)
    if spec.n_images is not None and len(gts) != spec.n_images:
        st.status = "incomplete"
        st.problems.append(f"{len(gts)} GT files, expected {spec.n_images}")
    return st


@dataclass
class Verification:
    """What ``dbdbench datasets verify`` found: problems (evaluation would be refused or wrong) and notes."""

    name: str
    n_gt: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def verify_dataset(spec: DatasetSpec, data_root: str | os.PathLike | None = None) -> Verification:
    """Check what evaluation needs, file by file; photos are optional and only reported.

    Problems: the GT folder missing, GT files missing or unreadable, another count than registered, masks
    that differ from the pinned digests or are inverted (:mod:`dbdbench.gt.check`, every file decoded).
    Without pinned digests, 8-bit masks holding only 0 and 1 are problems (binarised on the 0..255 scale
    they are empty). Notes: no pinned digests, photos missing, unreadable or of another size than their GT.
    """
    out = Verification(spec.name)
    st = dataset_status(spec, data_root)
    if st.status in ("missing", "unlisted"):
        out.problems.append(f"{spec.name}: {st.status} ({spec.gt_folder(data_root)})")
        return out
    out.problems += st.problems
    try:
        gts = spec.gt_files(data_root)
    except (FileNotFoundError, ValueError):
        return out  # already in st.problems
    out.n_gt = len(gts)
    if not gts:
        return out
    if spec.digests is not None:
        states, unreadable = gt_states(spec, gts, from_source=True)
        out.problems += list(unreadable.values())
        out.problems += [f.text() for f in judge(spec, states, spec.gt_folder(data_root), Checks())]
    else:
        out.notes.append(f"{spec.name}: the registry pins no digests for these masks; their contents are not checked")
        for path in gts.values():
            try:
                gt = read_map(path, luminance=True)
            except ValueError as exc:
                out.problems.append(str(exc))
                continue
            if gt.dtype == np.uint8 and gt.size and gt.max() == 1:
                out.problems.append(f"{path}: holds only the values 0 and 1; use the dataset's original 0/255 masks")
    out.notes += _photo_notes(spec, gts, data_root)
    return out


def _photo_notes(spec: DatasetSpec, gts: dict, data_root: str | os.PathLike | None) -> list[str]:
    """Photos are needed to run or train baselines, not to evaluate: what is missing or odd, as notes."""
    img_dir = spec.image_folder(data_root)
    if not img_dir.is_dir():
        return [f"{spec.name}: photo folder {img_dir} not found (evaluation needs only the GT)"]
    lower = {k.lower(): v for k, v in index_folder(img_dir).items()}
    missing = [s for s in gts if s.lower() not in lower]
    notes = []
    if missing:
        shown = ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else "")
        notes.append(
            f"{spec.name}: {len(missing)} of {len(gts)} photos missing from {img_dir}: {shown} "
            "(evaluation needs only the GT)"
        )
    for stem, gt_path in gts.items():
        if stem.lower() not in lower:
            continue
        try:
            img, gt = read_image(lower[stem.lower()]), read_map(gt_path, luminance=True)
        except ValueError as exc:
            notes.append(str(exc))
            continue
        if img.shape[:2] != gt.shape:
            notes.append(f"{stem}: photo {img.shape[1]}x{img.shape[0]} but GT {gt.shape[1]}x{gt.shape[0]}")
    return notes


def digest_list(spec: DatasetSpec, data_root: str | os.PathLike | None = None, progress: bool = False) -> str:
    """The digest list (:mod:`dbdbench.digests`) of a dataset's GT masks, in the canonical polarity.

    Every file is decoded; a mask that is not black and white only cannot be pinned and is an error.
    """
    from tqdm.auto import tqdm

    if spec.gt_white not in ("blur", "sharp"):
        raise ValueError(f"{spec.name}: GT polarity is {spec.gt_white!r}; register it with gt_white set first")
    pins = []
    files = spec.gt_files(data_root)
    for stem, path in tqdm(files.items(), desc=f"digest {spec.name}", disable=not progress, leave=False):
        arr = read_map(path, luminance=True)
        d = mask_digests(arr)
        digest = d.blur(spec.gt_white)
        if digest is None:
            raise ValueError(f"{path}: not a black-and-white mask, so it cannot be pinned")
        pins.append(Pin(stem, d.shape, digest))
    header = (
        f"{spec.name}: digests of {len(pins)} GT masks, one a line: stem WIDTHxHEIGHT digest\n"
        "digest: BLAKE2b (8 bytes) of height, width and the bit-packed blur mask (True = blurred);\n"
        "see dbdbench/digests.py. Written by `dbdbench datasets digest NAME`."
    )
    return format_digests(pins, header)
