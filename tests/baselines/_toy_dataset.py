"""A tiny on-disk DBD dataset for trainer/prediction tests: noise texture, blurred where the mask is set."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from dbdbench.datasets import DatasetSpec, register


def write_toy_dataset(root: Path, name: str = "TOY-DBD", n: int = 6, size: tuple[int, int] = (48, 64),
                      gt_white: str = "blur", seed: int = 0) -> DatasetSpec:
    """Write ``n`` photos (``size`` = H, W) and GT masks under ``root/name`` and register the dataset.

    Each photo is colour noise, Gaussian-blurred (sigma 3) inside a random axis-aligned rectangle; the mask
    marks that rectangle (white = blur, or inverted when ``gt_white == "sharp"``).
    """
    rng = np.random.default_rng(seed)
    (root / name / "image").mkdir(parents=True, exist_ok=True)
    (root / name / "gt").mkdir(parents=True, exist_ok=True)
    h, w = size
    for i in range(n):
        sharp = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
        blurred = cv2.GaussianBlur(sharp, (0, 0), 3)
        mask = np.zeros((h, w), bool)
        top, left = rng.integers(0, h // 2), rng.integers(0, w // 2)
        mask[top:top + h // 2, left:left + w // 2] = True
        photo = np.where(mask[..., None], blurred, sharp)
        cv2.imwrite(str(root / name / "image" / f"img{i:02d}.png"), photo[..., ::-1])
        gt = mask if gt_white == "blur" else ~mask
        cv2.imwrite(str(root / name / "gt" / f"img{i:02d}.png"), gt.astype(np.uint8) * 255)
    spec = DatasetSpec(name, name, folder=name, n_images=n, gt_white=gt_white)
    return register(spec, overwrite=True)


def ddp_worker(rank: int, world: int, port: int, root: str, out: str) -> None:
    """``torch.multiprocessing.spawn`` target: one gloo rank of a 2-step DPN training validated at its end (one
    image per batch, so that each map is computed as a one-photo `predict` batch); saves its parameters."""
    import os

    import torch

    from baselines.train import TrainConfig, train

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    register(DatasetSpec("TOY-DDP", "TOY-DDP", folder="TOY-DDP", gt_white="blur"), overwrite=True)
    cfg = TrainConfig("dpn", "TOY-DDP", out=Path(out), data_root=Path(root), iterations=2, batch_size=2 * world,
                      input_size=32, pretrained=False, workers=0, progress=False, seed=0, val_set="TOY-DDP",
                      val_every=2, val_batch_size=1)
    result = train(cfg)
    torch.save(result.model.state_dict(), Path(out) / f"rank{rank}.pt")
