"""Test pipelines: ``dbdbench predict`` on the authors' checkpoint formats gives the authors' maps.

The references below restate the authors' test code from its documented behaviour, with PIL and torch
calls only (no dbdbench code between the photo and the network input, nor between its output and the map):

* D-DFFNet (``data.py`` ``mode='val'``, ``test.py``): ``Image.open(p).convert("RGB")``; torchvision
  ``F.resize(image, (320, 320))`` = PIL ``resize((320, 320), BILINEAR)``; ``ToTensor`` (``/ 255``) and
  ``Normalize`` (ImageNet); ``sigmoid`` of the first output; ``F.interpolate(..., size=(h, w),
  mode='nearest')``; the map saved as ``dets * 255`` by ``cv2.imwrite`` (rounded). The map is in-focus = 1.
* BR²Net (``infer.py``): PIL decode at full size, ``ToTensor`` + ``Normalize``, the net's sigmoid output,
  ``ToPILImage`` (``mul(255).byte()``: truncation).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

torch = pytest.importorskip("torch")
from PIL import Image  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from baselines.nets import create_model, keymap  # noqa: E402
from baselines.pipeline import TestPipeline, default_pipeline, quantise, trained_pipeline  # noqa: E402
from dbdbench.cli import main  # noqa: E402
from dbdbench.io import read_map  # noqa: E402

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
CUHK_PHOTO = "out_of_focus0011.jpg"


def _cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def _to_tensor_normalised(img: Image.Image) -> torch.Tensor:
    """torchvision ``ToTensor`` then ``Normalize(ImageNet)``, written out."""
    x = torch.from_numpy(np.array(img, dtype=np.uint8)).permute(2, 0, 1).float().div(255)
    return ((x - MEAN) / STD)[None]


def _calibrate_batchnorm(model: torch.nn.Module, size: int) -> None:
    """Set every BatchNorm's running statistics to those of random inputs, so that a random-weight net gives a
    varied map (with the initial statistics the decoder's products collapse it to a constant)."""
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = None  # cumulative average over the calibration batches
            m.reset_running_stats()
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        model.train()(torch.randn(2, 3, size, size, generator=gen))
    model.eval()


def _authors_state(model: torch.nn.Module, km: keymap.KeyMap) -> dict[str, torch.Tensor]:
    """Our random-weight model saved under the authors' key names, as their scripts' ``state_dict()``."""
    ours = model.state_dict()
    names = keymap.to_authors_keys([k for k in ours if k not in km.extra], km)
    return {old: ours[new].clone() for new, old in names.items()}


def _reference_ddffnet(model: torch.nn.Module, photo: Path) -> np.ndarray:
    """D-DFFNet's test.py map (in-focus = white) of ``photo`` through ``model``'s authors' logits."""
    img = Image.open(photo).convert("RGB")
    w, h = img.size
    x = _to_tensor_normalised(img.resize((320, 320), Image.Resampling.BILINEAR))
    with torch.no_grad():
        logits = model.train(False).forward_with_features(x)[0][0]  # the authors' first output, pre-sigmoid
    preds = F.interpolate(torch.sigmoid(logits), size=(h, w), mode="nearest")
    return np.rint(preds[0, 0].numpy() * 255).astype(np.uint8)


@pytest.mark.slow
def test_predict_on_an_authors_ddffnet_checkpoint_writes_the_authors_map(shared_data: Path, tmp_path: Path):
    """Acceptance: a random-weight D-DFFNet.pth (the authors' keys, the unused CPD layers, their raw
    ``state_dict()`` file) run by ``dbdbench predict --method dffnet`` on a real CUHK photo equals the map of
    the authors' test pipeline within 8-bit rounding (written as P(blur) = 1 - their in-focus map)."""
    torch.manual_seed(0)
    model = create_model("dffnet")
    _calibrate_batchnorm(model, 320)
    authors = _authors_state(model, keymap.ddffnet_keymap())
    authors["resnest.layer3_2.0.conv1.weight"] = torch.zeros(256, 512, 1, 1)  # CPD leftovers in their file
    torch.save(authors, tmp_path / "D-DFFNet.pth")
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / CUHK_PHOTO).symlink_to(shared_data / "cuhk" / "images" / CUHK_PHOTO)

    res = _cli("predict", "--method", "dffnet", "--weights", tmp_path / "D-DFFNet.pth", photos,
               "--out", tmp_path / "maps", "--device", "cpu", "--no-progress")
    assert res.exit_code == 0, res.output
    ours = read_map(tmp_path / "maps" / "out_of_focus0011.png").astype(int)
    theirs = _reference_ddffnet(model, photos / CUHK_PHOTO).astype(int)
    assert ours.shape == theirs.shape == Image.open(photos / CUHK_PHOTO).size[::-1]
    assert theirs.std() > 5  # the random net gives a non-constant map, so the comparison can fail
    assert np.abs((255 - ours) - theirs).max() <= 1
    meta = json.loads((tmp_path / "maps" / "meta.json").read_text())
    assert meta["pred_white"] == "blur" and meta["pipeline"] == default_pipeline("dffnet", 0).to_dict()

    # the same checkpoint through OpenCV's non-anti-aliased resize gives a different network input
    res = _cli("predict", "--method", "dffnet", "--weights", tmp_path / "D-DFFNet.pth", photos, "--library",
               "opencv", "--pred-white", "sharp", "--out", tmp_path / "cv", "--device", "cpu", "--no-progress")
    assert res.exit_code == 0, res.output
    other = read_map(tmp_path / "cv" / "out_of_focus0011.png").astype(int)
    assert np.abs(other - theirs).max() > 1


