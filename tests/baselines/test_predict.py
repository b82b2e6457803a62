"""Tests for batched prediction: hand-crafted maps on real photos, nets from state dicts the tests create."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import torch.nn.functional as F  # noqa: E402
from _toy_dataset import write_toy_dataset  # noqa: E402
from torchvision.transforms import Normalize  # noqa: E402

from baselines.checkpoint import save_checkpoint  # noqa: E402
from baselines.nets import create_model  # noqa: E402
from baselines.predict import collect_images, predict_handcrafted, predict_net, split_pending  # noqa: E402
from dbdbench.io import read_image, read_map  # noqa: E402

PHOTOS = ("out_of_focus0080.JPG", "out_of_focus0088.JPG")


@pytest.fixture()
def small_photos(shared_data: Path, tmp_path: Path) -> Path:
    """Two real CUHK photos at a quarter of their size (160 x ~107), so that HiFST and LBP run in seconds."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in PHOTOS:
        img = cv2.imread(str(shared_data / "cuhk" / "images" / name))
        small = cv2.resize(img, (img.shape[1] // 4, img.shape[0] // 4), interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(folder / f"{Path(name).stem}.png"), small)
    return folder


@pytest.mark.parametrize("method", ["hifst", "lbp"])
def test_handcrafted_maps_are_written_as_the_authors_high_sharp(method: str, small_photos: Path, tmp_path: Path):
    import baselines.handcrafted as hc

    out = tmp_path / "maps"
    images = collect_images(small_photos)
    report = predict_handcrafted(method, images, out, progress=False)
    assert sorted(report.written) == sorted(images) and report.skipped == []
    meta = json.loads((out / "meta.json").read_text())
    assert meta["pred_white"] == "sharp" and meta["method"] == method
    for stem, photo in images.items():
        ref = np.rint(np.clip(getattr(hc, method)(read_image(photo)), 0, 1) * 255).astype(np.uint8)
        np.testing.assert_array_equal(read_map(out / f"{stem}.png"), ref)


def test_handcrafted_run_resumes_and_overwrite_recomputes(small_photos: Path, tmp_path: Path):
    out = tmp_path / "maps"
    images = collect_images(small_photos)
    predict_handcrafted("lbp", images, out, jobs=2, progress=False)
    stem = sorted(images)[0]
    good = read_map(out / f"{stem}.png")
    cv2.imwrite(str(out / f"{stem}.png"), np.zeros_like(good))  # a stale map: kept unless --overwrite
    again = predict_handcrafted("lbp", images, out, progress=False)
    assert again.written == [] and sorted(again.skipped) == sorted(images)
    assert not read_map(out / f"{stem}.png").any()
    redo = predict_handcrafted("lbp", images, out, overwrite=True, progress=False)
    assert sorted(redo.written) == sorted(images)
    np.testing.assert_array_equal(read_map(out / f"{stem}.png"), good)


def test_output_folder_of_another_method_is_refused(small_photos: Path, tmp_path: Path):
    out = tmp_path / "maps"
    out.mkdir()
    (out / "meta.json").write_text(json.dumps({"schema": "dbdbench.maps", "method": "hifst", "pred_white": "sharp"}))
    with pytest.raises(ValueError, match="hifst"):
        predict_handcrafted("lbp", collect_images(small_photos), out, progress=False)


def test_bad_image_sources_fail_clearly(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        collect_images(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="no images"):
        collect_images(tmp_path)
    with pytest.raises(ValueError, match="either"):
        collect_images(tmp_path, "SYN-DEMO")


def _reference_map(model, photo: Path, size: int) -> np.ndarray:
    """Independent path: cv2 read + resize, torchvision normalisation, forward, bilinear upsampling."""
    img = cv2.cvtColor(cv2.imread(str(photo)), cv2.COLOR_BGR2RGB)
    h, w = img.shape[:2]
    x = torch.from_numpy(cv2.resize(img, (size, size), interpolation=cv2.INTER_LINEAR)).permute(2, 0, 1) / 255.0
    x = Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])(x)[None]
    with torch.no_grad():
        p = model.eval()(x)
    p = F.interpolate(p, size=(h, w), mode="bilinear", align_corners=False)[0, 0].numpy()
    return np.rint(np.clip(p, 0, 1) * 255)


def test_net_prediction_from_a_state_dict_matches_a_direct_forward(tmp_path: Path):
    write_toy_dataset(tmp_path, "TOY-PRED", n=3, size=(40, 56))
    torch.manual_seed(5)
    model = create_model("dpn", width=16)
    state = {"state_dict": {f"module.{k}": v for k, v in model.state_dict().items()}}
    save_checkpoint(tmp_path / "ckpt.pt", {"method": "dpn", "stage": 1, "model_kwargs": {"width": 16}, "step": 0,
                                           "model": {k: v for k, v in model.state_dict().items()}})
    torch.save(state, tmp_path / "raw.pth")
    images = collect_images(tmp_path / "TOY-PRED" / "image")
    ours = predict_net("dpn", images, tmp_path / "a", tmp_path / "ckpt.pt", batch_size=2, input_size=32,
                       progress=False)
    assert sorted(ours.written) == sorted(images)
    meta = json.loads((tmp_path / "a" / "meta.json").read_text())
    assert meta["pred_white"] == "blur" and meta["pipeline"]["input_size"] == 32
    assert meta["pipeline"]["upsample"] == "bilinear" and meta["pipeline"]["library"] == "opencv"
    for stem, photo in images.items():
        got = read_map(tmp_path / "a" / f"{stem}.png").astype(float)
        assert got.shape == (40, 56)
        assert np.abs(got - _reference_map(model, photo, 32)).max() <= 1  # float rounding at .5 only
    with pytest.raises(ValueError, match="raw.pth does not fit the dpn net"):  # width 16 vs the default 64
        predict_net("dpn", images, tmp_path / "b", tmp_path / "raw.pth", input_size=32, progress=False)


def test_native_resolution_batches_equal_shapes_only(tmp_path: Path):
    write_toy_dataset(tmp_path, "TOY-A", n=2, size=(32, 48))
    write_toy_dataset(tmp_path, "TOY-B", n=1, size=(40, 40), seed=1)
    photos = tmp_path / "mixed"
    photos.mkdir()
    for sub in ("TOY-A", "TOY-B"):
        for f in (tmp_path / sub / "image").iterdir():
            (photos / f"{sub}_{f.name}").write_bytes(f.read_bytes())
    torch.manual_seed(2)
    model = create_model("dpn", width=16)
    images = collect_images(photos)
    save_checkpoint(tmp_path / "c.pt", {"method": "dpn", "stage": 1, "model_kwargs": {"width": 16}, "step": 0,
                                        "model": model.state_dict()})
    report = predict_net("dpn", images, tmp_path / "out", tmp_path / "c.pt", batch_size=4, input_size=0,
                         progress=False)
    assert len(report.written) == 3
    for stem, photo in images.items():
        img = torch.from_numpy(read_image(photo)).permute(2, 0, 1) / 255.0
        x = Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])(img)[None]
        with torch.no_grad():
            ref = np.rint(model.eval()(x)[0, 0].numpy() * 255)
        assert np.abs(read_map(tmp_path / "out" / f"{stem}.png") - ref).max() <= 1


