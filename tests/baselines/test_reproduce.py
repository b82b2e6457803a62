"""``dbdbench reproduce`` end to end at toy scale: train, predict, score, and an entry ``dbdbench check`` accepts."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

pytest.importorskip("torch")
synth = pytest.importorskip("dbdbench.synth")

from baselines.reproduce import RECIPES, get_recipe  # noqa: E402
from dbdbench.cli import main  # noqa: E402
from dbdbench.submissions import load_submissions  # noqa: E402


def _cli(*args) -> str:
    res = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.output


@pytest.mark.slow
def test_dffnet_cuhk_at_toy_scale_writes_an_entry_that_check_accepts(tmp_path: Path):
    root = tmp_path / "data"
    synth.generate(root / "SYN-DEMO", n=24, seed=0, size=320)
    out, subs = tmp_path / "run", tmp_path / "submissions"
    subs.mkdir()
    _cli("reproduce", "dffnet-cuhk", "--out", out, "--submissions", subs, "--data-root", root, "--device", "cpu",
         "--train-set", "SYN-DEMO", "--test-sets", "SYN-DEMO", "--iterations", 2, "--batch-size", 2,
         "--input-size", 64, "--pretrained", "none", "--workers", 0, "--no-progress")
    entry = out / "submissions" / "dffnet-ddffnet-t1-reproduced"
    assert sorted(p.name for p in entry.iterdir()) == ["SYN-DEMO.ddffnet.json", "meta.json"]
    assert (subs / entry.name / "SYN-DEMO.ddffnet.json").is_file()  # copied beside the reported entries
    meta = json.loads((entry / "meta.json").read_text())
    assert meta["kind"] == "rescored" and meta["rescore"]["maps"] == {"SYN-DEMO.ddffnet": "SYN-DEMO"}
    assert "Smoke run, NOT the paper's setting" in meta["notes"] and "iterations=2" in meta["notes"]
    assert meta["authors"][0] == "Y. Jin" and meta["training_data"] == ["SYN-DEMO"]
    result = json.loads((entry / "SYN-DEMO.ddffnet.json").read_text())
    assert result["protocol"] == "ddffnet" and result["n_images"] == 24 and result["meta"]["pred_white"] == "blur"
    maps_meta = json.loads((out / "maps" / "SYN-DEMO" / "meta.json").read_text())
    assert maps_meta["pipeline"]["input_size"] == 64
    sha = hashlib.sha256((out / "train" / "last.pt").read_bytes()).hexdigest()  # the weights the maps came from
    assert meta["rescore"]["weights_sha256"] == maps_meta["weights_sha256"] == sha
    # the entry is valid and its scores re-compute from the maps (check re-scores when --maps-root is given)
    res = CliRunner().invoke(main, ["check", str(out / "submissions"), "--maps-root", str(out / "maps"),
                                    "--data-root", str(root)])
    assert res.exit_code == 0, res.output
    assert "not reproduced" not in res.output
    (sub,) = load_submissions(out / "submissions")
    assert sub.kind == "rescored"


def test_recipes_name_registered_datasets_protocols_and_reported_entries():
    from dbdbench.datasets import get_dataset
    from dbdbench.metrics.protocols import get_protocol

    repo = Path(__file__).resolve().parents[2] / "submissions"
    for recipe in RECIPES.values():
        for name in (recipe.train_set, *recipe.test_sets):
            get_dataset(name)
        get_protocol(recipe.protocol)
        reported = json.loads((repo / recipe.reported / "meta.json").read_text())
        assert reported["kind"] == "reported" and recipe.train_set in reported["training_data"]
        assert {f"{s}.json" for s in recipe.test_sets} <= {p.name for p in (repo / recipe.reported).iterdir()}
    with pytest.raises(KeyError, match="valid: br2net-cuhk, ddffnet-cuhk, dffnet-cuhk"):
        get_recipe("nope")


def test_ddffnet_recipe_without_midas_weights_exits_2_naming_the_option(tmp_path: Path):
    res = CliRunner().invoke(main, ["reproduce", "ddffnet-cuhk", "--out", str(tmp_path), "--pretrained", "none"])
    assert res.exit_code == 2 and "pass --depth-weights midas_v21-f6b98070.pt" in res.output
    res = CliRunner().invoke(main, ["reproduce", "dffnet-cuhk", "--out", str(tmp_path), "--train-set", "NO-SUCH"])
    assert res.exit_code == 2 and "NO-SUCH" in res.output
