"""Tests of the HiFST port: MATLAB building blocks against independent references, and the whole method
against the authors' own output maps (``shared_data/hifst/examples``)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from scipy.fft import dct, dctn

from baselines.handcrafted import _hifst_matlab as ml
from baselines.handcrafted import hifst
from baselines.handcrafted._hifst_dct import dct_matrix, high_band_mask, phase_geometry, sorted_high_coefficients
from baselines.handcrafted._hifst_rf import recursive_filter

FAST_EXAMPLES = ["motion0138"]
SLOW_EXAMPLES = ["motion0239", "out_of_focus0223", "out_of_focus0284", "A1", "A2", "A3", "A4", "A5"]


# ----------------------------------------------------------------------------- references (literal ports)


def _freqbands_literal(m: int) -> np.ndarray:
    """``FreqBands`` of ``HiFST.m`` transcribed loop by loop (1-based ranges shifted to 0-based)."""
    lab = np.zeros((m, m), dtype=int)
    for i in range(1, m + 1):
        stop = (m - 1) // 2 - i + 2
        if stop >= 1:
            lab[0:stop, i - 1] = 1
    for i in range(1, m + 1):
        if m - (m - 1) // 2 - i + 1 <= 0:
            lab[0: max(0, m - i), i - 1] = 2
        else:
            lab[m - (m - 1) // 2 - i: m - i, i - 1] = 2
    lab[0, 0] = 3
    return lab


def _rf_literal(img: np.ndarray, sigma_s: float, sigma_r: float, n_iter: int, joint: np.ndarray) -> np.ndarray:
    """``RF.m`` (Gastal & Oliveira) with its explicit column loops and transposes."""
    f = img.astype(float).copy()
    h, w = f.shape
    didx = np.zeros((h, w))
    didy = np.zeros((h, w))
    didx[:, 1:] = np.abs(np.diff(joint, axis=1))
    didy[1:, :] = np.abs(np.diff(joint, axis=0))
    dhdx = 1 + sigma_s / sigma_r * didx
    dvdy = (1 + sigma_s / sigma_r * didy).T

    def sweep(f: np.ndarray, d: np.ndarray, sigma: float) -> np.ndarray:
        a = np.exp(-np.sqrt(2) / sigma)
        v = a**d
        f = f.copy()
        for i in range(1, f.shape[1]):
            f[:, i] = f[:, i] + v[:, i] * (f[:, i - 1] - f[:, i])
        for i in range(f.shape[1] - 2, -1, -1):
            f[:, i] = f[:, i] + v[:, i + 1] * (f[:, i + 1] - f[:, i])
        return f

    for i in range(n_iter):
        sigma_i = sigma_s * np.sqrt(3) * 2 ** (n_iter - (i + 1)) / np.sqrt(4**n_iter - 1)
        f = sweep(f, dhdx, sigma_i).T
        f = sweep(f, dvdy, sigma_i).T
    return f


def _per_pixel_layers(grad: np.ndarray, sizes: tuple[int, ...], n_layers: int) -> np.ndarray:
    """The main loop of ``HiFST.m``: per pixel, scipy's orthonormal 2-D DCT of each centred block."""
    pad = max(sizes) // 2
    gp = np.pad(grad, pad)
    h, w = grad.shape
    out = np.empty((h, w, n_layers))
    for y in range(h):
        for x in range(w):
            vals = []
            for m in sizes:
                r = m // 2
                block = gp[y + pad - r: y + pad + r + 1, x + pad - r: x + pad + r + 1]
                vals.append(np.abs(dctn(block, norm="ortho"))[_freqbands_literal(m) == 0])
            out[y, x] = np.sort(np.concatenate(vals))[:n_layers]
    return out


