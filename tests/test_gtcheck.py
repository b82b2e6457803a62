"""GT integrity on a small synthetic dataset: a pinned copy passes, an inverted or foreign copy is refused."""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import replace

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from dbdbench.cli import main
from dbdbench.datasets import DATASETS, DatasetSpec, register_from_toml
from dbdbench.digests import mask_digest, parse_digests
from dbdbench.evaluate import evaluate_folder
from dbdbench.gt.cache import entry_path, read_gt
from dbdbench.gt.check import verify_gt
from dbdbench.gt.dataset_check import digest_list
from dbdbench.io import ImageReadError
from dbdbench.sanity import Checks, SanityError

N = 5


def _mask(i: int, shape=(30, 44)) -> np.ndarray:
    yy, xx = np.indices(shape)
    return np.where((xx - 8 - 6 * i) ** 2 + (yy - 14) ** 2 < 90, 255, 0).astype(np.uint8)


@pytest.fixture
def pinned(tmp_path, monkeypatch):
    """A dataset DS (white = blur) with its digest list, and a folder of maps for it."""
    monkeypatch.setenv("DBDBENCH_CACHE", str(tmp_path / "cache"))
    gt_dir = tmp_path / "DS" / "gt"
    gt_dir.mkdir(parents=True)
    preds = tmp_path / "preds"
    preds.mkdir()
    rng = np.random.default_rng(0)
    for i in range(N):
        cv2.imwrite(str(gt_dir / f"im{i}.png"), _mask(i))
        noisy = np.clip(_mask(i) * 0.6 + rng.uniform(0, 100, _mask(i).shape), 0, 255).astype(np.uint8)
        cv2.imwrite(str(preds / f"im{i}.png"), noisy)
    spec = DatasetSpec("DS", "DS", folder="DS", gt_white="blur", n_images=N)
    digests = tmp_path / "DS.txt"
    digests.write_text(digest_list(spec, tmp_path))
    yield tmp_path, replace(spec, digests=str(digests)), preds
    DATASETS.pop("DS-PINNED", None)  # registered by the CLI tests through DBDBENCH_DATASETS


def _files(root, spec):
    return spec.gt_files(root)


def test_digest_list_is_the_blur_mask_of_each_file(pinned):
    root, spec, _ = pinned
    pins = parse_digests((root / "DS.txt").read_text(), "DS.txt")
    assert sorted(pins) == [f"im{i}" for i in range(N)]
    for i in range(N):  # an independent recomputation: BLAKE2b-64 of "<II" height, width + packed bits
        h = hashlib.blake2b(struct.pack("<II", 30, 44), digest_size=8)
        h.update(np.packbits(_mask(i).ravel() == 255).tobytes())
        assert pins[f"im{i}"].digest == h.hexdigest() == mask_digest(_mask(i) == 255)
        assert pins[f"im{i}"].shape == (30, 44)


def test_clean_copy_passes_and_records_no_warning(pinned):
    root, spec, preds = pinned
    assert verify_gt(spec, _files(root, spec)) == []
    res = evaluate_folder(preds, spec, pred_white="blur", data_root=root, hashes=False)
    assert not [w for w in res.meta["warnings"] if w["code"].startswith("gt-")]


def test_reencoded_copy_with_the_same_pixels_passes(pinned):
    root, spec, _ = pinned
    gt_dir = root / "DS" / "gt"
    cv2.imwrite(str(gt_dir / "im0.png"), _mask(0).astype(np.uint16) * 257)  # 16-bit
    cv2.imwrite(str(gt_dir / "im1.png"), np.repeat(_mask(1)[..., None], 3, axis=2))  # RGB, equal channels
    (gt_dir / "im2.png").unlink()
    cv2.imwrite(str(gt_dir / "im2.bmp"), _mask(2))  # another format
    assert verify_gt(spec, _files(root, spec)) == []


def _invert_all(root):
    for path in sorted((root / "DS" / "gt").iterdir()):
        cv2.imwrite(str(path), 255 - cv2.imread(str(path), cv2.IMREAD_GRAYSCALE))


