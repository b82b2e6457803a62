"""DFFNet, the DOF-edge loss and the D-DFFNet stage-2 distiller."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from baselines.nets import backbones, create_model, keymap
from baselines.nets.ddffnet import DDFFNetDistiller, distill_alpha, feature_distance, step_to_epoch
from baselines.nets.dffnet import DFFNet, dof_edge_loss, ece_loss

torch.set_num_threads(2)


def _count(module: torch.nn.Module) -> float:
    return round(sum(p.numel() for p in module.parameters()) / 1e6, 2)


@pytest.fixture(scope="module")
def model() -> DFFNet:
    torch.manual_seed(0)
    return create_model("dffnet")


def test_parameter_counts_match_the_authors_code(model: DFFNet) -> None:
    # D-DFFNet PDnet_ResNest_4F_SL_LA, layers used in forward: ResNeSt-101 46.23 M + decoder 1.58 M = 47.81 M
    assert _count(model) == 47.81
    assert _count(model.backbone) == 46.23
    assert round(_count(model) - _count(model.backbone), 2) == 1.58


@pytest.mark.parametrize(
    ("authors_key", "shape"),
    [  # shapes read from the authors' resnet.py/splat.py (ResNeSt-101), RFB.py and aggregation.py
        ("resnest.conv1.6.weight", (128, 64, 3, 3)),
        ("resnest.bn1.running_mean", (128,)),
        ("resnest.layer1.0.downsample.1.weight", (256, 128, 1, 1)),
        ("resnest.layer3_1.22.conv2.conv.weight", (512, 128, 3, 3)),
        ("resnest.layer3_1.22.conv2.fc1.weight", (128, 256, 1, 1)),
        ("resnest.layer4_1.0.conv2.fc2.bias", (1024,)),
        ("rfb4_1.conv_res.conv.weight", (32, 2048, 1, 1)),
        ("rfb1_1.branch3.1.conv.weight", (32, 32, 1, 7)),
        ("rfb2_1.branch2.3.bn.weight", (32,)),
        ("agg1.conv_upsample7.conv.weight", (96, 96, 3, 3)),
        ("agg1.conv_concat4.conv.weight", (128, 128, 3, 3)),
        ("agg1.conv5.weight", (1, 128, 1, 1)),
        ("agg1.side3.bias", (1,)),
        ("agg1.spatial_attention2.0.weight", (32, 1, 3, 3)),
    ],
)
def test_ddffnet_keymap_sends_authors_keys_to_same_shaped_tensors(model: DFFNet, authors_key: str,
                                                                  shape: tuple[int, ...]) -> None:
    ours = keymap.from_authors({authors_key: torch.zeros(shape)}, keymap.ddffnet_keymap())
    (name,) = (k for k in ours if k != "logit_sign")
    assert tuple(model.state_dict()[name].shape) == shape


def test_authors_ddffnet_checkpoint_loads_with_unused_layers_and_flipped_polarity(model: DFFNet, tmp_path) -> None:
    km = keymap.ddffnet_keymap()
    ours = model.state_dict()
    names = keymap.to_authors_keys([k for k in ours if k != "logit_sign"], km)
    gen = torch.Generator().manual_seed(3)
    authors = {old: (torch.rand(ours[new].shape, generator=gen) * 0.1 + 0.5).to(ours[new].dtype)
               for new, old in names.items()}
    authors["resnest.layer3_2.0.conv1.weight"] = torch.zeros(256, 512, 1, 1)  # CPD leftovers: dropped
    authors["resnest.layer4_2.2.bn3.running_var"] = torch.ones(2048)
    torch.save({"state_dict": authors}, tmp_path / "D-DFFNet.pth")
    loaded = create_model("dffnet", pretrained=str(tmp_path / "D-DFFNet.pth")).eval()
    state = loaded.state_dict()
    for new, old in names.items():
        assert torch.equal(state[new], authors[old]), (new, old)
    # the authors predict in-focus = 1: the converted checkpoint negates the logits, so ours = 1 - theirs
    assert float(loaded.logit_sign) == -1.0
    loaded.load_state_dict({**model.state_dict(), "logit_sign": torch.tensor(-1.0)})  # finite activations
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        p_blur = loaded(x)
        loaded.logit_sign.fill_(1.0)
        p_focus = loaded(x)
    torch.testing.assert_close(p_blur, 1 - p_focus)


def test_midas_checkpoint_maps_onto_the_depth_trunk_and_drops_the_decoder() -> None:
    km = keymap.midas_encoder_keymap()
    mapped = keymap.from_authors({
        "pretrained.layer1.0.weight": torch.zeros(64, 3, 7, 7),
        "pretrained.layer1.4.0.conv2.weight": torch.zeros(256, 8, 3, 3),
        "pretrained.layer4.2.conv3.weight": torch.zeros(2048, 2048, 1, 1),
        "scratch.refinenet4.resConfUnit1.conv1.weight": torch.zeros(256, 256, 3, 3),
    }, km)
    with torch.device("meta"):
        trunk = backbones.create_backbone("midas_resnext101_32x8d")
    shapes = {k: tuple(v.shape) for k, v in trunk.state_dict().items()}
    assert {k: tuple(v.shape) for k, v in mapped.items()} == {k: shapes[k] for k in mapped}
    assert set(mapped) == {"conv1.weight", "layer1.0.conv2.weight", "layer4.2.conv3.weight"}
    assert _count(trunk) == 86.74


def _edge_reference(a: np.ndarray) -> np.ndarray:
    """sum of the 8 neighbours - 8 * centre with zero padding, written with shifts."""
    p = np.pad(a, ((0, 0), (0, 0), (1, 1), (1, 1)))
    h, w = a.shape[-2:]
    total = sum(p[..., i:i + h, j:j + w] for i in range(3) for j in range(3))
    return total - 9 * a


def test_dof_edge_loss_matches_a_numpy_restatement_of_the_authors_formula() -> None:
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 1, 9, 11, generator=gen, dtype=torch.float64)
    target = (torch.rand(2, 1, 9, 11, generator=gen) > 0.6).double()
    focus_p = 1 / (1 + np.exp(logits.numpy()))  # authors' in-focus probability
    focus_g = 1 - target.numpy()
    e_g = (_edge_reference(focus_g) != 0).astype(float)
    r2 = _edge_reference(focus_p) ** 2
    e_p = r2 / (r2 + 1.0)
    num = 2 * (e_p * e_g).reshape(2, -1).sum(1) + 1
    den = (e_p**2 + e_g**2).reshape(2, -1).sum(1) + 1
    expected = float((1 - num / den).sum())
    assert float(dof_edge_loss(logits, target)) == pytest.approx(expected, rel=1e-12)
    bce = float(F.binary_cross_entropy_with_logits(logits, target))
    assert float(ece_loss(logits, target)) == pytest.approx(bce + 0.5 * expected, rel=1e-12)


def test_alpha_schedule_and_step_to_epoch_follow_train_kd() -> None:
    # train_kd.py: for epoch in range(1, 75): alpha = 3 if epoch < 15 else 3 * (epoch - 15) / (75 - 15)
    assert [distill_alpha(e) for e in (1, 14, 15, 45, 74)] == [3.0, 3.0, 0.0, 1.5, 3 * 59 / 60]
    # 7400 steps = 74 epochs of 100 batches
    assert [step_to_epoch(s, 7400) for s in (0, 99, 100, 1499, 1500, 7399)] == [1, 1, 2, 15, 16, 74]


def test_feature_distance_is_the_normalised_squared_difference() -> None:
    gen = torch.Generator().manual_seed(0)
    s, t = torch.randn(2, 5, 3, 4, generator=gen), torch.randn(2, 5, 3, 4, generator=gen)
    ns = s / torch.sqrt((s**2).sum(1, keepdim=True) + 1e-6)
    nt = t / torch.sqrt((t**2).sum(1, keepdim=True) + 1e-6)
    expected = ((ns - nt) ** 2).sum(1).mean() * 2
    torch.testing.assert_close(feature_distance([s, s], [t, t]), expected)


def test_eval_output_is_blur_probability_at_input_size(model: DFFNet) -> None:
    model.eval()
    with torch.no_grad():
        y = model(torch.randn(1, 3, 72, 88))  # not a multiple of 32: the x2 upsamplings become resizes
    assert y.shape == (1, 1, 72, 88)
    assert float(y.min()) >= 0.0 and float(y.max()) <= 1.0


@pytest.mark.slow
def test_train_forward_backward_and_a_few_steps_reduce_the_loss(model: DFFNet) -> None:
    import copy

    torch.manual_seed(0)
    model = copy.deepcopy(model)  # the module-scoped model is shared; train a copy
    x = torch.randn(2, 3, 64, 64)
    target = torch.zeros(2, 1, 64, 64)
    target[..., :32] = 1.0  # a learnable layout: left half blurred
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    losses = []
    for _ in range(3):
        outputs = model(x)
        assert len(outputs) == 5  # final + 4 side outputs (train_single.py)
        assert all(o.shape == (2, 1, 64, 64) for o in outputs)
        loss = model.loss(outputs, target)
        losses.append(float(loss.detach()))
        opt.zero_grad()
        loss.backward()
        assert model.dffm.attention[0].weight.grad is not None and model.backbone.conv1[0].weight.grad is not None
        opt.step()
    with torch.no_grad():
        losses.append(float(model.loss(model(x), target)))
    assert losses[-1] < losses[0]


@pytest.mark.slow
def test_distiller_trains_the_student_and_adapters_only(model: DFFNet) -> None:
    torch.manual_seed(0)
    student = DFFNet()
    teacher = copy.deepcopy(model)
    distiller = DDFFNetDistiller(student, teacher, backbones.create_backbone("midas_resnext101_32x8d"))
    assert _count(distiller.adapt_teacher) + _count(distiller.adapt_depth) == pytest.approx(11.14, abs=0.01)
    x = torch.randn(2, 3, 64, 64)
    target = (torch.rand(2, 1, 64, 64) > 0.5).float()
    distiller.train()
    assert distiller.teacher.training  # authors never call .eval() on the teachers
    groups = distiller.param_groups(lr=1e-4)
    opt = torch.optim.Adam([{k: v for k, v in g.items() if k in ("params", "lr", "weight_decay")} for g in groups])
    teacher_before = copy.deepcopy(teacher.rfb[0].conv_res.conv.weight)
    losses = []
    for _ in range(2):
        outputs = distiller(x)
        assert len(outputs) == 5 and float(distiller.last_feature_loss.detach()) > 0
        loss = distiller.loss(outputs, target, step=0)
        losses.append(float(loss.detach()))
        opt.zero_grad()
        loss.backward()
        assert distiller.adapt_depth.convs[0].weight.grad is not None
        assert all(p.grad is None for p in distiller.teacher.parameters())
        opt.step()
    with torch.no_grad():
        losses.append(float(distiller.loss(distiller(x), target, step=0)))
    assert losses[-1] < losses[0]
    assert torch.equal(teacher.rfb[0].conv_res.conv.weight, teacher_before)
    assert int(distiller.steps_seen) == 3 and distiller.alpha() == 3.0
    distiller.eval()
    with torch.no_grad():
        y = distiller(x)
    assert y.shape == (2, 1, 64, 64) and 0.0 <= float(y.min()) <= float(y.max()) <= 1.0
