"""Tests of the LBP defocus segmentation port (Yi & Eramian, TIP 2016) against independent references.

References written here from the paper/code formulas with plain per-pixel loops: LBP riu2 codes and m_LBP,
the matting Laplacian, the MATLAB ``upSmpIm`` up-sampling, and node-sequential loopy BP (UGM's schedule);
plus the authors' own output (their MATLAB code run under Octave) on a CUHK image.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import scipy.sparse as sp
from scipy.signal import convolve2d

from baselines.handcrafted import lbp
from baselines.handcrafted._lbp_bp import multiscale_lbp
from baselines.handcrafted._lbp_matting import MattingPyramid, coarse_shape, up_sample
from baselines.handcrafted.lbp import lbp_code, lbp_sharpness, min_side

O = math.sqrt(2) / 2


# ---------------------------------------------------------------- LBP codes and sharpness (paper Eq. 5-7, 15)
def _ref_codes(gray: np.ndarray, thr: float) -> np.ndarray:
    """Per-pixel LBP^{riu2}_{8,1}: replicate borders, diagonals (1-o)((1-o)c + o h) + o((1-o)v + o d), floored."""
    h, w = gray.shape

    def g(i: int, j: int) -> float:
        return float(gray[min(max(i, 0), h - 1), min(max(j, 0), w - 1)])

    out = np.zeros((h, w), dtype=int)
    for i in range(h):
        for j in range(w):
            c = g(i, j)

            def diag(di: int, dj: int, c: float = c, i: int = i, j: int = j) -> float:
                return math.floor(
                    (1 - O) * ((1 - O) * c + O * g(i, j + dj)) + O * ((1 - O) * g(i + di, j) + O * g(i + di, j + dj))
                )

            ring = [
                g(i, j + 1),
                diag(-1, 1),
                g(i - 1, j),
                diag(-1, -1),
                g(i, j - 1),
                diag(1, -1),
                g(i + 1, j),
                diag(1, 1),
            ]
            bits = [1 if (v - c - thr) > 0 else 0 for v in ring]
            u = sum(bits[k] != bits[k - 1] for k in range(8))
            out[i, j] = sum(bits) if u <= 2 else 9
    return out


def _ref_sharpness(gray: np.ndarray, s: int, t_lbp: float) -> np.ndarray:
    """m_LBP(x) = (1/s^2) #{codes >= 6 in the s x s window, replicate padding}, then min-max scaled."""
    codes = _ref_codes(gray, t_lbp * 255)
    h, w = codes.shape
    r = (s - 1) // 2
    m = np.zeros((h, w))
    for i in range(h):
        for j in range(w):
            n = sum(
                codes[min(max(a, 0), h - 1), min(max(b, 0), w - 1)] >= 6
                for a in range(i - r, i + r + 1)
                for b in range(j - r, j + r + 1)
            )
            m[i, j] = n / (s * s)
    m = m - m.min()
    return m / m.max()


def test_lbp_code_hand_checked() -> None:
    # dark dot (100) in a bright field (200): its 8 neighbours are all >= 5 levels brighter -> code 8;
    # every other interior pixel sees equal or darker neighbours -> code 0. The dark corner dot sees the
    # bright right/down/diagonal neighbours (g7, g0, g1 and g5, g6: the diagonals interpolate to 170.7) and
    # itself replicated up/left: bits 1,1,0,0,0,1,1,1 -> uniform, code 5.
    img = np.full((7, 7), 200.0)
    img[3, 3] = 100.0
    img[0, 0] = 100.0
    expected = np.zeros((7, 7), dtype=int)
    expected[3, 3] = 8
    expected[0, 0] = 5
    np.testing.assert_array_equal(lbp_code(img, 0.016 * 255), expected)
    # only the 3 x 3 block around the centre counts a code >= 6: m_LBP is 1 there and 0 elsewhere
    m = lbp_sharpness(img.astype(np.uint8), scale=3)
    want = np.zeros((7, 7))
    want[2:5, 2:5] = 1.0
    np.testing.assert_array_equal(m, want)


