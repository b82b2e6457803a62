"""TorchEvaluator: bit identity with the numpy Evaluator for every protocol, dtype, batch layout and device."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from _torch_cases import (
    assert_same,
    case_maps,
    case_masks,
    ddp_cases,
    ddp_empty_rank_worker,
    ddp_metric_worker,
    numpy_result,
    torch_result,
)

from dbdbench.metrics import TorchEvaluator, list_protocols, torch_batch
from dbdbench.metrics.pairwise import pairwise_sum

DTYPES = [np.uint8, np.float32, np.float64]


@pytest.fixture(params=["numpy", "torch"])
def cpu_kernel(request, monkeypatch):
    """Both kernels on the CPU: the numpy kernel on the tensors' memory (the default there) and the torch
    kernel that other devices run (so that it is checked without a GPU)."""
    monkeypatch.setattr(torch_batch, "NUMPY_ON_CPU", request.param == "numpy")
    return request.param


@pytest.mark.parametrize("n", [*range(1, 140), 255, 256, 1000, 4097, 20001])
def test_pairwise_sum_is_numpys(n):
    x = np.random.default_rng(n).random((2, n)) * np.array([[1.0], [1e6]])
    got = pairwise_sum(torch.from_numpy(x)).numpy()
    assert got[0] == np.sum(x[0]) and got[1] == np.sum(x[1])


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("protocol", list_protocols())
def test_identical_to_numpy_on_random_maps(protocol, dtype, cpu_kernel):
    rng = np.random.default_rng(7)
    preds, gts = case_maps(dtype, rng), case_masks(rng)
    assert_same(torch_result(protocol, preds, gts), numpy_result(protocol, preds, gts))


@pytest.mark.parametrize("kind", ["uint8", "float"])
@pytest.mark.parametrize("protocol", list_protocols())
def test_identical_with_soft_masks(protocol, kind, cpu_kernel):
    rng = np.random.default_rng(3)
    preds, gts = case_maps(np.float32, rng), case_masks(rng, kind=kind)
    # wholly graded masks beside the binary maps look like swapped arguments: accepted, and recorded alike
    accept = ("swapped-arguments",)
    expected = numpy_result(protocol, preds, gts, accept=accept)
    assert [w["code"] for w in expected.meta["warnings"]][:1] == ["swapped-arguments"]
    assert_same(torch_result(protocol, preds, gts, accept=accept), expected)


@pytest.mark.parametrize("protocol", ["dbdbench", "pysod", "zhao"])
def test_mixed_sizes_as_list_and_as_padded_batch(protocol, cpu_kernel):
    rng = np.random.default_rng(5)
    shapes = [(20, 31), (17, 12), (20, 31), (9, 40), (17, 12), (33, 8)]
    preds = [case_maps(np.uint8, rng, s, n=8)[i] for i, s in enumerate(shapes)]
    gts = [case_masks(rng, s, n=8)[i] for i, s in enumerate(shapes)]
    expected = numpy_result(protocol, preds, gts)
    assert_same(torch_result(protocol, preds, gts, batch=6), expected)
    pad_p = torch.full((6, 1, 40, 41), 255, dtype=torch.uint8)  # padding that would change every score
    pad_g = torch.ones((6, 40, 41), dtype=torch.bool)
    for i, (p, g) in enumerate(zip(preds, gts, strict=True)):
        pad_p[i, 0, : p.shape[0], : p.shape[1]] = torch.from_numpy(p)
        pad_g[i, : g.shape[0], : g.shape[1]] = torch.from_numpy(g)
    ev = TorchEvaluator(protocol)
    ev.update(pad_p[:4], pad_g[:4], sizes=shapes[:4])
    ev.update(pad_p[4:], pad_g[4:], sizes=torch.tensor(shapes[4:]))
    assert_same(ev.compute(), expected)


def test_bool_maps_logits_and_ids(cpu_kernel):
    rng = np.random.default_rng(11)
    gts = case_masks(rng, n=6)
    bools = [rng.random(g.shape) < 0.5 for g in gts]
    assert_same(torch_result("pysod", bools, gts, metrics=["mae", "max_f", "sm"]),
                numpy_result("pysod", bools, gts, metrics=["mae", "max_f", "sm"]))
    logits = torch.randn(6, 1, *gts[0].shape, generator=torch.Generator().manual_seed(0))
    # the reference applies torch.sigmoid to the very tensors the evaluator gets (the same batches of 3): a
    # vectorised sigmoid over other offsets may round differently on some CPUs, and the claim is only that the
    # evaluator scores torch's probabilities as the numpy Evaluator does
    probs = [*torch.sigmoid(logits[:3])[:, 0].numpy(), *torch.sigmoid(logits[3:])[:, 0].numpy()]
    ev = TorchEvaluator("dbdbench", from_logits=True)
    ev.update(logits[3:], torch.from_numpy(np.stack(gts[3:])), ids=[3, 4, 5])  # out of order: ids restore it
    ev.update(logits[:3], torch.from_numpy(np.stack(gts[:3])), ids=torch.tensor([0, 1, 2]))
    assert_same(ev.compute(), numpy_result("dbdbench", probs, gts))


def test_bad_input_is_refused(cpu_kernel):
    ev = TorchEvaluator()
    with pytest.raises(ValueError, match="convert colour maps to gray"):
        ev.update(torch.rand(2, 3, 8, 8), torch.zeros(2, 8, 8, dtype=torch.bool))
    with pytest.raises(ValueError, match="shape mismatch"):
        ev.update(torch.rand(2, 8, 8), torch.zeros(2, 8, 9, dtype=torch.bool))
    with pytest.raises(ValueError, match="dtype torch.int32"):
        ev.update(torch.zeros(2, 8, 8, dtype=torch.int32), torch.zeros(2, 8, 8, dtype=torch.bool))
    with pytest.raises(ValueError, match="does not fit"):
        ev.update(torch.rand(2, 8, 8), torch.zeros(2, 8, 8, dtype=torch.bool), sizes=[(8, 8), (9, 8)])
    pred = torch.rand(3, 8, 8, dtype=torch.float64)
    pred[1, 2, 2] = float("nan")
    ev.update(pred, torch.zeros(3, 8, 8, dtype=torch.bool))  # found on the device, raised by compute
    with pytest.raises(ValueError, match=r"image00001: prediction has values in \[nan, nan\]"):
        ev.compute()
    ev = TorchEvaluator()
    ev.update(torch.rand(2, 8, 8), torch.rand(2, 8, 8) * 2)
    with pytest.raises(ValueError, match="image00000: ground truth has values"):
        ev.compute()
    ev = TorchEvaluator()
    ev.update(torch.rand(2, 8, 8), torch.zeros(2, 8, 8, dtype=torch.bool), ids=[0, 1])
    ev.update(torch.rand(1, 8, 8), torch.zeros(1, 8, 8, dtype=torch.bool), ids=[1])
    with pytest.raises(ValueError, match="ids seen more than once: \\[1\\]"):
        ev.compute()
    with pytest.raises(ValueError, match="no images were scored"):
        TorchEvaluator().compute()


def test_bad_mask_in_a_batch_of_8bit_maps_is_reported_and_the_rest_scored(cpu_kernel):
    """The 8-bit path scores the maps whose masks pass the check and reports the others by name."""
    rng = np.random.default_rng(4)
    preds, gts = case_maps(np.uint8, rng, n=5), [m.astype(np.float64) for m in case_masks(rng, n=5)]
    bad = [g.copy() for g in gts]
    bad[2] = bad[2] + 1.5
    ev = TorchEvaluator()
    ev.update(torch.from_numpy(np.stack(preds)), torch.from_numpy(np.stack(bad)))
    with pytest.raises(ValueError, match=r"image00002: ground truth has values in \[1.5, 2.5\]"):
        ev.compute()
    assert_same(torch_result("dbdbench", preds, gts), numpy_result("dbdbench", preds, gts))


def _hifst_cuhk_te1(shared_data):
    stems = (shared_data / "cuhk" / "splits" / "cuhk-te-1.txt").read_text().split()
    preds, gts = [], []
    for s in stems:
        gts.append(cv2.imread(str(shared_data / "cuhk" / "gt" / f"{s}.png"), cv2.IMREAD_GRAYSCALE))
        sharp = cv2.imread(str(shared_data / "hifst" / "cuhk_maps" / f"{s}_HiFSTBlurMap.png"), cv2.IMREAD_GRAYSCALE)
        preds.append(255 - sharp)  # HiFST maps are bright = sharp
    return preds, gts


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_identical_on_hifst_cuhk_te1(shared_data, dtype, cpu_kernel):
    """All protocols on 12 real maps of mixed sizes (all 100 in the slow test and on CUDA)."""
    _check_real(shared_data, dtype, 12)


@pytest.mark.slow
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_identical_on_all_of_hifst_cuhk_te1(shared_data, dtype):
    _check_real(shared_data, dtype, 100)


def _check_real(shared_data, dtype, n: int) -> None:
    """Every protocol; pysod's structure metrics (numpy code on the host) on 8 maps only."""
    preds, gts = _hifst_cuhk_te1(shared_data)
    preds, gts = preds[:n], gts[:n]
    if dtype != np.uint8:
        preds = [(p / 255).astype(dtype) for p in preds]
    for protocol in list_protocols():
        metrics = ["mae", "max_f", "mean_f", "adp_f", "bin_f", "auc_fcurve"] if protocol == "pysod" else None
        assert_same(torch_result(protocol, preds, gts, batch=16, metrics=metrics),
                    numpy_result(protocol, preds, gts, metrics=metrics))
    assert_same(torch_result("pysod", preds[:8], gts[:8]), numpy_result("pysod", preds[:8], gts[:8]))


