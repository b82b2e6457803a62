"""BR²Net, the ResNeXt/ResNeSt/MiDaS trunks and the authors' key maps."""

from __future__ import annotations

import pytest
import torch

from baselines.nets import backbones, create_model, keymap
from baselines.nets.br2net import BR2Net

torch.set_num_threads(2)


def _count(module: torch.nn.Module) -> float:
    return round(sum(p.numel() for p in module.parameters()) / 1e6, 2)


@pytest.fixture(scope="module")
def model() -> BR2Net:
    torch.manual_seed(0)
    return create_model("br2net")


def _authors_state(our_state: dict[str, torch.Tensor], km: keymap.KeyMap, seed: int) -> dict[str, torch.Tensor]:
    """An authors'-style checkpoint: our tensors renamed by the inverse map, filled with fresh positive values."""
    gen = torch.Generator().manual_seed(seed)
    names = keymap.to_authors_keys([k for k in our_state if not k.endswith("num_batches_tracked")], km)
    return {old: (torch.rand(our_state[new].shape, generator=gen) * 0.1 + 0.5).to(our_state[new].dtype)
            for new, old in names.items()}


def _assert_landed(model: torch.nn.Module, authors: dict[str, torch.Tensor], km: keymap.KeyMap) -> None:
    ours = model.state_dict()
    names = keymap.to_authors_keys([k for k in ours if not k.endswith("num_batches_tracked")], km)
    assert set(names.values()) == set(authors)
    for new, old in names.items():
        assert torch.equal(ours[new], authors[old]), (new, old)


def test_parameter_counts_match_the_authors_code(model: BR2Net) -> None:
    # ChangTang/BR2Net: ResNeXt-101 32x4d trunk 42.13 M + head 8.46 M (CAMs 0.70, L2H 5.02, H2L 2.74) = 50.59 M
    assert _count(model) == 50.59
    assert _count(model.backbone) == 42.13
    assert _count(model.cam) == 0.70
    assert round(_count(model.l2h) + _count(model.l2h_init), 2) == 5.02
    assert round(_count(model.h2l) + _count(model.h2l_init), 2) == 2.74


@pytest.mark.parametrize(
    ("authors_key", "shape"),
    [  # shapes read from ChangTang/BR2Net model.py and R3Net resnext_101_32x4d_.py
        ("layer0.0.weight", (64, 3, 7, 7)),
        ("layer1.0.0.0.0.0.weight", (128, 64, 1, 1)),
        ("layer1.0.0.0.0.3.weight", (128, 4, 3, 3)),
        ("layer1.0.0.1.0.weight", (256, 64, 1, 1)),
        ("layer3.22.0.0.0.4.running_var", (512,)),
        ("layer4.2.0.0.1.weight", (2048, 1024, 1, 1)),
        ("CAlayer4.0.conv_du.0.weight", (128, 2048, 1, 1)),
        ("CAlayer0.0.conv_du.2.bias", (64,)),
        ("predictL2H4.0.weight", (128, 2049, 3, 3)),
        ("predictH2L4.0.weight", (128, 65, 3, 3)),
        ("predictL2H1.2.weight", (1,)),
        ("predictH2L0.weight", (1, 2048, 1, 1)),
    ],
)
def test_br2net_keymap_sends_authors_keys_to_same_shaped_tensors(model: BR2Net, authors_key: str,
                                                                 shape: tuple[int, ...]) -> None:
    ours = keymap.from_authors({authors_key: torch.zeros(shape)}, keymap.br2net_keymap())
    (name,) = ours
    assert tuple(model.state_dict()[name].shape) == shape


def test_authors_br2net_checkpoint_loads_strictly_through_the_registry(model: BR2Net, tmp_path) -> None:
    km = keymap.br2net_keymap()
    authors = _authors_state(model.state_dict(), km, seed=1)  # PyTorch 0.4.0: no num_batches_tracked
    torch.save(authors, tmp_path / "CA_20000.pth")
    loaded = create_model("br2net", pretrained=str(tmp_path / "CA_20000.pth"))
    _assert_landed(loaded, authors, km)


