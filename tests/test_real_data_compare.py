"""``dbdbench compare`` on HiFST's CUHK-TE-1 maps against a blurred copy of them (real data in ../shared/data)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from _hifst_blurred import score_hifst_and_blurred
from click.testing import CliRunner
from scipy import stats

from dbdbench.cli import main


@pytest.fixture(scope="module")
def scored(shared_data, tmp_path_factory):
    """Result files of the HiFST maps (A) and of the same maps after a Gaussian blur, sigma 4 px (B): the steps
    of the example in docs/statistics.md."""
    tmp = tmp_path_factory.mktemp("hifst_vs_blurred")
    score_hifst_and_blurred(shared_data, tmp)
    return tmp


def _compare(tmp, *args) -> dict:
    out = tmp / "cmp.json"
    res = CliRunner().invoke(main, ["compare", str(tmp / "a.json"), str(tmp / "b.json"), "--json", str(out), *args])
    assert res.exit_code == 0, res.output
    return json.loads(out.read_text())


def _rows(tmp, key: str) -> tuple[np.ndarray, np.ndarray]:
    a, b = (json.loads((tmp / f"{x}.json").read_text())["per_image"] for x in ("a", "b"))
    return np.array([r[key] for r in a]), np.array([r[key] for r in b])


def test_wilcoxon_p_and_permutation_interval_of_mae_and_f(scored):
    """scipy's Wilcoxon p; the interval's ends are where scipy's paired permutation test of B - delta crosses 5 %."""
    from dbdbench.stats.resample import BATCH, rng_for

    cmp = _compare(scored, "--metrics", "mae,bin_f", "--seed", "0", "--n-boot", "2000")
    assert cmp["n_images"] == 100
    for key in ("mae", "bin_f"):
        a, b = _rows(scored, key)
        entry = cmp["metrics"][key]
        assert entry["test"] == "wilcoxon" and np.count_nonzero(b - a) > 50  # scipy's approximation applies
        assert entry["p_value"] == pytest.approx(stats.wilcoxon(b - a).pvalue, abs=1e-9, rel=0)

        def p(delta, a=a, b=b):
            return stats.permutation_test((a, b - delta), lambda x, y, axis=-1: np.mean(y, axis) - np.mean(x, axis),
                                          permutation_type="samples", vectorized=True, n_resamples=2000, batch=BATCH,
                                          rng=rng_for(0, "means")).pvalue  # fmt: skip

        lo, hi, eps = entry["ci_low"], entry["ci_high"], 1e-9
        assert p(lo + eps) >= 0.05 > p(lo - eps) and p(hi - eps) >= 0.05 > p(hi + eps)
        assert lo < entry["diff"] < hi


def test_max_f_test_and_interval_recompute_the_reduction(scored):
    """The max-F p-value equals scipy's permutation test with max F rebuilt from swapped records; the
    interval's ends are the shifts of B's F curves at which that test's p-value crosses 5 %."""
    from dataclasses import replace

    from dbdbench.metrics import get_protocol
    from dbdbench.metrics.reduce import reduce_records
    from dbdbench.results import load_result
    from dbdbench.stats.resample import BATCH, permutation_tests, rng_for
    from dbdbench.stats.samples import score_data
    from dbdbench.stats.sidecar import read_counts

    cmp = _compare(scored, "--metrics", "max_f", "--n-boot", "100", "--seed", "4")
    proto = get_protocol("dbdbench")
    rec_a, rec_b = (read_counts(load_result(scored / f"{x}.json")) for x in ("a", "b"))
    both = rec_a + rec_b
    n = len(rec_a)

    def slow(x, y):
        return (reduce_records([both[i] for i in y], proto)[0]["max_f"]
                - reduce_records([both[i] for i in x], proto)[0]["max_f"])  # fmt: skip

    ref = stats.permutation_test((np.arange(n), np.arange(n) + n), slow, permutation_type="samples",
                                 vectorized=False, n_resamples=100, batch=BATCH, rng=rng_for(4, "permutation"))
    entry = cmp["metrics"]["max_f"]
    assert entry["test"] == "permutation" and entry["p_value"] == pytest.approx(ref.pvalue, abs=1e-12)
    da, db = (score_data(r, proto, ["max_f"])["max_f"] for r in (rec_a, rec_b))

    def p(delta):
        moved = replace(db, features=db.features - delta)
        return permutation_tests([da], [moved], n_resamples=100, seed=4)[0].p_value

    lo, hi, eps = entry["ci_low"], entry["ci_high"], 1e-9
    assert p(lo + eps) >= 0.05 > p(lo - eps) and p(hi - eps) >= 0.05 > p(hi + eps)


def test_the_example_of_docs_statistics_reproduces(scored):
    """docs/statistics.md's compare output, from its own steps (the fixture makes the same maps and results)."""
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[1] / "docs" / "statistics.md").read_text()
    block = doc.split("$ dbdbench compare hifst.json blurred.json --metrics mae,max_f,bin_f\n")[1].split("```")[0]
    expected = block[block.index("CUHK-TE-1 [dbdbench]") :].strip().splitlines()
    res = CliRunner().invoke(main, ["compare", str(scored / "a.json"), str(scored / "b.json"), "--metrics",
                                    "mae,max_f,bin_f"])  # fmt: skip
    assert res.exit_code == 0, res.output
    got = res.output[res.output.index("CUHK-TE-1 [dbdbench]") :].strip().splitlines()
    assert got == expected
    # and the single-score intervals it quotes (evaluate --ci: 10 000 resamples, seed 0)
    from dbdbench.results import load_result
    from dbdbench.stats.compare import score_intervals
    from dbdbench.stats.intervals import protocol_of

    quoted = []
    for x in ("a", "b"):
        res = load_result(scored / f"{x}.json")
        lo, hi = score_intervals(res, protocol_of(res), ["max_f"])["max_f"]
        quoted.append(f"{res.scores['max_f']:.4f} [{lo:.4f}, {hi:.4f}]")
    assert f"max F {quoted[0]} for A and {quoted[1]} for\n  B" in doc
