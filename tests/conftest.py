"""Shared fixtures: the real data in ``../shared/data`` is read in place and never copied."""

from __future__ import annotations

import os
from pathlib import Path

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
