"""Shared fixtures: the real data in ``../shared/data`` is read in place and never copied."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _shared_data_dir() -> Path:
    env = os.environ.get("DBDBENCH_SHARED_DATA")
    return Path(env) if env else ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real DBD data (CUHK GT, HiFST maps, authors' outputs); skips when it is not beside the repo."""
    path = _shared_data_dir()
    if not (path / "cuhk" / "gt").is_dir():
        pytest.skip(f"real data not found at {path} (set DBDBENCH_SHARED_DATA to the shared/data folder)")
    return path


@pytest.fixture
def data_root(shared_data, tmp_path):
    """The registry layout ``<root>/CUHK/{gt,image}``, linked to the shared data (never copied)."""
    (tmp_path / "CUHK").mkdir()
    (tmp_path / "CUHK" / "gt").symlink_to(shared_data / "cuhk" / "gt")
    (tmp_path / "CUHK" / "image").symlink_to(shared_data / "cuhk" / "images")
    return tmp_path


@pytest.fixture(autouse=True, scope="session")
def _gt_cache_in_tmp(tmp_path_factory):
    """Keep the decoded-GT cache of the test run out of the user's home."""
    old = os.environ.get("DBDBENCH_CACHE")
    os.environ["DBDBENCH_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if old is None:
        os.environ.pop("DBDBENCH_CACHE", None)
    else:
        os.environ["DBDBENCH_CACHE"] = old


STEMS = [f"img{i:02d}" for i in range(6)]


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    """A registered dataset TINY (white = blur GT) and a folder of decent P(blur) predictions."""
    rng = np.random.default_rng(0)
    root = tmp_path / "data"
    gt_dir = root / "TINY" / "gt"
    gt_dir.mkdir(parents=True)
    preds = tmp_path / "preds"
    preds.mkdir()
    gts, maps = {}, {}
    for i, stem in enumerate(STEMS):
        gt = np.zeros((30, 40), np.uint8)
        gt[:, : 10 + 4 * i] = 255
        pred = np.clip(gt * 0.7 + rng.normal(40, 30, gt.shape), 0, 255).astype(np.uint8)
        cv2.imwrite(str(gt_dir / f"{stem}.png"), gt)
        cv2.imwrite(str(preds / f"{stem}.png"), pred)
        gts[stem], maps[stem] = gt, pred
    toml = tmp_path / "datasets.toml"
    toml.write_text('[datasets.TINY]\nfolder = "TINY"\ngt_white = "blur"\nn_images = 6\n')
    monkeypatch.setenv("DBDBENCH_DATASETS", str(toml))
    monkeypatch.setenv("DBDBENCH_DATA", str(root))
    return {"root": root, "preds": preds, "gts": gts, "maps": maps, "tmp": tmp_path}
