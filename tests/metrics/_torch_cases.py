"""Map/mask cases shared by the torch evaluator tests: random maps plus the values where rounding decides."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

from dbdbench.metrics import Evaluator, TorchEvaluator


def case_maps(dtype, rng: np.random.Generator, shape=(23, 29), n: int = 10) -> list[np.ndarray]:
    """P(blur) maps of ``dtype``: random, constant, tie values (k/255, 0.5, 0.65, Zhao's grid), 0/1, narrow range,
    all zero and (last) all one."""
    h, w = shape
    unit = [
        rng.random(shape),
        np.full(shape, 0.4),
        rng.integers(0, 256, shape) / 255,  # on the 8-bit grid: round/floor/search ties
        rng.choice([0.0, 0.05, 0.5, 0.65, 0.6499999999999999, 1.0], shape),
        (rng.random(shape) < 0.5).astype(np.float64),
        0.3 + 0.01 * rng.random(shape),
        np.zeros(shape),
        np.linspace(0, 1, h * w).reshape(shape),
    ]
    unit += [rng.random(shape) ** 3 for _ in range(n - len(unit) - 1)]
    unit.append(np.ones(shape))  # last: all blur, so an all-zero in-focus map for zhao (its last-image rule)
    if dtype == np.uint8:
        return [np.round(u * 255).astype(np.uint8) for u in unit[:n]]
    return [u.astype(dtype) for u in unit[:n]]


def case_masks(rng: np.random.Generator, shape=(23, 29), n: int = 10, kind: str = "bool") -> list[np.ndarray]:
    """Masks with an empty and a full one among random ones; ``kind`` bool, uint8 (soft) or float (soft)."""
    masks = [rng.random(shape) < rng.uniform(0.2, 0.8) for _ in range(n)]
    masks[1][:] = False
    masks[4][:] = True
    if kind == "uint8":
        return [np.where(m, rng.integers(100, 256, shape), rng.integers(0, 140, shape)).astype(np.uint8)
                for m in masks]
    if kind == "float":
        return [np.where(m, 0.3 + 0.7 * rng.random(shape), 0.2 * rng.random(shape)) for m in masks]
    return masks


def numpy_result(protocol: str, preds, gts, metrics=None, **kwargs):
    ev = Evaluator(protocol, metrics, **kwargs)
    for p, g in zip(preds, gts, strict=True):
        ev.update(p, g)
    return ev.compute()


def torch_result(protocol: str, preds, gts, device="cpu", batch: int = 4, metrics=None, **kwargs):
    """The TorchEvaluator fed ``preds``/``gts`` in batches of ``batch`` (stacked, or lists when sizes differ)."""
    ev = TorchEvaluator(protocol, metrics, **kwargs)
    for i in range(0, len(preds), batch):
        p = [torch.from_numpy(np.ascontiguousarray(x)).to(device) for x in preds[i : i + batch]]
        g = [torch.from_numpy(np.ascontiguousarray(x)).to(device) for x in gts[i : i + batch]]
        if len({x.shape for x in p}) == 1:
            ev.update(torch.stack(p)[:, None], torch.stack(g))
        else:
            ev.update(p, g)
    return ev.compute()


def assert_same(a, b) -> None:
    """Bit identity of two results: every score, curve point and per-image value (NaN where both are)."""
    da, db = a.to_dict(), b.to_dict()
    for key in ("scores", "curves"):
        assert da[key].keys() == db[key].keys()
        for k in da[key]:
            assert da[key][k] == db[key][k], (key, k, da[key][k], db[key][k])
    assert da["per_image"] == db["per_image"]
    assert da == db


@contextmanager
def _gloo_group(rank: int, world: int, port: int) -> Iterator[None]:
    """One rank of a gloo process group on this machine, one thread, destroyed on leaving."""
    import os

    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        yield
    finally:
        dist.destroy_process_group()


def ddp_metric_worker(rank: int, world: int, port: int, out: str) -> None:
    """``torch.multiprocessing.spawn`` target: one gloo rank scores its shard ``rank::world`` of the cases."""
    from dbdbench.metrics import EvaluatorMetric

    with _gloo_group(rank, world, port):
        preds, gts = ddp_cases()
        for protocol in ("dbdbench", "zhao"):
            metric = EvaluatorMetric(protocol)
            mine = list(range(rank, len(preds), world))  # a DistributedSampler(shuffle=False) without padding
            for i in range(0, len(mine), 2):
                batch = mine[i : i + 2]
                metric.update(torch.from_numpy(np.stack([preds[k] for k in batch])),
                              torch.from_numpy(np.stack([gts[k] for k in batch])))
            metric.compute().to_json(f"{out}/{protocol}-rank{rank}.json")


def ddp_empty_rank_worker(rank: int, world: int, port: int, out: str) -> None:
    """``spawn`` target: rank 0 scores every case, the other ranks none; then a metric that no rank feeds."""
    from dbdbench.metrics import EvaluatorMetric

    with _gloo_group(rank, world, port):
        preds, gts = ddp_cases()
        for protocol in ("dbdbench", "zhao"):
            metric = EvaluatorMetric(protocol)
            if rank == 0:
                metric.update(torch.from_numpy(np.stack(preds)), torch.from_numpy(np.stack(gts)), ids=range(len(preds)))
            metric.compute().to_json(f"{out}/{protocol}-rank{rank}.json")
        metric = EvaluatorMetric("dbdbench")
        try:
            metric.compute()
        except ValueError as exc:
            with open(f"{out}/none-rank{rank}.txt", "w") as fh:
                fh.write(str(exc))


def ddp_cases() -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Seven 8-bit maps and masks: an odd count, so the two shards differ in size."""
    rng = np.random.default_rng(2)
    return case_maps(np.uint8, rng, n=7), case_masks(rng, n=7)
