"""Protocol sensitivity: ranks, rank shifts, flipped pairs and the Markdown highlighting."""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pandas as pd
import pytest
from scipy.stats import kendalltau, rankdata

from dbdbench import evaluate
from dbdbench.metrics import Evaluator
from dbdbench.report.sensitivity import (
    agreement,
    discordant_pairs,
    rank_scores,
    rank_table,
    sensitivity_from_results,
    to_markdown,
)
from dbdbench.results import Result


def frame(table: dict[str, dict[str, float]], metric: str = "max_f") -> pd.DataFrame:
    """{protocol: {method: value}} -> long score table."""
    rows = [(m, p, metric, v) for p, col in table.items() for m, v in col.items()]
    return pd.DataFrame(rows, columns=["method", "protocol", "metric", "value"])


# ------------------------------------------------------------------------------------------ pure logic


@pytest.mark.parametrize("higher", [True, False])
def test_rank_scores_matches_scipy_min_ranks(higher):
    rng = np.random.default_rng(0)
    for _ in range(100):
        values = np.round(rng.uniform(0, 1, rng.integers(1, 9)), 2)
        want = rankdata(-values if higher else values, method="min")
        np.testing.assert_array_equal(rank_scores(values, higher, 2), want)


def test_rank_scores_ties_after_rounding_and_missing():
    np.testing.assert_array_equal(rank_scores([0.9004, 0.8996, 0.7, np.nan], True, 3), [1, 1, 3, np.nan])
    np.testing.assert_array_equal(rank_scores([0.9004, 0.8996, 0.7, np.nan], True, 4), [1, 2, 3, np.nan])
    np.testing.assert_array_equal(rank_scores([0.3, 0.1, 0.2], False), [3, 1, 2])


def test_rank_table_shifts_against_reference():
    scores = frame({"dbdbench": {"A": 0.90, "B": 0.85, "C": 0.80}, "zhao": {"A": 0.70, "B": 0.75, "C": 0.60}})
    ranked = rank_table(scores)
    assert ranked.attrs["reference"] == "dbdbench"
    got = ranked.set_index(["protocol", "method"])
    assert got.loc[("zhao", "A"), "rank"] == 2 and got.loc[("zhao", "A"), "shift"] == 1
    assert got.loc[("zhao", "B"), "rank"] == 1 and got.loc[("zhao", "B"), "shift"] == -1
    assert got.loc[("zhao", "C"), "shift"] == 0
    assert (got.xs("dbdbench")["shift"] == 0).all()
    # MAE: lower is better, so the same numbers rank the other way
    mae = rank_table(frame({"dbdbench": {"A": 0.1, "B": 0.2}, "zhao": {"A": 0.3, "B": 0.2}}, "mae"))
    assert mae.set_index(["protocol", "method"]).loc[("zhao", "A"), "shift"] == 1


def test_reference_choice_and_errors():
    scores = frame({"pysod": {"A": 0.9, "B": 0.8}, "zhao": {"A": 0.7, "B": 0.8}})
    assert rank_table(scores).attrs["reference"] == "pysod"  # no dbdbench: the first protocol
    assert rank_table(scores, reference="zhao").attrs["reference"] == "zhao"
    with pytest.raises(ValueError, match="'hifst' was not scored"):
        rank_table(scores, reference="hifst")
    with pytest.raises(ValueError, match="Two scores"):
        rank_table(pd.concat([scores, scores.iloc[:1]]))
    with pytest.raises(ValueError, match="Unknown metric"):
        rank_table(frame({"pysod": {"A": 0.9}}, "fscore"))


