"""``dbdbench leaderboard``: committed reports are current, output is deterministic, ranking follows each
metric's direction, reported and re-scored rows are labelled, and the page needs no network."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from dbdbench.cli import main
from dbdbench.report.leaderboard import collect_rows, grouped
from dbdbench.report.leaderboard_build import generate, stale_files

ROOT = Path(__file__).resolve().parents[2]


def _write_entry(root: Path, entry: str, name: str, kind: str, scores: dict[str, float],
                 curves: dict[str, list[float]] | None = None, warnings: list[dict] | None = None,
                 training: list[str] | None = None) -> None:
    folder = root / entry
    folder.mkdir(parents=True)
    meta = {"schema": "dbdbench.submission", "schema_version": 1, "id": entry, "name": name, "kind": kind,
            "authors": ["A. Author"], "venue": "CVPR", "year": 2021, "paper_url": "https://example.org/p",
            "code_url": None, "backbone": None, "training_data": training or [], "parameters_m": None,
            "runtime_s": None,
            "map_polarity": "blur", "licence": None}
    if kind == "rescored":
        meta["rescore"] = {"maps": {"CUHK-TE-1": f"{entry}_maps"}, "pred_white": "blur"}
        rmeta = {"kind": "rescored", "pred_dir": f"{entry}_maps", "pred_white": "blur",
                 "files_sha256": {"x.png": "a" * 64}}
        if warnings:
            rmeta["warnings"] = warnings
    else:
        rmeta = {"kind": "reported", "source": {"paper": "P", "short": "Paper (2021)", "table": "Table 2",
                                                "page": None}}
    result = {"schema": "dbdbench.result", "schema_version": 1, "protocol": "ddffnet", "dataset": "CUHK-TE-1",
              "method": name, "n_images": 100, "scores": scores, "curves": curves or {}, "meta": rmeta}
    (folder / "meta.json").write_text(json.dumps(meta))
    (folder / "CUHK-TE-1.json").write_text(json.dumps(result))


def _curves(seed: int) -> dict[str, list[float]]:
    t = np.linspace(0, 1, 11)
    r = np.clip(1 - t**2 + 0.01 * seed, 0, 1)
    p = np.clip(0.6 + 0.35 * t, 0, 1)
    return {"thresholds": t.tolist(), "precision": p.tolist(), "recall": r.tolist(), "fpr": (r * 0.3).tolist(),
            "f": (1.3 * p * r / (0.3 * p + r)).tolist()}


@pytest.fixture()
def subs(tmp_path: Path) -> Path:
    root = tmp_path / "submissions"
    rng = np.random.default_rng(0)
    for i in range(5):
        f, iou = (float(x) for x in rng.uniform(0.5, 1.0, 2))
        _write_entry(root, f"rep-{i}", f"Rep{i}", "reported", {"mae": round(1 - f, 3), "bin_f": round(f, 3)})
    full = {"mae": 0.2, "bin_f": 0.81, "bin_iou": 0.7, "bin_iou_pooled": 0.75}
    _write_entry(root, "res-0", "Res0", "rescored", full, _curves(0))
    return root


def test_committed_reports_are_current() -> None:
    stale = stale_files(ROOT / "submissions", ROOT / "reports")
    assert stale == [], f"reports/ is stale, run `dbdbench leaderboard`: {stale}"


def test_generation_is_deterministic(subs: Path, tmp_path: Path) -> None:
    a = generate(subs, tmp_path / "a")
    b = generate(subs, tmp_path / "b")
    assert [p.relative_to(tmp_path / "a") for p in a] == [p.relative_to(tmp_path / "b") for p in b]
    assert all(x.read_bytes() == y.read_bytes() for x, y in zip(a, b, strict=True))
    assert any(p.suffix == ".svg" for p in a), "the re-scored entry has curves, so figures are expected"


def test_rows_ranked_by_primary_metric_direction(subs: Path) -> None:
    rows = grouped(collect_rows(subs))["CUHK-TE-1"]["ddffnet"]
    expected = sorted(rows, key=lambda r: -r.scores["bin_f"])  # F (higher is better) orders the ddffnet board
    assert [r.method for r in rows] == [r.method for r in expected]


def test_markdown_labels_kinds_and_sources(subs: Path, tmp_path: Path) -> None:
    generate(subs, tmp_path / "out", plots=False)
    md = (tmp_path / "out" / "leaderboard" / "CUHK-TE-1.md").read_text()
    lines = [line for line in md.splitlines() if line.startswith("| ") and "CVPR 2021" in line]
    assert len(lines) == 6
    assert sum("| reported |" in line and "Paper (2021), Table 2" in line for line in lines) == 5
    assert sum("| re-scored |" in line for line in lines) == 1
    order = [re.search(r"\| (\w+) \(CVPR", line).group(1) for line in lines]
    ranked = [r.method for r in grouped(collect_rows(subs))["CUHK-TE-1"]["ddffnet"]]
    assert order == ranked


def test_page_is_self_contained(subs: Path, tmp_path: Path) -> None:
    generate(subs, tmp_path / "out")
    page = (tmp_path / "out" / "index.html").read_text()
    assert not re.search(r"<(script|img|link|iframe)[^>]+(src|href)=\"(https?:)?//", page)
    assert "data:image/svg+xml;base64," in page
    data = json.loads(re.search(r'<script type="application/json" id="lb-data">(.*?)</script>', page, re.S)[1])
    rows = data["CUHK-TE-1"]["protocols"]["ddffnet"]["rows"]
    assert {r["kind"] for r in rows} == {"reported", "rescored"}


def test_check_flag_detects_stale_reports(subs: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    runner = CliRunner()
    args = ["leaderboard", "--submissions", str(subs), "--out", str(out), "--no-plots"]
    assert runner.invoke(main, args).exit_code == 0
    assert runner.invoke(main, [*args, "--check"]).exit_code == 0
    md = out / "leaderboard" / "CUHK-TE-1.md"
    md.write_text(md.read_text().replace("0.81", "0.91"))
    result = runner.invoke(main, [*args, "--check"])
    assert result.exit_code == 2 and "leaderboard/CUHK-TE-1.md" in result.output


def _table_lines(text: str) -> list[list[str]]:
    return [[c.strip() for c in ln.strip("|").split("|")] for ln in text.splitlines()
            if ln.startswith("| ") and not ln.startswith("| #")]


def test_ranks_and_marks_compare_printed_values(tmp_path: Path) -> None:
    root = tmp_path / "submissions"
    for i, f in enumerate([0.9141, 0.9139, 0.9, 0.8]):  # the first two print 0.914: they tie
        _write_entry(root, f"rep-{i}", f"Rep{i}", "reported", {"mae": 0.1 + i / 100, "bin_f": f})
    groups = grouped(collect_rows(root))
    generate(root, tmp_path / "reports", plots=False)
    rows = _table_lines((tmp_path / "reports" / "leaderboard" / "CUHK-TE-1.md").read_text())
    assert [r[0] for r in rows] == ["1", "1", "3", "4"]
    f_col = [r[4] for r in rows]  # the columns of the LaTeX table: MAE, F, ...; ranked by F (the primary)
    assert f_col == ["**0.914**", "**0.914**", "<u>0.900</u>", "0.800"]
    assert groups["CUHK-TE-1"]["ddffnet"][0].method == "Rep0"


def test_marks_compare_only_rows_on_the_common_training_data(tmp_path: Path) -> None:
    """Markdown, the page's <noscript> table and the LaTeX table mark best/second among the rows on the most
    common training data (and hand-crafted rows) only, and each says which rows it compares."""
    root = tmp_path / "submissions"
    entries = [(0.95, ["X", "Y"]), (0.9, ["X"]), (0.85, []), (0.8, ["X"]), (0.7, ["X"])]
    for i, (f, training) in enumerate(entries):
        _write_entry(root, f"rep-{i}", f"Rep{i}", "reported", {"mae": 0.1 + i / 100, "bin_f": f}, training=training)
    generate(root, tmp_path / "reports", plots=False)
    text = (tmp_path / "reports" / "leaderboard" / "CUHK-TE-1.md").read_text()
    rows = _table_lines(text)
    assert [r[0] for r in rows] == ["1", "2", "3", "4", "5"]  # ranks compare all rows
    assert [r[4] for r in rows] == ["0.950", "**0.900**", "<u>0.850</u>", "0.800", "0.700"]
    assert [r[3] for r in rows] == ["0.100", "**0.110**", "<u>0.120</u>", "0.130", "0.140"]
    note = ("compare only the rows with training data: X, or hand-crafted; rows with other training data are "
            "never marked.")
    assert f"Bold and underline {note}" in text
    page = (tmp_path / "reports" / "index.html").read_text()
    static = page[page.index("<noscript><div"):page.index("</noscript>")]
    assert f"Best and second marks {note}" in static
    assert [m.group(1) for m in re.finditer(r'<td class="num (best|second)"', static)] == [
        "best", "best", "second", "second"]
    latex = (tmp_path / "reports" / "tables" / "ddffnet.tex").read_text()
    assert r"Rep0$^\dagger$$^\ddagger$ & 0.100 & 0.950" in latex
    assert "rows without a symbol (training data: X, or hand-crafted)" in latex


def test_warnings_and_other_metrics_are_shown(tmp_path: Path) -> None:
    root = tmp_path / "submissions"
    full = {"mae": 0.2, "bin_f": 0.81, "bin_iou": 0.7, "bin_iou_pooled": 0.75}
    _write_entry(root, "res-0", "Res0", "rescored", full, _curves(0),
                 warnings=[{"code": "polarity", "message": "3 maps look inverted", "files": ["a.png"]}])
    generate(root, tmp_path / "reports", plots=False)
    text = (tmp_path / "reports" / "leaderboard" / "CUHK-TE-1.md").read_text()
    assert "Res0 (CVPR 2021) ⚠" in text and "- ⚠ Res0: 3 maps look inverted (polarity)" in text
    assert "Also stored (in the result files): `bin_iou`." in text
    page = (tmp_path / "reports" / "index.html").read_text()
    assert "3 maps look inverted (polarity)" in page


def test_published_hifst_curves_are_drawn_in_reports() -> None:
    """The CUHK leaderboard under protocol hifst draws the HiFST paper's PR figure: 11 published curves and
    the re-scored HiFST curve."""
    svg = (ROOT / "reports" / "figures" / "CUHK__hifst__pr.svg").read_text(encoding="utf-8")
    for name in ["HiFST†", "SS†", "LBP†", "JNB†", "DBDF†", "Tang13†", "Zhuo11†", "Su11†", "Chakrabarti10†",
                 "Liu08†", "Bae07†"]:
        assert f">{name} 0." in svg, name
    assert re.search(r">HiFST 0\.821<", svg)
    page = (ROOT / "reports" / "index.html").read_text(encoding="utf-8")
    data = json.loads(re.search(r'<script type="application/json" id="lb-data">(.*?)</script>', page, re.S)[1])
    assert [f["curve"] for f in data["CUHK"]["protocols"]["hifst"]["figures"]][0] == "pr"
    markdown = (ROOT / "reports" / "leaderboard" / "CUHK.md").read_text(encoding="utf-8")
    assert "![pr curves, CUHK, hifst](../figures/CUHK__hifst__pr.svg)" in markdown


def test_page_opens_on_the_dataset_and_protocol_with_most_entries(tmp_path: Path) -> None:
    from dbdbench.report.leaderboard import default_view

    root = tmp_path / "submissions"
    for i in range(3):
        _write_entry(root, f"rep-{i}", f"Rep{i}", "reported", {"mae": 0.1 + i / 100, "bin_f": 0.9 - i / 100})
    groups = grouped(collect_rows(root))
    start, protocols = default_view(groups)
    assert start == "CUHK-TE-1" and protocols == {"CUHK-TE-1": "ddffnet"}
    generate(root, tmp_path / "reports", plots=False)
    page = (tmp_path / "reports" / "index.html").read_text()
    data = json.loads(re.search(r'<script type="application/json" id="lb-data">(.*?)</script>', page, re.S)[1])
    assert data["CUHK-TE-1"]["start"] and data["CUHK-TE-1"]["default_protocol"] == "ddffnet"
    # the same columns and ranking metric as the LaTeX table, and a <noscript> copy of the default view
    assert [c["key"] for c in data["CUHK-TE-1"]["protocols"]["ddffnet"]["columns"]] == ["mae", "bin_f"]
    assert data["CUHK-TE-1"]["protocols"]["ddffnet"]["rank_key"] == "bin_f"
    assert "<noscript>" in page and page.count("<td") >= 3 * 5


def test_committed_page_defaults_and_curve_only_ranks() -> None:
    """On the committed reports: CUHK's default protocol is the one with most rows, and every curve-only
    entry has max F from its curve (the legend's number) and a rank."""
    from dbdbench.report.leaderboard import ranks
    from dbdbench.report.plots import headline_score
    from dbdbench.results import Result

    groups = grouped(collect_rows(ROOT / "submissions"))
    page = (ROOT / "reports" / "index.html").read_text(encoding="utf-8")
    data = json.loads(re.search(r'<script type="application/json" id="lb-data">(.*?)</script>', page, re.S)[1])
    for dataset, by_p in groups.items():
        most = max(len(rows) for rows in by_p.values())
        assert len(by_p[data[dataset]["default_protocol"]]) == most, dataset
    start = next(d for d in data if data[d]["start"])
    assert len(groups[start][data[start]["default_protocol"]]) == max(len(r) for b in groups.values()
                                                                       for r in b.values())
    rows = groups["CUHK"]["hifst"]
    curve_rows = [r for r in rows if not r.result.get("scores")]
    assert curve_rows
    for r, rank in zip(rows, ranks(rows, "hifst"), strict=True):
        if r in curve_rows:
            assert r.scores["max_f"] == headline_score(Result.from_json(r.result), "pr") and rank is not None
