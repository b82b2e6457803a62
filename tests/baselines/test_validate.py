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
from baselines.train import TrainConfig, train  # noqa: E402
from baselines.validate import BestTracker, Validator, headline_metric  # noqa: E402
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


def test_training_validates_logs_and_keeps_the_best(tmp_path: Path):
    write_toy_dataset(tmp_path, "TOY-VAL", n=6, gt_white="sharp")  # inverted GT files: polarity is honoured
    out = tmp_path / "run"
    cfg = TrainConfig(method="dpn", train_set="TOY-VAL", out=out, data_root=tmp_path, iterations=4, batch_size=2,
                      input_size=32, pretrained=False, workers=0, progress=False, seed=3, val_set="TOY-VAL",
                      val_every=2, val_protocol="hifst")
    result = train(cfg)
    rows = [json.loads(line) for line in (out / "val_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [2, 4]
    assert all(r["metric"] == "max_f" and r["protocol"] == "hifst" and r["n_images"] == 6 for r in rows)
    best = max(rows, key=lambda r: r["value"])
    assert result.best == {"protocol": "hifst", "metric": "max_f", "value": best["value"], "step": best["step"]}
    assert load_checkpoint(out / "best.pt")["val"] == result.best
    # the last validation equals the numpy Evaluator on maps made as `dbdbench predict` writes them
    assert rows[-1]["scores"] == _numpy_scores(result.model, tmp_path / "TOY-VAL", "hifst")


def _numpy_scores(model, folder: Path, protocol: str) -> dict:
    stems = [f"img{i:02d}" for i in range(6)]
    photos = [read_image(folder / "image" / f"{s}.png") for s in stems]
    x = torch.stack([normalise_image(cv2.resize(p, (32, 32), interpolation=cv2.INTER_LINEAR)) for p in photos])
    model.eval()
    with torch.no_grad():
        prob = model(x).float()
    ev = Evaluator(protocol)
    for s, p, photo in zip(stems, prob, photos, strict=True):
        full = F.interpolate(p[None], size=photo.shape[:2], mode="bilinear", align_corners=False)[0, 0]
        pred = np.rint(np.clip(full.numpy().astype(np.float64), 0, 1) * 255).astype(np.uint8)  # io.write_map
        ev.update(pred, 255 - read_map(folder / "gt" / f"{s}.png"))  # GT white = sharp
    return {k: (None if v != v else v) for k, v in ev.compute().scores.items()}


def test_validator_refuses_bad_settings(tmp_path: Path):
    write_toy_dataset(tmp_path, "TOY-VAL2", n=2)
    with pytest.raises(ValueError, match="val_every must be positive"):
        Validator("TOY-VAL2", tmp_path, 32, "dbdbench", None, 0, 2, 0, 1, 0, tmp_path)
    with pytest.raises(KeyError, match="Unknown protocol"):
        Validator("TOY-VAL2", tmp_path, 32, "nope", None, 1, 2, 0, 1, 0, tmp_path)
