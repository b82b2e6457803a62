"""Evaluator behaviour: bad input, empty masks, float/uint16 maps, JSON round trip, protocol registry."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from dbdbench.metrics import METRICS, Evaluator, get_protocol, list_protocols
from dbdbench.results import Result, load_result


@pytest.fixture
def pair():
    gt = np.zeros((20, 30), bool)
    gt[:, :12] = True
    pred = np.where(gt, 200, 40).astype(np.uint8)
    return pred, gt


@pytest.mark.parametrize(
    ("pred", "match"),
    [
        (np.full((20, 30), np.nan), "NaN"),
        (np.full((20, 30), np.inf), "infinite"),
        (np.zeros((20, 31), np.uint8), "shape mismatch"),
        (np.zeros((20, 30, 3), np.uint8), "2-D"),
        (np.zeros((20, 30), np.int32), "dtype int32"),
        (np.full((20, 30), 1.5), r"\[0, 1\]"),
        (np.zeros((0, 30), np.uint8), "empty"),
    ],
)
def test_bad_input_names_the_problem(pair, pred, match):
    ev = Evaluator()
    with pytest.raises(ValueError, match=match):
        ev.update(pred, pair[1], name="img7")
    with pytest.raises(ValueError, match="img7"):
        ev.update(pred, pair[1], name="img7")


def test_unknown_names_list_valid_ones():
    with pytest.raises(KeyError, match=re.escape(f"valid: {', '.join(list_protocols())}")):
        Evaluator("sod")
    with pytest.raises(KeyError, match=re.escape(f"valid: {', '.join(METRICS)}")):
        Evaluator(metrics=["maxF"])


def test_compute_without_images_is_an_error():
    with pytest.raises(ValueError, match="no images"):
        Evaluator().compute()


def test_dtypes_agree(pair):
    """uint8, uint16 and float versions of the same 8-bit map give the same dbdbench scores."""
    pred, gt = pair
    rng = np.random.default_rng(0)
    pred = np.clip(pred.astype(int) + rng.integers(-30, 30, pred.shape), 0, 255).astype(np.uint8)
    results = []
    for p in (pred, pred.astype(np.uint16) * 257, pred / 255):
        ev = Evaluator()
        ev.update(p, gt)
        results.append(ev.compute().scores)
    for key in results[0]:
        assert results[1][key] == pytest.approx(results[0][key], abs=1e-12), key
        assert results[2][key] == pytest.approx(results[0][key], abs=1e-12), key


def test_empty_gt_is_counted_and_flagged(pair):
    pred, gt = pair
    ev = Evaluator()
    ev.update(pred, gt, "a")
    ev.update(pred, np.zeros_like(gt), "b")
    res = ev.compute()
    assert res.n_empty_gt == 1
    assert [r["empty_gt"] for r in res.per_image] == [False, True]
    # the empty image has no defined ROC AUC; the dataset AUC is the other image's
    assert res.scores["auc"] == res.per_image[0]["auc"] == 1.0


def test_perfect_map_scores(pair):
    pred, gt = pair
    ev = Evaluator()
    ev.update(gt.astype(np.uint8) * 255, gt)
    s = ev.compute().scores
    assert s["mae"] == 0 and s["max_f"] == 1 and s["auc"] == 1 and s["ap"] == 1 and s["bin_iou_pooled"] == 1


def test_curves_are_ascending_with_end_point(pair):
    ev = Evaluator()
    ev.update(*pair)
    c = ev.compute().curves
    assert len(c["thresholds"]) == 257 and np.all(np.diff(c["thresholds"]) > 0)
    assert c["recall"][0] == 1 and c["recall"][-1] == 0  # everything positive ... nothing positive
    assert set(c) >= {"thresholds", "precision", "recall", "fpr", "f"}


def test_sharp_positive_flips_classes(pair):
    """Scoring the in-focus class equals scoring the blur class of the swapped map and mask."""
    from dataclasses import replace

    pred, gt = pair
    rng = np.random.default_rng(2)
    pred = np.clip(pred.astype(int) + rng.integers(-90, 90, pred.shape), 0, 255).astype(np.uint8)
    zhao = get_protocol("zhao")
    sharp = Evaluator(zhao)
    sharp.update(pred, gt)
    blur = Evaluator(replace(zhao, name="zhao-blur", positive="blur"))
    blur.update(255 - pred, ~gt)
    assert sharp.compute().scores == blur.compute().scores


def test_json_round_trip(tmp_path, pair):
    ev = Evaluator("pysod")
    ev.update(*pair, name="x")
    ev.update(pair[0], np.zeros_like(pair[1]), name="y")
    res = ev.compute(dataset="SYN-DEMO", method="m", meta={"pred_white": "blur"})
    path = tmp_path / "r.json"
    res.to_json(path)
    back = load_result(path)
    assert back == res
    assert back.scores.keys() == res.scores.keys()
    assert np.array_equal(back.curves["f"], res.curves["f"])
    data = json.loads(path.read_text())
    assert data["protocol"] == "pysod" and data["dataset"] == "SYN-DEMO" and data["schema_version"] == 1
    assert not list(tmp_path.glob(".*.tmp"))


def test_json_rejects_other_schemas(tmp_path):
    with pytest.raises(ValueError, match="not a dbdbench result"):
        Result.from_json({"schema": "other"})
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_result(bad)


def test_protocol_registry_is_documented():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "protocols.md").read_text()
    for name in list_protocols():
        assert f"`{name}`" in doc
        assert get_protocol(name).settings()["name"] == name
