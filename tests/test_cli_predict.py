"""``dbdbench predict`` and ``dbdbench train`` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from dbdbench.cli import main
from dbdbench.io import read_image, read_map

PHOTOS = ("out_of_focus0080.JPG", "out_of_focus0088.JPG")


def _run(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_missing_images_folder_exits_2_naming_it(tmp_path: Path):
    missing = tmp_path / "no_such_photos"
    res = _run("predict", "--method", "lbp", missing, "--out", tmp_path / "out")
    assert res.exit_code == 2 and str(missing) in res.output


def test_empty_folder_unknown_method_and_missing_weights_exit_2(tmp_path: Path):
    res = _run("predict", "--method", "lbp", tmp_path, "--out", tmp_path / "out")
    assert res.exit_code == 2 and "no images" in res.output
    res = _run("predict", "--method", "sobel", tmp_path, "--out", tmp_path / "out")
    assert res.exit_code == 2 and "unknown method 'sobel'" in res.output and "hifst" in res.output
    res = _run("predict", "--method", "dpn", tmp_path, "--out", tmp_path / "out")
    assert res.exit_code == 2 and "needs --weights" in res.output
    res = _run("predict", "--method", "lbp", tmp_path, "--dataset", "CUHK", "--out", tmp_path / "out")
    assert res.exit_code == 2 and "not both" in res.output


def test_train_reports_bad_settings_with_exit_2(tmp_path: Path):
    res = _run("train", "--method", "dpn", "--train-set", "NO-SUCH-SET", "--pretrained", "none",
               "--out", tmp_path / "run", "--no-progress")
    assert res.exit_code == 2 and "NO-SUCH-SET" in res.output


@pytest.mark.slow
def test_lbp_on_two_real_photos_writes_resumes_and_overwrites(shared_data: Path, tmp_path: Path):
    pytest.importorskip("scipy")
    from baselines.handcrafted import lbp

    photos = tmp_path / "photos"
    photos.mkdir()
    for name in PHOTOS:
        (photos / name).symlink_to(shared_data / "cuhk" / "images" / name)
    out = tmp_path / "maps"
    res = _run("predict", "--method", "lbp", photos, "--out", out, "--jobs", "2", "--no-progress")
    assert res.exit_code == 0, res.output
    assert "wrote 2 map(s)" in res.output
    assert json.loads((out / "meta.json").read_text())["pred_white"] == "sharp"
    first = out / "out_of_focus0080.png"
    ref = np.rint(lbp(read_image(photos / PHOTOS[0])) * 255).astype(np.uint8)
    np.testing.assert_array_equal(read_map(first), ref)  # as the authors: white = sharp, photo size
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.glob("*.png")}
    res = _run("predict", "--method", "lbp", photos, "--out", out, "--no-progress")
    assert "wrote 0 map(s), kept 2 existing" in res.output
    assert mtimes == {p.name: p.stat().st_mtime_ns for p in out.glob("*.png")}
    first.write_bytes(b"")  # a damaged map is recomputed by --overwrite
    res = _run("predict", "--method", "lbp", photos, "--out", out, "--overwrite", "--jobs", "2", "--no-progress")
    assert "wrote 2 map(s)" in res.output
    np.testing.assert_array_equal(read_map(first), ref)
