"""DeFusionNet: output contract, analytic parameter count, CAM/deconv/loss against independent references."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from _net_contract import (  # noqa: E402
    assert_eval_is_probability_at_input_size,
    assert_every_parameter_has_a_finite_gradient,
)

from baselines.nets import create_model  # noqa: E402
from baselines.nets.defusionnet import ChannelAttention, SideBranch, defusionnet_loss  # noqa: E402
from baselines.nets.vgg import VGG16_TRUNK_PARAMS  # noqa: E402


@pytest.fixture(scope="module")
def batch():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 64, 64, generator=gen)
    y = torch.zeros(2, 1, 64, 64)
    y[:, :, :, 32:] = 1.0  # right half blurred
    return x, y


@pytest.fixture(scope="module")
def trained_once(batch):
    """Model after one train-mode forward + backward at 64 px, batch 2."""
    torch.manual_seed(0)
    model = create_model("defusionnet").train()
    outputs = model(batch[0])
    model.loss(outputs, batch[1]).backward()
    return model, [o.detach() for o in outputs]


def _head_params(w: int, k: int = 1, r: int = 16, n: int = 6, m: int = 3, t: int = 3) -> int:
    """Analytic count of everything outside the VGG trunk (paper layout with our stated widths)."""
    taps = (64, 128, 256, 512, 512, 512)
    sides = sum(9 * c * w + w + 9 * w * w + w for c in taps) + sum(w * (2 * s) ** 2 for s in (2, 4, 8, 16, 32))

    def cam(c: int) -> int:
        h = c // r
        return c * h + h + h * c + c

    fam = 9 * w * w + w + 9 * w + 1
    step = cam(m * w) + cam((n - m) * w) + (m * w * w + w) + ((n - m) * w * w + w) + 2 * fam
    step += n * (k * k * 2 * w * w + w) + n * (w + 1)
    return sides + t * step + n + 1


def test_train_outputs_are_19_logit_maps_at_input_size(trained_once):
    _, outputs = trained_once
    assert len(outputs) == 1 + 6 * 3  # final + n layers x t steps (Eq. 10)
    assert all(o.shape == (2, 1, 64, 64) for o in outputs)


def test_every_parameter_gets_a_finite_gradient(trained_once):
    assert_every_parameter_has_a_finite_gradient(trained_once[0])


def test_eval_output_is_probability_at_input_size(trained_once):
    assert_eval_is_probability_at_input_size(trained_once[0])


def test_param_count_equals_analytic_count(trained_once):
    model, _ = trained_once
    total = sum(p.numel() for p in model.parameters())
    assert total == VGG16_TRUNK_PARAMS + _head_params(64)
    small = create_model("defusionnet", width=16, refine_kernel=3)
    assert sum(p.numel() for p in small.parameters()) == VGG16_TRUNK_PARAMS + _head_params(16, k=3)


def test_cam_matches_equations_4_to_7():
    torch.manual_seed(1)
    cam = ChannelAttention(32, reduction=8)
    x = torch.randn(2, 32, 5, 7)
    with torch.no_grad():
        got = cam(x).numpy()
    xs = x.numpy().astype(np.float64)
    wd = cam.down.weight.detach().numpy()[:, :, 0, 0].astype(np.float64)
    bd = cam.down.bias.detach().numpy().astype(np.float64)
    wu = cam.up.weight.detach().numpy()[:, :, 0, 0].astype(np.float64)
    bu = cam.up.bias.detach().numpy().astype(np.float64)
    for b in range(2):
        s_ga, s_gm = xs[b].mean(axis=(1, 2)), xs[b].max(axis=(1, 2))
        hidden = np.maximum(wd @ s_ga + bd, 0) + np.maximum(wd @ s_gm + bd, 0)
        w = 1 / (1 + np.exp(-(wu @ hidden + bu)))
        np.testing.assert_allclose(got[b], w[:, None, None] * xs[b], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("stride", [2, 4, 8])
def test_initial_deconvolution_is_bilinear_upsampling(stride):
    side = SideBranch(4, 3, stride)
    x = torch.randn(1, 3, 6, 5)
    with torch.no_grad():
        got = side.up(x)
        ref = F.interpolate(x, scale_factor=stride, mode="bilinear", align_corners=False)
    assert got.shape == ref.shape
    s = stride  # borders differ (zero padding vs clamping); compare the interior
    torch.testing.assert_close(got[..., s:-s, s:-s], ref[..., s:-s, s:-s])


def test_loss_is_pixel_summed_cross_entropy_per_image(trained_once, batch):
    _, outputs = trained_once
    y = batch[1].numpy().astype(np.float64)
    ref = 0.0
    for o in outputs:
        p = 1 / (1 + np.exp(-o.numpy().astype(np.float64)))
        ref += -(y * np.log(p) + (1 - y) * np.log(1 - p)).sum() / y.shape[0]
    got = float(defusionnet_loss(outputs, batch[1]))
    assert got == pytest.approx(ref, rel=1e-5)
    with pytest.raises(ValueError, match="target shape"):
        defusionnet_loss(outputs, batch[1][..., :32])


def test_a_few_steps_reduce_the_loss(batch):
    # Narrow sides keep this cheap; the layout is the same. The loss is deterministic (no BN, no dropout), so
    # every Adam step on the fixed batch must lower it.
    torch.manual_seed(0)
    model = create_model("defusionnet", width=16).train()
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


def test_recipe_is_the_papers():
    r = create_model("defusionnet").recipe
    assert (r.optimizer, r.lr, r.momentum, r.weight_decay, r.batch_size, r.iterations) == (
        "sgd", 1e-8, 0.9, 5e-4, 4, 10_000)
