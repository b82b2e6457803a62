"""The published numbers, reproduced through ``dbdbench evaluate`` on the real data in ../shared/data."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from dbdbench.cli import main


def test_split_list_matches_the_source(shared_data):
    from dbdbench.datasets import read_split

    assert read_split("CUHK-TE-1") == (shared_data / "cuhk" / "splits" / "cuhk-te-1.txt").read_text().split()
    tr = (shared_data / "cuhk" / "splits" / "cuhk-tr-1.txt").read_text().split()
    assert len(tr) == 604 and not set(tr) & set(read_split("CUHK-TE-1"))


def test_cuhk_splits_resolve(data_root, shared_data):
    from dbdbench.datasets import get_dataset

    counts = {n: len(get_dataset(n).gt_files(data_root)) for n in ("CUHK", "CUHK-DEFOCUS", "CUHK-TE-1", "CUHK-TR-1")}
    assert counts == {"CUHK": 1000, "CUHK-DEFOCUS": 704, "CUHK-TE-1": 100, "CUHK-TR-1": 604}
    tr = set((shared_data / "cuhk" / "splits" / "cuhk-tr-1.txt").read_text().split())
    assert set(get_dataset("CUHK-TR-1").gt_files(data_root)) == tr


def test_ddffnet_table1_through_the_cli(data_root, shared_data, tmp_path):
    out = tmp_path / "hifst.json"
    res = CliRunner().invoke(main, ["evaluate", str(shared_data / "hifst" / "cuhk_maps"), "--dataset", "CUHK-TE-1",
                                    "--protocol", "ddffnet", "--pred-white", "sharp", "--data-root", str(data_root),
                                    "--json", str(out), "-q"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "0.2228" in res.output and "0.8030" in res.output
    scores = json.loads(out.read_text())["scores"]
    assert round(scores["mae"], 3) == 0.223 and round(scores["bin_f"], 3) == 0.803


@pytest.mark.slow
def test_hifst_max_f_on_all_cuhk_through_the_cli(data_root, shared_data, tmp_path):
    out = tmp_path / "hifst.json"
    res = CliRunner().invoke(main, ["evaluate", str(shared_data / "hifst" / "cuhk_maps"), "--dataset", "CUHK",
                                    "--protocol", "hifst", "--pred-white", "sharp", "--data-root", str(data_root),
                                    "--json", str(out), "-q", "-j", "2"])  # fmt: skip
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    assert data["n_images"] == 1000 and round(data["scores"]["max_f"], 3) == 0.821


def test_verify_cuhk_te_1(data_root):
    res = CliRunner().invoke(main, ["datasets", "--data-root", str(data_root), "verify", "CUHK-TE-1"])
    # only 2 of the 100 test photos are public here: verify names the missing ones, but evaluation needs only the GT
    assert res.exit_code == 0 and "98 of 100 photos missing" in res.output and "out_of_focus0037" in res.output
    listing = CliRunner().invoke(main, ["datasets", "--data-root", str(data_root)])
    assert listing.exit_code == 0 and "CUHK-TE-1      found" in listing.output


def test_unmatched_suffix_on_hifst_maps_is_refused_with_the_flag_to_pass(data_root, shared_data, tmp_path):
    from dbdbench.datasets import read_split

    preds = tmp_path / "mynet"
    preds.mkdir()
    for stem in read_split("CUHK-TE-1"):
        src = shared_data / "hifst" / "cuhk_maps" / f"{stem}_HiFSTBlurMap.png"
        (preds / f"{stem}_mynet_v2.png").write_bytes(src.read_bytes())
    args = ["evaluate", str(preds), "-d", "CUHK-TE-1", "--pred-white", "sharp", "--data-root", str(data_root), "-q"]
    for extra in ([], ["--allow-missing"]):  # with --allow-missing it used to score 100 empty maps, exit 0
        res = CliRunner().invoke(main, [*args, *extra])
        assert res.exit_code == 2 and "pass --suffix _mynet_v2" in res.output, res.output
    out, ref = tmp_path / "a.json", tmp_path / "b.json"
    assert CliRunner().invoke(main, [*args, "--suffix", "_mynet_v2", "--json", str(out)]).exit_code == 0
    clean = ["evaluate", str(shared_data / "hifst" / "cuhk_maps"), *args[2:], "--json", str(ref)]
    assert CliRunner().invoke(main, clean).exit_code == 0
    assert json.loads(out.read_text())["scores"] == json.loads(ref.read_text())["scores"]
