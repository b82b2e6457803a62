"""DDP on CPU: two gloo processes train 2 steps and must end with identical replicas and exact validation scores."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
mp = pytest.importorskip("torch.multiprocessing")

from _toy_dataset import ddp_worker, write_toy_dataset  # noqa: E402

from baselines.nets import create_model  # noqa: E402
from baselines.predict import collect_images, predict_net  # noqa: E402
from dbdbench.evaluate import evaluate_folder  # noqa: E402


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.skipif(not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
                    reason="torch.distributed with gloo is not available in this build")
def test_two_gloo_processes_keep_identical_replicas(tmp_path: Path):
    write_toy_dataset(tmp_path, "TOY-DDP", n=6)
    out = tmp_path / "run"
    mp.spawn(ddp_worker, args=(2, _free_port(), str(tmp_path), str(out)), nprocs=2, join=True)
    states = [torch.load(out / f"rank{r}.pt", weights_only=True) for r in range(2)]
    torch.manual_seed(0)  # the run's seed: the initial weights before the two steps
    init = create_model("dpn").state_dict()
    changed = 0
    for key, value in states[0].items():
        assert torch.equal(value, states[1][key]), f"replicas differ at {key}"  # parameters and BN statistics
        changed += not torch.equal(value, init[key])
    assert changed > 0.5 * len(init), "the two steps did not update the weights"
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert [row["step"] for row in log] == [1, 2]  # rank 0 alone writes the log
    ckpt = torch.load(out / "last.pt", weights_only=True)
    assert ckpt["step"] == 2 and all(torch.equal(ckpt["model"][k], v) for k, v in states[0].items())
    # validation with the images sharded over the two processes equals `evaluate` on `predict`'s maps
    (row,) = [json.loads(line) for line in (out / "val_log.jsonl").read_text().splitlines()]
    images = collect_images(dataset="TOY-DDP", data_root=tmp_path)
    predict_net("dpn", images, tmp_path / "maps", out / "last.pt", batch_size=1, device="cpu", progress=False)
    res = evaluate_folder(tmp_path / "maps", "TOY-DDP", "dbdbench", data_root=tmp_path)
    assert row["n_images"] == 6 and row["scores"] == {k: (None if v != v else v) for k, v in res.scores.items()}
