"""The contributor's recipes, proven: one metric, protocol, dataset and model registered at runtime reach every
consumer, and no per-metric, per-protocol or per-model list lives outside its registry."""

from __future__ import annotations

import ast
import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from dbdbench.cli import main
from dbdbench.datasets import DatasetSpec, register_dataset, unregister_dataset
from dbdbench.metrics import (
    METRICS,
    PROTOCOLS,
    Evaluator,
    MetricInfo,
    Protocol,
    register_metric,
    register_protocol,
    unregister_metric,
    unregister_protocol,
)
from dbdbench.metrics import functional as F

ROOT = Path(__file__).resolve().parents[1]
N_IMAGES, SHAPE = 6, (24, 32)


def balanced_accuracy(r) -> np.ndarray:
    """Per-image (TPR + TNR) / 2 at the protocol's fixed threshold: the demonstration metric."""
    tp, fp, fn, tn = r.single("binary")
    return (F.recall(tp, fn) + F.safe_divide(tn, np.add(tn, fp))) / 2


def reference_bacc(pred: np.ndarray, gt: np.ndarray) -> float:
    """The same score written from its definition on pixels (map >= 0.5, mask >= 0.5)."""
    p, g = pred / 255 >= 0.5, gt / 255 >= 0.5
    return float((np.mean(p[g]) + np.mean(~p[~g])) / 2)