def test_importing_dbdbench_does_not_import_torch():
    code = "import sys, dbdbench, dbdbench.metrics, dbdbench.evaluate; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("protocol", list_protocols())
def test_identical_on_cuda(protocol, dtype):
    rng = np.random.default_rng(7)
    preds, gts = case_maps(dtype, rng, shape=(61, 83)), case_masks(rng, shape=(61, 83))
    shapes = [(61, 83), (40, 83), (61, 50), (33, 33)]
    preds += [case_maps(dtype, rng, s, n=8)[2 + i] for i, s in enumerate(shapes)]
    gts += [case_masks(rng, s, n=8)[i] for i, s in enumerate(shapes)]
    assert_same(torch_result(protocol, preds, gts, device="cuda", batch=7), numpy_result(protocol, preds, gts))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_identical_on_cuda_real_maps(shared_data):
    preds, gts = _hifst_cuhk_te1(shared_data)
    for protocol in list_protocols():
        metrics = ["mae", "max_f", "mean_f", "adp_f", "bin_f", "sm"] if protocol == "pysod" else None
        for maps in (preds, [(p / 255).astype(np.float32) for p in preds]):
            assert_same(torch_result(protocol, maps, gts, device="cuda", batch=16, metrics=metrics),
                        numpy_result(protocol, maps, gts, metrics=metrics))


