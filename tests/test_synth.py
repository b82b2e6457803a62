"""The synthetic demo dataset: deterministic, exact masks, blurred exactly where the mask says and nowhere else."""

from __future__ import annotations

import hashlib
import json

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from scipy import ndimage

from dbdbench import synth
from dbdbench.cli import main
from dbdbench.synth import build_demo, disk_psf, gaussian_psf, generate, make_sample, psf_kernel, render_sample


def _digests(folder):
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}  # fmt: skip


def _leftovers(parent):
    return [p.name for p in parent.iterdir() if p.name.startswith(".")]


def _lap_energy(image, where):
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float64)
    return float(np.mean(ndimage.laplace(gray)[where] ** 2))


def _inner(mask, margin):
    """Pixels of ``mask`` more than ``margin`` px (Euclidean) from its complement."""
    return ndimage.distance_transform_edt(mask) > margin


def test_same_arguments_give_byte_identical_files(tmp_path):
    a = generate(tmp_path / "a", n=3, seed=5, size=96)
    b = generate(tmp_path / "b", n=3, seed=5, size=96)
    c = generate(tmp_path / "c", n=3, seed=6, size=96)
    d = generate(tmp_path / "d", n=2, seed=5, size=96)
    assert _digests(a) == _digests(b)
    assert _digests(a)["image/syn0000.png"] != _digests(c)["image/syn0000.png"]
    # sample i is seeded by (seed, i): it does not depend on n
    assert _digests(d)["image/syn0001.png"] == _digests(a)["image/syn0001.png"]
    assert _digests(d)["gt/syn0001.png"] == _digests(a)["gt/syn0001.png"]


def test_written_masks_are_binary_white_is_blur_within_the_fraction_range(tmp_path):
    out = generate(tmp_path / "s", n=4, seed=2, size=80, blur_fraction=(0.2, 0.35))
    meta = json.loads((out / "meta.json").read_text())
    assert meta["gt_polarity"] == "white_is_blur" and meta["n"] == 4 and meta["psf"] == "disk"
    for i in range(4):
        gt = cv2.imread(str(out / "gt" / f"syn{i:04d}.png"), cv2.IMREAD_UNCHANGED)
        img = cv2.imread(str(out / "image" / f"syn{i:04d}.png"), cv2.IMREAD_UNCHANGED)
        assert gt.dtype == np.uint8 and gt.shape == (80, 80) and img.shape == (80, 80, 3)
        assert set(np.unique(gt)) <= {0, 255}
        assert 0.2 <= (gt == 255).mean() <= 0.35
        _, mask = make_sample(np.random.default_rng([2, i]), size=80, blur_fraction=(0.2, 0.35))
        assert np.array_equal(mask, gt == 255)
        assert meta["samples"][i]["blur_fraction"] == pytest.approx(mask.mean(), abs=1e-6)


@pytest.mark.parametrize("psf", ["disk", "gaussian"])
def test_masked_region_is_blurred_and_the_rest_is_the_source(psf):
    for i in range(6):
        s = render_sample(np.random.default_rng([0, i]), size=160, psf=psf)
        assert s.image.shape == (160, 160, 3) and s.image.dtype == np.uint8 and s.mask.dtype == np.bool_
        assert 0.3 <= s.mask.mean() <= 0.7
        inner_blur = _inner(s.mask, 3)
        # blurring removes most Laplacian energy from the pixels it touched
        assert _lap_energy(s.image, inner_blur) < 0.5 * _lap_energy(s.sharp, inner_blur), s.info
        # in-focus pixels farther from the mask than the largest blur radius are the source crop itself
        far = _inner(~s.mask, s.info["radius_px"][1] + 1)
        assert np.array_equal(s.image[far], s.sharp[far]), s.info
        if not s.info["blur_in_front"]:  # an in-focus layer in front is exact up to its border
            assert np.array_equal(s.image[~s.mask], s.sharp[~s.mask]), s.info


def test_blurred_region_has_less_laplacian_energy_than_the_sharp_region():
    for i in range(12):
        s = render_sample(np.random.default_rng([0, i]))
        assert _lap_energy(s.image, _inner(s.mask, 3)) < _lap_energy(s.image, _inner(~s.mask, 9)), s.info


def _reference(sharp, mask, radius, blur_in_front):
    """One blurred layer at a fixed radius, composited by hand with scipy (independent of cv2.filter2D)."""
    k = disk_psf(radius).astype(np.float64)
    m = mask.astype(np.float64)[:, :, None]
    img = sharp.astype(np.float64)
    blur = np.stack([ndimage.correlate(img[:, :, c] * m[:, :, 0], k, mode="reflect") for c in range(3)], axis=2)
    alpha = ndimage.correlate(m[:, :, 0], k, mode="reflect")[:, :, None]
    if blur_in_front:  # blurred layer over the sharp background (alpha 1 - m): a soft rim spills outside
        return (blur + (1 - alpha) * img * (1 - m)) / (alpha + (1 - alpha) * (1 - m))
    # sharp layer over the blurred background: normalised convolution behind, source pixels in front
    return np.where(mask[:, :, None], blur / np.maximum(alpha, 1e-12), img)


@pytest.mark.parametrize("blur_in_front", [False, True])
def test_single_layer_compositing_matches_a_hand_computed_reference(blur_in_front):
    p = 1.0 if blur_in_front else 0.0
    s = render_sample(np.random.default_rng([4, 1]), size=96, radius=(4.0, 4.0), p_blur_front=p)
    assert s.info["radius_px"] == [4.0, 4.0] and s.info["blur_in_front"] is blur_in_front
    ref = _reference(s.sharp, s.mask, 4.0, blur_in_front)
    assert np.abs(s.image.astype(np.float64) - ref).max() <= 0.51


