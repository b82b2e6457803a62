"""The trainer's validation: protocol scores on the device, the best checkpoint by the headline score."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import torch.nn.functional as F  # noqa: E402
from _toy_dataset import write_toy_dataset  # noqa: E402

from baselines.checkpoint import load_checkpoint  # noqa: E402
from baselines.data import normalise_image  # noqa: E402
from baselines.pipeline import trained_pipeline  # noqa: E402
from baselines.predict import collect_images, predict_net  # noqa: E402
from baselines.train import TrainConfig, train  # noqa: E402
from baselines.validate import BestTracker, Validator, headline_metric  # noqa: E402
from dbdbench.evaluate import evaluate_folder  # noqa: E402
from dbdbench.io import read_image, read_map  # noqa: E402
from dbdbench.metrics import METRICS, Evaluator, get_protocol, list_protocols  # noqa: E402


def test_headline_per_protocol():
    for name in list_protocols():  # the protocol's own field, a score it reports
        key = get_protocol(name).headline
        assert headline_metric(name) == (key, METRICS[key].higher_is_better)
    assert headline_metric("ddffnet") == ("bin_f", True)
    assert headline_metric("hifst") == ("max_f", True)
    assert headline_metric("dbdbench", "mae") == ("mae", False)
    with pytest.raises(ValueError, match="not reported by protocol 'hifst'"):
        headline_metric("hifst", "auc")
    tracker = BestTracker("mae", higher_is_better=False)
    assert tracker.offer(0.3, 1) and not tracker.offer(0.4, 2) and not tracker.offer(float("nan"), 3)
    assert tracker.offer(0.2, 4) and (tracker.best, tracker.step) == (0.2, 4)


def _config(root: Path, out: Path, name: str, **kw) -> TrainConfig:
    base = dict(method="dpn", train_set=name, out=out, data_root=root, iterations=4, batch_size=2, input_size=32,
                pretrained=False, workers=0, progress=False, seed=3, val_set=name, val_every=2,
                val_protocol="hifst", model_kwargs={"width": 16})
    return TrainConfig(**{**base, **kw})


def _rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "val_log.jsonl").read_text().splitlines()]


def test_training_validates_logs_and_keeps_the_best(tmp_path: Path):
    write_toy_dataset(tmp_path, "TOY-VAL", n=6, gt_white="sharp")  # inverted GT files: polarity is honoured
    out = tmp_path / "run"
    result = train(_config(tmp_path, out, "TOY-VAL"))
    rows = _rows(out)
    assert [r["step"] for r in rows] == [2, 4]
    assert all(r["metric"] == "max_f" and r["protocol"] == "hifst" and r["n_images"] == 6 for r in rows)
    best = max(rows, key=lambda r: r["value"])
    assert result.best == {"val_set": "TOY-VAL", "protocol": "hifst", "metric": "max_f", "value": best["value"],
                           "step": best["step"]}
    assert load_checkpoint(out / "best.pt")["val"] == result.best
    assert load_checkpoint(out / "last.pt")["val"] == result.best  # the tracker is part of every checkpoint
    # the last validation equals the numpy Evaluator on maps made as the test pipeline makes them
    assert rows[-1]["scores"] == _numpy_scores(result.model, tmp_path / "TOY-VAL", "hifst")


def _numpy_scores(model, folder: Path, protocol: str) -> dict:
    """Independent path: cv2 decode and resize, torchvision-equivalent normalisation, one batch, bilinear
    upsampling, ``round(255 p)`` in float32 (the trainer checkpoint's test pipeline), numpy Evaluator."""
    stems = [f"img{i:02d}" for i in range(6)]
    photos = [read_image(folder / "image" / f"{s}.png") for s in stems]
    x = torch.stack([normalise_image(cv2.resize(p, (32, 32), interpolation=cv2.INTER_LINEAR)) for p in photos])
    model.eval()
    with torch.no_grad():
        prob = model(x).float()
    ev = Evaluator(protocol)
    for s, p, photo in zip(stems, prob, photos, strict=True):
        full = F.interpolate(p[None], size=photo.shape[:2], mode="bilinear", align_corners=False)[0, 0]
        pred = np.rint(np.clip(full.numpy(), np.float32(0), np.float32(1)) * np.float32(255)).astype(np.uint8)
        ev.update(pred, 255 - read_map(folder / "gt" / f"{s}.png"))  # GT white = sharp
    return {k: (None if v != v else v) for k, v in ev.compute().scores.items()}


@pytest.mark.parametrize("protocol", ["dbdbench", "ddffnet"])
def test_validation_equals_evaluate_on_the_maps_predict_writes(tmp_path: Path, protocol: str):
    """The acceptance test: a validation score and `dbdbench evaluate` on `predict`'s maps, bit for bit."""
    write_toy_dataset(tmp_path, "TOY-EQ", n=5, size=(45, 61), gt_white="sharp")  # odd sizes: real upsampling
    out = tmp_path / "run"
    result = train(_config(tmp_path, out, "TOY-EQ", iterations=2, val_protocol=protocol, val_batch_size=3))
    images = collect_images(dataset="TOY-EQ", data_root=tmp_path)
    predict_net("dpn", images, tmp_path / "maps", out / "last.pt", batch_size=3, device="cpu", progress=False)
    res = evaluate_folder(tmp_path / "maps", "TOY-EQ", protocol, data_root=tmp_path)
    assert _rows(out)[-1]["scores"] == {k: (None if v != v else v) for k, v in res.scores.items()}
    # another pipeline (PIL decode and anti-aliased resize, nearest upsampling, floor): validation follows it
    other = {"library": "pil", "upsample": "nearest", "quantise": "floor"}
    pipe = trained_pipeline("dpn", 32).override(**other)
    val = Validator("TOY-EQ", tmp_path, pipe, protocol, None, 1, 3, 0, 1, 0, tmp_path / "other")
    val.begin(0)
    scores, _ = val.run(result.model, 2, torch.device("cpu"))
    predict_net("dpn", images, tmp_path / "maps2", out / "last.pt", batch_size=3, device="cpu", progress=False,
                **other)
    res2 = evaluate_folder(tmp_path / "maps2", "TOY-EQ", protocol, data_root=tmp_path)
    assert scores.scores == pytest.approx(res2.scores, rel=0, abs=0, nan_ok=True)
    assert scores.scores != pytest.approx(res.scores, rel=0, abs=0, nan_ok=True)  # the pipeline matters


def test_resume_restores_the_best_score_tracker_and_truncates_the_logs(tmp_path: Path):
    write_toy_dataset(tmp_path, "TOY-RES", n=4)
    full = train(_config(tmp_path, tmp_path / "full", "TOY-RES", val_every=1, save_every=2))
    out = tmp_path / "resumed"
    train(_config(tmp_path, out, "TOY-RES", val_every=1, save_every=2, stop_at=2))
    with open(out / "val_log.jsonl", "a") as fh:  # a run killed after validating step 3, before saving it
        fh.write(json.dumps({"step": 3, "value": 0.0, "best": False}) + "\n")
    with open(out / "train_log.jsonl", "a") as fh:
        fh.write(json.dumps({"step": 3, "loss": 0.0}) + "\n")
    rest = train(_config(tmp_path, out, "TOY-RES", val_every=1, save_every=2, resume="auto"))
    assert _rows(out) == _rows(tmp_path / "full")  # steps, scores and best flags as if never interrupted
    assert [json.loads(ln)["step"] for ln in (out / "train_log.jsonl").read_text().splitlines()] == [1, 2, 3, 4]
    assert rest.best == full.best
    a, b = load_checkpoint(tmp_path / "full" / "best.pt"), load_checkpoint(out / "best.pt")
    assert a["val"] == b["val"] and a["step"] == b["step"]
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])