def _test_image(h: int = 40, w: int = 56, seed: int = 0) -> np.ndarray:
    """RGB uint8 image: sharp random texture on the left half, the same texture blurred on the right."""
    rng = np.random.default_rng(seed)
    tex = rng.integers(0, 256, size=(h, w, 3)).astype(np.float64)
    blurred = cv2.GaussianBlur(tex, (0, 0), 3.0)
    img = np.where(np.arange(w)[None, :, None] < w // 2, tex, blurred)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


# ----------------------------------------------------------------------------- building blocks


@pytest.mark.parametrize("m", [7, 15, 31, 63])
def test_high_band_is_freqbands_label_zero(m: int) -> None:
    mask = high_band_mask(m)
    np.testing.assert_array_equal(mask, _freqbands_literal(m) == 0)
    assert mask.sum() == m * (m + 1) // 2


def test_high_band_total_is_2660_coefficients() -> None:
    assert sum(high_band_mask(m).sum() for m in (7, 15, 31, 63)) == 2660


@pytest.mark.parametrize("m", [1, 7, 63])
def test_dct_matrix_is_scipy_orthonormal_dct2(m: int) -> None:
    np.testing.assert_allclose(dct_matrix(m), dct(np.eye(m), norm="ortho", axis=0), atol=1e-14)


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-10), (np.float32, 1e-4)])
def test_sorted_layers_match_per_pixel_dct(dtype: type, rtol: float) -> None:
    rng = np.random.default_rng(1)
    grad = rng.random((9, 11)) * 300
    ref = _per_pixel_layers(grad, (7, 15, 31, 63), 117)
    for chunk, threads in [(11, 1), (30, 2), (10_000, 1)]:
        got = sorted_high_coefficients(grad, (7, 15, 31, 63), 117, chunk_pixels=chunk, dtype=dtype, n_threads=threads)
        assert got.dtype == dtype
        np.testing.assert_allclose(got, ref, rtol=0, atol=rtol * ref.max())


@pytest.mark.parametrize("width, m_max", [(1, 63), (40, 9), (64, 63), (65, 63), (640, 63), (1094, 63), (4000, 63)])
def test_phase_geometry_holds_every_window_in_its_row(width: int, m_max: int) -> None:
    s, q = phase_geometry(width, m_max)
    assert s >= m_max  # windows of one phase do not overlap: a BLAS matrix without a copy
    assert q * s >= width + m_max - 1  # the last real pixel's window ends inside its row
    # Little waste: within 1 % of the fewest slots any S in [m_max, 2 m_max) gives, or one window per row.
    least = min(t * -(-(width + m_max - 1) // t) for t in range(m_max, 2 * m_max))
    assert q == 1 or q * s <= 1.01 * least


@pytest.mark.parametrize(
    "shape, sizes, n_layers, chunk",
    [((7, 40), (3, 9), 20, 80), ((5, 150), (7, 15, 31, 63), 117, 300), ((3, 65), (7, 63), 40, 10_000)],
)
def test_sorted_layers_match_per_pixel_dct_across_phases(
    shape: tuple[int, int], sizes: tuple[int, ...], n_layers: int, chunk: int
) -> None:
    # Widths with several windows per phase and row, phases whose last window is past the image, and
    # several row chunks on two threads: every pixel still gets the per-pixel DCT of its own block.
    rng = np.random.default_rng(sum(shape))
    grad = rng.random(shape) * 50
    ref = _per_pixel_layers(grad, sizes, n_layers)
    got = sorted_high_coefficients(grad, sizes, n_layers, chunk_pixels=chunk, dtype=np.float64, n_threads=2)
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-10 * ref.max())


def test_sorted_layers_other_scales_and_all_layers() -> None:
    rng = np.random.default_rng(2)
    grad = rng.random((6, 5))
    ref = _per_pixel_layers(grad, (3, 9), 51)
    got = sorted_high_coefficients(grad, (3, 9), 51)  # every high-band coefficient: no partition
    np.testing.assert_allclose(got, ref, atol=1e-12)


def test_rgb2gray_matlab_values() -> None:
    # MATLAB: rgb2gray(uint8(cat(3, 255, 0, 0))) = 76, green 150, blue 29, white 255.
    rgb = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]]], dtype=float)
    np.testing.assert_array_equal(ml.rgb2gray(rgb, 255), [[76, 150, 29, 255]])


def test_imgaussfilt_is_3x3_replicate_and_rounds() -> None:
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (7, 9)).astype(float)
    g = np.exp(-np.arange(-1, 2) ** 2 / (2 * 0.25))
    k2 = np.outer(g, g) / np.outer(g, g).sum()
    padded = np.pad(img, 1, mode="edge")
    ref = sum(k2[i, j] * padded[i: i + 7, j: j + 9] for i in range(3) for j in range(3))
    np.testing.assert_array_equal(ml.imgaussfilt(img, 0.5, 255), np.floor(ref + 0.5))
    np.testing.assert_allclose(ml.imgaussfilt(img, 0.5, None), ref, atol=1e-12)


