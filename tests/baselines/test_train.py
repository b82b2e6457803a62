"""Tests for the training data pipeline and the shared trainer (CPU, tiny inputs, random weights)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from _toy_dataset import write_toy_dataset  # noqa: E402
from torchvision.transforms import Normalize  # noqa: E402

from baselines.data import BlurDataset, EpochSampler, blur_mask, normalise_image  # noqa: E402
from baselines.nets import create_model  # noqa: E402
from baselines.nets.recipe import TrainRecipe  # noqa: E402
from baselines.train import (  # noqa: E402
    TrainConfig,
    build_model,
    effective_recipe,
    make_optimizer,
    param_groups,
    set_lr,
    train,
    train_step,
)


@pytest.fixture()
def toy(tmp_path: Path) -> Path:
    write_toy_dataset(tmp_path, "TOY-DBD", n=6)
    return tmp_path


def _config(root: Path, out: Path, **kw) -> TrainConfig:
    base = dict(method="dpn", train_set="TOY-DBD", out=out, data_root=root, iterations=4, batch_size=2,
                input_size=32, pretrained=False, workers=0, progress=False, seed=3)
    return TrainConfig(**{**base, **kw})


# ---------------------------------------------------------------------------------------------------- data


def test_blur_mask_polarity_and_scale():
    gt8 = np.array([[0, 255], [128, 0]], np.uint8)
    np.testing.assert_allclose(blur_mask(gt8, "blur"), gt8 / 255.0, atol=1e-7)
    np.testing.assert_allclose(blur_mask(gt8, "sharp"), 1 - gt8 / 255.0, atol=1e-7)
    gt16 = np.array([[0, 65535]], np.uint16)
    np.testing.assert_allclose(blur_mask(gt16, "sharp"), [[1.0, 0.0]])
    with pytest.raises(ValueError, match="unknown"):
        blur_mask(gt8, "unknown")


def test_normalisation_matches_torchvision():
    img = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    ref = Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])(torch.from_numpy(img).permute(2, 0, 1) / 255.0)
    torch.testing.assert_close(normalise_image(img), ref, rtol=1e-6, atol=1e-6)


def test_dataset_flips_sharp_white_gt(tmp_path: Path):
    write_toy_dataset(tmp_path, "TOY-BLUR", n=2, seed=5, gt_white="blur")
    write_toy_dataset(tmp_path, "TOY-SHARP", n=2, seed=5, gt_white="sharp")
    blur = BlurDataset("TOY-BLUR", tmp_path, input_size=16)
    sharp = BlurDataset("TOY-SHARP", tmp_path, input_size=16)
    for i in range(2):
        img_b, m_b = blur[i]
        img_s, m_s = sharp[i]
        torch.testing.assert_close(img_b, img_s)
        torch.testing.assert_close(m_b, m_s)  # same blur mask although the files are inverted
        raw = cv2.imread(str(tmp_path / "TOY-BLUR" / "gt" / f"img{i:02d}.png"), cv2.IMREAD_GRAYSCALE)
        ref = cv2.resize(raw, (16, 16), interpolation=cv2.INTER_NEAREST) / 255.0
        np.testing.assert_array_equal(m_b[0].numpy(), ref.astype(np.float32))


def test_augmentation_is_a_function_of_seed_and_index(toy: Path):
    ds = BlurDataset("TOY-DBD", toy, input_size=32, augment=("hflip", "rotate10", "color_jitter"), seed=1)
    a1, m1 = ds[2]
    a2, m2 = ds[2]
    torch.testing.assert_close(a1, a2)
    torch.testing.assert_close(m1, m2)
    b, _ = ds[2 + len(ds)]  # same file, next epoch: new draw
    assert not torch.equal(a1, b)


def test_hflip_moves_image_and_mask_together(tmp_path: Path):
    write_toy_dataset(tmp_path, "TOY-SQUARE", n=4, size=(32, 32))  # no resize: nearest is not flip-symmetric
    plain = BlurDataset("TOY-SQUARE", tmp_path, input_size=32)
    flip = BlurDataset("TOY-SQUARE", tmp_path, input_size=32, augment=("hflip",), seed=0)
    n_flipped = 0
    for i in range(4 * len(plain)):
        img0, m0 = plain[i]
        img1, m1 = flip[i]
        if torch.equal(img1, img0):
            torch.testing.assert_close(m1, m0)
        else:
            torch.testing.assert_close(img1, img0.flip(-1))
            torch.testing.assert_close(m1, m0.flip(-1))
            n_flipped += 1
    assert 0 < n_flipped < 4 * len(plain)


def test_random_crop_keeps_pixels_aligned(toy: Path):
    full = BlurDataset("TOY-DBD", toy, input_size=20)
    crop = BlurDataset("TOY-DBD", toy, input_size=20, augment=("random_crop",), seed=4)
    image, mask = full.load(0)
    img_c, m_c = crop[0]
    ref_img = normalise_image(image)
    # find the crop's offset from the image, then check the mask was cut at the same place
    hits = [(t, l) for t in range(image.shape[0] - 19) for l in range(image.shape[1] - 19)
            if torch.equal(ref_img[:, t:t + 20, l:l + 20], img_c)]
    assert len(hits) == 1
    t, l = hits[0]
    np.testing.assert_array_equal(m_c[0].numpy(), mask[t:t + 20, l:l + 20])


def test_epoch_sampler_covers_each_epoch_and_resumes(toy: Path):
    ds = BlurDataset("TOY-DBD", toy, input_size=16)
    ranks = [EpochSampler(ds, 2, r, seed=7) for r in range(2)]
    for s in ranks:
        s.set_epoch(3)
    seen = [list(s) for s in ranks]
    assert sorted(seen[0] + seen[1]) == [3 * len(ds) + i for i in range(len(ds))]
    ranks[0].start = 2
    assert list(ranks[0]) == seen[0][2:] and len(ranks[0]) == len(seen[0]) - 2


# ------------------------------------------------------------------------------------------------- trainer


def test_poly_schedule_and_fixed_groups():
    recipe = TrainRecipe(optimizer="sgd", lr=0.1, poly_power=0.9, iterations=10)
    a, b = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    opt = make_optimizer([{"params": [a], "lr": 0.1, "initial_lr": 0.1},
                          {"params": [b], "lr": 0.5, "initial_lr": 0.5, "fixed_lr": True}], recipe)
    for step in (0, 3, 9):
        set_lr(opt, step, recipe)
        assert opt.param_groups[0]["lr"] == pytest.approx(0.1 * (1 - step / 10) ** 0.9, rel=1e-12)
        assert opt.param_groups[1]["lr"] == 0.5


def test_param_groups_backbone_multiplier():
    model = create_model("dpn")
    recipe = TrainRecipe(lr=1e-3, backbone_lr_mult=0.1)
    groups = param_groups(model, recipe, "dpn")
    lrs = {id(p): g["lr"] for g in groups for p in g["params"]}
    for name, p in model.named_parameters():
        assert lrs[id(p)] == pytest.approx(1e-4 if name.startswith("backbone.") else 1e-3)
    assert len(lrs) == sum(1 for _ in model.parameters())


def test_br2net_keeps_its_bias_groups():
    model = create_model("br2net")
    groups = param_groups(model, effective_recipe(model.recipe, _config(Path("."), Path("."))), "br2net")
    bias = next(g for g in groups if g["weight_decay"] == 0.0)
    assert bias["lr"] == pytest.approx(2e-3) and all(p.ndim == 1 for p in bias["params"])


def test_a_trainer_step_reduces_the_loss_on_a_fixed_batch(toy: Path):
    torch.manual_seed(0)
    model = create_model("dpn").train()
    ds = BlurDataset("TOY-DBD", toy, input_size=64)
    batch = (torch.stack([ds[0][0], ds[1][0]]), torch.stack([ds[0][1], ds[1][1]]))
    recipe = model.recipe
    opt = make_optimizer(param_groups(model, recipe, "dpn"), recipe)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    losses = [float(train_step(model, model, opt, scaler, batch, s, False, None)) for s in range(3)]
    with torch.no_grad():
        after = float(model.loss(model(batch[0]), batch[1]))
    assert after < losses[0], (losses, after)


def test_resume_equals_uninterrupted_training(toy: Path, tmp_path: Path):
    full = train(_config(toy, tmp_path / "full"))
    half = train(_config(toy, tmp_path / "resumed", stop_at=2))
    assert half.step == 2 and (tmp_path / "resumed" / "last.pt").is_file()
    stale = '{"step": 1}\n{"step": 3}\n'  # a validation log with a row after the resumed step
    (tmp_path / "resumed" / "val_log.jsonl").write_text(stale)
    with pytest.warns(UserWarning, match="using its seed 3"):  # the data order follows the checkpoint's seed
        rest = train(_config(toy, tmp_path / "resumed", resume="auto", seed=99))
    assert (tmp_path / "resumed" / "val_log.jsonl").read_text() == '{"step": 1}\n'  # truncated, not validating
    assert rest.step == 4
    a, b = full.model.state_dict(), rest.model.state_dict()
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    log = (tmp_path / "resumed" / "train_log.jsonl").read_text().splitlines()
    assert [int(line.split('"step": ')[1].split(",")[0]) for line in log] == [1, 2, 3, 4]


def test_pretrained_state_dict_file_initialises_the_model(tmp_path: Path):
    torch.manual_seed(11)
    source = create_model("dpn")
    path = tmp_path / "weights.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in source.state_dict().items()}}, path)
    model = build_model(_config(tmp_path, tmp_path, pretrained=str(path)))
    for k, v in source.state_dict().items():
        assert torch.equal(model.state_dict()[k], v), k


def test_bad_settings_fail_clearly(toy: Path, tmp_path: Path):
    with pytest.raises(ValueError, match="fewer than one batch"):
        train(_config(toy, tmp_path / "b", batch_size=8))
    with pytest.raises(ValueError, match="CUDA"):
        train(_config(toy, tmp_path / "c", amp=True, device="cpu"))
    with pytest.raises(ValueError, match="--method dffnet"):
        build_model(_config(toy, tmp_path, stage=2))


@pytest.mark.slow
def test_ddffnet_stage2_trains_the_student_and_predict_loads_it(toy: Path, tmp_path: Path):
    from baselines.nets.ddffnet import ADAPTER_LR
    from baselines.predict import load_net

    cfg = _config(toy, tmp_path / "s2", method="dffnet", stage=2, input_size=64, iterations=4, stop_at=2,
                  model_kwargs={"allow_random_teachers": True})
    result = train(cfg)
    distiller = result.model
    assert result.step == 2 and int(distiller.steps_seen) == 2 and distiller.total_steps == 4
    ckpt = torch.load(tmp_path / "s2" / "last.pt", weights_only=True)
    lrs = [g["lr"] for g in ckpt["optimizer"]["param_groups"]]
    assert lrs[0] == pytest.approx(1e-4 * (1 - 1 / 4) ** 0.9) and lrs[1] == ADAPTER_LR  # poly vs fixed lr
    n_trained = sum(len(g["params"]) for g in ckpt["optimizer"]["param_groups"])
    assert n_trained == len(list(distiller.student.parameters())) + len(list(distiller.adapt_teacher.parameters())) \
        + len(list(distiller.adapt_depth.parameters()))  # the frozen teachers are not optimised
    student, pipe = load_net("dffnet", tmp_path / "s2" / "last.pt")
    assert pipe.input_size == 64 and pipe.library == "opencv"  # the training size and the trainer's resize
    for k, v in student.state_dict().items():
        assert torch.equal(v, distiller.student.state_dict()[k]), k
    assert any(not torch.equal(v, ckpt["model"][f"teacher.{k}"]) for k, v in student.state_dict().items())


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_amp_on_cuda_trains_and_saves_the_scaler(toy: Path, tmp_path: Path):
    result = train(_config(toy, tmp_path / "amp", device="cuda", iterations=2))
    assert result.step == 2 and np.isfinite(result.loss)
    ckpt = torch.load(tmp_path / "amp" / "last.pt", weights_only=True)
    assert ckpt["scaler"] and ckpt["scaler"]["scale"] > 0  # GradScaler state kept for resuming


def test_step_decay_on_top_of_poly():
    from baselines.nets.recipe import TrainRecipe
    from baselines.train import scheduled_lr

    step_only = TrainRecipe(lr=1.0, poly_power=0.0, iterations=100, lr_steps=(50, 80), lr_step_factor=0.1)
    assert [scheduled_lr(1.0, t, step_only) for t in (0, 49, 50, 79, 80, 99)] == pytest.approx(
        [1.0, 1.0, 0.1, 0.1, 0.01, 0.01]
    )
    poly = TrainRecipe(lr=1.0, poly_power=1.0, iterations=100, lr_steps=(50,))
    assert scheduled_lr(1.0, 60, poly) == pytest.approx((1 - 60 / 100) * 0.1)
    from baselines.nets import create_model

    assert create_model("defusionnet").recipe.lr_steps == (5_000,)


def test_gradient_clamp_is_part_of_the_recipe():
    """D-DFFNet's +-0.5 elementwise clamp lives in its recipe (shared by the distiller), not in the trainer."""
    from torch import nn

    from baselines.nets import ddffnet
    from baselines.nets.dffnet import DFFNET_RECIPE
    from baselines.nets.recipe import TrainRecipe
    from baselines.train import param_groups, train_step

    assert DFFNET_RECIPE.grad_clamp == 0.5 and ddffnet.DDFFNetDistiller.recipe.grad_clamp == 0.5
    assert TrainRecipe().grad_clamp is None

    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.zeros(1))

        def forward(self, x):
            return [x * self.w]

        def loss(self, outs, mask):
            return (1000.0 * (outs[0] - mask)).pow(2).mean()  # a huge gradient

    for clamp, bound in ((0.5, 0.5), (None, 1.0e6)):
        model = Tiny()
        recipe = TrainRecipe(optimizer="sgd", lr=1.0, momentum=0.0, weight_decay=0.0, grad_clamp=clamp)
        opt = torch.optim.SGD(param_groups(model, recipe, "tiny"), lr=1.0)
        scaler = torch.amp.GradScaler("cpu", enabled=False)
        batch = (torch.ones(1, 1, 2, 2), torch.ones(1, 1, 2, 2))
        train_step(model, model, opt, scaler, batch, 0, False, recipe.grad_clamp)
        assert abs(float(model.w.grad)) == bound if clamp else abs(float(model.w.grad)) > 1.0e5


