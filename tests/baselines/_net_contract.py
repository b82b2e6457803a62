"""Checks of the contract every registered net keeps (see ``baselines.nets``), shared by the net tests."""

from __future__ import annotations

import torch


def assert_every_parameter_has_a_finite_gradient(model: torch.nn.Module) -> None:
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name


def assert_eval_is_probability_at_input_size(
    model: torch.nn.Module, shapes=((2, 3, 64, 64), (1, 3, 72, 88))
) -> None:
    """``eval()`` forward gives (B, 1, H, W) in [0, 1], also for sizes that are not multiples of 32."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for shape in shapes:
                p = model(torch.randn(*shape))
                assert p.shape == (shape[0], 1, *shape[2:])
                assert float(p.min()) >= 0.0 and float(p.max()) <= 1.0
    finally:
        model.train(was_training)