def test_inverted_copy_is_refused_with_the_fix(pinned):
    root, spec, preds = pinned
    _invert_all(root)
    [finding] = verify_gt(spec, _files(root, spec))
    assert (finding.severity, finding.code) == ("error", "gt-inverted")
    assert finding.files == tuple(f"im{i}" for i in range(N))
    with pytest.raises(SanityError) as err:
        evaluate_folder(preds, spec, pred_white="blur", data_root=root, hashes=False)
    msg = str(err.value)
    assert "5 of 5 GT masks" in msg and "black and white swapped" in msg and "(white = in focus)" in msg
    assert 'gt_white = "sharp"' in msg and "<data-root>/DS/gt/" in msg and "--accept gt-inverted" in msg
    assert "inverted-maps" not in msg  # refused before scoring: the maps are not blamed for the GT


def test_inverted_copy_registered_with_its_polarity_scores_like_the_original(pinned):
    root, spec, preds = pinned
    clean = evaluate_folder(preds, spec, pred_white="blur", data_root=root, hashes=False)
    _invert_all(root)
    flipped = replace(spec, gt_white="sharp")
    assert verify_gt(flipped, _files(root, flipped)) == []
    res = evaluate_folder(preds, flipped, pred_white="blur", data_root=root, hashes=False)
    assert res.scores == clean.scores