_TRAIN_SCRIPT = """
import sys
from pathlib import Path
from _toy_dataset import write_toy_dataset
from dbdbench.cli import main
root = Path(sys.argv[1])
write_toy_dataset(root, "TOY-SIG", n=4, size=(32, 32))
main(["train", "--method", "dpn", "--train-set", "TOY-SIG", "--data-root", str(root), "--out", str(root / "run"),
      "--pretrained", "none", "--iterations", "100000", "--save-every", "100000", "--batch-size", "2",
      "--input-size", "32", "--workers", sys.argv[2], "--no-progress", "--seed", "1"])
"""


@pytest.mark.parametrize(("signame", "workers"), [("SIGTERM", 1), ("SIGINT", 0)])
def test_a_stop_signal_saves_a_checkpoint_and_a_partial_save_is_removed(tmp_path: Path, signame: str, workers: int):
    import os
    import signal
    import subprocess
    import sys
    import time

    here = Path(__file__).resolve().parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(here.parents[1]), str(here)]), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-c", _TRAIN_SCRIPT, str(tmp_path), str(workers)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log = tmp_path / "run" / "train_log.jsonl"
    deadline = time.monotonic() + 300
    while not (log.is_file() and len(log.read_text().splitlines()) >= 2):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.2)
    sig = getattr(signal, signame)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 128 + sig, err
    ckpt = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    steps = len(log.read_text().splitlines())
    assert ckpt["step"] == steps >= 2  # everything up to the stop is saved (--save-every never came)
    assert f"{signame} received: stopped after step {steps}" in err and "Traceback" not in err, err
    # a kill during a save leaves the temporary file; the next start removes it and resumes
    partial = tmp_path / "run" / ".last.pt.tmp"
    partial.write_bytes(b"cut short")
    write_toy_dataset(tmp_path, "TOY-SIG", n=4, size=(32, 32))  # registers it here too (same files)
    with pytest.warns(UserWarning, match="partial checkpoint"):
        rest = train(_config(tmp_path, tmp_path / "run", train_set="TOY-SIG", iterations=100000, save_every=100000,
                             seed=1, resume="auto", stop_at=steps + 1, batch_size=2))
    assert not partial.exists() and rest.step == steps + 1