def test_a_resumed_run_never_replaces_best_pt_by_a_worse_model(tmp_path: Path):
    """best.pt written after the resumed checkpoint (a kill between saves) with a score no validation reaches:
    the resumed run keeps it; without the tracker it would replace it at its first validation."""
    write_toy_dataset(tmp_path, "TOY-KEEP", n=4)
    out = tmp_path / "run"
    train(_config(tmp_path, out, "TOY-KEEP", val_every=1, save_every=2, stop_at=2))
    best = load_checkpoint(out / "best.pt")
    best["val"] = {**best["val"], "value": 1.0, "step": 3}  # max F cannot exceed 1
    torch.save(best, out / "best.pt")
    before = (out / "best.pt").read_bytes()
    with pytest.warns(UserWarning, match="stays the best"):
        result = train(_config(tmp_path, out, "TOY-KEEP", val_every=1, save_every=2, resume="auto"))
    assert (out / "best.pt").read_bytes() == before
    assert [(r["step"], r["best"]) for r in _rows(out)][2:] == [(3, False), (4, False)]
    assert (result.best["value"], result.best["step"]) == (1.0, 3)
    with pytest.raises(ValueError, match="resume with the same --val-set/--val-protocol/--val-metric"):
        train(_config(tmp_path, out, "TOY-KEEP", val_every=1, resume="auto", iterations=4, val_protocol="dbdbench"))


def test_validator_refuses_bad_settings(tmp_path: Path):
    write_toy_dataset(tmp_path, "TOY-VAL2", n=2)
    pipe = trained_pipeline("dpn", 32)
    with pytest.raises(ValueError, match="val_every must be positive"):
        Validator("TOY-VAL2", tmp_path, pipe, "dbdbench", None, 0, 2, 0, 1, 0, tmp_path)
    with pytest.raises(ValueError, match="val_batch_size must be positive"):
        Validator("TOY-VAL2", tmp_path, pipe, "dbdbench", None, 1, 0, 0, 1, 0, tmp_path)
    with pytest.raises(KeyError, match="Unknown protocol"):
        Validator("TOY-VAL2", tmp_path, pipe, "nope", None, 1, 2, 0, 1, 0, tmp_path)
