"""``dbdbench compare`` and ``evaluate --ci`` end to end on a small dataset built in the test."""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from dbdbench.cli import main
from dbdbench.results import load_result
from dbdbench.stats.sidecar import read_counts

# more than 50 images: scipy's default Wilcoxon is then the normal approximation, not 2**n exact permutations
STEMS = [f"img{i:02d}" for i in range(60)]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A dataset TINY and two folders of maps: A, and B = A with a 5-pixel blur."""
    tmp = tmp_path_factory.mktemp("tiny")
    rng = np.random.default_rng(0)
    gt_dir = tmp / "data" / "TINY" / "gt"
    gt_dir.mkdir(parents=True)
    (tmp / "a").mkdir()
    (tmp / "b").mkdir()
    for i, stem in enumerate(STEMS):
        gt = np.zeros((24, 32), np.uint8)
        gt[:, : 2 + i // 2] = 255
        pred = np.clip(gt * 0.7 + rng.normal(40, 30, gt.shape), 0, 255).astype(np.uint8)
        cv2.imwrite(str(gt_dir / f"{stem}.png"), gt)
        cv2.imwrite(str(tmp / "a" / f"{stem}.png"), pred)
        cv2.imwrite(str(tmp / "b" / f"{stem}.png"), cv2.blur(pred, (5, 5)))
    (tmp / "datasets.toml").write_text('[datasets.TINY]\nfolder = "TINY"\ngt_white = "blur"\nn_images = 60\n')
    return tmp


@pytest.fixture
def env(tiny, monkeypatch):
    monkeypatch.setenv("DBDBENCH_DATASETS", str(tiny / "datasets.toml"))
    monkeypatch.setenv("DBDBENCH_DATA", str(tiny / "data"))
    return tiny


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _evaluate(env, which: str, out, *extra):
    res = run("evaluate", env / which, "-d", "TINY", "--pred-white", "blur", "--json", out, "-q", *extra)
    assert res.exit_code == 0, res.output
    return res


def test_evaluate_writes_a_hashed_counts_file_that_reproduces_the_scores(env, tmp_path):
    from dbdbench.metrics import get_protocol
    from dbdbench.metrics.reduce import reduce_records

    _evaluate(env, "a", tmp_path / "a.json")
    res = load_result(tmp_path / "a.json")
    ref = res.meta["per_image_counts"]
    assert ref["file"] == "a.counts.npz" and (tmp_path / "a.counts.npz").is_file() and len(ref["sha256"]) == 64
    scores = reduce_records(read_counts(res), get_protocol("dbdbench"))[0]
    assert {k: scores[k] for k in res.scores} == pytest.approx(res.scores, abs=0, rel=0)
    # the same counts give the same bytes: the recorded hash does not change from run to run
    _evaluate(env, "a", tmp_path / "again.json")
    assert load_result(tmp_path / "again.json").meta["per_image_counts"]["sha256"] == ref["sha256"]


def test_intervals_do_not_depend_on_jobs(env, tmp_path):
    one = _evaluate(env, "a", tmp_path / "one.json", "--ci", "--n-boot", 200, "--seed", 3)
    two = _evaluate(env, "a", tmp_path / "two.json", "--ci", "--n-boot", 200, "--seed", 3, "-j", 2)
    ci_one = load_result(tmp_path / "one.json").meta["ci"]
    assert ci_one == load_result(tmp_path / "two.json").meta["ci"]
    assert ci_one["n_resamples"] == 200 and set(ci_one["intervals"]) == set(load_result(tmp_path / "one.json").scores)
    assert "95 % intervals" in one.output and "[" in two.output
    lo, hi = ci_one["intervals"]["max_f"]
    assert lo <= load_result(tmp_path / "one.json").scores["max_f"] <= hi


def test_compare_json_and_seed(env, tmp_path):
    _evaluate(env, "a", tmp_path / "a.json")
    _evaluate(env, "b", tmp_path / "b.json")
    args = ("compare", tmp_path / "a.json", tmp_path / "b.json", "--n-boot", 200)
    res = run(*args, "--json", tmp_path / "c1.json", "--worst", 3)
    assert res.exit_code == 0, res.output
    assert run(*args, "--json", tmp_path / "c2.json", "--worst", 3).exit_code == 0
    c1, c2 = (json.loads((tmp_path / f"c{i}.json").read_text()) for i in (1, 2))
    assert c1 == c2
    fields = {"a", "b", "diff", "ci_low", "ci_high", "p_value", "test"}
    assert set(load_result(tmp_path / "a.json").scores) == set(c1["metrics"])
    for key, entry in c1["metrics"].items():
        assert fields <= set(entry), key
        assert entry["diff"] == pytest.approx(entry["b"] - entry["a"], abs=1e-15)
    assert c1["metrics"]["max_f"]["test"] == "permutation" and c1["metrics"]["mae"]["test"] == "wilcoxon"
    losses = [w["loss"] for w in c1["worst"]]
    assert len(losses) == 3 and losses == sorted(losses, reverse=True)
    assert "images where B loses most" in res.output


def test_compare_output_labels_digits_and_holm(env, tmp_path):
    """99.9 % is labelled so; every interval end shows its side of 0; Holm-adjusted p-values as statsmodels."""
    import re

    multipletests = pytest.importorskip("statsmodels.stats.multitest").multipletests
    _evaluate(env, "a", tmp_path / "a.json")
    _evaluate(env, "b", tmp_path / "b.json")
    res = run("compare", tmp_path / "a.json", tmp_path / "b.json", "--n-boot", 200, "--level", 0.999, "--json",
              tmp_path / "c.json")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "99.9 % interval" in res.output and "100%" not in res.output and "p Holm" in res.output
    assert not re.search(r"[+-]0\.0+\b(?!\d*[1-9])", res.output.split("score")[1].split("p Holm:")[0])
    metrics = json.loads((tmp_path / "c.json").read_text())["metrics"]
    p = [m["p_value"] for m in metrics.values()]
    np.testing.assert_allclose([m["p_holm"] for m in metrics.values()], multipletests(p, method="holm")[1],
                               rtol=0, atol=1e-15)  # fmt: skip
    for key, m in metrics.items():
        if m["ci_low"] is not None and m["ci_low"] != m["ci_high"]:
            low = next(line for line in res.output.splitlines() if line.startswith(_label(key)))
            shown = re.search(r"\[([^,]+), ([^\]]+)\]", low)
            assert float(shown[1]) > 0 if m["ci_low"] > 0 else True
            assert float(shown[2]) < 0 if m["ci_high"] < 0 else True


def _label(key: str) -> str:
    from dbdbench.metrics import METRICS

    return METRICS[key].label + ("↑" if METRICS[key].higher_is_better else "↓")


def test_compare_refuses_a_counts_file_whose_hash_differs(env, tmp_path):
    _evaluate(env, "a", tmp_path / "a.json")
    _evaluate(env, "b", tmp_path / "b.json")
    npz = tmp_path / "b.counts.npz"
    npz.write_bytes(npz.read_bytes() + b"\0")
    res = run("compare", tmp_path / "a.json", tmp_path / "b.json", "--n-boot", 100)
    assert res.exit_code == 2 and "b.counts.npz" in res.output and "SHA-256" in res.output


def test_results_without_counts_still_load_and_compare_per_image_means(env, tmp_path):
    _evaluate(env, "a", tmp_path / "a.json")
    _evaluate(env, "b", tmp_path / "b.json")
    for name in ("a", "b"):
        data = json.loads((tmp_path / f"{name}.json").read_text())
        del data["meta"]["per_image_counts"]
        (tmp_path / f"{name}.json").write_text(json.dumps(data))
        (tmp_path / f"{name}.counts.npz").unlink()
    assert load_result(tmp_path / "a.json").n_images == 60
    ok = run("compare", tmp_path / "a.json", tmp_path / "b.json", "--metrics", "mae,bin_f", "--n-boot", 100)
    assert ok.exit_code == 0, ok.output
    default = run("compare", tmp_path / "a.json", tmp_path / "b.json", "--n-boot", 100)
    assert default.exit_code == 0 and "need the per-image counts" in default.output and "MAE" in default.output
    bad = run("compare", tmp_path / "a.json", tmp_path / "b.json", "--metrics", "max_f", "--n-boot", 100)
    assert bad.exit_code == 2 and "a.json" in bad.output and "dbdbench evaluate" in bad.output


def test_compare_refuses_other_datasets_protocols_and_images(env, tmp_path):
    _evaluate(env, "a", tmp_path / "a.json")
    base = json.loads((tmp_path / "a.json").read_text())
    for change, expect in (({"dataset": "OTHER"}, "dataset"), ({"protocol": "pysod"}, "protocol"),
                           ({"per_image": base["per_image"][:-1]}, "img59")):  # fmt: skip
        (tmp_path / "x.json").write_text(json.dumps(base | change))
        res = run("compare", tmp_path / "a.json", tmp_path / "x.json", "--metrics", "mae", "--n-boot", 100)
        assert res.exit_code == 2 and expect in res.output, res.output


def test_holm_matches_statsmodels():
    multipletests = pytest.importorskip("statsmodels.stats.multitest").multipletests
    from dbdbench.stats.table import holm

    rng = np.random.default_rng(3)
    for p in ([0.01, 0.04, 0.03, 0.5], rng.random(7) ** 3, [0.2]):
        np.testing.assert_allclose(holm(p), multipletests(p, method="holm")[1], rtol=0, atol=1e-15)


def _ci_frame(files, metrics):
    from io import StringIO

    import pandas as pd

    out = run("table", *files, "--ci", "--format", "csv", "--metrics", metrics, "--n-boot", 300)
    assert out.exit_code == 0, out.output
    return pd.read_csv(StringIO(out.output), keep_default_na=False, na_values=[""]).set_index(["method", "metric"])


def _reported(tmp_path, name: str, shift: float):
    """A reported (copied) row: A's scores moved by ``shift`` in the better direction of each score."""
    from dbdbench.metrics import METRICS

    res = load_result(tmp_path / "a.json").to_dict()
    scores = {k: v + (shift if METRICS[k].higher_is_better else -shift) for k, v in res["scores"].items()}
    out = tmp_path / f"{name}.json"
    out.write_text(json.dumps(res | {"method": name, "per_image": [], "scores": scores, "meta": {"kind": "reported"}}))
    return out