def test_unknown_authors_key_is_an_error() -> None:
    with pytest.raises(KeyError, match="no mapping"):
        keymap.from_authors({"predictL2H0.weight": torch.zeros(1), "bogus.weight": torch.zeros(1)},
                            keymap.br2net_keymap())


def test_torch7_resnext_file_loads_into_the_trunk(model: BR2Net, tmp_path) -> None:
    km = keymap.torch7_resnext_keymap()
    trunk_state = {k: v.clone() for k, v in model.backbone.state_dict().items()}
    authors = _authors_state(trunk_state, km, seed=2)
    authors["10.1.weight"] = torch.zeros(1000, 2048)  # the classifier is dropped
    torch.save(authors, tmp_path / "resnext_101_32x4d.pth")
    try:
        backbones.load_trunk_weights(model.backbone, tmp_path / "resnext_101_32x4d.pth")
        _assert_landed(model.backbone, {k: v for k, v in authors.items() if not k.startswith("10.")}, km)
    finally:
        model.backbone.load_state_dict(trunk_state)


def test_pretrained_true_offline_fails_fast_with_instructions(monkeypatch) -> None:
    monkeypatch.setattr(backbones, "_hub_reachable", lambda host="huggingface.co": False)
    advice = r"resnext101_32x4d\.gluon_in1k.*--pretrained FILE.*pretrained='path"
    with pytest.raises(backbones.WeightsUnavailableError, match=advice):
        backbones.create_backbone("resnext101_32x4d", pretrained=True)


def test_unknown_backbone_lists_valid_names() -> None:
    with pytest.raises(KeyError, match="resnest101"):
        backbones.create_backbone("resnet9000")


def test_eval_output_is_blur_probability_at_input_size(model: BR2Net) -> None:
    model.eval()
    with torch.no_grad():
        y = model(torch.randn(1, 3, 72, 88))
    assert y.shape == (1, 1, 72, 88)
    assert float(y.min()) >= 0.0 and float(y.max()) <= 1.0


@pytest.mark.slow
def test_train_forward_backward_and_a_few_steps_reduce_the_loss(model: BR2Net) -> None:
    import copy

    torch.manual_seed(0)
    net = copy.deepcopy(model)  # the module-scoped model is shared; train a copy
    x = torch.randn(2, 3, 64, 64)
    target = torch.zeros(2, 1, 64, 64)
    target[..., :32] = 1.0  # a learnable layout: left half blurred
    net.train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)
    losses = []
    for _ in range(3):
        outputs = net(x)
        assert len(outputs) == 11  # fusion + 5 L2H + 5 H2L (train.py supervises all 11)
        assert all(o.shape == (2, 1, 64, 64) for o in outputs)
        loss = net.loss(outputs, target)
        losses.append(float(loss.detach()))
        opt.zero_grad()
        loss.backward()
        assert net.cam[0].fc1.weight.grad is not None and net.backbone.conv1.weight.grad is not None
        opt.step()
    with torch.no_grad():
        losses.append(float(net.loss(net(x), target)))
    assert losses[-1] < losses[0]


def test_param_groups_follow_the_authors_sgd_groups(model: BR2Net) -> None:
    groups = model.param_groups(lr=1e-3, weight_decay=5e-4)
    assert groups[0]["lr"] == 2e-3 and groups[0]["weight_decay"] == 0.0
    assert groups[1]["lr"] == 1e-3 and groups[1]["weight_decay"] == 5e-4
    n_bias = sum(1 for n, _ in model.named_parameters() if n.endswith("bias"))
    assert len(groups[0]["params"]) == n_bias
    assert len(groups[0]["params"]) + len(groups[1]["params"]) == len(list(model.parameters()))