def test_discordant_pairs_and_tau_against_brute_force():
    rng = np.random.default_rng(2)
    methods = [f"m{i}" for i in range(7)]
    for _ in range(20):
        a = dict(zip(methods, rng.permutation(7) + 1.0, strict=True))
        b = dict(zip(methods, rng.permutation(7) + 1.0, strict=True))
        brute = [(m, n) for m, n in itertools.combinations(sorted(methods), 2) if (a[m] < a[n]) != (b[m] < b[n])]
        assert discordant_pairs(a, b) == brute
        scores = frame({"dbdbench": {m: -a[m] for m in methods}, "pysod": {m: -b[m] for m in methods}})
        row = agreement(rank_table(scores)).set_index("protocol").loc["pysod"]
        assert row["n_flipped"] == len(brute)
        # without ties, tau = 1 - 4 * discordant / (n (n - 1))
        assert row["kendall_tau"] == pytest.approx(1 - 4 * len(brute) / (7 * 6))
        assert row["kendall_tau"] == pytest.approx(kendalltau(list(a.values()), list(b.values())).statistic)


def test_markdown_highlights_only_changed_ranks():
    scores = frame({"dbdbench": {"A": 0.90, "B": 0.85, "C": 0.80}, "zhao": {"A": 0.70, "B": 0.75, "C": 0.60},
                    "hifst": {"A": 0.95, "B": 0.90}})
    text = to_markdown(rank_table(scores))
    rows = {ln.split("|")[1].strip(): [c.strip() for c in ln.split("|")[2:-1]]
            for ln in text.splitlines() if ln.startswith("| ") and ln.split("|")[1].strip() in "ABC"}
    assert list(rows) == ["A", "B", "C"]  # sorted by the reference ranking
    assert rows["A"] == ["0.900 (1)", "**0.700 (2) ▼1**", "0.950 (1)"]
    assert rows["B"] == ["0.850 (2)", "**0.750 (1) ▲1**", "0.900 (2)"]
    assert rows["C"] == ["0.800 (3)", "0.600 (3)", "–"]
    assert "| max_f | `zhao` | 0.33 | 1: A/B |" in text  # tau = 1 - 4 * 1 / (3 * 2)


def _results(table: dict[str, dict[str, float]], dataset="CUHK-TE-1") -> list[Result]:
    return [Result(protocol=p, scores={"max_f": v, "mae": 1 - v}, dataset=dataset, method=m)
            for p, col in table.items() for m, v in col.items()]


def test_from_results_and_its_errors():
    report = sensitivity_from_results(_results({"dbdbench": {"A": 0.9, "B": 0.8}, "zhao": {"A": 0.7, "B": 0.8}}))
    assert report.dataset == "CUHK-TE-1" and report.reference == "dbdbench"
    assert list(dict.fromkeys(report.ranked["metric"])) == ["mae", "max_f"]  # registry order
    assert report.agreement()["n_flipped"].tolist() == [0, 1, 0, 1]
    assert "Protocol sensitivity on CUHK-TE-1" in report.to_markdown()
    assert pd.read_csv(pd.io.common.StringIO(report.to_csv())).shape[0] == 8
    with pytest.raises(ValueError, match="two or more protocols"):
        sensitivity_from_results(_results({"dbdbench": {"A": 0.9, "B": 0.8}}))
    with pytest.raises(ValueError, match="one dataset"):
        sensitivity_from_results(_results({"dbdbench": {"A": 0.9}}) + _results({"zhao": {"A": 0.9}}, "DUT-TE"))


def test_evaluate_protocols_calls_evaluate_folder_per_method_and_protocol(monkeypatch, tmp_path):
    calls = []
    numbers = {("a", "dbdbench"): 0.9, ("b", "dbdbench"): 0.8, ("a", "zhao"): 0.6, ("b", "zhao"): 0.7}

    def fake_evaluate_folder(pred_dir, dataset, protocol="dbdbench", pred_white="blur", data_root=None):
        calls.append((pred_dir.name, dataset, protocol, pred_white))
        return Result(protocol=protocol, scores={"max_f": numbers[(pred_dir.name, protocol)]}, dataset=dataset,
                      method=pred_dir.name)

    monkeypatch.setattr(evaluate, "evaluate_folder", fake_evaluate_folder)
    results = evaluate.evaluate_protocols({"A": tmp_path / "a", "B": tmp_path / "b"}, "CUHK-TE-1",
                                          pred_white={"A": "sharp", "B": "blur"}, protocols=["dbdbench", "zhao"])
    report = sensitivity_from_results(results)
    assert sorted(calls) == [("a", "CUHK-TE-1", "dbdbench", "sharp"), ("a", "CUHK-TE-1", "zhao", "sharp"),
                             ("b", "CUHK-TE-1", "dbdbench", "blur"), ("b", "CUHK-TE-1", "zhao", "blur")]
    assert set(report.ranked["method"]) == {"A", "B"}  # named by the mapping, not the folder
    assert report.agreement().set_index("protocol").loc["zhao", "flipped"] == "A/B"