def test_table_ci_tests_all_pairs_with_holm(env, tmp_path):
    """A, a renamed copy of A (identical maps) and the blurred B: every pair tested, Holm over the pairs."""
    from dbdbench.metrics import get_protocol
    from dbdbench.stats.compare import compare_results
    from dbdbench.stats.table import holm

    _evaluate(env, "a", tmp_path / "a.json")
    _evaluate(env, "b", tmp_path / "b.json")
    res = run("evaluate", env / "a", "-d", "TINY", "--pred-white", "blur", "--json", tmp_path / "c.json", "-q",
              "--method", "copy")  # fmt: skip
    assert res.exit_code == 0, res.output
    frame = _ci_frame([tmp_path / f"{x}.json" for x in "abc"], "mae,max_f")
    files_of = {"a": "a", "b": "b", "copy": "c"}
    for metric in ("mae", "max_f"):
        values = {m: frame.loc[(m, metric), "value"] for m in files_of}
        pick = min if metric == "mae" else max
        top = pick(values, key=values.get)  # the first of equal values, as in table order
        assert frame.loc[(top, metric), "bold"] and np.isnan(frame.loc[(top, metric), "p_holm_vs_best"])
        pairs = [("a", "b"), ("a", "copy"), ("b", "copy")]
        raw = [compare_results(load_result(tmp_path / f"{files_of[x]}.json"),
                               load_result(tmp_path / f"{files_of[y]}.json"), get_protocol("dbdbench"), [metric],
                               n_resamples=300)[metric].p_value for x, y in pairs]  # fmt: skip
        adjusted = dict(zip(pairs, holm(raw), strict=True))
        for m in files_of:
            if m == top:
                continue
            p = adjusted[tuple(sorted((m, top), key=list(files_of).index))]
            assert frame.loc[(m, metric), "p_holm_vs_best"] == pytest.approx(p, abs=1e-12)
            assert frame.loc[(m, metric), "tied_with_best"] == (p >= 0.05)
            assert frame.loc[(m, metric), "bold"] == (p >= 0.05)
            assert (frame.loc[(m, metric), "mark"] == "different") == (p < 0.05)
        # A and its renamed copy are the same maps: never told apart
        assert frame.loc[("a", metric), "bold"] and frame.loc[("copy", metric), "bold"]
    assert frame.loc[("b", "mae"), "mark"] == "different"  # the blur changes MAE on every image
    md = run("table", *[tmp_path / f"{x}.json" for x in "abc"], "--ci", "--format", "markdown", "--metrics", "mae",
             "--n-boot", 300)  # fmt: skip
    assert md.exit_code == 0 and "Holm" in md.output and "all pairs" in md.output and "**" in md.output


