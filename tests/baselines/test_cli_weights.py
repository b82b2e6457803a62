"""Weights the command line cannot get: one line naming the option to pass, exit code 2, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

pytest.importorskip("torch")
from _toy_dataset import write_toy_dataset  # noqa: E402

from baselines.nets import backbones  # noqa: E402
from dbdbench.cli import main  # noqa: E402


def _train(root: Path, *args) -> tuple[int, str]:
    res = CliRunner().invoke(main, ["train", "--train-set", "TOY-WEIGHTS", "--data-root", str(root), "--out",
                                    str(root / "run"), "--workers", "0", "--no-progress", *map(str, args)])
    return res.exit_code, res.output


@pytest.fixture
def root(tmp_path: Path) -> Path:
    write_toy_dataset(tmp_path, "TOY-WEIGHTS", n=2, size=(32, 32))
    return tmp_path


def test_offline_imagenet_trunk_says_to_pass_a_file_or_none(root: Path, monkeypatch):
    monkeypatch.setattr(backbones, "_hub_reachable", lambda host="huggingface.co": False)
    code, out = _train(root, "--method", "br2net")  # default --pretrained imagenet
    assert code == 2, out
    assert "error: Cannot download the ImageNet weights" in out and "Traceback" not in out
    assert "`dbdbench train --pretrained FILE`" in out and "`--pretrained none`" in out


def test_missing_weight_files_name_their_option(root: Path):
    code, out = _train(root, "--method", "dpn", "--pretrained", root / "vgg16.pth")
    assert code == 2 and "--pretrained" in out and "vgg16.pth: no such file" in out and "'none'" in out
    code, out = _train(root, "--method", "dffnet", "--stage", "2", "--pretrained", "none")
    assert code == 2 and "--teacher" in out and "--depth-weights" in out
    code, out = _train(root, "--method", "dffnet", "--stage", "2", "--pretrained", "none",
                       "--teacher", root / "DFFNet.pth", "--depth-weights", root / "midas.pt")
    assert code == 2 and "--teacher" in out and "DFFNet.pth: no such file" in out


def test_predict_names_weights_and_method_for_a_wrong_file(root: Path):
    res = CliRunner().invoke(main, ["predict", "--method", "dpn", str(root / "TOY-WEIGHTS" / "image"), "--out",
                                    str(root / "maps"), "--weights", str(root / "none.pth")])
    assert res.exit_code == 2 and "--weights" in res.output and "none.pth does not exist" in res.output