# ------------------------------------------------------------------------------------------ real maps


def test_real_hifst_maps_score_differently_under_protocols(shared_data):
    """HiFST's published maps on 20 CUHK-TE-1 images: max-F depends on the protocol (the point of the report)."""
    stems = (shared_data / "cuhk" / "splits" / "cuhk-te-1.txt").read_text().split()[:20]
    results = []
    for protocol in ("dbdbench", "ddffnet", "zhao"):
        for method, transform in {"HiFST": lambda m: m, "HiFST-sq": lambda m: (m / 255.0) ** 2}.items():
            ev = Evaluator(protocol)
            for stem in stems:
                gt = cv2.imread(str(shared_data / "cuhk" / "gt" / f"{stem}.png"), cv2.IMREAD_UNCHANGED)
                sharp = cv2.imread(str(shared_data / "hifst" / "cuhk_maps" / f"{stem}_HiFSTBlurMap.png"),
                                   cv2.IMREAD_GRAYSCALE)
                ev.update(transform(255 - sharp), gt[..., 0] if gt.ndim == 3 else gt, stem)  # flip: bright = sharp
            results.append(ev.compute(dataset="CUHK-TE-1", method=method))
    report = sensitivity_from_results(results, metrics=["mae", "max_f", "bin_f"])
    values = report.ranked.set_index(["metric", "protocol", "method"])["value"]
    assert abs(values[("max_f", "dbdbench", "HiFST")] - values[("max_f", "zhao", "HiFST")]) > 0.02
    assert set(report.ranked["rank"].dropna()) <= {1.0, 2.0}
    text = report.to_markdown()
    assert "`dbdbench` | `ddffnet` | `zhao`" in text or "`dbdbench` | `zhao`" in text


def test_cli_sensitivity(monkeypatch, tmp_path):
    from click.testing import CliRunner

    from dbdbench.cli.report import sensitivity as sensitivity_cmd

    def fake_evaluate_folder(pred_dir, dataset, protocol="dbdbench", pred_white="blur", data_root=None):
        value = {"dbdbench": 0.9, "zhao": 0.5}[protocol] + (0.05 if pred_dir.name == "lbp" else 0.0)
        return Result(protocol=protocol, scores={"max_f": value if protocol == "zhao" else 1.8 - value},
                      dataset=dataset, method="ignored")

    monkeypatch.setattr(evaluate, "evaluate_folder", fake_evaluate_folder)
    (tmp_path / "lbp").mkdir()
    (tmp_path / "maps").mkdir()
    out = tmp_path / "s.md"
    run = CliRunner().invoke(sensitivity_cmd, [str(tmp_path / "lbp"), f"HiFST={tmp_path / 'maps'}", "--dataset",
                                               "CUHK-TE-1", "--protocols", "dbdbench,zhao", "--out", str(out)])
    assert run.exit_code == 0, run.output
    text = out.read_text(encoding="utf-8")
    assert "| lbp | 0.850 (2) | **0.550 (1) ▲1** |" in text and "| HiFST | 0.900 (1) | **0.500 (2) ▼1** |" in text
    run = CliRunner().invoke(sensitivity_cmd, [str(tmp_path / "nope"), "--dataset", "CUHK-TE-1"])
    assert run.exit_code == 2 and "does not exist" in run.output
