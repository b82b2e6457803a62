"""``dbdbench compare`` on HiFST's CUHK-TE-1 maps against a blurred copy of them (real data in ../shared/data)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from scipy import stats

from dbdbench.cli import main


@pytest.fixture(scope="module")
def scored(shared_data, tmp_path_factory):
    """Result files of the HiFST maps (A) and of the same maps after a Gaussian blur, sigma 4 px (B)."""
    from dbdbench.datasets import read_split

    tmp = tmp_path_factory.mktemp("hifst_vs_blurred")
    (tmp / "root" / "CUHK").mkdir(parents=True)
    (tmp / "root" / "CUHK" / "gt").symlink_to(shared_data / "cuhk" / "gt")
    (tmp / "blurred").mkdir()
    maps = shared_data / "hifst" / "cuhk_maps"
    for stem in read_split("CUHK-TE-1"):
        name = f"{stem}_HiFSTBlurMap.png"
        cv2.imwrite(str(tmp / "blurred" / name), cv2.GaussianBlur(cv2.imread(str(maps / name), 0), (0, 0), 4))
    for label, folder in (("a", maps), ("b", tmp / "blurred")):
        res = CliRunner().invoke(main, ["evaluate", str(folder), "-d", "CUHK-TE-1", "--pred-white", "sharp",
                                        "--data-root", str(tmp / "root"), "--json", str(tmp / f"{label}.json"), "-q"])
        assert res.exit_code == 0, res.output
    return tmp


def _compare(tmp, *args) -> dict:
    out = tmp / "cmp.json"
    res = CliRunner().invoke(main, ["compare", str(tmp / "a.json"), str(tmp / "b.json"), "--json", str(out), *args])
    assert res.exit_code == 0, res.output
    return json.loads(out.read_text())


def _rows(tmp, key: str) -> tuple[np.ndarray, np.ndarray]:
    a, b = (json.loads((tmp / f"{x}.json").read_text())["per_image"] for x in ("a", "b"))
    return np.array([r[key] for r in a]), np.array([r[key] for r in b])


def test_wilcoxon_p_and_bootstrap_interval_of_mae_and_f(scored):
    cmp = _compare(scored, "--metrics", "mae,bin_f", "--seed", "0")
    assert cmp["n_images"] == 100
    for key in ("mae", "bin_f"):
        a, b = _rows(scored, key)
        entry = cmp["metrics"][key]
        assert entry["test"] == "wilcoxon"
        assert entry["p_value"] == pytest.approx(stats.wilcoxon(b - a).pvalue, abs=1e-9, rel=0)
        ref = stats.bootstrap((a, b), lambda x, y, axis=-1: np.mean(y, axis) - np.mean(x, axis), paired=True,
                              n_resamples=10_000, method="BCa", rng=2024).confidence_interval  # fmt: skip
        se = np.std(b - a, ddof=1) / np.sqrt(len(a))
        # another seed of scipy's own paired BCa: equal up to Monte-Carlo error (about 0.03 standard errors)
        assert abs(entry["ci_low"] - ref.low) < 0.15 * se and abs(entry["ci_high"] - ref.high) < 0.15 * se
        assert entry["ci_low"] < entry["diff"] < entry["ci_high"]


def test_max_f_interval_recomputes_the_reduction(scored):
    """The max-F interval equals scipy's BCa over the same draws with max F rebuilt from resampled records."""
    from dbdbench.metrics import get_protocol
    from dbdbench.metrics.reduce import reduce_records
    from dbdbench.results import load_result
    from dbdbench.stats.resample import BATCH, rng_for
    from dbdbench.stats.sidecar import read_counts

    cmp = _compare(scored, "--metrics", "max_f", "--n-boot", "100", "--seed", "4")
    proto = get_protocol("dbdbench")
    rec_a, rec_b = (read_counts(load_result(scored / f"{x}.json")) for x in ("a", "b"))

    def slow(idx):
        pick = np.asarray(idx, dtype=int)
        score_b = reduce_records([rec_b[i] for i in pick], proto)[0]["max_f"]
        return score_b - reduce_records([rec_a[i] for i in pick], proto)[0]["max_f"]

    ref = stats.bootstrap((np.arange(len(rec_a)),), slow, n_resamples=100, batch=BATCH, vectorized=False,
                          method="BCa", rng=rng_for(4, "reductions")).confidence_interval  # fmt: skip
    entry = cmp["metrics"]["max_f"]
    assert entry["test"] == "permutation"
    assert (entry["ci_low"], entry["ci_high"]) == pytest.approx((ref.low, ref.high), abs=1e-12)
