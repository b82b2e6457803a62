"""The synthetic demo dataset: deterministic, exact masks, blurred where the mask says."""

from __future__ import annotations

import hashlib

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from dbdbench.cli import main
from dbdbench.synth import generate, make_sample, psf_kernel


def _digest(folder):
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(p.name.encode() + p.read_bytes())
    return h.hexdigest()


def test_deterministic(tmp_path):
    a = generate(tmp_path / "a", n=3, seed=5, size=96)
    b = generate(tmp_path / "b", n=3, seed=5, size=96)
    c = generate(tmp_path / "c", n=3, seed=6, size=96)
    assert _digest(a) == _digest(b) != _digest(c)


@pytest.mark.parametrize("psf", ["disk", "gaussian"])
def test_masked_region_is_blurrier(psf):
    for i in range(4):
        img, mask = make_sample(np.random.default_rng([0, i]), size=160, psf=psf)
        assert img.shape == (160, 160, 3) and img.dtype == np.uint8 and mask.dtype == np.bool_
        assert 0.25 <= mask.mean() <= 0.75
        lap = np.abs(cv2.Laplacian(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(float), cv2.CV_64F))
        inner_blur = cv2.erode(mask.astype(np.uint8), np.ones((9, 9))) > 0  # away from the borders
        inner_sharp = cv2.erode((~mask).astype(np.uint8), np.ones((9, 9))) > 0
        assert lap[inner_blur].mean() < 0.5 * lap[inner_sharp].mean()


def test_sharp_region_is_untouched():
    rng = np.random.default_rng([1, 0])
    img, mask = make_sample(rng, size=128)
    # the in-focus layer is the nearer one: its pixels are the source crop, so they keep full detail
    assert img[~mask].std() > 0


def test_psf_kernels_are_normalised():
    for kind in ("disk", "gaussian"):
        k = psf_kernel(3.5, kind)
        assert k.sum() == pytest.approx(1.0, abs=1e-6) and np.allclose(k, k.T)
    with pytest.raises(ValueError, match="unknown PSF"):
        psf_kernel(2, "box")


def test_refuses_to_overwrite_and_writes_atomically(tmp_path):
    out = generate(tmp_path / "d", n=2, size=64)
    with pytest.raises(FileExistsError, match="not empty"):
        generate(out, n=2, size=64)
    generate(out, n=1, size=64, overwrite=True)
    assert len(list((out / "gt").glob("*.png"))) == 1
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_cli(tmp_path):
    res = CliRunner().invoke(main, ["synth", str(tmp_path / "s"), "--n", "2", "--size", "64", "--psf", "gaussian"])
    assert res.exit_code == 0, res.output
    gt = cv2.imread(str(tmp_path / "s" / "gt" / "syn0000.png"), cv2.IMREAD_UNCHANGED)
    assert set(np.unique(gt)) <= {0, 255}
    again = CliRunner().invoke(main, ["synth", str(tmp_path / "s"), "--n", "2"])
    assert again.exit_code == 2 and "not empty" in again.output


def test_syn_demo_builds_itself(tmp_path):
    from dbdbench.datasets import get_dataset

    files = get_dataset("SYN-DEMO").gt_files(tmp_path)
    assert len(files) == 24 and (tmp_path / "SYN-DEMO" / "image" / "syn0023.png").is_file()