@pytest.mark.parametrize("scale", [3, 5, 11])
def test_sharpness_matches_per_pixel_definition(scale: int) -> None:
    rng = np.random.default_rng(scale)
    # smooth ramp + sparse texture: differences around the 5-level threshold and interpolation ties
    base = np.add.outer(np.arange(12) * 3, np.arange(14) * 2).astype(float)
    tex = rng.integers(0, 12, size=(12, 14)) * (rng.random((12, 14)) < 0.5)
    gray = np.clip(base + tex, 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(lbp_sharpness(gray, scale=scale), _ref_sharpness(gray.astype(float), scale, 0.016))


def test_sharpness_rgb_uses_octave_rgb2gray() -> None:
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, size=(10, 9, 3), dtype=np.uint8)
    gray = np.floor(255 * (rgb / 255.0 @ np.array([0.298936, 0.587043, 0.114021])) + 0.5)
    np.testing.assert_array_equal(lbp_sharpness(rgb, scale=5), _ref_sharpness(gray, 5, 0.016))


# ---------------------------------------------------------------- matting pieces (Levin et al. code)
def _ref_laplacian(img: np.ndarray, consts: np.ndarray, eps: float) -> np.ndarray:
    """getLaplacian1.m, window by window (dense)."""
    h, w, c = img.shape
    n = h * w
    a = np.zeros((n, n))
    for i in range(1, h - 1):
        for j in range(1, w - 1):
            if consts[i - 1 : i + 2, j - 1 : j + 2].all():  # centre inside erode(consts, 3 x 3)
                continue
            idx = [(i + di) * w + (j + dj) for di in (-1, 0, 1) for dj in (-1, 0, 1)]
            x = img[i - 1 : i + 2, j - 1 : j + 2].reshape(9, c)
            mu = x.mean(axis=0)
            cov = x.T @ x / 9 - np.outer(mu, mu)
            inv = np.linalg.inv(cov + eps / 9 * np.eye(c))
            y = x - mu
            a[np.ix_(idx, idx)] += (1 + y @ inv @ y.T) / 9
    return np.diag(a.sum(axis=1)) - a


def test_matting_laplacian_matches_window_loop() -> None:
    rng = np.random.default_rng(2)
    img = rng.random((6, 7, 3))
    consts = np.zeros((6, 7), dtype=bool)
    consts[:4, :4] = True  # erodes to a 2 x 2 block of skipped window centres
    got = MattingPyramid(img, 1, 1e-7).laplacian(0, consts)
    assert sp.issparse(got)
    np.testing.assert_allclose(got.toarray(), _ref_laplacian(img, consts, 1e-7), rtol=1e-9, atol=1e-9)


def _ref_upsmpim(x: np.ndarray, new_h: int, new_w: int) -> np.ndarray:
    """upSmpIm.m: zero-insert at the MATLAB offsets, replicate the outer samples, [1 2 1]/2 filter, crop."""
    h, w = x.shape
    i_d, i_u = math.floor((new_h - 2 * h + 1) / 2), math.ceil((new_h - 2 * h + 1) / 2)
    j_d, j_u = math.floor((new_w - 2 * w + 1) / 2), math.ceil((new_w - 2 * w + 1) / 2)
    n = np.zeros((new_h + 2, new_w + 2))
    rows = np.arange(i_d + 1, new_h + 2 - i_u - 1, 2)  # 0-based: MATLAB id+filtS+1 : 2 : end-iu-filtS
    cols = np.arange(j_d + 1, new_w + 2 - j_u - 1, 2)
    n[np.ix_(rows, cols)] = x
    for r in range(rows[0] - 2, -1, -2):
        n[r] = n[rows[0]]
    for r in range(rows[-1] + 2, new_h + 2, 2):
        n[r] = n[rows[-1]]
    for c in range(cols[0] - 2, -1, -2):
        n[:, c] = n[:, cols[0]]
    for c in range(cols[-1] + 2, new_w + 2, 2):
        n[:, c] = n[:, cols[-1]]
    f = np.array([[0.5, 1.0, 0.5]])
    n = convolve2d(n, f.T @ f, mode="same")
    return n[1:-1, 1:-1]


@pytest.mark.parametrize("shape", [(21, 22), (427, 640), (30, 17)])
def test_up_sample_matches_upsmpim(shape: tuple[int, int]) -> None:
    small = coarse_shape(*shape)
    x = np.random.default_rng(3).random(small)
    np.testing.assert_allclose(up_sample(x, shape), _ref_upsmpim(x, *shape), atol=1e-12)