def test_no_sharp_colour_leaks_into_a_background_blur():
    # a white in-focus square in front of a black background: the blur behind it stays black
    sharp = np.zeros((64, 64, 3), np.uint8)
    sharp[24:40, 24:40] = 255
    mask = np.ones((64, 64), bool)
    mask[24:40, 24:40] = False
    out = synth.composite_layers(sharp, [mask, ~mask], [disk_psf(6.0), None])
    assert out[mask].max() < 1e-4 and np.array_equal(out[~mask], sharp[~mask].astype(np.float32))


def test_psfs_are_normalised_with_the_documented_spread():
    for r in (2.0, 3.5, 8.0):
        for kind in ("disk", "gaussian"):
            k = psf_kernel(r, kind).astype(np.float64)
            assert k.sum() == pytest.approx(1.0, abs=1e-6) and np.allclose(k, k.T) and np.allclose(k, k[::-1])
        d = disk_psf(r).astype(np.float64)
        h = d.shape[0] // 2
        y, x = np.mgrid[-h : h + 1, -h : h + 1]
        near, far = np.hypot(np.abs(x) + 0.5, np.abs(y) + 0.5), np.hypot(np.abs(x) - 0.5, np.abs(y) - 0.5)
        assert np.allclose(d[near <= r], d.max()) and np.all(d[far >= r] == 0)  # flat inside, zero outside
        g = gaussian_psf(r).astype(np.float64)
        h = g.shape[0] // 2
        y, x = np.mgrid[-h : h + 1, -h : h + 1]
        assert (g * x**2).sum() == pytest.approx(r * r / 4, rel=0.03)  # sigma = r / 2
    with pytest.raises(ValueError, match="unknown PSF 'box'"):
        psf_kernel(2, "box")


@pytest.mark.parametrize(
    ("options", "message"),
    [({"psf": "box"}, "unknown PSF"), ({"blur_fraction": (0.8, 0.2)}, "blur_fraction"),
     ({"radius": (0.0, 3.0)}, "radius"), ({"sources": ["chelsea"]}, "unknown source photo 'chelsea'")],
)  # fmt: skip
def test_bad_options_fail_before_writing_anything(tmp_path, options, message):
    with pytest.raises(ValueError, match=message):
        generate(tmp_path / "x", n=2, size=48, **options)
    assert not (tmp_path / "x").exists() and not _leftovers(tmp_path)


def test_refuses_to_overwrite_and_replaces_atomically(tmp_path):
    out = generate(tmp_path / "d", n=2, size=64)
    before = _digests(out)
    with pytest.raises(FileExistsError, match="not empty"):
        generate(out, n=3, size=64)
    assert _digests(out) == before
    generate(out, n=1, size=64, overwrite=True)
    assert len(list((out / "gt").glob("*.png"))) == 1 and not _leftovers(tmp_path)


def test_an_interrupted_run_leaves_nothing_behind(tmp_path, monkeypatch):
    real = synth.render_sample
    calls = []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:  # the option check, sample 0, then fail on sample 1
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(synth, "render_sample", failing)
    with pytest.raises(KeyboardInterrupt):
        generate(tmp_path / "i", n=4, size=48)
    assert list(tmp_path.iterdir()) == []


def test_cli(tmp_path):
    out = tmp_path / "s"
    res = CliRunner().invoke(main, ["synth", str(out), "--n", "2", "--size", "64", "--psf", "gaussian", "--seed", "3"])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (out / "gt").iterdir()) == ["syn0000.png", "syn0001.png"]
    meta = json.loads((out / "meta.json").read_text())
    assert (meta["psf"], meta["seed"], meta["size"]) == ("gaussian", 3, 64)
    _, mask = make_sample(np.random.default_rng([3, 1]), size=64, psf="gaussian")
    assert np.array_equal(cv2.imread(str(out / "gt" / "syn0001.png"), cv2.IMREAD_UNCHANGED) == 255, mask)
    again = CliRunner().invoke(main, ["synth", str(out), "--n", "2"])
    assert again.exit_code == 2 and "not empty" in again.output
    forced = CliRunner().invoke(main, ["synth", str(out), "--n", "1", "--size", "48", "--overwrite",
                                       "--blur-fraction", "0.4", "0.5", "--radius", "2", "3"])  # fmt: skip
    assert forced.exit_code == 0, forced.output
    meta = json.loads((out / "meta.json").read_text())
    assert meta["n"] == 1 and meta["options"] == {"blur_fraction": [0.4, 0.5], "radius": [2.0, 3.0]}
    assert 0.4 <= meta["samples"][0]["blur_fraction"] <= 0.5


def test_build_demo_rebuilds_a_folder_from_an_older_generator(tmp_path):
    folder = build_demo(tmp_path / "SYN-DEMO", n=2)
    meta_file = folder / "meta.json"
    stamp = meta_file.stat().st_mtime_ns
    assert build_demo(folder, n=2) == folder and meta_file.stat().st_mtime_ns == stamp  # current: untouched
    meta = json.loads(meta_file.read_text())
    meta_file.write_text(json.dumps({**meta, "version": meta["version"] - 1}))
    build_demo(folder, n=2)
    assert json.loads(meta_file.read_text())["version"] == synth.GENERATOR_VERSION


def test_syn_demo_builds_itself(tmp_path):
    from dbdbench.datasets import get_dataset

    files = get_dataset("SYN-DEMO").gt_files(tmp_path)
    assert len(files) == 24 and (tmp_path / "SYN-DEMO" / "image" / "syn0023.png").is_file()