def _two_gloo_processes(worker, out) -> None:
    pytest.importorskip("torchmetrics")
    import socket

    import torch.multiprocessing as mp

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # fork: the workers reuse the imported modules instead of importing torch again (spawn takes far longer)
    mp.start_processes(worker, args=(2, port, str(out)), nprocs=2, join=True, start_method="fork")


_GLOO = pytest.mark.skipif(not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
                           reason="torch.distributed with gloo is not available in this build")


@_GLOO
def test_ddp_sync_equals_one_process(tmp_path):
    from dbdbench.results import load_result

    _two_gloo_processes(ddp_metric_worker, tmp_path)
    preds, gts = ddp_cases()
    for protocol in ("dbdbench", "zhao"):
        expected = numpy_result(protocol, preds, gts)
        for rank in range(2):
            got = load_result(tmp_path / f"{protocol}-rank{rank}.json")
            assert got.n_images == 7
            assert got.to_dict() == expected.to_dict()


@_GLOO
def test_ddp_rank_without_images_contributes_nothing(tmp_path):
    """A process with no image (more processes than images) neither aborts the job nor changes the result; when
    no process has an image, every process gets the same clear error."""
    from dbdbench.results import load_result

    _two_gloo_processes(ddp_empty_rank_worker, tmp_path)
    preds, gts = ddp_cases()
    for protocol in ("dbdbench", "zhao"):
        expected = numpy_result(protocol, preds, gts)
        for rank in range(2):
            assert load_result(tmp_path / f"{protocol}-rank{rank}.json").to_dict() == expected.to_dict()
    for rank in range(2):
        assert "no images were scored by any process" in (tmp_path / f"none-rank{rank}.txt").read_text()