def test_pil_resize_is_the_anti_aliased_one_the_authors_use(shared_data: Path):
    """Shrinking 640 x 427 to 320 x 320: PIL bilinear averages over a wider support than OpenCV's."""
    from baselines.pipeline import load_photo, resize_photo

    path = shared_data / "cuhk" / "images" / CUHK_PHOTO
    photo = load_photo(path, "pil")
    np.testing.assert_array_equal(photo, np.asarray(Image.open(path).convert("RGB")))
    ours = resize_photo(photo, 320, "pil")
    ref = np.asarray(Image.open(path).convert("RGB").resize((320, 320), Image.Resampling.BILINEAR))
    np.testing.assert_array_equal(ours, ref)
    cv = resize_photo(photo, 320, "opencv").astype(int)
    assert np.abs(cv - ref.astype(int)).mean() > 0.5


@pytest.mark.slow
def test_authors_br2net_pytorch04_checkpoint_gives_the_infer_py_map(tmp_path: Path):
    """BR²Net's ``CA_*.pth`` as PyTorch 0.4 wrote it (legacy serialisation, no ``num_batches_tracked``):
    native size, PIL decode and ``ToPILImage`` truncation."""
    torch.manual_seed(1)
    model = create_model("br2net").eval()
    state = {k: v for k, v in _authors_state(model, keymap.br2net_keymap()).items()
             if not k.endswith("num_batches_tracked")}
    torch.save(state, tmp_path / "CA_20000.pth", _use_new_zipfile_serialization=False)
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)).save(photos / "a.jpg", quality=90)

    res = _cli("predict", "--method", "br2net", "--weights", tmp_path / "CA_20000.pth", photos,
               "--out", tmp_path / "maps", "--device", "cpu", "--no-progress")
    assert res.exit_code == 0, res.output
    x = _to_tensor_normalised(Image.open(photos / "a.jpg").convert("RGB"))
    with torch.no_grad():
        ref = model(x)[0, 0].mul(255).byte().numpy()  # ToPILImage on a float tensor
    got = read_map(tmp_path / "maps" / "a.png")
    assert got.shape == (40, 56)
    assert np.abs(got.astype(int) - ref.astype(int)).max() <= 1
    assert json.loads((tmp_path / "maps" / "meta.json").read_text())["pipeline"]["quantise"] == "floor"


def test_quantisation_rules_and_polarity():
    p = np.array([[0.0, 0.5 / 255, 1.5 / 255, 0.9999, 1.0]], dtype=np.float32)
    pipe = TestPipeline(0)
    np.testing.assert_array_equal(quantise(p, pipe), np.rint(p * np.float32(255)).astype(np.uint8))
    np.testing.assert_array_equal(quantise(p, pipe.override(quantise="floor")), [[0, 0, 1, 254, 255]])
    np.testing.assert_array_equal(quantise(p, pipe.override(pred_white="sharp")),
                                  np.rint((1 - p) * np.float32(255)).astype(np.uint8))


def test_pipeline_settings_are_checked_and_round_trip():
    with pytest.raises(ValueError, match="library 'skimage' is unknown; valid: pil, opencv"):
        TestPipeline(320, library="skimage")
    with pytest.raises(ValueError, match="input_size"):
        TestPipeline(4)
    with pytest.raises(ValueError, match="unknown test pipeline setting"):
        TestPipeline.from_dict({"input_size": 32, "colour": "red"})
    pipe = TestPipeline(64, "pil", "nearest", "floor", pred_white="sharp")
    assert TestPipeline.from_dict(json.loads(json.dumps(pipe.to_dict()))) == pipe
    assert default_pipeline("dpn", 352).input_size == 352 and default_pipeline("dffnet", 64).input_size == 320
    assert trained_pipeline("dffnet", 64) == TestPipeline(64, "opencv", "nearest", "round")
    assert trained_pipeline("br2net", 300).input_size == 0  # the authors test BR²Net at native size


def test_a_trained_checkpoint_carries_its_pipeline_and_predict_uses_it(tmp_path: Path):
    """A net trained at 32 px is run at 32 px, resized as the trainer resizes (OpenCV), without any flag."""
    from _toy_dataset import write_toy_dataset

    from baselines.predict import collect_images, predict_net
    from baselines.train import TrainConfig, train

    write_toy_dataset(tmp_path, "TOY-PIPE", n=2, size=(40, 56))
    cfg = TrainConfig("dpn", "TOY-PIPE", out=tmp_path / "run", data_root=tmp_path, iterations=1, batch_size=2,
                      input_size=32, pretrained=False, workers=0, progress=False, model_kwargs={"width": 16})
    train(cfg)
    stored = torch.load(tmp_path / "run" / "last.pt", weights_only=True)["pipeline"]
    assert TestPipeline.from_dict(stored) == TestPipeline(32, "opencv", "bilinear", "round")
    images = collect_images(tmp_path / "TOY-PIPE" / "image")
    predict_net("dpn", images, tmp_path / "maps", tmp_path / "run" / "last.pt", progress=False)
    assert json.loads((tmp_path / "maps" / "meta.json").read_text())["pipeline"]["input_size"] == 32
    predict_net("dpn", images, tmp_path / "native", tmp_path / "run" / "last.pt", input_size=0, progress=False)
    assert json.loads((tmp_path / "native" / "meta.json").read_text())["pipeline"]["input_size"] == 0