def _trunk_only(model) -> dict:
    """A torchvision-style VGG16 state dict (``features.N.*`` plus a classifier): what fills DPN's trunk only."""
    state = {k[len("backbone."):]: v for k, v in model.state_dict().items() if k.startswith("backbone.features.")}
    return {**state, "classifier.0.weight": torch.zeros(4, 8), "classifier.0.bias": torch.zeros(4)}


def test_weights_that_fill_part_of_the_net_are_refused(tmp_path: Path):
    write_toy_dataset(tmp_path, "TOY-PART", n=1, size=(32, 32))
    images = collect_images(tmp_path / "TOY-PART" / "image")
    torch.manual_seed(1)
    model = create_model("dpn")
    torch.save(_trunk_only(model), tmp_path / "vgg16.pth")
    create_model("dpn", pretrained=str(tmp_path / "vgg16.pth"))  # fine as a training start: it fills the trunk
    with pytest.raises(ValueError, match="vgg16.pth does not hold the whole dpn net") as err:
        predict_net("dpn", images, tmp_path / "maps", tmp_path / "vgg16.pth", input_size=32, progress=False)
    assert "missing: laterals.0.0.weight" in str(err.value), err.value  # the head's first conv
    assert f"of its {len(model.state_dict())} tensors" in str(err.value)
    assert f"the file holds {len(_trunk_only(model))} tensors: features.0.weight" in str(err.value)
    assert not (tmp_path / "maps").exists()  # nothing written
    state = model.state_dict()
    del state["laterals.0.0.weight"]
    torch.save(state, tmp_path / "no_lateral.pth")  # our names, one tensor short: torch's error, summarised
    with pytest.raises(ValueError, match=r"no_lateral.pth does not fit the dpn net: missing: laterals.0.0.weight"):
        predict_net("dpn", images, tmp_path / "maps", tmp_path / "no_lateral.pth", input_size=32, progress=False)


