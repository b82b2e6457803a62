"""DPN (reconstructed): output contract, analytic parameter count, loss terms against scipy/numpy references."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ndimage = pytest.importorskip("scipy.ndimage")

from _net_contract import (  # noqa: E402
    assert_eval_is_probability_at_input_size,
    assert_every_parameter_has_a_finite_gradient,
)

from baselines.nets import create_model  # noqa: E402
from baselines.nets.dpn import boundary_penalty, dpn_loss, sobel_magnitude  # noqa: E402
from baselines.nets.vgg import VGG16_TRUNK_PARAMS  # noqa: E402


@pytest.fixture(scope="module")
def batch():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 64, 64, generator=gen)
    y = torch.zeros(2, 1, 64, 64)
    y[:, :, 16:48, 8:40] = 1.0
    return x, y


@pytest.fixture(scope="module")
def trained_once(batch):
    torch.manual_seed(0)
    model = create_model("dpn").train()
    outputs = model(batch[0])
    model.loss(outputs, batch[1]).backward()
    return model, [o.detach() for o in outputs]


def _head_params(w: int = 64, h: int = 16) -> int:
    """Analytic count outside the VGG trunk: laterals, 4 DEBs, 5 score convs, 5 BR blocks."""
    laterals = sum(9 * c * w + 2 * w for c in (64, 128, 256, 512, 512))  # conv (no bias) + BN affine
    debs = 4 * ((2 * w * w + 2 * w) + (9 * w * w + 2 * w))
    scores = 5 * (w + 1)
    brs = 5 * ((9 * h + h) + (9 * h + 1))
    return laterals + debs + scores + brs


def test_train_outputs_at_input_size(trained_once):
    _, outputs = trained_once
    assert len(outputs) == 6  # final + levels 2..5 + level 1 of the first pass (steps=2)
    assert all(o.shape == (2, 1, 64, 64) for o in outputs)


def test_output_count_follows_steps():
    model = create_model("dpn", width=8, steps=3).train()
    with torch.no_grad():
        assert len(model(torch.randn(1, 3, 64, 64))) == 4 + 3


def test_every_parameter_gets_a_finite_gradient(trained_once):
    assert_every_parameter_has_a_finite_gradient(trained_once[0])


def test_eval_output_is_probability_at_input_size(trained_once):
    assert_eval_is_probability_at_input_size(trained_once[0])


def test_param_count_equals_analytic_count(trained_once):
    model, _ = trained_once
    assert sum(p.numel() for p in model.parameters()) == VGG16_TRUNK_PARAMS + _head_params()
    small = create_model("dpn", width=8, br_width=4)
    assert sum(p.numel() for p in small.parameters()) == VGG16_TRUNK_PARAMS + _head_params(8, 4)


def test_sobel_magnitude_matches_scipy():
    rng = np.random.default_rng(0)
    img = rng.random((9, 11))
    got = sobel_magnitude(torch.from_numpy(img)[None, None]).numpy()[0, 0]
    gx = ndimage.sobel(img, axis=1, mode="nearest")
    gy = ndimage.sobel(img, axis=0, mode="nearest")
    np.testing.assert_allclose(got, np.sqrt(gx**2 + gy**2 + 1e-6), rtol=1e-10)


def test_boundary_penalty_vanishes_on_the_gt_and_grows_when_shifted(batch):
    y = batch[1]
    exact = 40.0 * (2 * y - 1)  # sigmoid(±40) is 0/1 to float precision
    shifted = torch.roll(exact, shifts=4, dims=-1)
    assert float(boundary_penalty(exact, y)) < 1e-6
    assert float(boundary_penalty(shifted, y)) > 0.05


def test_loss_is_bce_sum_plus_boundary_term(trained_once, batch):
    _, outputs = trained_once
    y = batch[1].numpy().astype(np.float64)
    bce = 0.0
    for o in outputs:
        p = 1 / (1 + np.exp(-o.numpy().astype(np.float64)))
        bce += -(y * np.log(p) + (1 - y) * np.log(1 - p)).mean()
    p0 = 1 / (1 + np.exp(-outputs[0].numpy().astype(np.float64)))

    def grad_mag(a: np.ndarray) -> np.ndarray:
        return np.sqrt(ndimage.sobel(a, axis=-1, mode="nearest") ** 2 + ndimage.sobel(a, axis=-2, mode="nearest") ** 2
                       + 1e-6)

    # scipy's sobel runs along every axis given; (B, 1, H, W) maps are handled per image.
    gm = np.stack([grad_mag(p0[b, 0]) - grad_mag(y[b, 0]) for b in range(y.shape[0])])
    ref = bce + 0.5 * np.abs(gm).mean()
    assert float(dpn_loss(outputs, batch[1], boundary_weight=0.5)) == pytest.approx(ref, rel=1e-5)


def test_a_few_steps_reduce_the_loss(batch):
    torch.manual_seed(0)
    model = create_model("dpn").train()
    opt = torch.optim.Adam(model.parameters(), lr=3e-4)
    losses = []
    for _ in range(3):
        opt.zero_grad()
        loss = model.loss(model(batch[0]), batch[1])
        loss.backward()
        opt.step()
        losses.append(loss.item())
    with torch.no_grad():
        losses.append(model.loss(model(batch[0]), batch[1]).item())
    assert all(b < a for a, b in zip(losses[:-1], losses[1:], strict=True)), losses