def test_reported_rows_keep_the_best_mark_and_are_never_called_untied(env, tmp_path):
    """A copied number above every re-scored one is bold, as without --ci; a lower one is untested, not False."""
    import re

    _evaluate(env, "a", tmp_path / "a.json")
    _evaluate(env, "b", tmp_path / "b.json")
    files = [tmp_path / "a.json", tmp_path / "b.json", _reported(tmp_path, "Top", 0.01),
             _reported(tmp_path, "Low", -0.3)]  # fmt: skip
    frame = _ci_frame(files, "mae,max_f")
    plain = run("table", *files, "--format", "markdown", "--metrics", "mae,max_f")
    assert plain.exit_code == 0, plain.output
    for metric in ("mae", "max_f"):
        assert frame.loc[("Top", metric), "mark"] == "best" and frame.loc[("Top", metric), "bold"]
        assert frame.loc[("Low", metric), "mark"] == "untested" and not frame.loc[("Low", metric), "bold"]
        for name in ("Top", "Low"):
            assert np.isnan(frame.loc[(name, metric), "ci_low"])
            assert frame.loc[(name, metric), "tied_with_best"] != frame.loc[(name, metric), "tied_with_best"]  # NaN
    bold_plain = {line.split("|")[1].strip() for line in plain.output.splitlines() if "**" in line}
    md = run("table", *files, "--ci", "--format", "markdown", "--metrics", "mae,max_f", "--n-boot", 300)
    assert md.exit_code == 0, md.output
    assert bold_plain == {"Top†"} and re.search(r"\| Top† \| \*\*[0-9.]+\*\* \| \*\*[0-9.]+\*\* \|", md.output)
    assert re.search(r"\| Low† \| [0-9.]+ \| [0-9.]+ \|", md.output)
    assert "no per-image data: no interval, never tested" in md.output