def test_meta_records_the_weights_sha256_and_a_resume_keeps_to_them(tmp_path: Path):
    import hashlib

    write_toy_dataset(tmp_path, "TOY-SHA", n=2, size=(32, 32))
    images = collect_images(tmp_path / "TOY-SHA" / "image")
    for seed in (1, 2):
        torch.manual_seed(seed)
        model = create_model("dpn", width=16)
        save_checkpoint(tmp_path / f"w{seed}.pt", {"method": "dpn", "stage": 1, "model_kwargs": {"width": 16},
                                                   "step": 0, "model": model.state_dict()})
    out = tmp_path / "maps"
    predict_net("dpn", images, out, tmp_path / "w1.pt", input_size=32, progress=False)
    meta = json.loads((out / "meta.json").read_text())
    assert meta["weights_sha256"] == hashlib.sha256((tmp_path / "w1.pt").read_bytes()).hexdigest()
    assert meta["weights"] == "w1.pt"
    again = predict_net("dpn", images, out, tmp_path / "w1.pt", input_size=32, progress=False)
    assert again.written == [] and len(again.skipped) == 2  # same weights: the run resumes
    with pytest.raises(ValueError, match="another weights_sha256"):  # other weights: maps would mix
        predict_net("dpn", images, out, tmp_path / "w2.pt", input_size=32, progress=False)
    with pytest.raises(ValueError, match="another pipeline"):  # another input size: maps would mix
        predict_net("dpn", images, out, tmp_path / "w1.pt", input_size=64, progress=False)
    redo = predict_net("dpn", images, out, tmp_path / "w2.pt", input_size=32, overwrite=True, progress=False)
    assert len(redo.written) == 2
    assert json.loads((out / "meta.json").read_text())["weights_sha256"] == hashlib.sha256(
        (tmp_path / "w2.pt").read_bytes()).hexdigest()


@pytest.mark.parametrize("method", ["br2net", "dffnet"])
def test_authors_checkpoints_fill_the_whole_net_and_are_accepted(method: str, tmp_path: Path):
    """The completeness check must not refuse the authors' files: their key maps fill every tensor (the extras,
    e.g. D-DFFNet's ``logit_sign`` and BR²Net's absent ``num_batches_tracked``, are constants)."""
    from baselines.nets import keymap
    from baselines.predict import load_net

    km = keymap.br2net_keymap() if method == "br2net" else keymap.ddffnet_keymap()
    ours = create_model(method).state_dict()
    names = keymap.to_authors_keys([k for k in ours if not k.endswith("num_batches_tracked") and k != "logit_sign"],
                                   km)
    gen = torch.Generator().manual_seed(4)
    authors = {old: (torch.rand(ours[new].shape, generator=gen) * 0.1 + 0.5).to(ours[new].dtype)
               for new, old in names.items()}
    torch.save({"state_dict": authors}, tmp_path / "authors.pth")
    model, pipe = load_net(method, tmp_path / "authors.pth")
    assert pipe is None  # not a trainer checkpoint: the caller applies the authors' pipeline
    state = model.state_dict()
    assert all(torch.equal(state[new], authors[old]) for new, old in names.items())


def test_overwrite_removes_the_previous_maps_before_the_new_meta_is_written(tmp_path):
    """A run with --overwrite stopped half-way must not leave the previous maps beside the new meta.json."""
    out = tmp_path / "maps"
    out.mkdir()
    images = {s: tmp_path / f"{s}.jpg" for s in ("a", "b", "c")}
    for s in ("a", "b"):
        (out / f"{s}.png").write_bytes(b"old")
    (out / "other.png").write_bytes(b"not an image of this run")
    todo, kept = split_pending(images, out, overwrite=True)
    assert list(todo) == ["a", "b", "c"] and kept == []
    assert sorted(p.name for p in out.iterdir()) == ["other.png"]
    (out / "a.png").write_bytes(b"old")
    todo, kept = split_pending(images, out, overwrite=False)  # without --overwrite nothing is removed
    assert list(todo) == ["b", "c"] and kept == ["a"] and (out / "a.png").read_bytes() == b"old"