# ---------------------------------------------------------------- loopy BP (UGM_Infer_LBPC schedule)
def _ref_bp(features: list[np.ndarray], alpha: float, sweeps: int = 150) -> np.ndarray:
    """UGM sum-product LBP, node-sequential in MATLAB (column-major) index order, run to convergence."""
    h, w = features[0].shape
    n_layers = len(features)
    nid = lambda l, i, j: l * h * w + j * h + i  # noqa: E731 - column-major as MATLAB's (:)
    edges = set()
    for l in range(n_layers):
        for i in range(h):
            for j in range(w):
                if i + 1 < h:
                    edges.add((nid(l, i, j), nid(l, i + 1, j)))
                if j + 1 < w:
                    edges.add((nid(l, i, j), nid(l, i, j + 1)))
                if l + 1 < n_layers:
                    edges.add((nid(l, i, j), nid(l + 1, i, j)))
    x = np.concatenate([f.ravel(order="F") for f in features])
    z = (x - x.mean()) / x.std(ddof=1)
    pot = np.stack([np.exp(-np.abs(1 - z)), np.exp(-np.abs(z))], axis=1)
    psi = np.array([[1.0, math.exp(-alpha)], [math.exp(-alpha), 1.0]])
    nbrs: dict[int, list[int]] = {k: [] for k in range(x.size)}
    for a, b in edges:
        nbrs[a].append(b)
        nbrs[b].append(a)
    msg = {(a, b): np.full(2, 0.5) for a in nbrs for b in nbrs[a]}  # message a -> b
    for _ in range(sweeps):
        for node in range(x.size):
            for tgt in nbrs[node]:
                t = pot[node].copy()
                for k in nbrs[node]:
                    if k != tgt:
                        t *= msg[k, node]
                m = psi.T @ t
                msg[node, tgt] = m / m.sum()
    bel = np.array([pot[k] * np.prod([msg[j, k] for j in nbrs[k]], axis=0) for k in range(h * w)])
    return (bel[:, 0] / bel.sum(axis=1)).reshape((h, w), order="F")


