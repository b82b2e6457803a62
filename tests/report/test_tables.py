"""Tables: numbers parse back, marks follow each metric's direction, LaTeX escapes and compiles."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from dbdbench.cli.report import table as table_cmd
from dbdbench.metrics import METRICS
from dbdbench.report.tables import BEST, NONE, SECOND, build_grid, make_table, rank_marks
from dbdbench.results import Result


def res(method, dataset, scores, protocol="ddffnet", kind=None) -> Result:
    return Result(protocol=protocol, scores=dict(scores), dataset=dataset, method=method,
                  meta={"kind": kind} if kind else {})


def sample() -> list[Result]:
    rng = np.random.default_rng(0)
    out = []
    for method in ["DBDF", "LBP", "HiFST", "BR2Net", "D-DFFNet"]:
        for dataset in ["CUHK-TE-1", "DUT-TE"]:
            if method == "BR2Net" and dataset == "DUT-TE":
                continue  # a missing cell
            scores = {k: float(rng.uniform(0.05, 0.95)) for k in ("mae", "bin_f", "bin_iou_pooled")}
            out.append(res(method, dataset, scores,
                           kind="reported" if method == "DBDF" else "rescored"))
    return out


def latex_rows(text: str) -> list[list[str]]:
    """Cells of the tabular body (between \\midrule and \\bottomrule), one list per row."""
    body = text.split(r"\midrule", 1)[1].split(r"\bottomrule")[0]
    rows = [ln.strip().removesuffix(r"\\").strip() for ln in body.strip().splitlines()]
    return [[c.strip() for c in re.split(r"(?<!\\)&", r)] for r in rows if r and not r.startswith("\\midrule")]


def expected_marks(values, higher, decimals):
    """Reference: dense ranks of the rounded, present values; rank 1 bold, rank 2 underlined (only among
    three or more numbers); nothing marked with fewer than two numbers or when all print the same."""
    shown = [round(v, decimals) if not np.isnan(v) else None for v in values]
    present = sorted({v for v in shown if v is not None}, reverse=higher)
    n = sum(v is not None for v in shown)
    if n < 2 or len(present) < 2:
        return [NONE] * len(values)
    places = {0: BEST, 1: SECOND} if n >= 3 else {0: BEST}
    return [NONE if v is None else places.get(present.index(v), NONE) for v in shown]


# ------------------------------------------------------------------------------------------ marks


@pytest.mark.parametrize("higher", [True, False])
def test_rank_marks_matches_reference_on_random_columns(higher):
    rng = np.random.default_rng(1)
    for _ in range(200):
        values = np.round(rng.uniform(0, 1, rng.integers(1, 8)), rng.integers(1, 4))
        values[rng.uniform(size=values.size) < 0.2] = np.nan
        assert rank_marks(values, higher, 2) == expected_marks(values, higher, 2)


def test_rank_marks_direction_and_ties_after_rounding():
    # 0.8004 and 0.7996 both print 0.800: they tie for best; 0.75 is then second (dense ranking)
    assert rank_marks([0.8004, 0.7996, 0.75, 0.70], True, 3) == [BEST, BEST, SECOND, NONE]
    # at 4 decimals they differ
    assert rank_marks([0.8004, 0.7996, 0.75, 0.70], True, 4) == [BEST, SECOND, NONE, NONE]
    # lower is better (MAE)
    assert rank_marks([0.2, 0.1, float("nan"), 0.3], False, 3) == [SECOND, BEST, NONE, NONE]
    assert rank_marks([0.2, float("nan")], False, 3) == [NONE, NONE]  # nothing to compare
    assert rank_marks([0.2, 0.1], False, 3) == [NONE, BEST]  # two numbers: no "second" (it is the last)
    assert rank_marks([0.2004, 0.1996, float("nan")], True, 3) == [NONE, NONE, NONE]  # all print 0.200


def test_latex_bold_and_underline_follow_metric_direction():
    results = sample()
    text = make_table(results, fmt="latex")
    grid = build_grid(results)
    rows = latex_rows(text)
    assert len(rows) == len(grid.rows)
    for j, col in enumerate(grid.columns):
        cells = [row[1 + j] for row in rows]
        want = expected_marks(grid.values[:, j], METRICS[col.metric].higher_is_better, 3)
        got = [BEST if c.startswith(r"\textbf") else SECOND if c.startswith(r"\underline") else NONE for c in cells]
        assert got == want, col
    assert "MAE$\\downarrow$" in text and "$F_\\beta\\uparrow$" in text  # one math group


# ------------------------------------------------------------------------------------------ content


def test_csv_parses_back_to_the_rounded_scores():
    results = sample()
    frame = pd.read_csv(io.StringIO(make_table(results, fmt="csv", decimals=4)))
    assert list(frame["method"]) == ["DBDF", "LBP", "HiFST", "BR2Net", "D-DFFNet"]
    assert list(frame["kind"]) == ["reported"] + ["rescored"] * 4
    for r in results:
        row = frame[frame["method"] == r.method].iloc[0]
        for key, value in r.scores.items():
            assert row[f"{r.dataset}/{key}"] == pytest.approx(round(value, 4), abs=1e-12)
    assert np.isnan(frame.loc[frame["method"] == "BR2Net", "DUT-TE/mae"].iloc[0])


def test_transposed_csv_is_the_transpose():
    results = [r for r in sample() if r.meta["kind"] == "rescored"]
    wide = pd.read_csv(io.StringIO(make_table(results, fmt="csv"))).set_index("method").drop(columns="kind")
    tall = pd.read_csv(io.StringIO(make_table(results, fmt="csv", transpose=True)))
    tall.index = tall["dataset"] + "/" + tall["metric"]
    tall = tall.drop(columns=["dataset", "protocol", "metric"])
    pd.testing.assert_frame_equal(wide.T, tall, check_names=False)


def test_missing_cells_and_decimals():
    results = sample()
    latex = make_table(results, fmt="latex", decimals=2)
    br2 = next(r for r in latex_rows(latex) if r[0] == "BR2Net")
    assert br2[4:] == ["--", "--", "--"]
    assert all(re.fullmatch(r"(\\textbf\{|\\underline\{)?\d\.\d{2}\}?|--", c) for c in br2[1:])
    md = make_table(results, fmt="markdown")
    line = next(ln for ln in md.splitlines() if ln.startswith("| BR2Net"))
    assert line.count("–") == 3


def test_reported_rows_get_a_dagger_and_footnote():
    results = sample()
    latex = make_table(results, fmt="latex")
    assert latex_rows(latex)[0][0] == r"DBDF$^\dagger$" and r"{\footnotesize $^\dagger$" in latex
    md = make_table(results, fmt="markdown")
    assert "| DBDF† |" in md and "\n† reported" in md
    rescored = [r for r in results if r.meta["kind"] == "rescored"]
    assert "dagger" not in make_table(rescored, fmt="latex")


def test_transposed_latex_has_methods_as_columns():
    results = sample()
    rows = latex_rows(make_table(results, fmt="latex", transpose=True))
    grid = build_grid(results)
    assert len(rows) == len(grid.columns)
    assert [r[0] for r in rows] == ["CUHK-TE-1", "", "", "DUT-TE", "", ""]
    assert all(len(r) == 2 + len(grid.rows) for r in rows)


def test_latex_escapes_method_names_and_caption():
    results = [res("BR_2&Net%", "CUHK-TE-1", {"mae": 0.1}), res("#1 {x}~^\\", "CUHK-TE-1", {"mae": 0.2})]
    text = make_table(results, fmt="latex", caption="F with beta^2 = 0.3 & 50% off")
    names = [r[0] for r in latex_rows(text)]
    assert names == [r"BR\_2\&Net\%", r"\#1 \{x\}\textasciitilde{}\textasciicircum{}\textbackslash{}"]
    assert r"beta\textasciicircum{}2 = 0.3 \& 50\% off" in text


def test_protocols_are_never_mixed_in_one_column():
    results = [res("A", "CUHK", {"mae": 0.1}, "dbdbench"), res("B", "CUHK", {"mae": 0.2}, "pysod"),
               res("A", "DUT-TE", {"mae": 0.3}, "dbdbench")]
    grid = build_grid(results)
    assert [(c.dataset, c.protocol) for c in grid.columns] == [("CUHK", "dbdbench"), ("CUHK", "pysod"),
                                                               ("DUT-TE", "dbdbench")]
    # a table never mixes protocols: one table per protocol, each with its own caption and label
    text = make_table(results, fmt="latex", label="tab:x")
    assert text.count(r"\begin{table") == 2
    first, second = text.split(r"\end{table", 1)[0], text.split(r"\end{table", 1)[1]
    assert r"\label{tab:x-dbdbench}" in first and r"\label{tab:x-pysod}" in second
    assert "CUHK (1000 images) and DUT-TE (500 images)" in first and "DUT-TE" not in second
    assert "pysod" not in first and r"\texttt" not in text  # no protocol keys in captions
    with pytest.raises(ValueError, match="Two results for method 'A'"):
        build_grid(results + [res("A", "CUHK", {"mae": 0.5}, "dbdbench")])


def test_clear_errors():
    with pytest.raises(ValueError, match="Unknown metric key"):
        make_table(sample(), metrics=["mae", "fmeasure"])
    with pytest.raises(ValueError, match="No result has metric"):
        make_table(sample(), metrics=["auc"])
    with pytest.raises(ValueError, match="Unknown table format"):
        make_table(sample(), fmt="html")
    with pytest.raises(ValueError, match="No results"):
        make_table([])
    with pytest.raises(ValueError, match="no method or dataset name"):
        make_table([res("A", None, {"mae": 0.1})])


def test_metric_selection_orders_columns():
    frame = pd.read_csv(io.StringIO(make_table(sample(), metrics=["bin_iou_pooled", "mae"], fmt="csv")))
    assert list(frame.columns[2:]) == ["CUHK-TE-1/bin_iou_pooled", "CUHK-TE-1/mae", "DUT-TE/bin_iou_pooled",
                                       "DUT-TE/mae"]


# ------------------------------------------------------------------------------------------ LaTeX engine


def _engine() -> list[str] | None:
    if shutil.which("pdflatex"):
        return ["pdflatex", "-interaction=nonstopmode", "-halt-on-error"]
    if shutil.which("tectonic"):
        return ["tectonic", "--chatter", "minimal"]
    return None


needs_latex = pytest.mark.skipif(_engine() is None, reason="no LaTeX engine (pdflatex or tectonic) installed; "
                                 "apt-get install --no-install-recommends texlive-latex-base texlive-latex-recommended")


def compile_latex(tmp_path, table: str, options: str = "") -> str:
    """Compile ``table`` in an ``article`` (e.g. ``options="twocolumn"``); returns the log, fails on errors."""
    doc = (f"\\documentclass[{options}]{{article}}\n\\usepackage{{booktabs}}\n\\usepackage{{graphicx}}\n"
           "\\begin{document}\n" + table + "\\end{document}\n")
    (tmp_path / "t.tex").write_text(doc, encoding="utf-8")
    proc = subprocess.run([*_engine(), "t.tex"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert (tmp_path / "t.pdf").stat().st_size > 1000
    log = tmp_path / "t.log"
    return log.read_text(encoding="utf-8", errors="replace") if log.exists() else proc.stdout


def full_result(method: str, dataset: str, rng: np.random.Generator) -> Result:
    """A result with every score of the default protocol, as ``dbdbench evaluate`` writes it."""
    from dbdbench.metrics import get_protocol

    proto = get_protocol("dbdbench")
    return Result(protocol="dbdbench", scores={k: float(rng.uniform(0.1, 0.95)) for k in proto.metrics},
                  dataset=dataset, method=method, protocol_settings=proto.settings(), n_images=100)


@needs_latex
@pytest.mark.parametrize("transpose", [False, True])
def test_latex_compiles(tmp_path, transpose):
    results = sample() + [res("BR_2&Net #1 %", "CTCUG", {"mae": 0.1, "bin_f": 0.9}, "pysod", "rescored"),
                          res("A~B^C", "CUHK-TE-1", {"mae": 0.1}, "dbdbench")]
    text = make_table(results, fmt="latex", transpose=transpose, caption="Scores with beta^2 = 0.3 & 100%",
                      label="tab:x")
    compile_latex(tmp_path, text)


@needs_latex
def test_default_two_method_table_fits_one_column_of_a_two_column_paper(tmp_path):
    """No resizing needed: at its natural size the default table is no wider than the column."""
    rng = np.random.default_rng(3)
    results = [full_result(m, "CUHK-TE-1", rng) for m in ("D-DFFNet", "HiFST")]
    text = make_table(results, fmt="latex", fit="none")
    assert r"\begin{table}" in text and r"\begin{table*}" not in text
    log = compile_latex(tmp_path, text, "twocolumn")
    assert "Overfull" not in log, log[-2000:]
    # the reference for "fits": the same table with every metric is far too wide for the column
    with pytest.warns(UserWarning, match="runs past the line"):  # the width guard sees it too
        wide = make_table(results, metrics=["all"], fmt="latex", fit="none", wide=False)
    log = compile_latex(tmp_path, wide, "twocolumn")
    assert "Overfull" in log


@needs_latex
def test_multi_dataset_table_is_page_wide_and_fits(tmp_path):
    rng = np.random.default_rng(4)
    methods = ["DBDF", "LBP", "HiFST", "BR2Net", "DeFusionNet", "CENet", "D-DFFNet", "R-DFFNet"]
    results = [full_result(m, d, rng) for m in methods for d in ("CUHK-TE-1", "DUT-TE", "CTCUG")]
    text = make_table(results, fmt="latex")
    assert r"\begin{table*}" in text
    log = compile_latex(tmp_path, text, "twocolumn")
    assert "Overfull" not in log, log[-2000:]


# ------------------------------------------------------------------------------------------ CLI


def test_cli_reads_files_and_folders(tmp_path):
    results = sample()
    sub = tmp_path / "submissions" / "x"
    sub.mkdir(parents=True)
    for i, r in enumerate(results):
        r.to_json(sub / f"{i}.json")
    (sub / "meta.json").write_text(json.dumps({"name": "x"}), encoding="utf-8")
    out = tmp_path / "t.csv"
    run = CliRunner().invoke(table_cmd, [str(tmp_path / "submissions"), "--format", "csv", "--metrics", "mae",
                                         "--decimals", "2", "--out", str(out)])
    assert run.exit_code == 0, run.output
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["method", "kind", "CUHK-TE-1/mae", "DUT-TE/mae"]
    assert len(frame) == 5
    bad = CliRunner().invoke(table_cmd, [str(sub / "meta.json")])
    assert bad.exit_code == 2 and "not a dbdbench result" in bad.output


# ------------------------------------------------------------------------------------------ defaults


def test_default_columns_are_the_paper_columns_of_each_protocol():
    from dbdbench.metrics import get_protocol

    rng = np.random.default_rng(5)
    results = [full_result(m, "CUHK-TE-1", rng) for m in ("A", "B")]
    pysod = get_protocol("pysod")
    results.append(Result(protocol="pysod", scores={k: 0.5 for k in pysod.metrics}, dataset="CUHK-TE-1",
                          method="A", protocol_settings=pysod.settings(), n_images=100))
    grid = build_grid(results)
    by_protocol = {p: [c.metric for c in grid.columns if c.protocol == p] for p in ("dbdbench", "pysod")}
    assert by_protocol["dbdbench"] == ["mae", "max_f", "bin_f", "bin_iou_pooled", "auc"]
    assert by_protocol["pysod"] == ["mae", "max_f", "adp_f", "sm", "max_em"]  # PySODMetrics prints adaptive F
    every = build_grid(results, ["all"])
    assert {"adp_f", "adp_iou", "ap"} <= {c.metric for c in every.columns}


def test_caption_states_the_protocol_in_words_with_image_counts():
    rng = np.random.default_rng(6)
    text = make_table([full_result(m, "CUHK-TE-1", rng) for m in ("A", "B", "C")], fmt="markdown")
    caption = text.strip().splitlines()[-1]
    # short by default: what is compared, the protocol in a few words, image counts
    for words in ("Comparison of 3 methods on CUHK-TE-1 (100 images)", "blur class positive", "β² = 0.3",
                  "256 thresholds", "Best in bold, second underlined"):
        assert words in caption, words
    assert "dbdbench" not in caption and "docs/" not in caption
    full = make_table([full_result(m, "CUHK-TE-1", rng) for m in ("A", "B", "C")], fmt="markdown",
                      caption_style="full").strip().splitlines()[-1]
    for words in ("CUHK-TE-1 (100 images)", "blur class positive", "GT ≥ 0.5", "256 thresholds (≥)",
                  "β² = 0.3", "curves averaged over images", "threshold ≥ 0.5", "pooled = from dataset-summed counts",
                  "AUC = exact area under the ROC curve", "Best in bold, second underlined"):
        assert words in full, words
    sentences = [x.strip() for x in full.split(". ") if x.strip()]
    assert len(sentences) == len(set(sentences))  # no sentence twice
    latex = make_table([full_result(m, "CUHK-TE-1", rng) for m in ("A", "B")], fmt="latex", caption_style="full")
    assert r"$\beta^2 = 0.3$" in latex and "GT $\\geq$ 0.5" in latex
    assert "Best in bold (compared as printed)" in latex  # two methods: no second place to explain
    with pytest.raises(ValueError, match="caption style"):
        make_table([full_result("A", "CUHK-TE-1", rng)], caption_style="long")


def test_warnings_stay_out_of_the_table_unless_asked_for(tmp_path):
    rng = np.random.default_rng(7)
    a, b = full_result("A", "CUHK-TE-1", rng), full_result("B", "CUHK-TE-1", rng)
    a.meta = {"warnings": [{"code": "inverted-images", "message": "3 maps look inverted; pass --pred-white",
                            "files": ["x.png"]}]}
    line = "Warning for A on CUHK-TE-1 (dbdbench): 3 maps look inverted; pass --pred-white"
    assert "Warning" not in make_table([a, b], fmt="markdown") and "Warning" not in make_table([a, b])
    md = make_table([a, b], fmt="markdown", notes=True)
    assert line in md
    latex = make_table([a, b], fmt="latex", notes=True)
    assert r"{\footnotesize Warning for A on CUHK-TE-1 (dbdbench): 3 maps look inverted; pass -{}-pred-white" \
        in latex
    a.to_json(tmp_path / "a.json")
    b.to_json(tmp_path / "b.json")
    run = CliRunner().invoke(table_cmd, [str(tmp_path)])
    assert run.exit_code == 0 and "Warning" not in run.stdout and line in run.stderr
    run = CliRunner().invoke(table_cmd, [str(tmp_path), "--notes"])
    assert run.exit_code == 0 and "Warning for A" in run.stdout


def test_cli_width_and_fit_options(tmp_path):
    rng = np.random.default_rng(8)
    for i, m in enumerate(("A", "B")):
        full_result(m, "CUHK-TE-1", rng).to_json(tmp_path / f"{i}.json")
    run = CliRunner().invoke(table_cmd, [str(tmp_path)])
    assert run.exit_code == 0 and r"\begin{table}[t]" in run.output and r"\ifdim\wd0>\linewidth" in run.output
    run = CliRunner().invoke(table_cmd, [str(tmp_path), "--wide", "--fit", "resize"])
    assert run.exit_code == 0 and r"\begin{table*}[t]" in run.output and r"\resizebox{\linewidth}{!}{%" in run.output
    run = CliRunner().invoke(table_cmd, [str(tmp_path), "--fit", "none", "--metrics", "all"])
    assert run.exit_code == 0 and "resizebox" not in run.output and r"\begin{table*}" in run.output
    assert "graphicx" not in run.output.splitlines()[0]


def test_curve_only_results_are_left_out_of_tables():
    curve = Result(protocol="hifst", scores={}, dataset="CUHK", method="Bae07", meta={"kind": "reported"},
                   curves={"precision": np.array([0.6, 0.7]), "recall": np.array([1.0, 0.5])})
    scored = res("HiFST", "CUHK", {"max_f": 0.821, "mean_f": 0.737}, "hifst")
    assert [r.method for r in build_grid([curve, scored]).rows] == ["HiFST"]
    with pytest.raises(ValueError, match="curves only"):
        make_table([curve])


# ------------------------------------------------------------------------------------------ camera-ready options


def test_datasets_and_methods_select_and_order_with_display_names(tmp_path):
    results = sample()
    text = make_table(results, fmt="markdown", datasets=["DUT-TE", "CUHK-TE-1"], methods=["HiFST", "LBP"],
                      names={"HiFST": "HiFST (CVPR 2017)"})
    head = text.splitlines()[0]
    assert head.index("DUT-TE") < head.index("CUHK-TE-1")
    assert [ln.split("|")[1].strip() for ln in text.splitlines()[2:4]] == ["HiFST (CVPR 2017)", "LBP"]
    with pytest.raises(ValueError, match="No result for dataset"):
        make_table(results, datasets=["EBD"])
    with pytest.raises(ValueError, match="No result for method 'Nope'"):
        make_table(results, methods=["Nope"])
    names = tmp_path / "names.json"
    names.write_text(json.dumps({"LBP": "LBP (Yi 2016)"}), encoding="utf-8")
    for i, r in enumerate(results):
        r.to_json(tmp_path / f"{i}.json")
    run = CliRunner().invoke(table_cmd, [*(str(tmp_path / f"{i}.json") for i in range(len(results))), "--format",
                                         "markdown", "--names", str(names), "--methods", "LBP (Yi 2016),DBDF",
                                         "--datasets", "CUHK-TE-1"])
    assert run.exit_code == 0, run.output
    rows = [ln.split("|")[1].strip() for ln in run.stdout.splitlines()[2:4]]
    assert rows == ["LBP (Yi 2016)", "DBDF†"] and "DUT-TE" not in run.stdout.splitlines()[0]


def test_datasets_follow_the_registry_order_by_default():
    from dbdbench.datasets import list_datasets

    results = [res("A", d, {"mae": 0.1}) for d in ("DUT-TE", "CTCUG", "CUHK-TE-1")]
    groups = [label for label, _ in build_grid(results).groups()]
    known = list_datasets()
    assert groups == sorted(groups, key=known.index)


def test_rows_trained_on_other_data_are_marked_and_not_compared():
    values = {"A": 0.2, "B": 0.3, "C": 0.1, "D": 0.4, "E": 0.05}
    results = [res(m, "CUHK-TE-1", {"mae": v}) for m, v in values.items()]
    data = (["CUHK-TR-1"], ["CUHK-TR-1"], ["CUHK-TR-1", "DUT-TR"], [], ["CUHK-TR-2"])
    for r, d in zip(results, data, strict=True):
        r.meta = {"training_data": d}
    text = make_table(results, fmt="latex")
    rows = latex_rows(text)
    assert [row[0] for row in rows] == ["A", "B", r"C$^\ddagger$", "D", r"E$^\S$"]  # D declares none: not marked
    # the marks rank the rows on the common data and the hand-crafted one (A, B, D) as rank_marks would alone
    alone = rank_marks([values[m] for m in "ABD"], False, 3)
    want = dict(zip("ABD", alone, strict=True)) | {"C": NONE, "E": NONE}
    got = {m: BEST if "textbf" in row[1] else SECOND if "underline" in row[1] else NONE
           for m, row in zip("ABCDE", rows, strict=True)}
    assert got == want and want["A"] == BEST
    assert r"$^\ddagger$ trained on CUHK-TR-1 + DUT-TR." in text and r"$^\S$ trained on CUHK-TR-2." in text
    assert ("Bold and underline compare only the rows without a symbol (training data: CUHK-TR-1, or hand-crafted); "
            "rows with a symbol are never marked.") in text
    md = make_table(results, fmt="markdown")
    assert "| C‡ | 0.100 |" in md and "| A | **0.200** |" in md and "rows with a symbol are never marked" in md
    same = make_table(results[:2], fmt="latex")
    assert "trained on" not in same and "symbol" not in same
    # rows that all share their training data: marks as without any training data
    plain = [res(m, "CUHK-TE-1", {"mae": v}) for m, v in values.items()]
    shared = [res(m, "CUHK-TE-1", {"mae": v}) for m, v in values.items()]
    for r in shared:
        r.meta = {"training_data": ["CUHK-TR-1"]}
    assert make_table(shared, fmt="latex") == make_table(plain, fmt="latex")


def test_width_guard_names_what_makes_a_table_fit():
    rng = np.random.default_rng(9)
    results = [full_result(m, d, rng) for m in ("A", "B", "C") for d in ("CUHK-TE-1", "DUT-TE", "CTCUG")]
    with pytest.warns(UserWarning, match=r"To make it fit: fewer metrics \(--metrics\)"):
        make_table(results, metrics=["all"], fmt="latex")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make_table(results[:2], fmt="latex")  # the default one-dataset table needs no scaling


def test_ci_options_that_cannot_apply_are_errors(tmp_path):
    for i, r in enumerate(sample()):
        r.to_json(tmp_path / f"{i}.json")
    run = CliRunner().invoke(table_cmd, [str(tmp_path), "--ci", "--transpose"])
    assert run.exit_code == 2 and "--transpose" in run.output
    run = CliRunner().invoke(table_cmd, [str(tmp_path), "--seed", "3"])
    assert run.exit_code == 2 and "--ci" in run.output
    run = CliRunner().invoke(table_cmd, [str(tmp_path), "--format", "markdown", "--label", "tab:x"])
    assert run.exit_code == 2 and "--label" in run.output
    run = CliRunner().invoke(table_cmd, [str(tmp_path), "--format", "csv", "--notes"])
    assert run.exit_code == 2 and "--notes" in run.output


@needs_latex
def test_width_estimate_is_close_to_the_width_latex_sets(tmp_path):
    """The guard's estimate against the width pdflatex measures for the same tabular."""
    from dbdbench.report import _render
    from dbdbench.report.tables import TableStyle, render_table

    rng = np.random.default_rng(10)
    for methods, datasets in ((("D-DFFNet", "HiFST"), ("CUHK-TE-1",)), (("A", "BR2Net", "DeFusionNet"),
                                                                        ("CUHK-TE-1", "DUT-TE", "CTCUG"))):
        grid = build_grid([full_result(m, d, rng) for m in methods for d in datasets])
        text = render_table(grid, grid.marks(3), TableStyle(fit="auto"))
        measured = text.replace(r"\ifdim\wd0>\linewidth", r"\typeout{WIDTH=\the\wd0}\ifdim\wd0>\linewidth")
        log = compile_latex(tmp_path, measured)
        width = float(re.search(r"WIDTH=([0-9.]+)pt", log).group(1))
        cells = _render._cells(grid, grid.marks(3), 3, True, None)
        assert _render.natural_width_pt(grid, cells, False) == pytest.approx(width, rel=0.2)


def test_ci_marks_compare_only_rows_on_the_common_training_data():
    from dbdbench.stats.table import build_ci_grid

    values = {"A": 0.2, "B": 0.3, "C": 0.1, "D": 0.4}
    results = [res(m, "CUHK-TE-1", {"mae": v}, kind="reported") for m, v in values.items()]
    for r, d in zip(results, (["X"], ["X"], ["X", "Y"], ["X"]), strict=True):
        r.meta["training_data"] = d
    ci = build_ci_grid(results, ["mae"], n_resamples=10)
    assert list(ci.marks[:, 0]) == ["best", "untested", "other-training", "untested"]
    assert not ci.tested.any()
