"""``dbdbench check``: every rule rejects its bad case, the committed ``submissions/`` pass, and the seeded
reported numbers equal the tables of the seed papers (parsed here from the paper texts)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from dbdbench.cli import main
from dbdbench.findings import Checks
from dbdbench.results import Result
from dbdbench.submissions import MAX_FILE_BYTES, check_tree, checks, load_submissions, rescore, schema

ROOT = Path(__file__).resolve().parents[1]
SUBMISSIONS = ROOT / "submissions"


def _meta(entry: str = "toy", **over: object) -> dict:
    meta = {"schema": "dbdbench.submission", "schema_version": 1, "id": entry, "name": "Toy", "kind": "reported",
            "authors": ["A. Author"], "venue": "CVPR", "year": 2020, "paper_url": "https://example.org/toy",
            "code_url": None, "backbone": None, "training_data": [], "parameters_m": None, "runtime_s": None,
            "map_polarity": "blur", "licence": None}
    meta.update(over)
    return meta


def _result(dataset: str = "CUHK-TE-1", **over: object) -> dict:
    result = {"schema": "dbdbench.result", "schema_version": 1, "protocol": "ddffnet", "dataset": dataset,
              "method": "Toy", "n_images": 100, "scores": {"mae": 0.1, "bin_f": 0.9},
              "meta": {"kind": "reported", "source": {"paper": "A. Author, Toy, CVPR 2020", "short": "Toy",
                                                      "table": "Table 1", "page": 3}}}
    result.update(over)
    return result


def make_entry(root: Path, entry: str = "toy", meta: dict | None = None, results: dict | None = None) -> Path:
    """Write one entry folder; ``results`` maps file stem -> result dict."""
    folder = root / entry
    folder.mkdir(parents=True)
    (folder / "meta.json").write_text(json.dumps(meta if meta is not None else _meta(entry)))
    for stem, result in (results if results is not None else {"CUHK-TE-1": _result()}).items():
        (folder / f"{stem}.json").write_text(json.dumps(result))
    return folder


def _messages(root: Path) -> str:
    return "\n".join(str(p) for p in check_tree(root))


# ------------------------------------------------------------------------------------------- acceptance


def test_committed_submissions_pass() -> None:
    assert check_tree(SUBMISSIONS) == []


def test_minimal_valid_entry_passes(tmp_path: Path) -> None:
    make_entry(tmp_path)
    assert check_tree(tmp_path) == []


@pytest.mark.parametrize("field", ["name", "kind", "authors", "venue", "year", "paper_url", "code_url", "backbone",
                                   "training_data", "parameters_m", "runtime_s", "map_polarity", "licence",
                                   "schema_version"])
def test_rejects_missing_meta_field(tmp_path: Path, field: str) -> None:
    meta = _meta()
    del meta[field]
    make_entry(tmp_path, meta=meta)
    msg = _messages(tmp_path)
    assert "toy/meta.json" in msg and f"missing required field {field!r}" in msg


def test_rejects_unknown_meta_key(tmp_path: Path) -> None:
    make_entry(tmp_path, meta=_meta(polarity="blur"))
    assert "unknown key(s) ['polarity']" in _messages(tmp_path)


def test_rejects_unknown_dataset(tmp_path: Path) -> None:
    make_entry(tmp_path, results={"DUTS": _result("DUTS")})
    msg = _messages(tmp_path)
    assert "toy/DUTS.json" in msg and "unknown dataset 'DUTS'" in msg


def test_rejects_file_name_that_is_not_the_dataset(tmp_path: Path) -> None:
    make_entry(tmp_path, results={"DUT-TE": _result("CUHK-TE-1")})
    assert "file name says dataset 'DUT-TE'" in _messages(tmp_path)


@pytest.mark.parametrize("value", [1.2, -0.001, True, "0.5"])
def test_rejects_metric_out_of_range(tmp_path: Path, value: object) -> None:
    make_entry(tmp_path, results={"CUHK-TE-1": _result(scores={"mae": 0.1, "bin_f": value})})
    assert "score bin_f" in _messages(tmp_path) and "outside [0, 1]" in _messages(tmp_path)


def test_rejects_non_finite_json(tmp_path: Path) -> None:
    folder = make_entry(tmp_path)
    path = folder / "CUHK-TE-1.json"
    path.write_text(path.read_text().replace("0.9", "NaN"))
    assert "non-finite number NaN" in _messages(tmp_path)


def test_rejects_unknown_metric_key(tmp_path: Path) -> None:
    make_entry(tmp_path, results={"CUHK-TE-1": _result(scores={"mae": 0.1, "fbeta": 0.9})})
    assert "unknown metric key(s) ['fbeta']" in _messages(tmp_path)


def test_rejects_undeclared_polarity(tmp_path: Path) -> None:
    make_entry(tmp_path, meta=_meta(map_polarity="white"))
    assert "field 'map_polarity'" in _messages(tmp_path)


@pytest.mark.parametrize("text", ["../../etc/passwd", "maps in /srv/dbd/data", "C:\\maps", "~/maps"])
def test_rejects_path_traversal_and_absolute_paths(tmp_path: Path, text: str) -> None:
    make_entry(tmp_path, meta=_meta(notes=text))
    msg = _messages(tmp_path)
    assert "toy/meta.json" in msg and ("path traversal" in msg or "absolute path" in msg)


def test_rejects_dotdot_in_file_name(tmp_path: Path) -> None:
    folder = make_entry(tmp_path)
    (folder / "CUHK-TE-1..json").write_text("{}")
    assert "unsafe file name 'CUHK-TE-1..json'" in _messages(tmp_path)


def test_rejects_symlink(tmp_path: Path) -> None:
    folder = make_entry(tmp_path / "subs")
    outside = tmp_path / "elsewhere.json"
    outside.write_text(json.dumps(_result("DUT-TE", n_images=500)))
    os.symlink(outside, folder / "DUT-TE.json")
    msg = _messages(tmp_path / "subs")
    assert "toy/DUT-TE.json" in msg and "is a symlink" in msg


def test_rejects_oversized_file(tmp_path: Path) -> None:
    result = _result(per_image=[{"name": f"img{i:07d}", "mae": 0.5} for i in range(MAX_FILE_BYTES // 30)])
    folder = make_entry(tmp_path, results={"CUHK-TE-1": result})
    assert (folder / "CUHK-TE-1.json").stat().st_size > MAX_FILE_BYTES
    assert "over the cap" in _messages(tmp_path)


def test_rejects_method_name_mismatch(tmp_path: Path) -> None:
    make_entry(tmp_path, results={"CUHK-TE-1": _result(method="Other")})
    assert "differs from meta.json name 'Toy'" in _messages(tmp_path)


def test_rejects_rescored_result_missing_protocol_metrics(tmp_path: Path) -> None:
    meta = _meta(kind="rescored", rescore={"maps": {"CUHK-TE-1": "toy_maps"}, "pred_white": "blur"})
    res = _result(meta={"kind": "rescored", "pred_dir": "toy_maps", "pred_white": "blur",
                        "files_sha256": {"a.png": "0" * 64}})
    make_entry(tmp_path, meta=meta, results={"CUHK-TE-1": res})
    message = _messages(tmp_path)
    assert "missing metric(s) ['bin_iou', 'bin_iou_pooled']" in message
    assert "dbdbench leaderboard --rescore" in message  # the fix, e.g. after a metric joined the protocol


# ------------------------------------------------------------------------------------- curve-only entries


def _curve_result(**over: object) -> dict:
    fields = {"protocol": "hifst", "n_images": 1000, "scores": {},
              "curves": {"thresholds": [0.0, 0.5, 1.0], "precision": [0.6, 0.8, 0.9], "recall": [1.0, 0.7, 0.2]}}
    return _result("CUHK", **{**fields, **over})


def test_curve_only_reported_entry_passes(tmp_path: Path) -> None:
    make_entry(tmp_path, results={"CUHK": _curve_result()})
    assert check_tree(tmp_path) == []


def test_curve_only_entry_needs_a_drawable_pair(tmp_path: Path) -> None:
    make_entry(tmp_path, results={"CUHK": _curve_result(curves={"precision": [0.6, 0.8]})})
    assert "curves hold no drawable pair" in _messages(tmp_path)
    empty = tmp_path / "b"
    make_entry(empty, results={"CUHK": _curve_result(curves={})})
    assert "curves hold no drawable pair" in _messages(empty)


def test_curve_only_is_for_reported_entries(tmp_path: Path) -> None:
    meta = _meta(kind="rescored", rescore={"maps": {"CUHK": "toy_maps"}, "pred_white": "blur"})
    res = _curve_result(meta={"kind": "rescored", "pred_dir": "toy_maps", "pred_white": "blur",
                              "files_sha256": {"a.png": "0" * 64}})
    make_entry(tmp_path, meta=meta, results={"CUHK": res})
    assert "missing metric(s)" in _messages(tmp_path)


def test_published_hifst_curves_are_stored_exactly(shared_data: Path) -> None:
    """Each of the 11 curve files of the HiFST authors is in submissions/, value for value (no rounding)."""
    folder = shared_data / "hifst" / "published_curves"
    files = sorted(folder.glob("BlurDetection_*_PRCurve.txt"))
    assert len(files) == 11
    stored = {}
    for sub in load_submissions(SUBMISSIONS):
        for result in sub.results.values():
            note = (result["meta"].get("source") or {}).get("note", "")
            match = re.search(r"BlurDetection_(\w+)_PRCurve\.txt", note)
            if match:
                stored[match.group(1)] = result
    assert len(stored) == 11
    for path in files:
        key = path.name.removeprefix("BlurDetection_").removesuffix("_PRCurve.txt")
        rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
        curves = stored[key]["curves"]
        assert curves["precision"] == [float(r[0]) for r in rows], key
        assert curves["recall"] == [float(r[1]) for r in rows], key
        assert [f"{v:.6f}" for v in curves["precision"]] == [f"{float(r[0]):.6f}" for r in rows]
        assert curves["thresholds"] == [t / 255 for t in range(256)]
        assert stored[key]["scores"] == {} and stored[key]["protocol"] == "hifst" and stored[key]["dataset"] == "CUHK"


def test_rejects_removed_curve(repo: Path) -> None:
    make_entry(repo, "curvy", meta=_meta("curvy", name="Curvy"), results={"CUHK": _curve_result(method="Curvy")})
    _git(repo.parent, "add", ".")
    _git(repo.parent, "commit", "-q", "-m", "curve")
    (repo / "curvy" / "CUHK.json").write_text(json.dumps(_curve_result(
        method="Curvy", curves={"fpr": [0.0, 1.0], "tpr": [0.0, 1.0]})))
    problems = checks.check_against_base(repo, "HEAD")
    assert len(problems) == 1 and "curve(s) ['precision', 'recall', 'thresholds']" in problems[0].message


# ---------------------------------------------------------------------------------------------- git base


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", *args], cwd=cwd, check=True,
                   capture_output=True)


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    subs = tmp_path / "submissions"
    make_entry(subs, "toy")
    make_entry(subs, "other", meta=_meta("other", name="Other"),
               results={"DUT-TE": _result("DUT-TE", method="Other", n_images=500)})
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "base")
    return subs


def test_rejects_removed_entry(repo: Path) -> None:
    shutil.rmtree(repo / "other")
    problems = checks.check_against_base(repo, "HEAD")
    assert [p.path for p in problems] == ["other"] and "was removed" in problems[0].message


def test_rejects_removed_metric(repo: Path) -> None:
    path = repo / "toy" / "CUHK-TE-1.json"
    path.write_text(json.dumps(_result(scores={"mae": 0.1})))
    problems = checks.check_against_base(repo, "HEAD")
    assert len(problems) == 1 and "['bin_f']" in problems[0].message


def test_unchanged_tree_passes_base_check(repo: Path) -> None:
    make_entry(repo, "added", meta=_meta("added", name="Added"), results={"CUHK-TE-1": _result(method="Added")})
    assert checks.check_against_base(repo, "HEAD") == []


def test_cli_exit_codes_and_messages(repo: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(main, ["check", str(repo), "--base", "HEAD"])
    assert ok.exit_code == 0, ok.output
    shutil.rmtree(repo / "other")
    bad = runner.invoke(main, ["check", str(repo), "--base", "HEAD"])
    assert bad.exit_code == 2 and "other: entry exists at HEAD but was removed" in bad.output


# ---------------------------------------------------------------------------------------- reproduction


def _rescored_entry(root: Path) -> Path:
    meta = _meta(kind="rescored", rescore={"maps": {"CUHK-TE-1": "toy_maps"}, "pred_white": "blur"})
    scores = {"mae": 0.25, "bin_f": 0.75, "bin_iou": 0.5, "bin_iou_pooled": 0.625}
    res = _result(scores=scores, meta={"kind": "rescored", "pred_dir": "toy_maps", "pred_white": "blur",
                                       "files_sha256": {"a.png": "0" * 64}})
    return make_entry(root, meta=meta, results={"CUHK-TE-1": res})


def test_reproduction_compares_scores_and_notes_absent_maps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _rescored_entry(tmp_path / "subs")
    assert check_tree(tmp_path / "subs") == []
    problems, notes = rescore.check_reproduction(tmp_path / "subs", tmp_path / "maps")
    assert problems == [] and "not reproduced" in notes[0]
    (tmp_path / "maps" / "toy_maps").mkdir(parents=True)
    fresh = {"scores": {"mae": 0.25, "bin_f": 0.75 + 2e-9, "bin_iou": 0.5, "bin_iou_pooled": 0.625},
             "meta": {"files_sha256": {"a.png": "0" * 64}}}
    monkeypatch.setattr(rescore, "_rescore", lambda *a, **k: fresh)
    problems, notes = rescore.check_reproduction(tmp_path / "subs", tmp_path / "maps")
    assert notes == [] and len(problems) == 1 and "bin_f" in problems[0].message
    fresh["scores"]["bin_f"] = 0.75 + 5e-10
    assert rescore.check_reproduction(tmp_path / "subs", tmp_path / "maps")[0] == []


def test_map_reading_values_cover_every_option() -> None:
    from dbdbench.loading import MAP_READING

    assert set(schema.MAP_READING_VALUES) == set(MAP_READING)
    assert schema.check_map_reading({"map_reading": dict(MAP_READING)}, "result") == MAP_READING


@pytest.mark.parametrize(("reading", "words"), [
    ({"sharpen_maps": True}, "unknown map-reading option(s) sharpen_maps"),
    ({"rotate_maps": "left"}, "map_reading.rotate_maps = 'left' is invalid"),
    ({"rescale_maps": 1}, "map_reading.rescale_maps = 1 is invalid"),
    ({"colormap": ""}, "map_reading.colormap = '' is invalid"),
    ({"luminance": True, "colormap": "jet"}, "map_reading has both luminance and colormap"),
])  # fmt: skip
def test_rejects_invalid_map_reading(tmp_path: Path, reading: dict, words: str) -> None:
    entry = _rescored_entry(tmp_path)
    res = json.loads((entry / "CUHK-TE-1.json").read_text())
    res["meta"]["map_reading"] = {"rescale_maps": True} | reading
    (entry / "CUHK-TE-1.json").write_text(json.dumps(res))
    assert f"toy/CUHK-TE-1.json: result meta: {words}" in _messages(tmp_path)


def test_reproduction_reads_maps_with_the_recorded_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    entry = _rescored_entry(tmp_path / "subs")
    res = json.loads((entry / "CUHK-TE-1.json").read_text())
    res["meta"]["map_reading"] = {"rescale_maps": True, "rotate_maps": "ccw", "colormap": "jet"}
    (entry / "CUHK-TE-1.json").write_text(json.dumps(res))
    assert check_tree(tmp_path / "subs") == []
    (tmp_path / "maps" / "toy_maps").mkdir(parents=True)
    seen: list[dict] = []

    def fake(folder: Path, dataset: str, **kwargs: object) -> Result:
        seen.append(kwargs)
        return Result(dataset=dataset, protocol="ddffnet", method="Toy", scores=res["scores"], meta=res["meta"])

    monkeypatch.setattr(rescore, "evaluate_folder", fake)
    assert rescore.check_reproduction(tmp_path / "subs", tmp_path / "maps") == ([], [])
    assert seen[0]["checks"] == Checks(rescale_maps=True, rotate_maps="ccw")
    assert (seen[0]["luminance"], seen[0]["colormap"]) == (False, "jet")


# ------------------------------------------------------------------------------- seeds equal the papers


def _index() -> dict[tuple[str, str, str, str], dict]:
    """(short source, table, dataset, method) -> scores of every reported result in submissions/."""
    out = {}
    for sub in load_submissions(SUBMISSIONS):
        for res in sub.results.values():
            src = res["meta"].get("source")
            if src:
                out[(src["short"], src["table"], res["dataset"], res["method"])] = res["scores"]
    return out


def _parse_defusionnet(text: str) -> dict[tuple[str, str], dict[str, float]]:
    """DeFusionNet TPAMI Table 1: rows 'F MAE' pairs for Shi's dataset, then F, MAE, AUC lines per dataset."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Datasets\tMetric"))
    methods = lines[start].split("\t")[2:]
    nums = [[float(x) for x in re.findall(r"\b[01]\.\d{3}\b", line)] for line in lines[start + 1:start + 9]]
    label = {"CVPR19": "DeFusionNet (CVPR19)"}
    out = {}
    for j, m in enumerate(methods):
        name = label.get(m, m)
        out[("CUHK-TE-DFN", name)] = {"max_f": nums[0][2 * j], "mae": nums[0][2 * j + 1], "auc": nums[1][j]}
        out[("DUT-TE", name)] = {"max_f": nums[2][j], "mae": nums[3][j], "auc": nums[4][j]}
        out[("CTCUG", name)] = {"max_f": nums[5][j], "mae": nums[6][j], "auc": nums[7][j]}
    return out