def test_resume_continues_the_checkpoints_schedule(toy: Path, tmp_path: Path):
    out = tmp_path / "run"
    train(_config(toy, out, stop_at=1, lr=0.05, augment=("hflip",)))
    with pytest.raises(ValueError, match=r"--lr 0.01 \(the checkpoint's: 0.05\)"):
        train(_config(toy, out, resume="auto", lr=0.01))
    rest = train(_config(toy, out, resume="auto", stop_at=2))  # overrides left out: the checkpoint's are used
    ckpt = torch.load(out / "last.pt", weights_only=True)
    assert rest.step == 2 and ckpt["recipe"]["lr"] == 0.05 and tuple(ckpt["recipe"]["augment"]) == ("hflip",)
    assert ckpt["optimizer"]["param_groups"][0]["initial_lr"] == 0.05


def test_resume_drops_a_log_line_cut_short_and_names_a_damaged_log(tmp_path):
    from baselines.checkpoint import truncate_log

    log = tmp_path / "val_log.jsonl"
    log.write_text('{"step": 1}\n{"step": 2}\n{"step": 3}\n{"st')
    with pytest.warns(UserWarning, match="cut short"):
        truncate_log(log, 2)
    assert log.read_text() == '{"step": 1}\n{"step": 2}\n'
    log.write_text('{"step": 1}\n{"st\n{"step": 3}\n')
    with pytest.raises(ValueError, match=r"val_log.jsonl: line 2 is not JSON"):
        truncate_log(log, 2)