@pytest.mark.parametrize("shape", [(4, 6), (5, 3)])
def test_multiscale_bp_reaches_ugm_fixed_point(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(4)
    feats = [rng.random(shape) for _ in range(3)]
    got = multiscale_lbp(feats, alpha=0.5, max_iter=300, tol=1e-14, check_every=1, n_threads=2)
    np.testing.assert_allclose(got, _ref_bp(feats, 0.5), atol=1e-9)


def test_multiscale_bp_float32_warm_start_changes_nothing() -> None:
    rng = np.random.default_rng(6)
    smooth = [cv2.GaussianBlur(rng.random((41, 50)), (0, 0), 3) for _ in range(3)]
    feats = [np.clip((f - f.min()) / np.ptp(f), 0, 1) for f in smooth]
    cold = multiscale_lbp(feats, warm_start=False, n_threads=1)
    warm = multiscale_lbp(feats, warm_start=True, n_threads=2)
    np.testing.assert_allclose(warm, cold, atol=1e-6)


# ---------------------------------------------------------------- the whole method vs the authors' output
@pytest.fixture(scope="module")
def authors_example(shared_data) -> dict[str, np.ndarray]:
    """The authors' demo image, their Octave output, the CUHK GT and this port's map (computed once)."""
    stem = "out_of_focus0088"
    img = cv2.imread(str(shared_data / "cuhk" / "images" / f"{stem}.JPG"), cv2.IMREAD_COLOR)
    ref = cv2.imread(str(shared_data / "lbp" / f"{stem}_lbp_octave.png"), cv2.IMREAD_UNCHANGED)
    gt = cv2.imread(str(shared_data / "cuhk" / "gt" / f"{stem}.png"), cv2.IMREAD_GRAYSCALE)
    assert img is not None and ref is not None and gt is not None and ref.dtype == np.uint16
    rgb = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    before = rgb.copy()
    got = lbp(rgb)
    np.testing.assert_array_equal(rgb, before)  # input not mutated
    return {"map": got, "ref": ref / 65535.0, "gt": gt > 128}


def test_lbp_matches_authors_octave_output(authors_example) -> None:
    got, ref = authors_example["map"], authors_example["ref"]
    assert got.shape == ref.shape and got.dtype == np.float64
    r = np.corrcoef(got.ravel(), ref.ravel())[0, 1]
    mad = np.abs(got - ref).mean()
    assert r >= 0.98 and mad <= 0.03, (r, mad)
    # measured: agreement to the 16-bit quantisation of the reference (max |diff| ~ 1/(2 * 65535))
    assert np.abs(got - ref).max() < 1e-4


def test_lbp_detects_blur_on_cuhk_gt(authors_example) -> None:
    from sklearn.metrics import roc_auc_score

    p_blur, gt = 1.0 - authors_example["map"], authors_example["gt"]  # CUHK GT: white = blurred
    assert roc_auc_score(gt.ravel(), p_blur.ravel()) >= 0.9  # a constant map scores 0.5
    mae, mae_all_blur = np.abs(p_blur - gt).mean(), np.abs(1.0 - gt).mean()
    assert mae < 0.5 * mae_all_blur, (mae, mae_all_blur)


# ---------------------------------------------------------------- input handling
@pytest.fixture(scope="module")
def small_rgb() -> np.ndarray:
    rng = np.random.default_rng(5)
    img = np.full((40, 48, 3), 120, dtype=np.uint8)
    img[8:30, 10:30] = rng.integers(0, 256, size=(22, 20, 3), dtype=np.uint8)  # a sharp textured patch
    return img


def test_gray_rgba_uint16_float_agree(small_rgb: np.ndarray) -> None:
    gray = small_rgb[:, :, 1]
    as_rgb = lbp(np.repeat(gray[:, :, None], 3, axis=2))
    np.testing.assert_array_equal(lbp(gray), as_rgb)
    np.testing.assert_array_equal(lbp(gray[:, :, None]), as_rgb)
    base = lbp(small_rgb)
    assert base.shape == small_rgb.shape[:2] and 0.0 <= base.min() and base.max() <= 1.0
    rgba = np.concatenate([small_rgb, np.full(small_rgb.shape[:2] + (1,), 7, np.uint8)], axis=2)
    np.testing.assert_array_equal(lbp(rgba), base)
    np.testing.assert_allclose(lbp(small_rgb.astype(np.uint16) * 257), base, atol=1e-9)
    np.testing.assert_allclose(lbp(small_rgb / 255.0), base, atol=1e-9)
    # the sharp patch is sharper than the flat surround
    assert base[12:26, 14:26].mean() > base[:, 36:].mean() + 0.3


@pytest.mark.parametrize("value", [0.0, 0.4])
def test_constant_image_is_blurred_everywhere(value: float) -> None:
    # no LBP texture: m_LBP = 0 (MATLAB: 0/0 = NaN), every pixel is a blurred constraint (or, for black, none:
    # alpha = 0 by the ridge), all features are equal (MATLAB: std 0 -> NaN, here z = 0) -> P(sharp) < 0.5
    assert np.array_equal(lbp_sharpness(np.full((8, 8), value)), np.zeros((8, 8)))
    out = lbp(np.full((30, 30, 3), value))
    assert np.isfinite(out).all() and 0.0 < out.min() and out.max() < 0.5
    np.testing.assert_allclose(out, out[::-1, ::-1], atol=1e-12)  # the graph is symmetric, so is the map


def test_bad_inputs_raise_clear_errors() -> None:
    assert min_side(3) == 21
    with pytest.raises(ValueError, match="at least|>= 21"):
        lbp(np.zeros((20, 50, 3), np.uint8))
    lbp(np.random.default_rng(0).integers(0, 255, (21, 21), dtype=np.uint8))  # the smallest valid size
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        lbp(np.full((30, 30), 200.0))
    with pytest.raises(ValueError, match="finite"):
        lbp(np.full((30, 30), np.nan))
    with pytest.raises(TypeError, match="int32"):
        lbp(np.zeros((30, 30), np.int32))
    with pytest.raises(ValueError, match="shape"):
        lbp(np.zeros((30, 30, 2), np.uint8))
    with pytest.raises(ValueError, match="odd"):
        lbp_sharpness(np.zeros((30, 30), np.uint8), scale=4)