def _parse_ddffnet(text: str) -> dict[tuple[str, str, str], dict[str, float]]:
    """D-DFFNet Tables I-III: '| Method | datasets |' headers, then one '| name | values |' row per method.

    The text lost the F-beta header (a math symbol): three numbers per dataset are MAE, F-beta, IoU
    (Tables I, II); two are MAE, IoU as the surviving header says (Table III).
    """
    tables, current = [], None
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| Method |"):
            current = {"datasets": [c for c in cells[1:] if c], "rows": []}
            tables.append(current)
        elif current is not None and line.startswith("| MAE"):
            continue
        elif current is not None and line.startswith("| ") and re.search(r"\d\.\d{3}", line):
            current["rows"].append((cells[0], [c for c in cells[1:] if c]))
        else:
            current = None
    assert len(tables) == 3
    out = {}
    for tname, table, suffix in zip(("Table I", "Table II", "Table III"), tables,
                                    ("", " [CUHK-TR-1 & DUT-TR]", " [CUHK-TR-2 & DUT-TR]"), strict=True):
        per = len(table["rows"][0][1]) // len(table["datasets"])
        keys = ("mae", "bin_f", "bin_iou_pooled") if per == 3 else ("mae", "bin_iou_pooled")
        for label, values in table["rows"]:
            name = re.sub(r"\s*\[\d+\]$", "", label).replace("DefuNet", "DeFusionNet")
            name += suffix if name == "D-DFFNet" else ""
            for k, dataset in enumerate(table["datasets"]):
                cells = values[k * per:(k + 1) * per]
                scores = {key: float(c) for key, c in zip(keys, cells, strict=True) if c != "–"}
                if scores:
                    out[(tname, dataset.replace("EBD(1305)", "EBD-1305"), name)] = scores
    return out


