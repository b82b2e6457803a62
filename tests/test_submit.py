"""``dbdbench submit`` into a temporary copy of submissions/: the demo results become a leaderboard row.

The real ``submissions/`` and ``reports/`` are never written: every test copies the tree first.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import pytest
from click.testing import CliRunner

from dbdbench.cli import main
from dbdbench.submissions.rescore import rescore_entries

ROOT = Path(__file__).resolve().parents[1]
WHO = ["--name", "laplacian", "--authors", "J. L. Pech-Pacheco; G. Cristobal", "--venue", "ICPR", "--year", "2000"]


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo's results (constant and laplacian maps on SYN-DEMO)."""
    tmp = tmp_path_factory.mktemp("demo")
    res = run("demo", "--out", tmp / "demo", "--data-root", tmp / "data", "--methods", "laplacian")
    assert res.exit_code == 0, res.output
    return tmp


@pytest.fixture
def subs(tmp_path):
    shutil.copytree(ROOT / "submissions", tmp_path / "submissions")
    return tmp_path / "submissions"


def _submit(demo, subs, *extra, result="laplacian"):
    return run("submit", demo / "demo" / "results" / f"{result}.json", "--id", "laplacian-demo", *WHO,
               "--submissions", subs, "--data-root", demo / "data", *extra)


def test_demo_result_becomes_a_leaderboard_row(demo, subs, tmp_path):
    res = _submit(demo, subs, "--maps-root", demo / "demo" / "maps")
    assert res.exit_code == 0, res.output
    assert "dbdbench leaderboard" in res.output and "pull request" in res.output and "not reproduced" not in res.output
    meta = json.loads((subs / "laplacian-demo" / "meta.json").read_text())
    assert meta["kind"] == "rescored" and meta["rescore"]["maps"] == {"SYN-DEMO": "laplacian"}
    assert meta["rescore"]["pred_white"] == meta["map_polarity"] == "sharp"
    assert meta["authors"] == ["J. L. Pech-Pacheco", "G. Cristobal"]
    stored = json.loads((subs / "laplacian-demo" / "SYN-DEMO.json").read_text())
    original = json.loads((demo / "demo" / "results" / "laplacian.json").read_text())
    assert stored["scores"] == original["scores"] and stored["per_image"] == original["per_image"]
    assert set(stored["meta"]) <= {"kind", "pred_dir", "pred_white", "files_sha256", "warnings", "map_reading"}
    assert stored["meta"]["map_reading"] == original["meta"]["map_reading"]
    assert run("check", subs, "--maps-root", demo / "demo" / "maps", "--data-root", demo / "data").exit_code == 0
    res = run("leaderboard", "--submissions", subs, "--out", tmp_path / "reports", "--no-plots")
    assert res.exit_code == 0, res.output
    board = (tmp_path / "reports" / "leaderboard" / "SYN-DEMO.md").read_text()
    row = next(line for line in board.splitlines() if "laplacian" in line)
    assert f"{original['scores']['max_f']:.3f}" in row and "re-scored" in row


def test_id_collision_and_another_method_are_refused(demo, subs):
    before = sorted(p.name for p in subs.iterdir())
    res = run("submit", demo / "demo" / "results" / "laplacian.json", "--id", "hifst", *WHO, "--submissions", subs)
    assert res.exit_code == 2 and "already exists" in res.output
    res = _submit(demo, subs, result="constant")
    assert res.exit_code == 2 and "'constant'" in res.output and "--name" in res.output
    assert sorted(p.name for p in subs.iterdir()) == before


def test_maps_that_do_not_reproduce_are_refused(demo, subs, tmp_path):
    maps = tmp_path / "maps"
    shutil.copytree(demo / "demo" / "maps", maps)
    first = sorted((maps / "laplacian").glob("*.png"))[0]
    cv2.imwrite(str(first), 255 - cv2.imread(str(first), cv2.IMREAD_UNCHANGED))
    res = _submit(demo, subs, "--maps-root", maps)
    assert res.exit_code == 2 and "does not reproduce" in res.output
    assert not (subs / "laplacian-demo").exists()


@pytest.mark.parametrize("fmt", ["csv", "md"])
def test_reported_numbers_from_a_table(subs, tmp_path, fmt):
    table = tmp_path / f"t.{fmt}"
    if fmt == "csv":
        table.write_text("dataset,protocol,mae,bin_f,bin_iou_pooled\nCUHK-TE-1,ddffnet,0.101,0.902,–\n"
                         "DUT-TE,ddffnet,0.123,0.845,0.701\n")  # fmt: skip
    else:
        table.write_text("| dataset | protocol | mae | bin_f | bin_iou_pooled |\n|---|---|---|---|---|\n"
                         "| CUHK-TE-1 | ddffnet | 0.101 | 0.902 | – |\n| DUT-TE | ddffnet | 0.123 | 0.845 | 0.701 |\n")
    res = run("submit", "--reported", table, "--source", "Ours: a defocus detector, CVPR 2025, Table 2, 6",
              "--source-short", "Ours (CVPR 2025)", "--id", "ours-cvpr25-t2", "--name", "Ours", "--authors", "A. B",
              "--venue", "CVPR", "--year", "2025", "--submissions", subs)  # fmt: skip
    assert res.exit_code == 0, res.output
    entry = subs / "ours-cvpr25-t2"
    cuhk = json.loads((entry / "CUHK-TE-1.json").read_text())
    assert cuhk["scores"] == {"mae": 0.101, "bin_f": 0.902} and cuhk["protocol"] == "ddffnet"
    assert cuhk["meta"]["source"] == {"paper": "Ours: a defocus detector, CVPR 2025", "short": "Ours (CVPR 2025)",
                                      "table": "Table 2", "page": 6}  # fmt: skip
    assert json.loads((entry / "DUT-TE.json").read_text())["scores"]["bin_iou_pooled"] == 0.701
    assert json.loads((entry / "meta.json").read_text())["kind"] == "reported"
    assert run("check", subs).exit_code == 0