def _write_dataset(root: Path) -> list[tuple[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    (root / "TOY-REG" / "image").mkdir(parents=True)
    (root / "TOY-REG" / "gt").mkdir(parents=True)
    masks = []
    for i in range(N_IMAGES):
        gt = np.zeros(SHAPE, np.uint8)
        gt[:, : 8 + 3 * i] = 255
        photo = rng.integers(0, 256, (*SHAPE, 3), dtype=np.uint8)
        photo[gt > 0] = cv2.GaussianBlur(photo, (0, 0), 3)[gt > 0]
        cv2.imwrite(str(root / "TOY-REG" / "image" / f"img{i}.png"), photo)
        cv2.imwrite(str(root / "TOY-REG" / "gt" / f"img{i}.png"), gt)
        masks.append((f"img{i}", gt))
    return masks


def _write_maps(folder: Path, masks, noise: float, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    maps = {}
    for stem, gt in masks:
        m = np.clip(np.where(gt > 0, 190, 60) + rng.normal(0, noise, gt.shape), 0, 255).astype(np.uint8)
        cv2.imwrite(str(folder / f"{stem}.png"), m)
        maps[stem] = m
    return maps


@pytest.fixture
def registered(tmp_path: Path):
    """One metric, one protocol and one dataset added as a contributor would, removed afterwards.

    Their names (and the net's below) start with "toy", so that a contributor who follows a recipe of
    CONTRIBUTING.md in the repository itself does not collide with them.
    """
    metric = register_metric(MetricInfo(
        "toyreg_bacc", "BAcc", True, "balanced accuracy at the fixed threshold, mean over images",
        per_image=balanced_accuracy, row=True, threshold="binary", latex="BAcc", reference="Brodersen et al. 2010"))
    proto = register_protocol(Protocol(
        name="toyproto", description="a protocol added at runtime", source="tests/test_registries.py",
        metrics=("mae", "max_f", "toyreg_bacc"), primary="toyreg_bacc", headline="toyreg_bacc",
        columns=("toyreg_bacc", "mae")))
    masks = _write_dataset(tmp_path / "data")
    spec = register_dataset(DatasetSpec("TOY-REG", "TOY-REG", folder="TOY-REG", n_images=N_IMAGES, gt_white="blur"))
    try:
        yield metric, proto, spec, masks
    finally:
        unregister_dataset(spec.name)
        unregister_protocol(proto.name)
        unregister_metric(metric.key)


def _cli(*args) -> str:
    res = CliRunner().invoke(main, [str(a) for a in args])
    assert res.exit_code == 0, res.output
    return res.output


def test_a_registered_metric_protocol_and_dataset_reach_every_consumer(registered, tmp_path: Path):
    _, proto, _, masks = registered
    gts = dict(masks)
    data = tmp_path / "data"
    maps = {}
    for method, noise in (("good", 20), ("poor", 90)):
        maps[method] = _write_maps(tmp_path / method, masks, noise, seed=len(method))
        _cli("evaluate", tmp_path / method, "-d", "TOY-REG", "-p", "toyproto", "--pred-white", "blur",
             "--data-root", data, "--json", tmp_path / f"{method}.json", "--per-image", tmp_path / f"{method}.csv",
             "--ci", "--n-boot", 200, "--method", method, "-q")
    result = json.loads((tmp_path / "good.json").read_text())
    expected = [reference_bacc(maps["good"][row["name"]], gts[row["name"]]) for row in result["per_image"]]
    # Evaluator results and the per-image rows and CSV
    assert result["scores"]["toyreg_bacc"] == pytest.approx(np.mean(expected), abs=1e-12)
    assert [row["toyreg_bacc"] for row in result["per_image"]] == pytest.approx(expected, abs=1e-12)
    with open(tmp_path / "good.csv", newline="") as fh:
        assert [float(r["toyreg_bacc"]) for r in csv.DictReader(fh)] == pytest.approx(expected, abs=1e-12)
    # evaluate --ci recomputes it on resamples of images
    low, high = result["meta"]["ci"]["intervals"]["toyreg_bacc"]
    assert low <= result["scores"]["toyreg_bacc"] <= high and low < high
    # the table shows the protocol's default columns, with the metric's label
    table = _cli("table", tmp_path / "good.json", tmp_path / "poor.json", "--format", "markdown")
    assert "BAcc" in table and "max F" not in table
    # compare: paired statistics of the new score
    _cli("compare", tmp_path / "poor.json", tmp_path / "good.json", "--metrics", "toyreg_bacc",
         "--json", tmp_path / "c.json")
    assert "toyreg_bacc" in (tmp_path / "c.json").read_text()
    # the numpy and torch evaluators agree on it
    ev = Evaluator(proto)
    for stem, gt in masks:
        ev.update(maps["good"][stem], gt > 0, name=stem)
    assert ev.compute().scores["toyreg_bacc"] == result["scores"]["toyreg_bacc"]
    torch = pytest.importorskip("torch")
    from dbdbench.metrics import TorchEvaluator

    tev = TorchEvaluator(proto)
    tev.update([torch.from_numpy(maps["good"][s]) for s, _ in masks], [torch.from_numpy(g > 0) for _, g in masks])
    assert tev.compute().scores["toyreg_bacc"] == result["scores"]["toyreg_bacc"]


def test_a_registered_model_trains_and_predicts_with_its_own_defaults(registered, tmp_path: Path):
    torch = pytest.importorskip("torch")
    from torch import nn

    from baselines.nets import list_models, model_config, register_model, unregister_model
    from baselines.nets.recipe import TrainRecipe
    from baselines.train import TrainConfig, train

    class ToyRegNet(nn.Module):
        recipe = TrainRecipe(optimizer="adam", iterations=2, batch_size=2, input_size=16, augment=(),
                             source="tests/test_registries.py")

        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 1, 3, padding=1)

        def forward(self, x):
            logits = self.conv(x)
            return [logits] if self.training else torch.sigmoid(logits)

        def loss(self, outputs, target):
            return nn.functional.binary_cross_entropy_with_logits(outputs[0], target)

    def toyregnet(pretrained=False, **kwargs):
        """No ImageNet trunk: the config says so, and training starts from random weights by default."""
        model = ToyRegNet()
        if pretrained not in (False, None):
            model.load_state_dict(torch.load(pretrained, map_location="cpu", weights_only=True)["model"])
        return model

    register_model(recipe=ToyRegNet.recipe, pretrained=False)(toyregnet)
    try:
        assert "toyregnet" in list_models(predicts=True) and model_config("toyregnet").pretrained is False
        out = tmp_path / "run"
        train(TrainConfig("toyregnet", "TOY-REG", out=out, data_root=tmp_path / "data", device="cpu", workers=0,
                          progress=False, val_set="TOY-REG", val_protocol="toyproto", val_every=1))
        assert json.loads((out / "val_log.jsonl").read_text().splitlines()[-1])["metric"] == "toyreg_bacc"
        _cli("predict", "--method", "toyregnet", "--weights", out / "last.pt", "--dataset", "TOY-REG", "--data-root",
             tmp_path / "data", "--out", tmp_path / "maps", "--device", "cpu", "--no-progress")
        assert len(list((tmp_path / "maps").glob("*.png"))) == N_IMAGES
        _cli("evaluate", tmp_path / "maps", "-d", "TOY-REG", "-p", "toyproto", "--data-root", tmp_path / "data", "-q")
        bad = CliRunner().invoke(main, ["predict", "--method", "nonet", str(tmp_path), "--out", str(tmp_path / "x")])
        assert bad.exit_code == 2 and "toyregnet" in bad.output
    finally:
        unregister_model("toyregnet")


def test_registering_the_name_of_a_net_file_is_refused_at_once_naming_its_module():
    """A net registered at runtime before the models were listed still collides with a net file of
    ``baselines/nets/`` at its own registration, not later in whatever lists the models."""
    pytest.importorskip("torch")
    code = ("from baselines.nets import register_model\n"
            "from baselines.nets.recipe import TrainRecipe\n"
            "def dpn(pretrained=False): pass\n"
            "register_model(recipe=TrainRecipe())(dpn)\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT,
                         timeout=300)
    assert res.returncode != 0
    assert "model 'dpn' is already registered (by baselines.nets.dpn)" in res.stderr


# ------------------------------------------------------------------------------ lists outside registries

#: the registries' own files (each net file declares its own model)
HOMES = ("dbdbench/metrics/info.py", "dbdbench/metrics/protocols.py", "dbdbench/submissions/schema.py",
         "baselines/nets/")


def _names() -> dict[str, set[str]]:
    names = {"metric": set(METRICS), "protocol": set(PROTOCOLS)}
    try:
        from baselines.nets import list_models
    except ImportError:  # torch missing: the nets are not importable
        return names
    return names | {"model": set(list_models())}


def _docstrings(tree: ast.AST) -> set[int]:
    kinds = (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    return {id(n.body[0].value) for n in ast.walk(tree) if isinstance(n, kinds) and n.body
            and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}


def _lists_in(path: Path, names: dict[str, set[str]], code: bool) -> list[str]:
    """Literal collections naming two or more entries of one registry and strings naming three or more (help
    texts, messages; docstrings too when they name a whole registry) in ``code``; in tests, only whole lists."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs, found = _docstrings(tree), []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Tuple, ast.List, ast.Set, ast.Dict)):
            elts = node.keys if isinstance(node, ast.Dict) else node.elts
            words = {e.value for e in elts if isinstance(e, ast.Constant) and isinstance(e.value, str)}
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            words = set(re.findall(r"\w+", node.value))
        else:
            continue
        for kind, known in names.items():
            hit = words & known
            whole = len(known) >= 3 and hit == known
            listed = len(hit) >= (2 if not isinstance(node, ast.Constant) else 3) and id(node) not in docs
            if whole or (code and listed):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {kind}s {sorted(hit)}")
    return found


def test_no_metric_protocol_or_model_list_outside_its_registry():
    names = _names()
    found = []
    for folder in ("dbdbench", "baselines", "tests"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if not rel.startswith(HOMES):
                found += _lists_in(path, names, code=folder != "tests")
    assert not found, "lists that belong in a registry:\n" + "\n".join(found)


def test_docs_list_every_registered_protocol_and_model():
    protocols = (ROOT / "docs" / "protocols.md").read_text(encoding="utf-8")
    header = next(line for line in protocols.splitlines() if line.startswith("| setting |"))
    assert re.findall(r"`([^`]+)`", header) == list(PROTOCOLS)
    reports = (ROOT / "docs" / "reports.md").read_text(encoding="utf-8")
    columns = reports[reports.index("**Default columns**"):reports.index("**Adaptive scores")]
    assert re.findall(r"^\s*\| `([\w:-]+)` \|", columns, flags=re.M) == list(PROTOCOLS)
    cards = "".join(p.read_text(encoding="utf-8") for p in (ROOT / "docs" / "models").glob("*.md"))
    for model in _names().get("model", ()):  # each net's model card names its create_model call
        assert f'create_model("{model}"' in cards, model


def test_every_model_config_gives_a_valid_test_pipeline():
    pytest.importorskip("torch")
    from baselines.nets import list_models, model_config
    from baselines.pipeline import default_pipeline, trained_pipeline

    for name in list_models():
        cfg = model_config(name)
        size = cfg.recipe.input_size
        assert default_pipeline(name, size).input_size == (size if cfg.input_size is None else cfg.input_size)
        assert trained_pipeline(name, size).library == "opencv"  # the trainer's decoding, whatever the authors'
