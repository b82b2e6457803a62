"""GT integrity on the real CUHK data in ../shared/data: the shipped digests, the 'xu100' copy, a damaged cache."""

from __future__ import annotations

import json

import cv2
from click.testing import CliRunner

from dbdbench.cli import main
from dbdbench.datasets import DATASETS, read_split

HIFST = ["--pred-white", "sharp", "-q"]


def _copy_te1(shared_data, root, edit=lambda stem, arr: arr):
    """A copy of the CUHK-TE-1 GT under ``root/CUHK/gt``, each mask passed through ``edit``."""
    gt = root / "CUHK" / "gt"
    gt.mkdir(parents=True)
    for stem in read_split("CUHK-TE-1"):
        arr = cv2.imread(str(shared_data / "cuhk" / "gt" / f"{stem}.png"), cv2.IMREAD_GRAYSCALE)
        cv2.imwrite(str(gt / f"{stem}.png"), edit(stem, arr))
    return root


def _evaluate(shared_data, root, *extra):
    maps = shared_data / "hifst" / "cuhk_maps"
    args = ["evaluate", str(maps), "-d", "CUHK-TE-1", "--data-root", str(root), *HIFST, *extra]
    return CliRunner().invoke(main, args)


def test_shipped_digest_list_matches_the_shared_data(data_root):
    from dbdbench.digests import parse_digests, read_digests
    from dbdbench.gt.dataset_check import digest_list

    fresh = parse_digests(digest_list(DATASETS["CUHK"], data_root), "fresh")
    assert len(fresh) == 1000
    assert fresh == read_digests("CUHK")


def test_xu100_copy_is_refused_and_named(shared_data, tmp_path):
    root = _copy_te1(shared_data, tmp_path / "xu100", lambda stem, arr: 255 - arr)
    res = _evaluate(shared_data, root)
    assert res.exit_code == 2, res.output
    assert "this looks like the 'xu100' re-distribution of CUHK-TE-1 (white = in focus)" in res.output
    assert "Place the original CUHK GT (white = blurred) under <data-root>/CUHK/gt/" in res.output
    assert 'gt_white = "sharp" and digests = "CUHK"' in res.output and "--accept gt-inverted" in res.output


def test_xu100_copy_accepted_is_recorded(shared_data, tmp_path):
    root = _copy_te1(shared_data, tmp_path / "xu100", lambda stem, arr: 255 - arr)
    out = tmp_path / "r.json"
    res = _evaluate(shared_data, root, "--accept", "gt-inverted", "--accept", "inverted-maps", "--json", str(out))
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    [warning] = [w for w in data["meta"]["warnings"] if w["code"] == "gt-inverted"]
    assert len(warning["files"]) == 100 and "xu100" in warning["message"]
    assert data["scores"]["max_f"] < 0.4  # what the inverted GT gives: the warnings are the only sign


def test_xu100_copy_registered_with_its_polarity_scores_like_the_original(shared_data, data_root, tmp_path):
    from dataclasses import replace

    from dbdbench.evaluate import evaluate_folder

    maps = shared_data / "hifst" / "cuhk_maps"
    clean = evaluate_folder(maps, "CUHK-TE-1", pred_white="sharp", data_root=data_root, hashes=False)
    root = _copy_te1(shared_data, tmp_path / "xu100", lambda stem, arr: 255 - arr)
    xu100 = replace(DATASETS["CUHK-TE-1"], name="XU100", gt_white="sharp")  # digests = "CUHK" kept
    res = evaluate_folder(maps, xu100, pred_white="sharp", data_root=root, hashes=False)
    assert res.scores == clean.scores and round(res.scores["max_f"], 3) == 0.914


def test_foreign_copy_names_the_edited_file(shared_data, tmp_path):
    def edit(stem, arr):
        if stem == "out_of_focus0284":
            arr = arr.copy()
            arr[:40, :40] = 255 - arr[:40, :40]
        return arr

    root = _copy_te1(shared_data, tmp_path / "edited", edit)
    res = _evaluate(shared_data, root)
    assert res.exit_code == 2, res.output
    assert "1 of 100 GT masks" in res.output and "have other pixels than the registry's" in res.output
    assert "(out_of_focus0284)" in res.output and "--accept gt-foreign" in res.output


def test_truncated_cache_entries_give_the_clean_scores(shared_data, data_root, tmp_path, monkeypatch):
    monkeypatch.setenv("DBDBENCH_CACHE", str(tmp_path / "cache"))
    clean_json, again_json = tmp_path / "clean.json", tmp_path / "again.json"
    assert _evaluate(shared_data, data_root, "--json", str(clean_json)).exit_code == 0
    entries = sorted((tmp_path / "cache" / "gt").glob("*.gt"))
    assert len(entries) == 100
    for entry in entries:  # an interrupted copy of the cache folder
        entry.write_bytes(entry.read_bytes()[: entry.stat().st_size * 2 // 3])
    assert _evaluate(shared_data, data_root, "--json", str(again_json)).exit_code == 0
    clean, again = json.loads(clean_json.read_text()), json.loads(again_json.read_text())
    assert round(clean["scores"]["max_f"], 3) == 0.914
    assert again["scores"] == clean["scores"]


def test_verify_checks_the_gt_and_reports_missing_photos(data_root, shared_data, tmp_path):
    res = CliRunner().invoke(main, ["datasets", "--data-root", str(data_root), "verify", "CUHK-TE-1"])
    assert res.exit_code == 0, res.output
    assert "CUHK-TE-1: ok (100 GT files, digests match the registry)" in res.output
    assert "note: CUHK-TE-1: 98 of 100 photos missing" in res.output  # 2 of the test photos are public
    root = _copy_te1(shared_data, tmp_path / "xu100", lambda stem, arr: 255 - arr)
    res = CliRunner().invoke(main, ["datasets", "--data-root", str(root), "verify", "CUHK-TE-1"])
    assert res.exit_code == 2 and "problem: CUHK-TE-1: 100 of 100 GT masks" in res.output and "xu100" in res.output
