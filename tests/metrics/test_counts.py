"""The counting kernel: cumulative counts against brute force; input checks; exact class flips."""

from __future__ import annotations

import numpy as np
import pytest

from dbdbench.metrics.counts import (
    binarize,
    check_map,
    counts_from_histogram,
    cumulative_counts,
    flip,
    single_counts,
    to_unit,
)


def test_cumulative_counts_equal_brute_force():
    rng = np.random.default_rng(0)
    levels = rng.integers(0, 7, size=(9, 11))
    gt = rng.uniform(size=(9, 11)) > 0.6
    c = cumulative_counts(levels, gt, 7)
    for k in range(8):
        pos = levels >= k
        assert (c.tp[k], c.fp[k]) == (np.count_nonzero(pos & gt), np.count_nonzero(pos & ~gt))
        assert (c.fn[k], c.tn[k]) == (np.count_nonzero(~pos & gt), np.count_nonzero(~pos & ~gt))
    assert (c.fg, c.bg) == (gt.sum(), (~gt).sum())


def test_histogram_and_levels_give_the_same_counts():
    rng = np.random.default_rng(1)
    levels = rng.integers(0, 5, size=50)
    gt = rng.uniform(size=50) > 0.5
    hist = np.bincount(levels + 5 * gt, minlength=10)
    a, b = counts_from_histogram(hist, 5), cumulative_counts(levels, gt, 5)
    assert a.tp.tolist() == b.tp.tolist() and a.fp.tolist() == b.fp.tolist()


def test_empty_mask_counts():
    c = cumulative_counts(np.array([[0, 3]]), np.zeros((1, 2), bool), 4)
    assert c.fg == 0 and c.tp.tolist() == [0] * 5 and c.fp.tolist() == [2, 1, 1, 1, 0]


def test_single_counts_sum_to_the_image():
    pos = np.array([[True, False], [True, True]])
    gt = np.array([[True, True], [False, False]])
    assert single_counts(pos, gt) == (1, 2, 1, 0)


@pytest.mark.parametrize("arr", [np.array([[0, 17, 255]], np.uint8), np.array([[0, 300, 65535]], np.uint16),
                                 np.array([[True, False]]), np.array([[0.0, 0.25, 1.0]])])
def test_flip_is_exact_and_an_involution(arr):
    assert flip(arr).dtype == arr.dtype
    assert np.array_equal(flip(flip(arr)), arr)
    assert np.allclose(to_unit(flip(arr)), 1 - to_unit(arr), atol=0)


def test_uint8_binarize_equals_the_float_rule():
    v = np.arange(256, dtype=np.uint8)[None]
    for t in (0.0, 0.1, 0.5, 128 / 255, 1.0):
        for strict in (False, True):
            want = v / 255 > t if strict else v / 255 >= t
            assert np.array_equal(binarize(v, t, strict), want)


@pytest.mark.parametrize(("arr", "match"), [(np.zeros((2, 2, 3)), "2-D"), (np.array([[np.nan]]), "NaN"),
                                            (np.array([[1.5]]), r"\[0, 1\]"), (np.zeros((2, 2), np.int8), "dtype")])
def test_check_map_names_the_problem(arr, match):
    with pytest.raises(ValueError, match=match):
        check_map(arr)
