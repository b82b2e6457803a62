"""The ``zhao`` protocol against Zhao et al.'s MATLAB ``evaluate_dbd`` (wdzhao123/MLDBD), quirks included.

Two independent checks:

* ``_ref_*`` below re-implement, from the behaviour their code documents, ``Fmeasure_calu.m`` (per-image best
  F, empty-mask test inside the threshold loop), ``Pre_Recall_hitRate.m`` (both inputs inverted for an empty
  mask), ``performCalcu.m`` (``totalNum`` reset per image, means of P and R, F of the means) and
  ``evaluate.m`` (``trapz(0:.05:1, flip(F))``), pixel by pixel with plain boolean masks;
* ``_OCTAVE`` holds the numbers their code printed, run unmodified under GNU Octave 7.3 on exactly the maps
  of ``CASES`` (written as 8-bit PNGs, GT and maps white = in focus). Octave's colon operator is not
  MATLAB's (see :func:`dbdbench.metrics.protocols.matlab_colon`), so those numbers are compared with the
  protocol given Octave's ``1:-.05:0`` values.

Inputs here are in Zhao's polarity (white = in focus); dbdbench gets them in canonical polarity
(``255 - v``), and the protocol flips them back.
"""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest

from dbdbench.metrics import Evaluator
from dbdbench.metrics.image import zhao_best_f
from dbdbench.metrics.protocols import Protocol, get_protocol, matlab_colon

ZHAO = get_protocol("zhao")
N = 16  # maps are N x N