def test_a_number_that_is_not_one_is_refused(subs, tmp_path):
    table = tmp_path / "t.csv"
    table.write_text("dataset,protocol,mae\nCUHK-TE-1,ddffnet,0.1O1\n")
    res = run("submit", "--reported", table, "--source", "Ours, Table 2, null", "--id", "ours-t2", "--name", "Ours",
              "--authors", "A. B", "--venue", "CVPR", "--year", "2025", "--submissions", subs)
    assert res.exit_code == 2 and "row 2" in res.output and "'0.1O1'" in res.output
    assert not (subs / "ours-t2").exists()


def test_machine_paths_in_recorded_warnings_are_cut_to_names(demo, subs, tmp_path):
    data = json.loads((demo / "demo" / "results" / "laplacian.json").read_text())
    folder = demo / "demo" / "maps" / "laplacian"
    data["meta"]["warnings"] = [{"code": "range-01", "message": f"{folder}: 1 8-bit map(s) hold only 0 and 1",
                                 "files": ["img00.png"]}]  # fmt: skip
    path = tmp_path / "laplacian.json"
    path.write_text(json.dumps(data))
    res = run("submit", path, "--id", "laplacian-demo", *WHO, "--submissions", subs)
    assert res.exit_code == 0, res.output
    assert "not reproduced" in res.output
    stored = json.loads((subs / "laplacian-demo" / "SYN-DEMO.json").read_text())["meta"]["warnings"]
    assert stored == [{"code": "range-01", "message": "laplacian: 1 8-bit map(s) hold only 0 and 1",
                       "files": ["img00.png"]}]  # fmt: skip


@pytest.fixture
def maps01(demo, tmp_path):
    """The laplacian maps binarised and saved as 0/1 (a mask without * 255), scored with --rescale-maps."""
    maps = tmp_path / "maps01"
    (maps / "laplacian").mkdir(parents=True)
    for src in sorted((demo / "demo" / "maps" / "laplacian").glob("*.png")):
        cv2.imwrite(str(maps / "laplacian" / src.name), (cv2.imread(str(src), cv2.IMREAD_GRAYSCALE) >= 128)
                    .astype("uint8"))  # fmt: skip
    result = tmp_path / "laplacian01.json"
    res = run("evaluate", maps / "laplacian", "-d", "SYN-DEMO", "--pred-white", "sharp", "--rescale-maps",
              "--method", "laplacian", "--json", result, "--data-root", demo / "data", "--quiet")  # fmt: skip
    assert res.exit_code == 0, res.output
    return maps, result


def test_maps_read_with_options_are_re_scored_with_them(demo, subs, maps01):
    maps, result = maps01
    original = json.loads(result.read_text())
    assert original["meta"]["map_reading"]["rescale_maps"] is True
    assert any(w["code"] == "rescaled" for w in original["meta"]["warnings"])
    res = run("submit", result, "--id", "laplacian-demo", *WHO, "--submissions", subs, "--data-root",
              demo / "data", "--maps-root", maps)  # fmt: skip
    assert res.exit_code == 0, res.output
    stored_path = subs / "laplacian-demo" / "SYN-DEMO.json"
    stored = json.loads(stored_path.read_text())
    assert stored["meta"]["map_reading"] == original["meta"]["map_reading"]
    assert stored["scores"] == original["scores"]
    check = ("check", subs, "--maps-root", maps, "--data-root", demo / "data")
    res = run(*check)
    assert res.exit_code == 0, res.output
    # rewriting the entry from its maps (leaderboard --rescore) reads them with the recorded options too
    lines = rescore_entries(subs, maps, demo / "data")
    assert any(line.startswith("laplacian-demo/SYN-DEMO.json: ") for line in lines)
    again = json.loads(stored_path.read_text())
    assert again["scores"] == original["scores"] and again["meta"]["map_reading"] == original["meta"]["map_reading"]
    # without the record, the maps cannot be re-scored as their author scored them: refused, naming the file
    del stored["meta"]["map_reading"]
    stored_path.write_text(json.dumps(stored))
    res = run(*check)
    assert res.exit_code == 2 and "laplacian-demo/SYN-DEMO.json" in res.output and "map_reading" in res.output
    with pytest.raises(ValueError, match="laplacian-demo/SYN-DEMO.json: .*map_reading"):
        rescore_entries(subs, maps, demo / "data")
    # a record this version does not know is refused by the schema check, naming the file
    stored["meta"]["map_reading"] = original["meta"]["map_reading"] | {"sharpen_maps": True}
    stored_path.write_text(json.dumps(stored))
    res = run("check", subs)
    assert res.exit_code == 2 and "laplacian-demo/SYN-DEMO.json" in res.output and "sharpen_maps" in res.output


def test_a_result_whose_options_were_not_recorded_is_refused(demo, subs, maps01, tmp_path):
    data = json.loads(maps01[1].read_text())
    del data["meta"]["map_reading"]  # as written by a dbdbench that did not record them
    path = tmp_path / "old.json"
    path.write_text(json.dumps(data))
    res = run("submit", path, "--id", "laplacian-demo", *WHO, "--submissions", subs)
    assert res.exit_code == 2 and "old.json" in res.output and "rescaled" in res.output
    assert not (subs / "laplacian-demo").exists()