def _make_foreign(root):
    gt_dir = root / "DS" / "gt"
    edited = _mask(1)
    edited[0, 0] = 255  # one pixel
    cv2.imwrite(str(gt_dir / "im1.png"), edited)
    cv2.imwrite(str(gt_dir / "im2.png"), cv2.resize(_mask(2), (22, 15), interpolation=cv2.INTER_NEAREST))
    cv2.imwrite(str(gt_dir / "im3.png"), (_mask(3) // 255) * 200)  # 0/200: not black and white
    cv2.imwrite(str(gt_dir / "extra.png"), _mask(0))


def test_foreign_copy_names_each_file_and_the_override(pinned):
    root, spec, preds = pinned
    _make_foreign(root)
    findings = verify_gt(spec, _files(root, spec))
    assert [(f.severity, f.code, f.files) for f in findings] == [
        ("error", "gt-foreign", ("im2",)),
        ("error", "gt-foreign", ("im3",)),
        ("error", "gt-foreign", ("im1",)),
        ("error", "gt-foreign", ("extra",)),
    ]
    texts = [f.text() for f in findings]
    assert "DS: 1 of 6 GT masks in" in texts[0] and "have another size than the registry's" in texts[0]
    assert "are not black and white only" in texts[1] and "have other pixels than the registry's" in texts[2]
    assert "DS: 1 GT file(s) in" in texts[3] and "are not in the registry's list" in texts[3]
    assert all("--accept gt-foreign" in t and "(im" in t or "(extra)" in t for t in texts)
    (root / "DS" / "gt" / "extra.png").unlink()  # (it has no prediction)
    with pytest.raises(SanityError, match="--accept gt-foreign"):
        evaluate_folder(preds, spec, pred_white="blur", data_root=root, hashes=False)


def test_accepted_gt_findings_are_scored_and_recorded(pinned):
    root, spec, preds = pinned
    _make_foreign(root)
    (root / "DS" / "gt" / "extra.png").unlink()
    cv2.imwrite(str(root / "DS" / "gt" / "im4.png"), 255 - _mask(4))
    checks = Checks(accept=frozenset({"gt-foreign", "gt-inverted"}))
    res = evaluate_folder(preds, spec, pred_white="blur", data_root=root, hashes=False, checks=checks)
    warnings = [w for w in res.meta["warnings"] if w["code"].startswith("gt-")]
    codes = [(w["code"], w["files"]) for w in warnings]
    assert codes == [
        ("gt-inverted", ["im4"]),
        ("gt-foreign", ["im2"]),
        ("gt-foreign", ["im3"]),
        ("gt-foreign", ["im1"]),
    ]
    assert all(set(w) == {"code", "message", "files"} for w in warnings)
    assert all("(accepted with --accept gt-" in w["message"] for w in warnings)
    only_inverted = Checks(accept=frozenset({"gt-inverted"}))
    with pytest.raises(SanityError, match="gt-foreign"):
        evaluate_folder(preds, spec, pred_white="blur", data_root=root, hashes=False, checks=only_inverted)


def test_a_damaged_cache_entry_is_never_reported_as_a_foreign_file(pinned):
    root, spec, _ = pinned
    files = _files(root, spec)
    for path in files.values():
        read_gt(path)
        entry = entry_path(path)
        blob = bytearray(entry.read_bytes())
        blob[-20] ^= 0xFF  # header digests intact, payload damaged
        blob[40] ^= 0xFF  # and a digest byte in the header
        entry.write_bytes(bytes(blob))
    assert verify_gt(spec, files) == []


def test_unreadable_gt_is_an_error_even_when_accepted(pinned):
    root, spec, _ = pinned
    (root / "DS" / "gt" / "im0.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(ImageReadError, match="im0.png"):
        verify_gt(spec, _files(root, spec), Checks(accept=frozenset({"gt-foreign"})))


def test_cli_refuses_an_inverted_copy_with_exit_2(pinned, monkeypatch):
    root, spec, preds = pinned
    toml = root / "ds.toml"
    toml.write_text('[datasets.DS-PINNED]\nfolder = "DS"\ngt_white = "blur"\nn_images = 5\ndigests = "DS.txt"\n')
    monkeypatch.setenv("DBDBENCH_DATASETS", str(toml))
    args = ["evaluate", str(preds), "-d", "DS-PINNED", "--pred-white", "blur", "--data-root", str(root), "-q"]
    assert CliRunner().invoke(main, args).exit_code == 0
    _invert_all(root)
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 2 and "black and white swapped" in res.output
    out = root / "r.json"
    # accepted, the inverted GT makes the maps look inverted: that refusal needs its own --accept
    res = CliRunner().invoke(main, [*args, "--accept", "gt-inverted"])
    assert res.exit_code == 2 and "inverted-maps" in res.output
    res = CliRunner().invoke(main, [*args, "--accept", "gt-inverted", "--accept", "inverted-maps", "--json", str(out)])
    assert res.exit_code == 0, res.output
    assert "gt-inverted" in [w["code"] for w in json.loads(out.read_text())["meta"]["warnings"]]


def test_verify_reports_gt_problems_and_photo_notes(pinned, monkeypatch):
    root, spec, _ = pinned
    toml = root / "ds.toml"
    toml.write_text('[datasets.DS-PINNED]\nfolder = "DS"\ngt_white = "blur"\nn_images = 5\ndigests = "DS.txt"\n')
    monkeypatch.setenv("DBDBENCH_DATASETS", str(toml))
    res = CliRunner().invoke(main, ["datasets", "--data-root", str(root), "verify", "DS-PINNED"])
    assert res.exit_code == 0, res.output
    assert "DS-PINNED: ok (5 GT files, digests match the registry)" in res.output
    assert "photo folder" in res.output and "evaluation needs only the GT" in res.output
    _invert_all(root)
    res = CliRunner().invoke(main, ["datasets", "--data-root", str(root), "verify", "DS-PINNED"])
    assert res.exit_code == 2 and "problem: DS-PINNED: 5 of 5 GT masks" in res.output
    res = CliRunner().invoke(main, ["datasets", "--data-root", str(root), "--verify"])
    assert res.exit_code == 2 and "1 dataset(s) with problems: DS-PINNED" in res.output


def test_registering_a_missing_digest_list_fails_at_once(tmp_path):
    toml = tmp_path / "ds.toml"
    toml.write_text('[datasets.DS-NOLIST]\nfolder = "DS"\ngt_white = "blur"\ndigests = "nowhere.txt"\n')
    with pytest.raises(FileNotFoundError, match="nowhere.txt"):
        register_from_toml(toml)


def test_verify_without_digests_notes_it_and_refuses_0_1_masks(pinned):
    from dbdbench.gt.dataset_check import verify_dataset

    root, spec, _ = pinned
    bare = replace(spec, digests=None)
    ver = verify_dataset(bare, root)
    assert ver.problems == [] and any("pins no digests" in n for n in ver.notes)
    cv2.imwrite(str(root / "DS" / "gt" / "im2.png"), _mask(2) // 255)
    assert [p for p in verify_dataset(bare, root).problems if "im2.png: holds only the values 0 and 1" in p]
