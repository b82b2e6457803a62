"""HiFST's published CUHK-TE-1 maps under the mistake classes of docs/refusals.md: the clean scores or a refusal.

The maps (white = in focus) and the CUHK GT are read in place from ../shared/data; mistaken copies of the
maps are written to a temporary folder. Through the CLI (``dbdbench evaluate``) and the Python API.
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from dbdbench.cli import main
from dbdbench.datasets import read_split
from dbdbench.findings import SanityError
from dbdbench.metrics import Evaluator

TE1 = read_split("CUHK-TE-1")


def _map(shared_data, stem: str) -> np.ndarray:
    return cv2.imread(str(shared_data / "hifst" / "cuhk_maps" / f"{stem}_HiFSTBlurMap.png"), cv2.IMREAD_UNCHANGED)


def _evaluate(folder, data_root, out, *extra):
    res = CliRunner().invoke(main, ["evaluate", str(folder), "-d", "CUHK-TE-1", "--pred-white", "sharp", "-q",
                                    "--data-root", str(data_root), "--json", str(out), *extra])  # fmt: skip
    return res, (json.loads(out.read_text()) if res.exit_code == 0 else None)


@pytest.fixture
def clean(shared_data, data_root, tmp_path):
    res, data = _evaluate(shared_data / "hifst" / "cuhk_maps", data_root, tmp_path / "clean.json")
    assert res.exit_code == 0, res.output
    return data


def _write(folder, maps: dict[str, np.ndarray], ext: str = ".png") -> None:
    folder.mkdir()
    for stem, m in maps.items():
        cv2.imwrite(str(folder / f"{stem}{ext}"), m)


def test_binary_maps_saved_as_0_1_and_16_bit(shared_data, data_root, tmp_path):
    binary = {s: np.where(_map(shared_data, s) >= 128, 255, 0).astype(np.uint8) for s in TE1}
    _write(tmp_path / "ref", binary)
    _, ref = _evaluate(tmp_path / "ref", data_root, tmp_path / "ref.json")
    _write(tmp_path / "b01", {s: m // 255 for s, m in binary.items()})
    res, _ = _evaluate(tmp_path / "b01", data_root, tmp_path / "b01.json")
    assert res.exit_code == 2 and "only the values 0 and 1" in res.output and "--rescale-maps" in res.output
    res, data = _evaluate(tmp_path / "b01", data_root, tmp_path / "b01.json", "--rescale-maps")
    assert res.exit_code == 0 and data["scores"] == ref["scores"]
    _write(tmp_path / "w16", {s: _map(shared_data, s).astype(np.uint16) for s in TE1})
    res, _ = _evaluate(tmp_path / "w16", data_root, tmp_path / "w16.json")
    assert res.exit_code == 2 and "16-bit map(s)" in res.output


def test_float_maps_written_without_255_are_refused(shared_data, data_root, tmp_path):
    _write(tmp_path / "few", {s: np.rint(_map(shared_data, s) / 255).astype(np.uint8) for s in TE1}, ".jpg")
    res, _ = _evaluate(tmp_path / "few", data_root, tmp_path / "few.json")
    assert res.exit_code == 2 and ("range-few-levels" in res.output or "only the values 0 and 1" in res.output)


def test_gt_folder_as_maps_is_refused(shared_data, data_root, tmp_path):
    res = CliRunner().invoke(main, ["evaluate", str(shared_data / "cuhk" / "gt"), "-d", "CUHK-TE-1", "-q",
                                    "--pred-white", "blur", "--data-root", str(data_root)])  # fmt: skip
    assert res.exit_code == 2 and "maps equal their GT mask" in res.output


def test_api_reads_0_1_masks_as_masks_and_refuses_swapped_arguments(shared_data, clean):
    stems = TE1[:10]
    ev_ref, ev_01 = Evaluator(), Evaluator()
    for s in stems:
        gt = cv2.imread(str(shared_data / "cuhk" / "gt" / f"{s}.png"), cv2.IMREAD_GRAYSCALE) >= 128  # white = blur
        pred = 255 - _map(shared_data, s)  # P(blur)
        ev_ref.update(pred, gt, s)
        ev_01.update(pred, gt.astype(np.uint8), s)  # a mask loaded as 0/1, as training code does
        with pytest.raises(SanityError, match="swapped"):
            Evaluator().update(gt, pred, s)
    assert ev_01.compute().scores == ev_ref.compute().scores
    per_image = {r["name"]: r["mae"] for r in clean["per_image"]}
    assert [r.mae for r in ev_ref.records] == [per_image[s] for s in stems]  # the CLI's numbers, image by image
