"""S-measure, E-measure and weighted F against PySODMetrics 1.6.2, bit for bit, plus input checks.

The reference is PySODMetrics' own classes fed the 8-bit maps; our functions get the prediction that
PySODMetrics builds internally (``py_sod_metrics.utils.prepare_data``). Every comparison is exact
(max abs difference 0.0; NaN only where the reference gives NaN).
"""

from __future__ import annotations

import warnings

import cv2
import numpy as np
import pytest
from scipy.ndimage import convolve, distance_transform_edt

from dbdbench.metrics import structure
from dbdbench.metrics.structure import (
    e_measure_adaptive,
    e_measure_curve,
    e_measure_from_counts,
    s_measure,
    weighted_fmeasure,
)

psm = pytest.importorskip("py_sod_metrics", reason="pysodmetrics==1.6.2 (a [test] extra) is the reference")
from py_sod_metrics.utils import prepare_data  # noqa: E402

N_RANDOM = 240
TE1_STEMS = ["out_of_focus0284", "out_of_focus0607"]


def _smooth(rng: np.random.Generator, h: int, w: int, cell: int) -> np.ndarray:
    """A blob-like field in [0, 1]: bicubic upsampling of coarse uniform noise."""
    coarse = rng.random((h // cell + 2, w // cell + 2))
    field = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    return (field - field.min()) / (field.max() - field.min() + 1e-12)


def _random_pair(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """An 8-bit (pred, gt) pair of random size; map kind and GT kind cycle with the seed."""
    rng = np.random.default_rng(seed)
    h, w = (int(v) for v in (rng.integers(1, 24, 2) if seed % 12 == 0 else rng.integers(8, 160, 2)))
    kind = seed % 4
    if kind == 0:  # smooth blur-map-like prediction
        pred = (_smooth(rng, h, w, int(rng.integers(3, 40))) * 255).astype(np.uint8)
    elif kind == 1:  # noise
        pred = rng.integers(0, 256, (h, w), dtype=np.uint8)
    elif kind == 2:  # narrow range, e.g. 0..35: min-max normalisation then non-integer bins
        pred = (_smooth(rng, h, w, 6) * int(rng.integers(1, 60))).astype(np.uint8)
    else:  # smooth plus noise, mid range
        pred = np.clip(_smooth(rng, h, w, 10) * 180 + rng.normal(40, 25, (h, w)), 0, 255).astype(np.uint8)
    field = _smooth(rng, h, w, int(rng.integers(3, 60)))
    if seed % 3 == 0:  # non-binary GT: PySOD binarises with > 128
        gt = (field * 255).astype(np.uint8)
    else:
        gt = np.where(field > rng.uniform(0.2, 0.8), 255, 0).astype(np.uint8)
    return pred, gt


def _edge_cases() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(7)
    h, w = 48, 64
    blob = np.where(_smooth(rng, h, w, 12) > 0.5, 255, 0).astype(np.uint8)
    smooth = (_smooth(rng, h, w, 8) * 255).astype(np.uint8)
    corner = np.zeros((h, w), np.uint8)
    corner[-1, -1] = 255
    cases = {
        "pred_all0_gt_blob": (np.zeros((h, w), np.uint8), blob),
        "pred_all255_gt_blob": (np.full((h, w), 255, np.uint8), blob),
        "pred_const100_gt_blob": (np.full((h, w), 100, np.uint8), blob),
        "pred_const1_gt_blob": (np.full((h, w), 1, np.uint8), blob),
        "pred_smooth_gt_empty": (smooth, np.zeros((h, w), np.uint8)),
        "pred_smooth_gt_full": (smooth, np.full((h, w), 255, np.uint8)),
        "pred_all0_gt_empty": (np.zeros((h, w), np.uint8), np.zeros((h, w), np.uint8)),
        "pred_all255_gt_full": (np.full((h, w), 255, np.uint8), np.full((h, w), 255, np.uint8)),
        "pred_all0_gt_full": (np.zeros((h, w), np.uint8), np.full((h, w), 255, np.uint8)),
        "pred_all255_gt_empty": (np.full((h, w), 255, np.uint8), np.zeros((h, w), np.uint8)),
        "gt_128_is_background": (smooth, np.full((h, w), 128, np.uint8)),
        "gt_non_binary_128_129": (smooth, np.where(blob > 0, 129, 128).astype(np.uint8)),
        "pred_narrow_0_35": ((_smooth(rng, h, w, 8) * 35.999).astype(np.uint8), blob),
        "pred_two_levels_0_128": (np.where(blob > 0, 128, 0).astype(np.uint8), blob),
        "pred_equals_gt": (blob.copy(), blob),
        "pred_inverse_gt": (255 - blob, blob),
        "gt_one_pixel_last_corner": (smooth, corner),  # centroid on the border: an empty block, S is NaN
        "gt_last_row": (smooth, np.pad(np.full((1, w), 255, np.uint8), ((h - 1, 0), (0, 0)))),
        "gt_first_pixel": (smooth, np.pad(np.full((1, 1), 255, np.uint8), ((0, h - 1), (0, w - 1)))),
        "one_pixel_fg": (np.array([[7]], np.uint8), np.array([[255]], np.uint8)),
        "one_pixel_bg": (np.array([[7]], np.uint8), np.array([[0]], np.uint8)),
        "one_row": (smooth[:1], blob[:1]),
        "one_column": (smooth[:, :1], blob[:, :1]),
        "thin_gt_lines": (smooth, np.where(np.arange(w)[None, :] % 9 == 0, 255, 0).repeat(h, 0).astype(np.uint8)),
    }
    return cases


EDGE_CASES = _edge_cases()


def _reference(pred_u8: np.ndarray, gt_u8: np.ndarray) -> dict[str, np.ndarray | float]:
    """PySODMetrics' numbers for one image (fresh accumulators; the mean of one value is that value)."""
    sm, em, wf = psm.Smeasure(), psm.Emeasure(), psm.WeightedFmeasure()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # empty-block means in the NaN edge case
        sm.step(pred=pred_u8, gt=gt_u8)
        em.step(pred=pred_u8, gt=gt_u8)
        wf.step(pred=pred_u8, gt=gt_u8)
        em_res = em.get_results()["em"]
        return {
            "sm": sm.get_results()["sm"],
            "em_curve_desc": em_res["curve"],
            "em_adp": em_res["adp"],
            "wfm": wf.get_results()["wfm"],
        }


def _ours(pred_u8: np.ndarray, gt_u8: np.ndarray) -> dict[str, np.ndarray | float]:
    pred, gt = prepare_data(pred_u8, gt_u8)
    return {
        "sm": s_measure(pred, gt),
        "em_curve_desc": e_measure_curve(pred, gt)[::-1],  # ours ascending, PySOD's descending
        "em_adp": e_measure_adaptive(pred, gt),
        "wfm": weighted_fmeasure(pred, gt),
    }


def _max_abs_diff(a, b) -> float:
    """Max |a - b|, with NaN == NaN counted as equal and NaN vs number as infinite."""
    a, b = np.atleast_1d(np.asarray(a, np.float64)), np.atleast_1d(np.asarray(b, np.float64))
    both_nan = np.isnan(a) & np.isnan(b)
    diff = np.abs(np.where(both_nan, 0.0, a - b))
    return float(np.where(np.isnan(diff), np.inf, diff).max())


def test_random_maps_equal_pysodmetrics_bit_for_bit():
    """240 seeded random pairs (sizes 1..160, smooth/noise/narrow-range maps, binary and non-binary GT)."""
    worst = {key: (0.0, None) for key in ("sm", "em_curve_desc", "em_adp", "wfm")}
    for seed in range(N_RANDOM):
        pred_u8, gt_u8 = _random_pair(seed)
        ref, ours = _reference(pred_u8, gt_u8), _ours(pred_u8, gt_u8)
        for key in worst:
            diff = _max_abs_diff(ours[key], ref[key])
            if diff > worst[key][0]:
                worst[key] = (diff, seed)
    assert worst == {key: (0.0, None) for key in worst}, f"(max abs diff, seed) per metric: {worst}"


@pytest.mark.parametrize("name", sorted(EDGE_CASES))
def test_edge_cases_equal_pysodmetrics_bit_for_bit(name):
    pred_u8, gt_u8 = EDGE_CASES[name]
    ref, ours = _reference(pred_u8, gt_u8), _ours(pred_u8, gt_u8)
    diffs = {key: _max_abs_diff(ours[key], ref[key]) for key in ref}
    assert diffs == dict.fromkeys(ref, 0.0), f"{name}: ours {ours}, PySOD {ref}"


def test_nan_edge_case_is_really_nan_in_both():
    """A mask whose centroid rounds onto the last row/column leaves an empty block; PySOD gives NaN."""
    pred_u8, gt_u8 = EDGE_CASES["gt_one_pixel_last_corner"]
    assert np.isnan(_reference(pred_u8, gt_u8)["sm"])
    assert np.isnan(_ours(pred_u8, gt_u8)["sm"])


def test_real_hifst_maps_equal_pysodmetrics(shared_data):
    """Published HiFST maps against CUHK masks (full resolution, real structure)."""
    for stem in TE1_STEMS:
        gt_u8 = cv2.imread(str(shared_data / "cuhk" / "gt" / f"{stem}.png"), cv2.IMREAD_GRAYSCALE)
        pred_u8 = cv2.imread(str(shared_data / "hifst" / "cuhk_maps" / f"{stem}_HiFSTBlurMap.png"), 0)
        assert gt_u8 is not None and pred_u8 is not None, stem
        pred_u8 = 255 - pred_u8  # HiFST maps are bright = sharp; the CUHK masks white = blurred
        ref, ours = _reference(pred_u8, gt_u8), _ours(pred_u8, gt_u8)
        diffs = {key: _max_abs_diff(ours[key], ref[key]) for key in ref}
        assert diffs == dict.fromkeys(ref, 0.0), stem


def test_e_curve_is_in_ascending_threshold_order():
    """curve[t] is E of the binary map q >= t: t = 0 marks everything positive, counted independently."""
    rng = np.random.default_rng(3)
    pred = rng.random((30, 40)) * 0.8  # no pixel reaches the top bins
    gt = rng.random((30, 40)) > 0.6
    curve = e_measure_curve(pred, gt)
    q = (pred * 255).astype(np.uint8)
    for t in (0, 1, 100, 203, 255):
        tp = int(np.count_nonzero((q >= t) & gt))
        fp = int(np.count_nonzero((q >= t) & ~gt))
        assert curve[t] == e_measure_from_counts(tp, fp, int(gt.sum()), gt.size)
    assert curve.shape == (256,)
    assert curve[255] == e_measure_from_counts(0, 0, int(gt.sum()), gt.size)


def test_perfect_prediction_scores_one():
    """Sanity from the papers: a prediction equal to the mask scores 1 (up to the eps in denominators)."""
    gt = np.zeros((40, 50), bool)
    gt[8:30, 10:35] = True
    pred = gt.astype(np.float64)
    assert s_measure(pred, gt) == pytest.approx(1.0, abs=1e-12)
    assert e_measure_adaptive(pred, gt) == pytest.approx(1.0, abs=1e-3)  # N / (N - 1 + eps)
    assert weighted_fmeasure(pred, gt) == pytest.approx(1.0, abs=1e-12)
    assert weighted_fmeasure(pred, np.zeros_like(gt)) == 0.0


def test_weighted_fmeasure_beta2_matches_pysod_beta():
    """PySOD's ``beta`` argument of WeightedFmeasure is beta^2; ours is named so."""
    pred_u8, gt_u8 = _random_pair(5)
    wf = psm.WeightedFmeasure(beta=0.3)
    wf.step(pred=pred_u8, gt=gt_u8)
    pred, gt = prepare_data(pred_u8, gt_u8)
    assert weighted_fmeasure(pred, gt, beta2=0.3) == wf.get_results()["wfm"]


def _tie_rich_masks() -> list[np.ndarray]:
    """Masks with many equidistant nearest pixels (noise, lattices, diagonals, isolated points, blobs)."""
    rng = np.random.default_rng(11)
    masks = []
    for i in range(80):
        h, w = (int(v) for v in rng.integers(1, 90, 2))
        kind = i % 4
        if kind == 0:
            mask = rng.random((h, w)) < rng.uniform(0.02, 0.9)
        elif kind == 1:
            mask = np.add.outer(np.arange(h), np.arange(w)) % int(rng.integers(2, 9)) == 0
        elif kind == 2:
            mask = np.zeros((h, w), bool)
            mask[rng.integers(0, h, 3), rng.integers(0, w, 3)] = True
        else:
            mask = _smooth(rng, h, w, int(rng.integers(3, 30))) > 0.5
        if mask.any() and not mask.all():
            masks.append(mask)
    return masks


def test_band_nearest_pixel_and_distance_equal_scipy_feature_transform():
    """The two pieces that replace scipy's EDT in wF give scipy's distances and (tie-broken) indices."""
    for mask in _tie_rich_masks():
        dist, (iy, ix) = distance_transform_edt(~mask, return_indices=True)
        d2 = structure._squared_mask_distance(~mask)
        np.testing.assert_array_equal(np.sqrt(d2), dist)
        band = cv2.dilate(mask.view(np.uint8), np.ones((7, 7), np.uint8)).view(bool) & ~mask
        ys, xs = np.nonzero(band)
        near_y, near_x = structure._nearest_mask_pixel(mask, ys, xs, d2[ys, xs])
        np.testing.assert_array_equal(near_y, iy[ys, xs])
        np.testing.assert_array_equal(near_x, ix[ys, xs])


def test_large_image_distance_falls_back_to_scipy_and_stays_exact():
    """Beyond d^2 = 2^22 float32 cannot identify the integer; the scipy path is taken and is exact."""
    mask = np.zeros((1500, 1500), bool)
    mask[0, 0] = True
    d2 = structure._squared_mask_distance(~mask)
    assert d2[-1, -1] == 2 * 1499**2 > structure._MAX_EXACT_D2
    np.testing.assert_array_equal(np.sqrt(d2), distance_transform_edt(~mask))


def test_filter_equals_scipy_convolve_on_both_paths(monkeypatch):
    rng = np.random.default_rng(2)
    maps = [rng.random((int(h), int(w))) for h, w in rng.integers(1, 70, (20, 2))]
    for x in maps:
        ref = convolve(x, weights=structure._KERNEL, mode="constant", cval=0)
        np.testing.assert_array_equal(structure._filter(x), ref)
    monkeypatch.setattr(structure, "_opencv_filter_is_exact", lambda: False)
    pred_u8, gt_u8 = _random_pair(4)
    pred, gt = prepare_data(pred_u8, gt_u8)
    assert weighted_fmeasure(pred, gt) == _reference(pred_u8, gt_u8)["wfm"]


def test_gaussian_kernel_equals_pysod_fspecial():
    ref = psm.WeightedFmeasure().matlab_style_gauss2D((7, 7), sigma=5)
    np.testing.assert_array_equal(structure._KERNEL, ref)


GOOD_PRED = np.full((4, 5), 0.5)
GOOD_GT = np.eye(4, 5, dtype=bool)


@pytest.mark.parametrize(
    ("pred", "gt", "match"),
    [
        (np.full((4, 6), 0.5), GOOD_GT, "shape mismatch"),
        (np.full((4, 5, 3), 0.5), np.ones((4, 5, 3), bool), "2-D"),
        (np.full(5, 0.5), np.ones(5, bool), "2-D"),
        (np.where(GOOD_GT, np.nan, 0.5), GOOD_GT, "NaN"),
        (np.where(GOOD_GT, np.inf, 0.5), GOOD_GT, r"\[0, 1\]"),
        (GOOD_PRED * 3, GOOD_GT, r"\[0, 1\]"),
        ((GOOD_PRED * 255).astype(np.uint8), GOOD_GT, "float"),
        (GOOD_PRED, GOOD_GT.astype(np.uint8) * 255, "bool"),
        (np.zeros((0, 5)), np.zeros((0, 5), bool), "empty"),
    ],
)
@pytest.mark.parametrize("fn", [s_measure, e_measure_curve, e_measure_adaptive, weighted_fmeasure])
def test_bad_input_raises_clear_error(fn, pred, gt, match):
    with pytest.raises(ValueError, match=match):
        fn(pred, gt)


def test_bad_parameters_raise():
    with pytest.raises(ValueError, match="alpha"):
        s_measure(GOOD_PRED, GOOD_GT, alpha=1.5)
    with pytest.raises(ValueError, match="beta2"):
        weighted_fmeasure(GOOD_PRED, GOOD_GT, beta2=-1)
