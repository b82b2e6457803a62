"""``dbdbench demo``: the README's main job, on the built-in synthetic data."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from dbdbench.cli import main


def _scores(out, method):
    return json.loads((out / "results" / f"{method}.json").read_text())["scores"]


def test_demo_with_the_builtin_predictor(tmp_path):
    out = tmp_path / "demo"
    res = CliRunner().invoke(main, ["demo", "--out", str(out), "--data-root", str(tmp_path), "--methods", "laplacian"])
    assert res.exit_code == 0, res.output
    assert "| laplacian |" in res.output and (out / "table.md").is_file()
    for name in ("curves.png", "curves.pdf", "roc.png", "roc.pdf"):
        assert (out / "figures" / name).stat().st_size > 10_000, name
    lap, const = _scores(out, "laplacian"), _scores(out, "constant")
    assert lap["auc"] > const["auc"] + 0.2 and lap["max_f"] > const["max_f"] + 0.1 and lap["mae"] < const["mae"]


@pytest.mark.slow
def test_full_demo_handcrafted_methods_beat_the_constant_map(tmp_path):
    out = tmp_path / "demo"
    res = CliRunner().invoke(main, ["demo", "--out", str(out), "--data-root", str(tmp_path)])
    assert res.exit_code == 0, res.output
    const = _scores(out, "constant")
    for method in ("hifst", "lbp"):
        s = _scores(out, method)
        assert s["auc"] > const["auc"] + 0.15 and s["max_f"] > const["max_f"] + 0.1, (method, s)
