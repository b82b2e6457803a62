"""VGG16 taps: parameter count, torchvision/Caffe key compatibility, tap outputs, weight loading paths."""

from __future__ import annotations

from urllib.error import URLError

import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

from torchvision.models import vgg as tv_vgg  # noqa: E402

from baselines.nets import create_model  # noqa: E402
from baselines.nets.vgg import (  # noqa: E402
    VGG16_TRUNK_PARAMS,
    VGG16Taps,
    load_pretrained,
    load_trunk_weights,
    vgg16_trunk_state_dict,
)


@pytest.fixture(scope="module")
def tv_features():
    """torchvision's own VGG16 ``features`` (random weights), the independent reference."""
    torch.manual_seed(0)
    return tv_vgg.make_layers(tv_vgg.cfgs["D"]).eval()


def test_trunk_param_count_matches_analytic_count():
    # 13 convs 3x3: sum of 9*c_in*c_out + c_out over VGG16 configuration D.
    widths = [3, 64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512]
    analytic = sum(9 * a * b + b for a, b in zip(widths[:-1], widths[1:], strict=True))
    trunk = VGG16Taps()
    assert analytic == 14_714_688 == VGG16_TRUNK_PARAMS
    assert sum(p.numel() for p in trunk.parameters()) == analytic


def test_torchvision_weights_load_and_taps_match_torchvision(tv_features):
    state = {f"features.{k}": v for k, v in tv_features.state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(4, 4)  # a full vgg16 checkpoint: classifier keys are dropped
    trunk = VGG16Taps().eval()
    load_trunk_weights(trunk, state)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        taps = trunk(x)
        # relu1_2, relu2_2, relu3_3, relu4_3, relu5_3, pool5 are outputs of torchvision layers 3, 8, 15, 22, 29, 30.
        ref = [tv_features[: i + 1](x) for i in (3, 8, 15, 22, 29, 30)]
    assert [t.shape[1] for t in taps] == [64, 128, 256, 512, 512, 512] == list(trunk.channels)
    assert [t.shape[-1] for t in taps] == [64 // s for s in (1, 2, 4, 8, 16, 32)]
    for got, want in zip(taps, ref, strict=True):
        torch.testing.assert_close(got, want)


def test_caffe_names_map_to_the_same_convs(tv_features):
    convs = [m for m in tv_features if isinstance(m, torch.nn.Conv2d)]
    names = [f"conv{s}_{k}" for s, n in enumerate((2, 2, 3, 3, 3), start=1) for k in range(1, n + 1)]
    caffe = {}
    for name, conv in zip(names, convs, strict=True):
        caffe[f"{name}.weight"], caffe[f"{name}.bias"] = conv.weight, conv.bias
    caffe["fc6.weight"] = torch.zeros(2, 2)
    mapped = vgg16_trunk_state_dict(caffe)
    reference = {f"features.{k}": v for k, v in tv_features.state_dict().items()}
    assert set(mapped) == set(reference)
    for key, value in reference.items():
        assert torch.equal(mapped[key], value)


def test_subset_of_taps_and_bad_taps():
    trunk = VGG16Taps(("conv3_3", "conv5_3"))
    out = trunk(torch.randn(1, 3, 32, 32))
    assert [o.shape[1:] for o in out] == [(256, 8, 8), (512, 2, 2)]
    with pytest.raises(ValueError, match="Unknown VGG16 taps"):
        VGG16Taps(("conv6_1",))
    with pytest.raises(ValueError, match="shallow to deep"):
        VGG16Taps(("conv5_3", "conv1_2"))


def test_missing_trunk_keys_are_named():
    with pytest.raises(KeyError, match="lack 26 trunk keys"):
        load_trunk_weights(VGG16Taps(), {"classifier.0.weight": torch.zeros(1)})


class _Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.backbone = VGG16Taps(("conv1_2", "conv2_2"))
        self.head = torch.nn.Conv2d(128, 1, 1)


def test_pretrained_true_offline_fails_clearly(monkeypatch):
    def offline(*args, **kwargs):
        raise URLError("no route to host")

    monkeypatch.setattr("torchvision.models._api.load_state_dict_from_url", offline)
    with pytest.raises(RuntimeError, match=r"vgg16-397923af.pth.*--pretrained FILE.*pretrained='path"):
        load_pretrained(_Net(), True)


def test_pretrained_true_loads_the_downloaded_dict(monkeypatch, tv_features):
    state = {f"features.{k}": v for k, v in tv_features.state_dict().items()}
    monkeypatch.setattr("torchvision.models._api.load_state_dict_from_url", lambda *a, **k: state)
    net = _Net()
    load_pretrained(net, True)
    assert torch.equal(net.backbone.features[2].weight, tv_features[2].weight)


def test_pretrained_path_vgg_file_and_full_checkpoint(tmp_path, tv_features):
    vgg_file = tmp_path / "vgg16.pth"
    torch.save({f"features.{k}": v for k, v in tv_features.state_dict().items()}, vgg_file)
    net = _Net()
    load_pretrained(net, vgg_file)
    assert torch.equal(net.backbone.features[7].weight, tv_features[7].weight)

    ckpt = tmp_path / "ckpt.pth"
    torch.save({"model": {f"module.{k}": v for k, v in net.state_dict().items()}, "step": 3}, ckpt)
    other = _Net()
    load_pretrained(other, ckpt)
    for key, value in net.state_dict().items():
        assert torch.equal(other.state_dict()[key], value)

    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_pretrained(_Net(), tmp_path / "missing.pth")


@pytest.mark.parametrize("name", ["defusionnet", "dpn"])
def test_registry_nets_take_torchvision_vgg_file(tmp_path, tv_features, name):
    vgg_file = tmp_path / "vgg16.pth"
    torch.save({f"features.{k}": v for k, v in tv_features.state_dict().items()}, vgg_file)
    model = create_model(name, pretrained=str(vgg_file))
    assert torch.equal(model.backbone.features[28].weight, tv_features[28].weight)