def _half(shift: int = 0) -> np.ndarray:
    g = np.zeros((N, N), np.uint8)
    g[:, : N // 2] = 255
    return np.roll(g, shift, axis=1)


def _ramp(mod: int = 201, mult: int = 37) -> np.ndarray:
    """Pixel values ``k * mult % mod``: for mod = 201 every value 0..200 once (max 200), many of them exactly
    on ``1:-.05:0`` after division by the maximum (130 / 200 = 0.65, ...)."""
    return (np.arange(N * N).reshape(N, N) * mult % mod).astype(np.uint8)


def _const(v: int) -> np.ndarray:
    return np.full((N, N), v, np.uint8)


def _spike() -> np.ndarray:
    m = _const(100)
    m[0, 12] = 255  # the maximum lies outside the in-focus half
    return m


#: (stem, in-focus GT, in-focus map) per case; stems sort in the order their code reads the files
CASES: dict[str, list[tuple[str, np.ndarray, np.ndarray]]] = {
    "clean": [("a1", _half(), _ramp()), ("a2", _half(5), _ramp(256, 11)), ("a3", _half(2), 255 - _ramp())],
    "empty_masks": [
        ("b1", _half(), _ramp()),
        ("b2", _const(0), _const(255)),  # completely wrong map on an empty in-focus mask
        ("b3", _const(0), _ramp()),
        ("b4", _const(0), _const(0)),  # right map on an empty mask
        ("b5", _half(5), _ramp(256, 11)),
    ],
    "nan_f": [("c1", _const(0), _const(255)), ("c2", _half(), _spike())],
    "zero_map_last": [("d1", _half(), _ramp()), ("d2", _half(4), _ramp(256, 7)), ("d3", _half(), _const(0))],
    "zero_map_first": [("d0", _half(), _const(0)), ("d1", _half(), _ramp()), ("d2", _half(4), _ramp(256, 7))],
    "on_thresholds": [(f"e{i}", _half(3 * i), _ramp(201, 37 + 2 * i)) for i in range(4)],
    # a fully blurred photo (no in-focus pixel) and a map holding every value 0..255 once (maximum 255)
    "empty_mask_full_range": [("f1", _const(0), _ramp(256, 11))],
}

#: Their code's output under Octave 7.3 (mFmeasure(3) and trapz(0:.05:1, flip(mFmeasureWF)), printed %.17g)
_OCTAVE = {
    "clean": (0.56689098985847264, 0.46686744811885955),
    "empty_masks": (0.82627377770526356, 0.56514853261268749),
    "nan_f": (0.78260869565217395, float("nan")),
    "zero_map_last": (0.5664877664323178, 0.46751422329937248),
    "zero_map_first": (0.37765851095487851, 0.31167614886624828),
    "on_thresholds": (0.56240355906445882, 0.44987573853226576),
    "empty_mask_full_range": (0.99727107337780485, 0.72861120225012344),
}

#: Octave 7.3's ``1:-.05:0`` (every element ``1 + k * -0.05``; printed with %.17g by Octave)
_OCTAVE_COLON = (*(1 + k * -0.05 for k in range(20)), 0.0)


# ---- reference: their per-image and dataset logic, re-implemented from its documented behaviour ----


def _ref_norm(m: np.ndarray) -> np.ndarray:
    s = m / 255.0  # im2double
    return np.zeros(m.shape) if s.max() == 0 else s / s.max()


def _ref_best_f(s: np.ndarray, gt: np.ndarray) -> float:
    """Fmeasure_calu.m: i = 1..255, t = i * 0.00392157, label s >= t; the empty-GT test is inside the loop."""
    best, gt = 0.0, gt.copy()
    for i in range(1, 256):
        label = s >= i * 0.00392157
        if gt.sum() == 0:  # replaces the mask by all ones and inverts the label, at the first threshold only
            gt = np.ones_like(gt)
            label = ~label
        hit = np.count_nonzero(label & gt)
        if hit:
            p, r = hit / np.count_nonzero(label), hit / np.count_nonzero(gt)
            best = max(best, 1.3 * p * r / (0.3 * p + r))
    return best


def _ref_pr(s: np.ndarray, gt: np.ndarray, thresholds) -> tuple[list[float], list[float]]:
    """Pre_Recall_hitRate.m per threshold: an empty mask inverts mask and map first; P = R = 0 without a hit."""
    if gt.sum() == 0:
        gt, s = ~gt, 1.0 - s
    pre, rec = [], []
    for t in thresholds:
        label = s >= t
        hit = np.count_nonzero(label & gt)
        pre.append(hit / np.count_nonzero(label) if hit else 0.0)
        rec.append(hit / np.count_nonzero(gt) if hit else 0.0)
    return pre, rec


def _ref_colon_desc() -> list[float]:
    """MATLAB ``1:-.05:0``: first half 1 - k * 0.05, second half 0 + (20 - k) * 0.05 (MathWorks 1-4FLI96)."""
    return [1 - k * 0.05 if k <= 10 else (20 - k) * 0.05 for k in range(21)]


def _ref_dataset(case, thresholds_desc) -> tuple[float, float, np.ndarray]:
    """performCalcu.m + evaluate.m: (mean best F, trapz area under flip(F), F curve in their order)."""
    best, pre, rec = [], [], []
    total = len(case)
    for _, g, m in case:
        s, gt = _ref_norm(m), g / 255.0 >= 0.1
        total = len(case) - (1 if s.sum() == 0 else 0)  # reset inside the image loop: the last image decides
        best.append(_ref_best_f(s, gt))
        p, r = _ref_pr(s, gt, thresholds_desc)
        pre.append(p)
        rec.append(r)
    mp, mr = np.sum(pre, axis=0) / total, np.sum(rec, axis=0) / total
    with np.errstate(invalid="ignore"):
        f = 1.3 * (mp * mr) / (0.3 * mp + mr)  # 0 / 0 = NaN, as MATLAB
    x = np.array(thresholds_desc[::-1])
    auc = float(np.sum(np.diff(x) * (f[::-1][1:] + f[::-1][:-1])) / 2)
    return float(np.sum(best) / total), auc, f


def _dbdbench(case, proto: Protocol = ZHAO):
    ev = Evaluator(proto, ("max_f", "auc_fcurve", "mae"))
    for stem, g, m in case:
        ev.update(255 - m, 255 - g, stem)  # canonical: P(blur), white = blurred
    return ev.compute()


# ---- tests ----


def test_matlab_colon_values():
    """MATLAB's 1:-.05:0 has 0.6499999999999999 for 0.65; it is symmetric, unlike Octave's, which differs below 0.5."""
    desc = matlab_colon(1.0, -0.05, 0.0)
    assert len(desc) == 21 and desc[7] == 0.6499999999999999 and desc[13] == 0.35000000000000003
    assert desc[::-1] == matlab_colon(0.0, 0.05, 1.0)
    assert list(desc) == _ref_colon_desc()
    assert ZHAO.thresholds == tuple(sorted(desc))
    differ = [k for k in range(21) if desc[k] != _OCTAVE_COLON[k]]
    assert differ == [11, 12, 13, 14, 16, 17, 18, 19]  # 0.45 .. 0.05 except 0.25
    assert _OCTAVE_COLON[11] == 0.44999999999999996 and _OCTAVE_COLON[13] == 0.35


@pytest.mark.parametrize("name", list(CASES))
def test_matches_reference_reimplementation(name):
    """max F, the F curve and auc_fcurve equal the re-implementation of their code on every case."""
    ref_f, ref_auc, ref_curve = _ref_dataset(CASES[name], _ref_colon_desc())
    res = _dbdbench(CASES[name])
    assert res.scores["max_f"] == pytest.approx(ref_f, abs=1e-15)
    np.testing.assert_allclose(res.curves["f"][::-1], ref_curve, rtol=0, atol=1e-15, equal_nan=True)
    if np.isnan(ref_auc):
        assert np.isnan(res.scores["auc_fcurve"])
    else:
        assert res.scores["auc_fcurve"] == pytest.approx(ref_auc, abs=1e-15)


@pytest.mark.parametrize("name", list(CASES))
def test_matches_their_code_under_octave(name):
    """Their unmodified code under Octave 7.3 (stored numbers) = the protocol with Octave's colon values."""
    oct_f, oct_auc = _OCTAVE[name]
    res = _dbdbench(CASES[name], replace(ZHAO, name="zhao-octave", thresholds=tuple(sorted(_OCTAVE_COLON))))
    assert res.scores["max_f"] == pytest.approx(oct_f, abs=1e-15)
    if np.isnan(oct_auc):
        assert np.isnan(res.scores["auc_fcurve"])
    else:
        assert res.scores["auc_fcurve"] == pytest.approx(oct_auc, abs=1e-15)


def test_cases_put_values_exactly_on_thresholds():
    """The threshold case is a real test: map values sit exactly on MATLAB-only colon values, so the three
    threshold lists (MATLAB colon, Octave colon, rounded decimals) give three different areas."""
    s = _ref_norm(CASES["on_thresholds"][0][2])
    assert np.isin(s, [0.6499999999999999, 0.35000000000000003]).any()
    decimals = replace(ZHAO, name="zhao-decimal", thresholds=tuple(round(0.05 * i, 2) for i in range(21)))
    octave = replace(ZHAO, name="zhao-octave", thresholds=tuple(sorted(_OCTAVE_COLON)))
    areas = {_dbdbench(CASES["on_thresholds"], p).scores["auc_fcurve"] for p in (ZHAO, decimals, octave)}
    assert len(areas) == 3


def test_empty_mask_best_f_quirk():
    """An empty in-focus mask: a completely wrong map (all in focus) gets best F = 1.0, as their code gives."""
    wrong, empty = np.ones((N, N)), np.zeros((N, N), bool)
    assert zhao_best_f(wrong, empty) == 1.0 == _ref_best_f(wrong, empty)
    assert zhao_best_f(np.zeros((N, N)), empty) == 1.0  # the right map too
    assert zhao_best_f(wrong, empty, empty_mask="score") == 0.0
    s = _ref_norm(_ramp())
    assert zhao_best_f(s, empty) == pytest.approx(_ref_best_f(s, empty), abs=1e-15)


def test_empty_mask_curves_invert_both_inputs():
    """Pre_Recall_hitRate.m on an empty mask: P = 1 and R > 0 where the inverted map reaches the threshold."""
    res = _dbdbench([("x", _const(0), _ramp())])
    row_p, row_r = res.curves["precision"], res.curves["recall"]
    assert np.all(row_p[:-1] == 1.0) and np.all(row_r > 0)  # every threshold but 1 (only p = 0 has 1 - p >= 1)
    assert res.meta["warnings"][0]["code"] == "zhao-empty-mask" and res.meta["warnings"][0]["files"] == ["x"]


def test_empty_mask_with_a_full_range_map_takes_the_inverted_branch():
    """The case where MATLAB and Octave part: an empty mask sends Pre_Recall_hitRate.m into its inversion branch,
    which thresholds ``1 - s``. With a map maximum of 255, ``s = v / 255`` and the pixel at 204 gives
    ``1 - 0.8 = 0.19999999999999996``: exactly Octave's colon value ``1 + 16 * -0.05``, but below MATLAB's ``0.2``
    (``4 * 0.05``, from the end of the range). That one pixel changes the recall at threshold 0.2 by 1 / 256 and
    the area, so the protocol (MATLAB's values) and their code under Octave differ there and nowhere else; given
    Octave's values the protocol gives Octave's numbers (``test_matches_their_code_under_octave``)."""
    case = CASES["empty_mask_full_range"]
    s = _ref_norm(case[0][2])
    assert s.max() == 1.0 and np.count_nonzero(1.0 - s == _OCTAVE_COLON[16]) == 1
    assert 1.0 - 204 / 255 < _ref_colon_desc()[16] == 0.2
    octave = replace(ZHAO, name="zhao-octave", thresholds=tuple(sorted(_OCTAVE_COLON)))
    matlab, as_octave = _dbdbench(case), _dbdbench(case, octave)
    differ = np.flatnonzero(matlab.curves["recall"][::-1] != as_octave.curves["recall"][::-1])
    assert differ.tolist() == [16]
    assert as_octave.curves["recall"][::-1][16] - matlab.curves["recall"][::-1][16] == 1 / 256
    _, ref_auc, _ = _ref_dataset(case, list(_OCTAVE_COLON))
    assert as_octave.scores["auc_fcurve"] == pytest.approx(ref_auc, abs=1e-15)
    assert abs(matlab.scores["auc_fcurve"] - _OCTAVE["empty_mask_full_range"][1]) > 1e-5


def test_nan_f_is_reproduced_and_recorded():
    """Where no image has a hit, F = 0/0 = NaN and so is the area; the result says so in meta['warnings']."""
    res = _dbdbench(CASES["nan_f"])
    assert np.isnan(res.scores["auc_fcurve"]) and np.isnan(res.curves["f"]).sum() == 13
    codes = {w["code"]: w for w in res.meta["warnings"]}
    assert set(codes) == {"zhao-empty-mask", "zhao-nan-f"}
    assert all(set(w) == {"code", "message", "files"} for w in res.meta["warnings"])
    assert "auc_fcurve" in codes["zhao-nan-f"]["message"]


def test_zero_map_only_counts_when_read_last():
    """totalNum is reset per image: an all-zero map lowers the divisor only when it is the last image read."""
    last, first = _dbdbench(CASES["zero_map_last"]), _dbdbench(CASES["zero_map_first"])
    assert [w["files"] for w in last.meta["warnings"]] == [["d3"]]
    assert "warnings" not in first.meta
    plain = replace(ZHAO, name="zhao-plain", zero_maps="count")
    assert last.scores["max_f"] == pytest.approx(_dbdbench(CASES["zero_map_last"], plain).scores["max_f"] * 3 / 2)


def test_protocol_settings_checked():
    with pytest.raises(ValueError, match="empty_mask='as-is'; valid: 'score', 'zhao'"):
        replace(ZHAO, empty_mask="as-is")
    with pytest.raises(ValueError, match="levels='search'"):
        replace(get_protocol("dbdbench"), empty_mask="zhao")


def _hifst_te1(shared_data, scale: float = 1.0):
    """HiFST's CUHK-TE-1 maps (white = in focus), optionally rescaled, with the CUHK GT, in dir() order."""
    stems = sorted((shared_data / "cuhk" / "splits" / "cuhk-te-1.txt").read_text().split())
    for s in stems:
        gt = cv2.imread(str(shared_data / "cuhk" / "gt" / f"{s}.png"), cv2.IMREAD_GRAYSCALE)  # white = blur
        sharp = cv2.imread(str(shared_data / "hifst" / "cuhk_maps" / f"{s}_HiFSTBlurMap.png"), cv2.IMREAD_GRAYSCALE)
        yield s, 255 - gt, np.rint(sharp * scale).astype(np.uint8)


@pytest.mark.slow
def test_hifst_cuhk_te1_matches_their_code(shared_data):
    """HiFST's published maps on CUHK-TE-1: their code under Octave printed max F 0.81860818140790403 and
    AUC 0.49813218732429454 (GT inverted to white = in focus, maps as published). No map value falls on a
    threshold where Octave's colon differs from MATLAB's, so the protocol itself is compared."""
    res = _dbdbench(list(_hifst_te1(shared_data)))
    assert res.scores["max_f"] == pytest.approx(0.81860818140790403, abs=1e-15)
    assert res.scores["auc_fcurve"] == pytest.approx(0.49813218732429454, abs=1e-15)
    assert "warnings" not in res.meta


@pytest.mark.slow
def test_hifst_cuhk_te1_max_200_matches_their_code(shared_data):
    """The same maps rescaled to a maximum of 200 (``rint(v * 200 / 255)``) put values exactly on the colon
    thresholds. Their code under Octave printed max F 0.81856345013775655 and AUC 0.49944078990624552; the
    protocol given Octave's colon values agrees, and with MATLAB's values (the protocol) the area differs."""
    case = list(_hifst_te1(shared_data, 200 / 255))
    octave = _dbdbench(case, replace(ZHAO, name="zhao-octave", thresholds=tuple(sorted(_OCTAVE_COLON))))
    assert octave.scores["max_f"] == pytest.approx(0.81856345013775655, abs=1e-15)
    assert octave.scores["auc_fcurve"] == pytest.approx(0.49944078990624552, abs=1e-15)
    assert abs(_dbdbench(case).scores["auc_fcurve"] - 0.49944078990624552) > 1e-5


def write_cases(folder) -> None:
    """Write ``CASES`` as PNG folders ``<case>/gt`` and ``<case>/maps`` (Zhao's polarity) for their code."""
    from pathlib import Path

    for name, case in CASES.items():
        for sub in ("gt", "maps"):
            (Path(folder) / name / sub).mkdir(parents=True, exist_ok=True)
        for stem, g, m in case:
            cv2.imwrite(str(Path(folder) / name / "gt" / f"{stem}.png"), g)
            cv2.imwrite(str(Path(folder) / name / "maps" / f"{stem}.png"), m)