@pytest.fixture(scope="module")
def seeds(shared_data: Path) -> Path:
    path = shared_data.parent / "seeds"
    if not (path / "defusionnet_tpami_paper.txt").is_file():
        pytest.skip(f"seed paper texts not found in {path}")
    return path


def test_seeded_defusionnet_numbers_equal_table_1(seeds: Path) -> None:
    paper = _parse_defusionnet((seeds / "defusionnet_tpami_paper.txt").read_text(encoding="utf-8"))
    stored = {(d, m): s for (short, table, d, m), s in _index().items() if short.startswith("DeFusionNet (TPAMI")}
    assert len(paper) == 36
    assert stored == paper


def test_seeded_ddffnet_numbers_equal_tables_1_to_3(seeds: Path) -> None:
    paper = _parse_ddffnet((seeds / "ddffnet_depth_dof_paper.txt").read_text(encoding="utf-8"))
    stored = {(t, d, m): s for (short, t, d, m), s in _index().items() if short.startswith("D-DFFNet")}
    assert len({m for _, _, m in paper}) == 19  # 13 + 4 + 2 rows
    assert stored == paper


def test_validate_runs_the_checks_of_dbdbench_check(tmp_path):
    """``submissions.validate``: a valid tree is counted; a broken one lists its problems and counts nothing."""
    from dbdbench.submissions.validate import validate

    repo = Path(__file__).resolve().parents[1] / "submissions"
    entry = next(p for p in sorted(repo.iterdir()) if (p / "meta.json").is_file())
    shutil.copytree(entry, tmp_path / entry.name)
    good = validate(tmp_path)
    assert good.ok and good.n_entries == 1 and good.n_files == len(list((tmp_path / entry.name).glob("*.json"))) - 1
    (tmp_path / entry.name / "meta.json").write_text("{")
    bad = validate(tmp_path)
    assert not bad.ok and bad.n_entries == 0 and "meta.json" in str(bad.problems[0])