def test_worst_grid_draws_the_failure_cases(env, tmp_path):
    _evaluate(env, "a", tmp_path / "a.json")
    _evaluate(env, "b", tmp_path / "b.json")
    fig = tmp_path / "worst.png"
    res = run("compare", tmp_path / "a.json", tmp_path / "b.json", "--metrics", "mae", "--n-boot", 100, "--worst", 2,
              "--by", "bin_f", "--grid", fig, "--maps-a", env / "a", "--maps-b", env / "b")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert fig.stat().st_size > 0 and "loses most to A on bin_f" in res.output
    no_maps = run("compare", tmp_path / "a.json", tmp_path / "b.json", "--metrics", "mae", "--n-boot", 100,
                  "--worst", 2, "--grid", fig)  # fmt: skip
    assert no_maps.exit_code == 2 and "--maps-a" in no_maps.output
    bad_key = run("compare", tmp_path / "a.json", tmp_path / "b.json", "--metrics", "mae", "--n-boot", 100,
                  "--worst", 2, "--by", "nonsense")  # fmt: skip
    assert bad_key.exit_code == 2 and "valid:" in bad_key.output


def test_zhao_divisor_in_compare_and_evaluate_ci(env, tmp_path):
    """An all-zero last in-focus map (zhao's totalNum): compare and evaluate --ci resample the stored score."""
    import shutil

    from dbdbench.metrics import get_protocol
    from dbdbench.metrics.reduce import reduce_records
    from dbdbench.stats.compare import SCORE_METHOD
    from dbdbench.stats.resample import BATCH, rng_for

    maps = tmp_path / "z"
    shutil.copytree(env / "a", maps)
    cv2.imwrite(str(maps / f"{STEMS[-1]}.png"), np.full((24, 32), 255, np.uint8))  # all blur: in-focus map 0
    _evaluate(env, "a", tmp_path / "a.json", "-p", "zhao")
    _evaluate(env, maps, tmp_path / "z.json", "-p", "zhao", "--ci", "--n-boot", 200, "--seed", 2)
    z = load_result(tmp_path / "z.json")
    assert any(w["code"] == "zhao-zero-map-last" for w in z.meta["warnings"])
    res = run("compare", tmp_path / "a.json", tmp_path / "z.json", "--metrics", "max_f,auc_fcurve",
              "--n-boot", 200, "--json", tmp_path / "cmp.json")  # fmt: skip
    assert res.exit_code == 0, res.output
    cmp = json.loads((tmp_path / "cmp.json").read_text())["metrics"]
    a = load_result(tmp_path / "a.json")
    for key in ("max_f", "auc_fcurve"):
        assert cmp[key]["b"] == pytest.approx(z.scores[key], abs=1e-12)
        assert cmp[key]["diff"] == pytest.approx(z.scores[key] - a.scores[key], abs=1e-12)
    # evaluate --ci: the same draws as scipy's bootstrap of the reduction rebuilt from resampled records
    proto, records = get_protocol("zhao"), read_counts(z)
    (lo, hi) = z.meta["ci"]["intervals"]["max_f"]
    ref = stats_bootstrap(lambda idx: reduce_records([records[i] for i in np.asarray(idx, int)], proto)[0]["max_f"],
                          len(records), SCORE_METHOD["mean"], rng_for(2, "reductions"), BATCH)  # fmt: skip
    assert (lo, hi) == pytest.approx(ref, abs=1e-12)