def test_sobel_magnitude_replicate_borders() -> None:
    img = np.arange(20.0).reshape(4, 5) ** 1.5
    p = np.pad(img, 1, mode="edge")
    gx = (p[:-2, 2:] + 2 * p[1:-1, 2:] + p[2:, 2:]) - (p[:-2, :-2] + 2 * p[1:-1, :-2] + p[2:, :-2])
    gy = (p[2:, :-2] + 2 * p[2:, 1:-1] + p[2:, 2:]) - (p[:-2, :-2] + 2 * p[:-2, 1:-1] + p[:-2, 2:])
    np.testing.assert_allclose(ml.sobel_magnitude(img), np.sqrt(gx**2 + gy**2), atol=1e-12)


def test_mat2gray_range_and_constant_branch() -> None:
    np.testing.assert_allclose(ml.mat2gray(np.array([2.0, 4.0, 3.0])), [0, 1, 0.5])
    np.testing.assert_array_equal(ml.mat2gray(np.full(3, 7.0)), np.ones(3))  # MATLAB: clip(double(A), 0, 1)
    np.testing.assert_array_equal(ml.mat2gray(np.zeros(3)), np.zeros(3))


def _entropy_literal(u8: np.ndarray, size: int) -> np.ndarray:
    """Per-window 256-bin histogram entropy in bits, MATLAB-style symmetric padding via numpy's 'symmetric'."""
    r = size // 2
    p = np.pad(u8, r, mode="symmetric")
    out = np.zeros(u8.shape)
    for y in range(u8.shape[0]):
        for x in range(u8.shape[1]):
            counts = np.bincount(p[y: y + size, x: x + size].ravel(), minlength=256)
            prob = counts[counts > 0] / size**2
            out[y, x] = -(prob * np.log2(prob)).sum()
    return out


