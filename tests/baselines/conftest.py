"""Fixtures shared by the baseline tests."""

from __future__ import annotations

import pytest

try:
    import torch
except ImportError:  # the hand-crafted baselines are tested without the [baselines] extra too
    torch = None


@pytest.fixture(autouse=True)
def one_torch_thread():
    """One intra-op thread per test process: with two test workers on two cores, more threads oversubscribe."""
    if torch is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
