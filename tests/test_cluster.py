"""``dbdbench evaluate`` on a Dask cluster: separate worker processes over tcp, relative paths, a worker killed
during the run, an unreachable scheduler and a cluster whose workers are all gone (:mod:`dbdbench.cluster`)."""

from __future__ import annotations

import json
import os
import socket
import time

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from dbdbench.cli import main

pytest.importorskip("distributed")
from distributed import Client, LocalCluster, WorkerPlugin  # noqa: E402

#: enough images for three chunks of eight, so that both workers get work
STEMS = [f"img{i:02d}" for i in range(24)]


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture
def many(tmp_path, monkeypatch):
    """A dataset MANY under ``tmp_path/data`` and P(blur) maps in ``tmp_path/preds``, built here."""
    rng = np.random.default_rng(1)
    (tmp_path / "data" / "MANY" / "gt").mkdir(parents=True)
    (tmp_path / "preds").mkdir()
    for i, stem in enumerate(STEMS):
        gt = np.zeros((20, 28), np.uint8)
        gt[: 2 + i % 15, :] = 255
        pred = np.clip(gt * 0.6 + rng.normal(50, 40, gt.shape), 0, 255).astype(np.uint8)
        cv2.imwrite(str(tmp_path / "data" / "MANY" / "gt" / f"{stem}.png"), gt)
        cv2.imwrite(str(tmp_path / "preds" / f"{stem}.png"), pred)
    toml = tmp_path / "datasets.toml"
    toml.write_text(f'[datasets.MANY]\nfolder = "MANY"\ngt_white = "blur"\nn_images = {len(STEMS)}\n')
    monkeypatch.setenv("DBDBENCH_DATASETS", str(toml))
    monkeypatch.delenv("DBDBENCH_DATA", raising=False)
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    return tmp_path


def _without_date(path):
    data = json.loads(path.read_text())
    del data["meta"]["created"], data["meta"]["per_image_counts"]["file"]  # the date and the file's own name
    return data


class _KillFirstTask(WorkerPlugin):
    """Ends the process of the first worker that starts a task (once in the whole cluster: a marker file)."""

    def __init__(self, marker: str):
        self.marker = marker

    def transition(self, key, start, finish, **kwargs):
        if finish != "executing":
            return
        try:
            os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return
        os._exit(1)  # as a kill: no clean-up, no goodbye to the scheduler


class _CloseOnFirstTask(WorkerPlugin):
    """Closes the worker as soon as it starts a task: the cluster is left without workers."""

    def setup(self, worker):
        self.worker = worker

    def transition(self, key, start, finish, **kwargs):
        if finish == "executing":
            self.worker.loop.add_callback(self.worker.close)


def test_worker_killed_mid_run_with_relative_paths_gives_the_single_process_result(many, monkeypatch):
    marker = many / "killed"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, protocol="tcp",
                      dashboard_address=None) as cluster:  # fmt: skip
        with Client(cluster) as client:
            client.register_plugin(_KillFirstTask(str(marker)))
        monkeypatch.chdir(many)  # after the workers started: they run in another folder
        args = ("evaluate", "preds", "-d", "MANY", "--pred-white", "blur", "--data-root", "data", "-q")
        res = run(*args, "--scheduler", cluster.scheduler_address, "--json", "dask.json")
        assert res.exit_code == 0, res.output
    assert marker.exists()  # a worker really died during the run
    res = run(*args, "--json", "one.json")
    assert res.exit_code == 0, res.output
    assert _without_date(many / "dask.json") == _without_date(many / "one.json")
    assert (many / "dask.counts.npz").read_bytes() == (many / "one.counts.npz").read_bytes()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_scheduler_is_a_one_line_error_naming_it(many, monkeypatch):
    address = f"tcp://127.0.0.1:{_free_port()}"
    monkeypatch.chdir(many)
    args = ("evaluate", "preds", "-d", "MANY", "--pred-white", "blur", "--data-root", "data", "-q", "--json", "r.json")
    start = time.monotonic()
    res = run(*args, "--scheduler", address, "--timeout", "1")
    assert time.monotonic() - start < 20
    assert res.exit_code == 2 and res.output.count("\n") == 1, res.output
    assert res.output.startswith("error: cannot reach the Dask scheduler at " + address)
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", address)  # Dask's own variable names the address
    res = run(*args, "--backend", "dask", "--timeout", "1")
    assert res.exit_code == 2 and address in res.output, res.output
    res = run(*args, "--backend", "joblib", "--scheduler", address)
    assert res.exit_code == 2 and "drop --backend joblib" in res.output, res.output
    assert not (many / "r.json").exists()


def test_all_workers_gone_gives_up_after_the_timeout_and_writes_nothing(many, monkeypatch):
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        with Client(cluster) as client:
            client.register_plugin(_CloseOnFirstTask())
            worker = next(iter(client.nthreads()))
        monkeypatch.chdir(many)
        start = time.monotonic()
        res = run("evaluate", "preds", "-d", "MANY", "--pred-white", "blur", "--data-root", "data", "-q",
                  "--scheduler", cluster.scheduler_address, "--timeout", "1", "--json", "r.json")  # fmt: skip
    assert time.monotonic() - start < 30
    assert res.exit_code == 2, res.output
    assert f"no Dask worker left at {cluster.scheduler_address} for 1 s (workers lost: {worker})" in res.output
    assert not (many / "r.json").exists() and not (many / "r.counts.npz").exists()


def test_the_commands_of_docs_scale_exist_with_their_options():
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "scale.md").read_text()
    lines = [ln for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S) for ln in block.splitlines()]
    commands = [ln.split("#")[0].split() for ln in lines if ln.startswith("dbdbench ")]
    assert commands
    for words in commands:
        res = run(words[1], "--help")
        assert res.exit_code == 0, res.output
        for opt in (w for w in words[2:] if w.startswith("--")):
            assert opt in res.output, f"docs/scale.md uses `{opt}`, which `dbdbench {words[1]}` does not have"