def stats_bootstrap(fn, n, method, rng, batch):
    from scipy import stats

    ci = stats.bootstrap((np.arange(n),), fn, n_resamples=200, batch=batch, vectorized=False, method=method,
                         rng=rng).confidence_interval  # fmt: skip
    return ci.low, ci.high


def test_per_image_data_that_do_not_give_the_stored_score_are_refused(env, tmp_path):
    from dbdbench.metrics import get_protocol
    from dbdbench.stats.compare import result_data

    _evaluate(env, "a", tmp_path / "a.json")
    res = load_result(tmp_path / "a.json")
    got = result_data(res, ["max_f"], get_protocol("dbdbench"))["max_f"].score()
    assert got == pytest.approx(res.scores["max_f"], abs=1e-12)
    res.scores["max_f"] += 0.01
    with pytest.raises(ValueError, match="not the stored"):
        result_data(res, ["max_f"], get_protocol("dbdbench"))


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="no pdflatex; apt-get install texlive-latex-recommended")
def test_ci_latex_with_reported_rows_compiles(env, tmp_path):
    import subprocess

    _evaluate(env, "a", tmp_path / "a.json")
    _evaluate(env, "b", tmp_path / "b.json")
    files = [tmp_path / "a.json", tmp_path / "b.json", _reported(tmp_path, "Top", 0.01)]
    out = run("table", *files, "--ci", "--format", "latex", "--metrics", "mae,max_f", "--n-boot", 200)
    assert out.exit_code == 0, out.output
    assert "\\dagger" in out.output and "\\alpha" in out.output
    doc = ("\\documentclass{article}\n\\usepackage{booktabs}\n\\usepackage{graphicx}\n\\begin{document}\n"
           + out.output + "\\end{document}\n")  # fmt: skip
    (tmp_path / "t.tex").write_text(doc, encoding="utf-8")
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "t.tex"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:]
