"""A full disk: every writer ends in a one-line error and exit code 2, and leaves no file behind.

The disk is simulated: every file opened for writing under one folder raises ``ENOSPC`` on its first write,
as a full file system does (the file itself is created, as on a real one).
"""

from __future__ import annotations

import builtins
import errno
import io
import json
import os

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from dbdbench.cli import main
from dbdbench.results import Result, WriteError, atomic_write_bytes

STEMS = [f"img{i:02d}" for i in range(6)]


class _FullFile:
    """A file object whose writes fail like those of a full file system."""

    def __init__(self, fh):
        self._fh = fh

    def write(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    def __getattr__(self, name):
        return getattr(self._fh, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._fh.close()


@pytest.fixture
def full(tmp_path, monkeypatch):
    """A folder on a "full disk"."""
    folder = tmp_path / "full"
    folder.mkdir()
    real_open = builtins.open

    def fake_open(file, mode="r", *args, **kwargs):
        fh = real_open(file, mode, *args, **kwargs)
        if isinstance(file, (str, bytes)) or hasattr(file, "__fspath__"):
            if any(c in mode for c in "wax+") and str(file).startswith(str(folder)):
                return _FullFile(fh)
        return fh

    monkeypatch.setattr(builtins, "open", fake_open)
    monkeypatch.setattr(io, "open", fake_open)
    return folder


def _files(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def _one_line_error(res, path_part: str):
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "No space left on device" in lines[0] and path_part in lines[0], res.output
    assert "Traceback" not in res.output


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_atomic_write_keeps_the_old_file_and_no_temp_file(full):
    target = full / "r.json"
    with pytest.raises(WriteError, match=f"cannot write {target}: No space left on device"):
        atomic_write_bytes(target, b"new")
    assert _files(full) == []


@pytest.mark.parametrize("option,name", [("--json", "r.json"), ("--per-image", "r.csv")])
def test_evaluate_outputs_on_a_full_disk(tiny, full, option, name):
    res = run("evaluate", tiny["preds"], "-d", "TINY", "--pred-white", "blur", option, full / name, "-q")
    _one_line_error(res, str(full / name)[:-5])
    assert _files(full) == []


def test_table_and_plot_on_a_full_disk(tmp_path, full):
    pytest.importorskip("matplotlib")
    res_file = tmp_path / "a.json"
    Result(protocol="dbdbench", scores={"max_f": 0.5, "mae": 0.2}, dataset="TINY", method="a", n_images=3,
           curves={k: np.linspace(0, 1, 5) for k in ("thresholds", "precision", "recall", "fpr", "f")},
           ).to_json(res_file)  # fmt: skip
    _one_line_error(run("table", res_file, "--out", full / "t.md"), "t.md")
    _one_line_error(run("plot", res_file, "--out", full / "pr.svg"), "pr.svg")
    assert _files(full) == []


def test_predict_on_a_full_disk(tmp_path, full):
    pytest.importorskip("baselines")
    photos = tmp_path / "photos"
    photos.mkdir()
    cv2.imwrite(str(photos / "a.png"), np.random.default_rng(0).integers(0, 255, (24, 32, 3), dtype=np.uint8))
    res = run("predict", "--method", "lbp", photos, "--out", full / "maps", "--no-progress")
    _one_line_error(res, str(full / "maps"))
    assert _files(full) == []


def test_gt_cache_on_a_full_disk_leaves_no_temp_file_and_scores_right(tiny, full, monkeypatch):
    out = tiny["tmp"] / "ref.json"
    monkeypatch.setenv("DBDBENCH_CACHE", "off")
    assert run("evaluate", tiny["preds"], "-d", "TINY", "--pred-white", "blur", "--json", out, "-q").exit_code == 0
    monkeypatch.setenv("DBDBENCH_CACHE", str(full))
    for _ in range(2):
        got = tiny["tmp"] / "got.json"
        res = run("evaluate", tiny["preds"], "-d", "TINY", "--pred-white", "blur", "--json", got, "-q")
        assert res.exit_code == 0, res.output
        assert json.loads(got.read_text())["scores"] == json.loads(out.read_text())["scores"]
    assert _files(full) == []


def test_synth_on_a_full_disk_leaves_nothing(full):
    res = run("synth", full / "SYN", "--n", 2, "--size", 32)
    _one_line_error(res, "syn0000.png")
    assert _files(full) == []


def test_leaderboard_on_a_full_disk(full):
    from pathlib import Path

    submissions = Path(__file__).resolve().parents[1] / "submissions"
    res = run("leaderboard", "--submissions", submissions, "--out", full / "reports", "--no-plots")
    _one_line_error(res, str(full / "reports"))
    assert _files(full) == []


def test_training_checkpoint_on_a_full_disk_keeps_the_last_one_and_leaves_no_temp_file(full, tmp_path):
    pytest.importorskip("torch")
    from baselines.checkpoint import save_checkpoint

    good = tmp_path / "last.pt"
    save_checkpoint(good, {"step": 1})
    target = full / "last.pt"
    fd = os.open(target, os.O_WRONLY | os.O_CREAT)  # the previous checkpoint, written before the disk filled up
    os.write(fd, good.read_bytes())
    os.close(fd)
    with pytest.raises(WriteError, match=f"cannot write {target}: No space left on device"):
        save_checkpoint(target, {"step": 2})
    assert _files(full) == ["last.pt"] and target.read_bytes() == good.read_bytes()
