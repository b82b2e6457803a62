"""Find datasets on disk and verify them file by file (``dbdbench datasets [verify NAME]``)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from dbdbench.datasets import DatasetSpec, index_folder
from dbdbench.io import read_image, read_map


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


def verify_dataset(spec: DatasetSpec, data_root: str | os.PathLike | None = None, progress: bool = False):
    """Read every file: counts, readability, image/GT size agreement. Returns a list of problems (empty = ok)."""
    from tqdm.auto import tqdm

    st = dataset_status(spec, data_root)
    if st.status in ("missing", "unlisted"):
        return [f"{spec.name}: {st.status} ({spec.gt_folder(data_root)})"]
    problems = list(st.problems)
    gts = spec.gt_files(data_root)
    img_dir = spec.image_folder(data_root)
    images = index_folder(img_dir) if img_dir.is_dir() else {}
    lower = {k.lower(): v for k, v in images.items()}
    for stem, gt_path in tqdm(gts.items(), desc=f"verify {spec.name}", disable=not progress, leave=False):
        try:
            gt = read_map(gt_path, luminance=True)
        except ValueError as exc:
            problems.append(str(exc))
            continue
        img_path = lower.get(stem.lower())
        if img_path is None:
            if images:
                problems.append(f"{stem}: image missing from {img_dir}")
            continue
        try:
            img = read_image(img_path)
        except ValueError as exc:
            problems.append(str(exc))
            continue
        if img.shape[:2] != gt.shape:
            problems.append(f"{stem}: image {img.shape[1]}x{img.shape[0]} but GT {gt.shape[1]}x{gt.shape[0]}")
    return problems
