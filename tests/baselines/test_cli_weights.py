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


def _not_checkpoints(folder: Path) -> list[Path]:
    """A JSON file, a .pt cut in half, an empty file: none is a torch weights file."""
    import torch

    torch.save({"w": torch.zeros(64)}, folder / "whole.pt")
    data = (folder / "whole.pt").read_bytes()
    files = [folder / "weights.json", folder / "truncated.pt", folder / "empty.pt"]
    files[0].write_text('{"model": "dpn"}')
    files[1].write_bytes(data[: len(data) // 2])
    files[2].write_bytes(b"")
    return files


def _one_line_error(code: int, out: str, path: Path, expected: str) -> None:
    assert code == 2, out
    lines = out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), out
    assert str(path) in out and expected in out and "Traceback" not in out and "weights_only" not in out, out


def test_files_that_are_not_checkpoints_give_one_line(root: Path):
    for path in _not_checkpoints(root):
        res = CliRunner().invoke(main, ["predict", "--method", "dpn", str(root / "TOY-WEIGHTS" / "image"), "--out",
                                        str(root / "maps"), "--weights", str(path), "--no-progress"])
        _one_line_error(res.exit_code, res.output, path, "is not a dpn checkpoint")
        _one_line_error(*_train(root, "--method", "dpn", "--pretrained", "none", "--resume", path), path,
                        "is not a checkpoint of `dbdbench train`")
        _one_line_error(*_train(root, "--method", "dpn", "--pretrained", path), path,
                        "is not a PyTorch weights file")
    assert not (root / "maps").exists()


def test_predict_refuses_a_trunk_for_the_whole_net_with_exit_2(root: Path):
    import torch

    from baselines.nets import create_model

    trunk = {k[len("backbone."):]: v for k, v in create_model("dpn").state_dict().items()
             if k.startswith("backbone.features.")}
    torch.save(trunk, root / "vgg16.pth")
    res = CliRunner().invoke(main, ["predict", "--method", "dpn", str(root / "TOY-WEIGHTS" / "image"), "--out",
                                    str(root / "maps"), "--weights", str(root / "vgg16.pth"), "--no-progress"])
    _one_line_error(res.exit_code, res.output, root / "vgg16.pth", "does not hold the whole dpn net")
