"""The training processes' CPU threads: an equal share of this machine's CPUs, or what OMP_NUM_THREADS says."""

from __future__ import annotations

import os

import pytest

torch = pytest.importorskip("torch")

from baselines.runtime import set_cpu_threads  # noqa: E402


@pytest.fixture
def keep_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("local", [1, 2, 64])
def test_each_local_process_gets_an_equal_share_of_the_cpus(monkeypatch, keep_threads, local):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    cpus = len(os.sched_getaffinity(0))
    assert set_cpu_threads(local) == torch.get_num_threads() == max(1, cpus // local)


def test_omp_num_threads_is_left_alone(monkeypatch, keep_threads):
    torch.set_num_threads(1)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert set_cpu_threads(1) == 1
