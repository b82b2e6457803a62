"""The decoded-GT cache returns what decoding returns, notices edited files, never trusts a damaged entry."""

from __future__ import annotations

import os
import struct

import cv2
import numpy as np
import pytest

from dbdbench.datasets import DatasetSpec
from dbdbench.digests import mask_digests
from dbdbench.evaluate import evaluate_folder
from dbdbench.gt.cache import cache_dir, cache_max, entry_path, gt_digests, read_gt
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


def _old_format_entry(shape: tuple[int, int]) -> bytes:
    """An entry of the first cache format (no length, no checksum) holding an all-black mask of ``shape``.

    Written from that format's description: magic ``DBGT1``, height, width, full scale, itemsize, packed bits.
    """
    return struct.pack("<5sIIHB", b"DBGT1", *shape, 255, 1) + bytes((shape[0] * shape[1] + 7) // 8)


def _flip_byte(blob: bytes, at: int) -> bytes:
    return blob[:at] + bytes([blob[at] ^ 0x5A]) + blob[at + 1 :]


DAMAGE = {
    "truncated": lambda blob, shape: blob[: len(blob) // 2],
    "cut-by-one": lambda blob, shape: blob[:-1],
    "flipped-payload-byte": lambda blob, shape: _flip_byte(blob, len(blob) - 7),
    "flipped-header-byte": lambda blob, shape: _flip_byte(blob, 9),
    "trailing-bytes": lambda blob, shape: blob + bytes(16),
    "empty": lambda blob, shape: b"",
    "old-format": lambda blob, shape: _old_format_entry(shape),
}


def _mask(shape=(37, 53), x0: int = 20) -> np.ndarray:
    yy, xx = np.indices(shape)
    return np.where((xx - x0) ** 2 + (yy - 15) ** 2 < 120, 255, 0).astype(np.uint8)


@pytest.mark.parametrize("damage", DAMAGE, ids=list(DAMAGE))
def test_damaged_entry_is_decoded_again_and_rewritten(tmp_path, damage):
    path = tmp_path / "m.png"
    arr = _mask()
    cv2.imwrite(str(path), arr)
    read_gt(path)
    entry = entry_path(path)
    good = entry.read_bytes()
    entry.write_bytes(DAMAGE[damage](good, arr.shape))
    assert np.array_equal(read_gt(path), arr)
    assert entry.read_bytes() == good  # rewritten, not left damaged
    assert gt_digests(path) == mask_digests(arr)


def test_damaged_header_never_changes_the_digests(tmp_path):
    path = tmp_path / "m.png"
    cv2.imwrite(str(path), _mask())
    read_gt(path)
    entry = entry_path(path)
    entry.write_bytes(entry.read_bytes()[:20])  # the header cut off: the fast path must not trust it
    assert gt_digests(path) == mask_digests(_mask())


def _write_dataset(root, n: int = 6):
    rng = np.random.default_rng(3)
    (root / "DS" / "gt").mkdir(parents=True)
    preds = root / "preds"
    preds.mkdir()
    for i in range(n):
        gt = _mask((40, 60), x0=10 + 7 * i)
        noisy = np.clip(gt.astype(float) * 0.7 + rng.uniform(0, 80, gt.shape), 0, 255).astype(np.uint8)
        cv2.imwrite(str(root / "DS" / "gt" / f"im{i}.png"), gt)
        cv2.imwrite(str(preds / f"im{i}.png"), noisy)
    return preds, DatasetSpec("DS", "DS", folder="DS", gt_white="blur", n_images=n)


@pytest.mark.parametrize("damage", ["truncated", "flipped-payload-byte", "old-format"])
def test_scores_after_cache_damage_equal_a_clean_run(tmp_path, monkeypatch, damage):
    monkeypatch.setenv("DBDBENCH_CACHE", str(tmp_path / "cache"))
    preds, spec = _write_dataset(tmp_path)
    clean = evaluate_folder(preds, spec, pred_white="blur", data_root=tmp_path, hashes=False)
    entries = sorted((tmp_path / "cache" / "gt").glob("*.gt"))
    assert len(entries) == 6
    for entry in entries:
        entry.write_bytes(DAMAGE[damage](entry.read_bytes(), (40, 60)))
    again = evaluate_folder(preds, spec, pred_white="blur", data_root=tmp_path, hashes=False)
    assert again.scores == clean.scores
    assert [r["mae"] for r in again.per_image] == [r["mae"] for r in clean.per_image]


def test_the_cache_folder_is_passed_down_not_read_per_file(tiny, tmp_path, monkeypatch):
    """``evaluate_folder`` reads ``DBDBENCH_CACHE`` once (or takes ``gt_cache``) and hands the folder down."""
    from dbdbench.datasets import register_from_toml

    register_from_toml(tiny["tmp"] / "datasets.toml")
    kw = {"pred_white": "blur", "hashes": False, "data_root": tiny["root"]}
    env_folder, given = tmp_path / "env", tmp_path / "given"
    monkeypatch.setenv("DBDBENCH_CACHE", str(env_folder))
    plain = evaluate_folder(tiny["preds"], "TINY", gt_cache=None, **kw)
    assert not env_folder.exists()  # None: no cache at all, whatever the environment says
    cached = evaluate_folder(tiny["preds"], "TINY", gt_cache=given, **kw)
    assert len(list(given.glob("*.gt"))) == 6 and not env_folder.exists()
    from_env = evaluate_folder(tiny["preds"], "TINY", **kw)
    assert len(list((env_folder / "gt").glob("*.gt"))) == 6
    assert plain.scores == cached.scores == from_env.scores


def test_one_entry_per_content_whatever_path_names_the_file(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    (tmp_path / "d").mkdir()
    path = tmp_path / "d" / "m.png"
    cv2.imwrite(str(path), _mask())
    (tmp_path / "link").symlink_to(tmp_path / "d")
    monkeypatch.chdir(tmp_path)
    for name in (path, "d/m.png", "link/m.png", tmp_path / "link" / ".." / "d" / "m.png"):
        assert np.array_equal(read_gt(name, folder), _mask())
    assert len(list(folder.glob("*.gt"))) == 1
    cv2.imwrite(str(path), _mask(x0=30))  # new content, new entry
    assert np.array_equal(read_gt("link/m.png", folder), _mask(x0=30))
    assert len(list(folder.glob("*.gt"))) == 2


@pytest.mark.parametrize("text,expected", [("2G", 2 << 30), ("500M", 500 << 20), ("1000", 1000), ("1.5k", 1536),
                                           ("3 GiB", 3 << 30), ("", 2 << 30)])  # fmt: skip
def test_cache_max_reads_sizes(monkeypatch, text, expected):
    monkeypatch.setenv("DBDBENCH_CACHE_MAX", text)
    assert cache_max() == expected


def test_cache_max_refuses_what_is_not_a_size(monkeypatch):
    monkeypatch.setenv("DBDBENCH_CACHE_MAX", "lots")
    with pytest.raises(ValueError, match="DBDBENCH_CACHE_MAX='lots' is not a size"):
        cache_max()


def test_the_bound_removes_the_least_recently_used_entries(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    paths = []
    for i in range(4):
        paths.append(tmp_path / f"m{i}.png")
        cv2.imwrite(str(paths[-1]), _mask(x0=10 + 5 * i))
    entries = []
    for i, path in enumerate(paths[:3]):
        read_gt(path, folder)
        entries.append(entry_path(path, folder))
        os.utime(entries[-1], (1e9 + 100 * i, 1e9 + 100 * i))  # used long ago, m0 first
    size = entries[0].stat().st_size
    assert all(e.stat().st_size == size for e in entries)
    monkeypatch.setenv("DBDBENCH_CACHE_MAX", str(3 * size))
    read_gt(paths[0], folder)  # a hit: m0 becomes the most recently used
    read_gt(paths[3], folder)  # a fourth entry: one must go, the least recently used (m1)
    left = {p.name for p in folder.glob("*.gt")}
    assert left == {entry_path(paths[i], folder).name for i in (0, 2, 3)}


def test_cache_info_and_clear_commands(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from dbdbench.cli import main

    monkeypatch.setenv("DBDBENCH_CACHE", str(tmp_path / "c"))
    for i in range(2):
        cv2.imwrite(str(tmp_path / f"m{i}.png"), _mask(x0=10 + 5 * i))
        read_gt(tmp_path / f"m{i}.png")
    (cache_dir() / ".x.gt.123.tmp").write_bytes(b"left by a killed process")
    size = sum(p.stat().st_size for p in cache_dir().glob("*.gt"))
    res = CliRunner().invoke(main, ["cache", "info"])
    assert res.exit_code == 0 and f"entries: 2 ({size} B)" in res.output and str(cache_dir()) in res.output
    res = CliRunner().invoke(main, ["cache", "clear"])
    assert res.exit_code == 0 and f"removed 2 entries ({size} B)" in res.output
    assert list(cache_dir().iterdir()) == []
    monkeypatch.setenv("DBDBENCH_CACHE_MAX", "lots")
    res = CliRunner().invoke(main, ["cache", "info"])
    assert res.exit_code == 2 and res.output.startswith("error: DBDBENCH_CACHE_MAX='lots'")
