"""The decoded-GT cache returns exactly what decoding returns, and notices edited files."""

from __future__ import annotations

import os

import cv2
import numpy as np
import pytest

from dbdbench.gtcache import cache_dir, read_gt
from dbdbench.io import read_map


@pytest.mark.parametrize(
    "arr",
    [
        np.where(np.indices((37, 53))[0] > 20, 255, 0).astype(np.uint8),  # binary 8-bit
        (np.arange(37 * 53) % 256).reshape(37, 53).astype(np.uint8),  # non-binary
        np.where(np.indices((37, 53))[1] > 9, 65535, 0).astype(np.uint16),  # binary 16-bit
        (np.arange(37 * 53) * 31 % 65536).reshape(37, 53).astype(np.uint16),
    ],
    ids=["binary8", "gray8", "binary16", "gray16"],
)
def test_cached_equals_decoded(tmp_path, arr):
    path = tmp_path / "m.png"
    cv2.imwrite(str(path), arr)
    first, second = read_gt(path), read_gt(path)
    assert len(list(cache_dir().glob("*.gt"))) >= 1
    for out in (first, second):
        assert out.dtype == arr.dtype and np.array_equal(out, read_map(path))


def test_edited_file_is_read_again(tmp_path):
    path = tmp_path / "m.png"
    cv2.imwrite(str(path), np.zeros((8, 8), np.uint8))
    read_gt(path)
    cv2.imwrite(str(path), np.full((8, 9), 255, np.uint8))
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    assert read_gt(path).shape == (8, 9)


def test_disabled_or_broken_cache_still_reads(tmp_path, monkeypatch):
    path = tmp_path / "m.png"
    cv2.imwrite(str(path), np.eye(6, dtype=np.uint8) * 255)
    monkeypatch.setenv("DBDBENCH_CACHE", "off")
    assert np.array_equal(read_gt(path), read_map(path))
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("DBDBENCH_CACHE", str(blocked))
    assert np.array_equal(read_gt(path), read_map(path))
