"""Published numbers reproduced from the real HiFST maps (read in place from ../shared/data)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from dbdbench.metrics import Evaluator


def _pairs(data, stems):
    for s in stems:
        gt = cv2.imread(str(data / "cuhk" / "gt" / f"{s}.png"), cv2.IMREAD_GRAYSCALE)
        sharp = cv2.imread(str(data / "hifst" / "cuhk_maps" / f"{s}_HiFSTBlurMap.png"), cv2.IMREAD_GRAYSCALE)
        yield s, 255 - sharp, gt  # HiFST maps are bright = sharp; CUHK GT is white = blurred


def test_ddffnet_table1_hifst_row(shared_data):
    stems = (shared_data / "cuhk" / "splits" / "cuhk-te-1.txt").read_text().split()
    ev = Evaluator("ddffnet")
    for s, pred, gt in _pairs(shared_data, stems):
        ev.update(pred, gt, s)
    res = ev.compute()
    assert res.n_images == 100
    assert round(res.scores["mae"], 3) == 0.223
    assert round(res.scores["bin_f"], 3) == 0.803


@pytest.mark.slow
def test_hifst_published_pr_curve_max_f(shared_data):
    stems = sorted(p.stem for p in (shared_data / "cuhk" / "gt").glob("*.png"))
    ev = Evaluator("hifst")
    for s, pred, gt in _pairs(shared_data, stems):
        ev.update(pred, gt, s)
    res = ev.compute()
    assert res.n_images == 1000
    assert round(res.scores["max_f"], 3) == 0.821
    assert np.all(np.diff(res.curves["thresholds"]) > 0)