@pytest.mark.parametrize("shape", [(23, 31), (5, 4)])
def test_entropyfilt_matches_per_window_histogram(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(4)
    a = rng.random(shape) ** 3  # skewed, so many windows have repeated 8-bit values
    a[: shape[0] // 2, : shape[1] // 2] = 0.5
    u8 = np.floor(255 * a + 0.5).astype(np.uint8)  # im2uint8
    np.testing.assert_allclose(ml.entropyfilt(a, 7), _entropy_literal(u8, 7), atol=1e-12)


def test_entropyfilt_on_image_smaller_than_window() -> None:
    a = np.array([[0.0, 1.0, 0.5]])  # padarray mirrors with period 2N: each 7x7 window holds known counts
    u8 = np.floor(255 * a + 0.5).astype(np.uint8)
    padded = ml._pad_symmetric(u8, 3)
    ref = np.empty(3)
    for x in range(3):
        counts = np.bincount(padded[0:7, x: x + 7].ravel(), minlength=256)
        prob = counts[counts > 0] / 49
        ref[x] = -(prob * np.log2(prob)).sum()
    np.testing.assert_allclose(ml.entropyfilt(a, 7)[0], ref, atol=1e-12)


def test_symmetric_padding_is_numpy_symmetric_for_small_pads() -> None:
    a = np.arange(30).reshape(5, 6)
    np.testing.assert_array_equal(ml._pad_symmetric(a, 3), np.pad(a, 3, mode="symmetric"))
    # MATLAB padarray(1:2, [0 3], 'symmetric') = [2 2 1 1 2 2 1 1] (period-4 mirror).
    np.testing.assert_array_equal(ml._pad_symmetric(np.array([[1, 2]]), 3)[3], [2, 2, 1, 1, 2, 2, 1, 1])


def test_recursive_filter_matches_literal_rf() -> None:
    rng = np.random.default_rng(5)
    img = rng.random((7, 9)) * 4
    joint = rng.random((7, 9))
    got = recursive_filter(img, 15.0, 0.25, 3, joint)
    np.testing.assert_allclose(got, _rf_literal(img, 15.0, 0.25, 3, joint), rtol=0, atol=1e-13)


# ----------------------------------------------------------------------------- the whole method, any input


def test_public_import_and_output_contract() -> None:
    img = _test_image()
    before = img.copy()
    out = hifst(img)
    np.testing.assert_array_equal(img, before)  # input never mutated
    assert out.shape == img.shape[:2] and out.dtype == np.float64
    # mat2gray is MATLAB's ``A * delta - lo * delta``: the maximum is 1 up to one rounding (can be 1 - 2^-53).
    assert np.isfinite(out).all() and out.min() == 0.0 and 1.0 - 1e-15 <= out.max() <= 1.0
    # High = sharp: the textured left half scores above its blurred copy on the right.
    w = img.shape[1]
    assert out[:, 4: w // 2 - 4].mean() > out[:, w // 2 + 4: -4].mean() + 0.2


def test_read_only_input_is_accepted() -> None:
    img = _test_image()
    img.setflags(write=False)
    assert hifst(img).shape == img.shape[:2]


def test_gray_rgb_rgba_and_single_channel_agree() -> None:
    rgb = _test_image()
    gray = np.round(ml.rgb2gray(rgb.astype(float), 255)).astype(np.uint8)
    gray_rgb = np.repeat(gray[:, :, None], 3, axis=2)  # rgb2gray of R=G=B=v gives v back
    ref = hifst(gray)
    np.testing.assert_array_equal(hifst(gray_rgb), ref)
    np.testing.assert_array_equal(hifst(gray[:, :, None]), ref)
    np.testing.assert_array_equal(hifst(np.dstack([gray, np.full_like(gray, 9)])), ref)  # gray + alpha
    alpha = np.full(rgb.shape[:2] + (1,), 128, np.uint8)
    np.testing.assert_array_equal(hifst(np.concatenate([rgb, alpha], axis=2)), hifst(rgb))


def test_uint16_and_float_inputs() -> None:
    img = _test_image()
    as_float = hifst(img.astype(np.float32) / 255)
    as_u16 = hifst(img.astype(np.uint16) * 257)
    as_u8 = hifst(img)
    # Floats are never rounded, so the map is invariant to a * image + b (a > 0), up to float noise.
    shifted = hifst(img.astype(np.float64) * 3.7 + 11)
    assert np.abs(shifted - as_float).mean() < 1e-3
    # 16-bit rounds at 1/65535, much finer than 8-bit's 1/255, so it lands next to the float result.
    assert np.abs(as_u16 - as_float).mean() < np.abs(as_u8 - as_float).mean() + 1e-3
    assert np.corrcoef(as_u8.ravel(), as_float.ravel())[0, 1] > 0.95
    # Other integer types map to the uint8/uint16 rounding by their value range.
    np.testing.assert_array_equal(hifst(img.astype(np.int32)), as_u8)
    np.testing.assert_array_equal(hifst(img.astype(np.int64) * 257), as_u16)


def test_bool_input_is_defined() -> None:
    out = hifst(_test_image()[:, :, 0] > 128)
    assert np.isfinite(out).all() and 0 <= out.min() <= out.max() <= 1


@pytest.mark.parametrize("shape", [(1, 1), (2, 3), (5, 7), (20, 30), (70, 9)])
def test_images_smaller_than_the_largest_block(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(6)
    img = rng.integers(0, 256, shape + (3,), dtype=np.uint8)
    out = hifst(img)
    assert out.shape == shape and np.isfinite(out).all() and 0 <= out.min() <= out.max() <= 1


@pytest.mark.parametrize("value", [0, 77, 255])
def test_constant_image_gives_zero_map(value: int) -> None:
    # Zero gradient -> all layers 0 -> T = 0 -> entropy 0 -> FinalMap 0; mat2gray of a constant 0 is 0.
    for normalize in (True, False):
        out = hifst(np.full((30, 40, 3), value, np.uint8), normalize=normalize)
        assert np.isfinite(out).all()
        np.testing.assert_array_equal(out, 0.0)


@pytest.mark.parametrize(
    "image, kwargs, match",
    [
        (np.zeros((0, 5)), {}, "empty"),
        (np.zeros((4, 5, 5)), {}, "not \\(H, W\\)"),
        (np.zeros((2, 3, 4, 3)), {}, "not \\(H, W\\)"),
        (np.full((4, 5), np.nan), {}, "NaN"),
        (np.full((4, 5), -1, np.int16), {}, "outside \\[0, 65535\\]"),
        (np.zeros((4, 5), np.complex64), {}, "unsupported image dtype"),
        (np.zeros((4, 5)), {"block_sizes": (8, 16)}, "odd"),
        (np.zeros((4, 5)), {"entropy_size": 6}, "odd"),
        (np.zeros((4, 5)), {"n_layers": 5000}, "n_layers"),
        (np.zeros((4, 5)), {"dtype": np.float16}, "dtype"),
    ],
)
def test_bad_input_raises_clear_error(image: np.ndarray, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        hifst(image, **kwargs)


# ----------------------------------------------------------------------------- against the authors' maps

_RAW_CACHE: dict[tuple[str, str], np.ndarray] = {}


def _raw_map(examples: Path, name: str, dtype: type = np.float32) -> np.ndarray:
    key = (name, np.dtype(dtype).name)
    if key not in _RAW_CACHE:
        bgr = cv2.imread(str(examples / f"{name}.jpg"), cv2.IMREAD_COLOR)
        _RAW_CACHE[key] = hifst(bgr[:, :, ::-1], normalize=False, dtype=dtype)
    return _RAW_CACHE[key]


def _fidelity(examples: Path, name: str, dtype: type = np.float32) -> tuple[float, float]:
    """Mean |port - authors| in 8-bit levels and the fraction of pixels within 2 levels."""
    raw = _raw_map(examples, name, dtype)
    # DemoHiFST.m: imwrite(mat2gray(FinalMap), ...png) -> im2uint8 = floor(255 x + 0.5).
    ours = ml.im2uint8(ml.mat2gray(raw)).astype(int)
    theirs = cv2.imread(str(examples / f"{name}_FinalMap.png"), cv2.IMREAD_UNCHANGED).astype(int)
    assert ours.shape == theirs.shape
    diff = np.abs(ours - theirs)
    return float(diff.mean()), float((diff <= 2).mean())


def _check_fidelity(shared_data: Path, name: str) -> None:
    mad, within2 = _fidelity(shared_data / "hifst" / "examples", name)
    assert mad <= 1.0, f"{name}: mean |diff| = {mad:.4f}/255 > 1/255"
    assert within2 >= 0.99, f"{name}: only {100 * within2:.3f}% of pixels within 2/255"


@pytest.mark.parametrize("name", FAST_EXAMPLES)
def test_matches_authors_final_map(shared_data: Path, name: str) -> None:
    _check_fidelity(shared_data, name)


@pytest.mark.slow
@pytest.mark.parametrize("name", SLOW_EXAMPLES)
def test_matches_authors_final_map_all_examples(shared_data: Path, name: str) -> None:
    _check_fidelity(shared_data, name)


def test_demo_mean_of_final_map(shared_data: Path) -> None:
    # DemoHiFST.m: "For input motion0138.jpg you must get mean2(FinalMap) = 0.1809".
    raw = _raw_map(shared_data / "hifst" / "examples", "motion0138")
    assert abs(raw.mean() - 0.1809) <= 5e-4


@pytest.mark.slow
@pytest.mark.parametrize("name", FAST_EXAMPLES + SLOW_EXAMPLES)
def test_float64_reproduces_authors_map_pixel_for_pixel(shared_data: Path, name: str) -> None:
    mad, within2 = _fidelity(shared_data / "hifst" / "examples", name, np.float64)
    assert mad == 0.0 and within2 == 1.0, f"{name}: mean |diff| {mad:.4f}/255, {100 * within2:.3f}% within 2"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sorted_layers_exact_with_zeros_and_ties(dtype: type) -> None:
    # The selection orders |coefficients| by their bit patterns: zeros (from -0.0 too) and repeated values
    # must come out exactly as a float sort of the same computed coefficients would give them.
    grad = np.zeros((16, 20))
    grad[10:13, 12:16] = 2.0  # flat patch: many exact zeros (products with negative D give -0.0) and ties
    got = sorted_high_coefficients(grad, (3, 9), 30, dtype=dtype)
    ref = _per_pixel_layers(grad, (3, 9), 30)
    assert got.dtype == dtype and np.all(np.diff(got, axis=-1) >= 0) and not np.signbit(got).any()
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-5 * ref.max())
    np.testing.assert_array_equal(got[:4, :4], 0.0)  # their 9x9 blocks hold only zeros
