"""Fixtures shared by the baseline tests."""

from __future__ import annotations

import pytest

try:
    import torch
except ImportError:  # the hand-crafted baselines are tested without the [baselines] extra too
    torch = None


@pytest.fixture(autouse=True)
def one_torch_thread(monkeypatch):
    """One intra-op thread per test process: with two test workers on two cores, more threads oversubscribe
    (``OMP_NUM_THREADS`` too, which the trainer's thread setting honours)."""
    if torch is None:
        yield
        return
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
