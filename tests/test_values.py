"""The value rules of maps and masks (dbdbench.values) through the Python API: Evaluator and TorchEvaluator.

Every mistake class is built from a correct (map, mask) pair and must either be refused (a ``ValueError``
naming the code and the fix) or give exactly the scores of the canonical input: a float P(blur) map in
[0, 1] and a bool mask. The CLI side of the same rules is in ``test_sanity.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dbdbench.findings import Checks, SanityError
from dbdbench.metrics import Evaluator
from dbdbench.values import FEW_LEVELS, gt_as_mask, looks_swapped, map_range_code, rescale_map


def scored(pred, gt, protocol="dbdbench", **kwargs):
    ev = Evaluator(protocol, **kwargs)
    ev.update(pred, gt)
    return ev.compute()


def same(a, b) -> bool:
    da, db = a.to_dict(), b.to_dict()
    return all(da[k] == db[k] for k in ("scores", "curves", "per_image"))


@pytest.fixture
def pair():
    rng = np.random.default_rng(0)
    gt = np.zeros((24, 30), bool)
    gt[:, :13] = True
    q = np.clip(np.where(gt, 190, 60) + rng.integers(-50, 50, gt.shape), 0, 255).astype(np.uint8)
    return q, gt


# ------------------------------------------------------------------------------------------------ the rules


def test_map_range_codes():
    assert map_range_code("uint8", 1) == "range-01"
    assert [map_range_code("uint8", v) for v in range(2, FEW_LEVELS + 1)] == ["range-few-levels"] * (FEW_LEVELS - 1)
    assert map_range_code("uint8", FEW_LEVELS + 1) is None and map_range_code("uint8", 0) is None
    assert map_range_code("uint16", 255) == "range-16bit-8bit-values" and map_range_code("uint16", 256) is None
    assert map_range_code("uint16", 0) is None  # all zero on any scale
    assert map_range_code("float64", 0.001) is None  # a confident float map is not refused


def test_rescale_is_exact_for_0_1_and_16_bit(pair):
    q, _ = pair
    b = (q >= 128).astype(np.uint8)
    assert np.array_equal(rescale_map(b)[0], b * 255) and rescale_map(b)[1]
    assert np.array_equal(rescale_map(q.astype(np.uint16))[0], q)
    assert np.array_equal(rescale_map(b.astype(np.uint16))[0], b * 255)
    few = np.array([[0, 1], [2, 3]], np.uint8)
    assert rescale_map(few)[0].tolist() == [[0, 85], [170, 255]]
    assert rescale_map(q) == (q, False) or np.array_equal(rescale_map(q)[0], q)


def test_gt_as_mask():
    g = np.array([[0, 1], [1, 0]], np.uint8)
    assert gt_as_mask(g).dtype == bool and gt_as_mask(g).tolist() == [[False, True], [True, False]]
    assert gt_as_mask(g.astype(np.uint16)).dtype == bool
    assert gt_as_mask(g.astype(np.uint16) * 255).dtype == np.uint8
    assert gt_as_mask(g * 255).dtype == np.uint8 and gt_as_mask(g.astype(float)).dtype == np.float64


def test_looks_swapped():
    graded = np.linspace(0, 1, 100).reshape(10, 10)
    assert looks_swapped(2, graded) and not looks_swapped(3, graded)
    soft = np.zeros((10, 10))
    soft[:, :3] = 0.5  # 30 % graded: a soft mask with wide borders is not taken for a map
    assert not looks_swapped(2, soft) and not looks_swapped(2, graded > 0.5)


# ------------------------------------------------------------------------------------- each class, both APIs


def test_uint8_0_1_gt_is_read_as_the_mask(pair):
    q, gt = pair
    ref = scored(q / 255, gt)
    for g in (gt.astype(np.uint8), gt.astype(np.uint16), gt.astype(np.uint16) * 255, gt.astype(np.uint8) * 255):
        res = scored(q / 255, g)
        assert same(res, ref) and "warnings" not in res.meta


@pytest.mark.parametrize(("code", "make"), [
    ("range-01", lambda q: (q >= 128).astype(np.uint8)),
    ("range-few-levels", lambda q: np.rint(q / 255 * 2).astype(np.uint8)),
    ("range-16bit-8bit-values", lambda q: q.astype(np.uint16)),
])  # fmt: skip
def test_map_ranges_are_refused_with_the_fix(pair, code, make):
    q, gt = pair
    bad = make(q)
    ev = Evaluator()
    with pytest.raises(SanityError, match="img3") as info:
        ev.update(bad, gt, name="img3")
    assert info.value.findings[0].code == code and f"accept=('{code}',)" in str(info.value)
    res = scored(bad, gt, accept=[code])
    assert [w["code"] for w in res.meta["warnings"]] == [code] and res.meta["warnings"][0]["files"] == ["image00000"]
    with pytest.raises(SanityError, match="--strict"):
        scored(bad, gt, accept=[code], strict=True)


def test_swapped_arguments_are_refused(pair):
    q, gt = pair
    for g in (gt, gt.astype(np.uint8) * 255, gt.astype(np.float32)):
        for m in (q, q / 255):
            with pytest.raises(SanityError, match=r"update\(pred, gt\)"):
                scored(g, m)
    res = scored(gt, q / 255, accept=["swapped-arguments"])
    assert [w["code"] for w in res.meta["warnings"]] == ["swapped-arguments"]
    assert same(scored(gt, gt), scored(gt, gt.astype(np.uint8) * 255))  # a binary map and a binary mask: fine


def test_warnings_are_merged_per_code_over_images(pair):
    q, gt = pair
    ev = Evaluator(accept=["range-01"])
    for i in range(3):
        ev.update((q >= 128).astype(np.uint8), gt, name=f"im{i}")
    ev.update(q, gt, name="good")
    (w,) = ev.compute().meta["warnings"]
    assert w["code"] == "range-01" and w["files"] == ["im0", "im1", "im2"]
    ev.reset()
    assert ev.findings == []


def test_strict_turns_protocol_warnings_into_errors():
    ev = Evaluator("zhao", strict=True)
    ev.update(np.zeros((8, 8)), np.ones((8, 8), bool))  # no in-focus pixel: zhao-empty-mask
    with pytest.raises(SanityError, match="--strict"):
        ev.compute()


def test_unknown_accept_code_is_refused():
    with pytest.raises(ValueError, match="valid: range-01"):
        Evaluator(accept=["range01"])
    assert Checks(accept=frozenset({"swapped-arguments"})).accept == {"swapped-arguments"}


# ------------------------------------------------------------------------------------------- torch, the same


def test_torch_evaluator_applies_the_same_rules(pair):
    torch = pytest.importorskip("torch")
    from dbdbench.metrics import TorchEvaluator

    q, gt = pair
    tq, tg = torch.from_numpy(q)[None], torch.from_numpy(gt)[None]

    def t_scored(p, g, **kwargs):
        ev = TorchEvaluator(**kwargs)
        ev.update(p, g)
        return ev.compute()

    ref = scored(q, gt)
    assert same(t_scored(tq, tg.to(torch.uint8)), ref)  # 0/1 uint8 mask read as the mask
    with pytest.raises(SanityError, match="range-01"):
        t_scored((tq >= 128).to(torch.uint8), tg)
    res = t_scored((tq >= 128).to(torch.uint8), tg, accept=["range-01"])
    assert same(res, scored((q >= 128).astype(np.uint8), gt, accept=["range-01"]))
    assert res.meta["warnings"] == scored((q >= 128).astype(np.uint8), gt, accept=["range-01"]).meta["warnings"]
    with pytest.raises(SanityError, match="range-few-levels"):
        t_scored((tq // 100).to(torch.uint8), tg)
    with pytest.raises(SanityError, match="swapped"):
        t_scored(tg.float(), tq.double() / 255)
    # a list of maps of different dtypes: each keeps its own meaning (no cast of the bool map to 0/1 uint8)
    ev = TorchEvaluator()
    ev.update([tg[0], tg[0].to(torch.uint8) * 255, tg[0].float()], [tg[0]] * 3)
    res = ev.compute()
    assert res.scores["mae"] == 0.0 and [r["mae"] for r in res.per_image] == [0.0, 0.0, 0.0]
    ev = TorchEvaluator()  # a bad float map beside a uint8 map: the float map is named
    bad = tq[0].double() / 255
    bad[0, 0] = 2.0
    ev.update([tq[0], bad], [tg[0], tg[0]])
    with pytest.raises(ValueError, match=r"image00001: prediction") as info:
        ev.compute()
    assert "image00000" not in str(info.value)


# ----------------------------------------------------------------------------------------- the property


_PROTOCOLS = ["dbdbench", "pysod", "ddffnet"]  # uint8 and float encodings of one map score bit-identically


@st.composite
def cases(draw):
    h, w = draw(st.integers(2, 10)), draw(st.integers(2, 10))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    gt = rng.random((h, w)) < draw(st.sampled_from([0.0, 0.3, 0.7, 1.0]))
    kind = draw(st.sampled_from(["graded", "binary", "few", "zero"]))
    if kind == "graded":
        q = rng.integers(0, 256, (h, w))
    elif kind == "binary":
        q = 255 * (rng.random((h, w)) < 0.5)
    elif kind == "few":
        q = rng.integers(0, FEW_LEVELS + 1, (h, w))
    else:
        q = np.zeros((h, w), int)
    q = q.astype(np.uint8)
    map_enc = draw(st.sampled_from(["float64", "float32", "float255", "uint8", "uint16x257", "uint16", "uint8-01",
                                    "bool"]))  # fmt: skip
    gt_enc = draw(st.sampled_from(["bool", "uint8", "uint8-01", "uint16", "uint16-01", "uint16-8bit", "float",
                                   "float255"]))  # fmt: skip
    swap = draw(st.booleans())
    return q, gt, map_enc, gt_enc, swap, draw(st.sampled_from(_PROTOCOLS))


def _encode_map(q: np.ndarray, enc: str) -> tuple[np.ndarray, np.ndarray] | None:
    """The map in encoding ``enc`` and its canonical float64 values; None where ``enc`` cannot hold ``q``."""
    binary = set(np.unique(q)) <= {0, 255}
    if enc in ("uint8-01", "bool") and not binary:
        return None
    if enc == "float255" and q.max() <= 1:  # float values 0 and 1 are a valid [0, 1] map: nothing to refuse
        return None
    canonical = q / 255
    arr = {
        "float64": lambda: q / 255, "float32": lambda: (q / 255).astype(np.float32), "float255": lambda: q * 1.0,
        "uint8": lambda: q, "uint16x257": lambda: q.astype(np.uint16) * 257, "uint16": lambda: q.astype(np.uint16),
        "uint8-01": lambda: q // 255, "bool": lambda: q == 255,
    }[enc]()  # fmt: skip
    if enc == "float32":
        canonical = arr.astype(np.float64)
    return arr, canonical


def _encode_gt(gt: np.ndarray, enc: str) -> np.ndarray:
    return {
        "bool": gt, "uint8": gt.astype(np.uint8) * 255, "uint8-01": gt.astype(np.uint8),
        "uint16": gt.astype(np.uint16) * 65535, "uint16-01": gt.astype(np.uint16),
        "uint16-8bit": gt.astype(np.uint16) * 255, "float": gt.astype(np.float64), "float255": gt * 255.0,
    }[enc]  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_any_encoding_is_refused_or_scored_as_the_canonical_input(case):
    """Random dtypes, ranges, shapes and argument orders of map and mask: a ValueError naming the problem, or
    exactly the result of the canonical input (float P(blur) map in [0, 1], bool mask). Swapped arguments are
    drawn only for graded maps (more than half of the pixels strictly between 0 and 255): a binary map and a
    binary mask swapped cannot be told apart."""
    q, gt, map_enc, gt_enc, swap, protocol = case
    encoded = _encode_map(q, map_enc)
    if encoded is None:
        return
    pred, canonical = encoded
    g = _encode_gt(gt, gt_enc)
    graded = np.count_nonzero((q > 0) & (q < 255)) > 0.5 * q.size
    args = (g, pred) if swap and graded else (pred, g)
    try:
        res = scored(*args, protocol=protocol)
    except ValueError as exc:
        text = str(exc)
        assert any(k in text for k in ("range-01", "range-few-levels", "range-16bit-8bit-values", "swapped",
                                       "ground truth", "prediction")), text  # fmt: skip
        return
    assert not (swap and graded), "swapped arguments scored"
    assert same(res, scored(canonical, gt, protocol=protocol))


def test_evaluator_metric_applies_the_same_rules(pair):
    pytest.importorskip("torchmetrics")
    import torch

    from dbdbench.metrics import EvaluatorMetric

    q, gt = pair
    b01 = torch.from_numpy((q >= 128).astype(np.uint8))[None]
    m = EvaluatorMetric()
    m.update(b01, torch.from_numpy(gt)[None])
    with pytest.raises(SanityError, match="range-01"):
        m.compute()
    m = EvaluatorMetric(accept=["range-01"])
    m.update(b01, torch.from_numpy(gt.astype(np.uint8))[None])  # and a 0/1 mask, read as the mask
    res = m.compute()
    expected = scored((q >= 128).astype(np.uint8), gt, accept=["range-01"])
    assert same(res, expected) and res.meta["warnings"] == expected.meta["warnings"]
