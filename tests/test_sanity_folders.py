"""The sanity stage on folders and values: GT copies as maps, partial datasets, ambiguous run folders, unread
files, maps unrelated to their GT, misspelled sub-folders (``dbdbench evaluate`` on the ``tiny`` dataset).

Each mistake is built from the good maps of ``conftest.py``'s ``tiny`` fixture and must be refused (exit 2,
the files or folders named, the fix said) or recorded in the result's warnings.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from _tiny_cli import STEMS, evaluate, run


def codes(data):
    return [w["code"] for w in data["meta"]["warnings"]]


def test_the_gt_folder_passed_as_maps_is_refused(tiny):
    gt_dir = tiny["root"] / "TINY" / "gt"
    res, _ = evaluate(tiny, folder=gt_dir)
    assert res.exit_code == 2 and "6 of 6 maps equal their GT mask" in res.output and "img00.png" in res.output
    assert "--accept maps-are-gt" in res.output
    res, data = evaluate(tiny, "--accept", "maps-are-gt", folder=gt_dir)
    assert res.exit_code == 0 and codes(data) == ["maps-are-gt"] and data["scores"]["max_f"] == 1.0


def test_a_partial_dataset_is_refused_and_the_registry_size_recorded(tiny):
    for s in STEMS[:2]:
        (tiny["root"] / "TINY" / "gt" / f"{s}.png").unlink()
    res, _ = evaluate(tiny)
    assert res.exit_code == 2 and "only 4 of its 6 GT files" in res.output and "--accept partial-dataset" in res.output
    res, data = evaluate(tiny, "--accept", "partial-dataset")
    assert res.exit_code == 0 and codes(data)[0] == "partial-dataset"
    assert data["n_images"] == 4 and data["meta"]["n_images_registered"] == 6


def test_two_sub_folders_of_one_dataset_are_refused(tiny):
    runs = tiny["tmp"] / "runs"
    for name in ("TINY", "tiny"):
        shutil.copytree(tiny["preds"], runs / name)
    res = run("evaluate", runs, "--pred-white", "blur", "-q")
    assert res.exit_code == 2 and "sub-folders TINY, tiny name the same dataset" in res.output


def test_maps_beside_a_dataset_sub_folder_are_refused(tiny):
    runs = tiny["tmp"] / "runs"
    shutil.copytree(tiny["preds"], runs / "TINY")  # a stale sub-folder beside the folder's own maps
    for p in tiny["preds"].iterdir():
        shutil.copy(p, runs / p.name)
    for args in ((), ("-d", "TINY")):
        res = run("evaluate", runs, "--pred-white", "blur", "-q", *args)
        assert res.exit_code == 2 and "beside the dataset sub-folder(s) TINY" in res.output, args
        assert "img00.png" in res.output


def test_misspelled_sub_folder_is_named_with_the_closest_name_without_case(tiny):
    runs = tiny["tmp"] / "runs"
    for name in ("TINY", "tiy"):
        shutil.copytree(tiny["preds"], runs / name)
    res = run("evaluate", runs, "--pred-white", "blur", "-q")
    assert res.exit_code == 2 and "tiy (did you mean TINY?)" in res.output


def test_files_that_are_not_read_are_named_with_the_accepted_extensions(tiny, tmp_path):
    (tiny["preds"] / "img00.webp").write_bytes(b"RIFF....WEBP")
    res, _ = evaluate(tiny)
    assert res.exit_code == 2 and "img00.webp" in res.output and ".png" in res.output
    res, data = evaluate(tiny, "--accept", "unread-files")
    assert res.exit_code == 0 and codes(data) == ["unread-files"]
    assert data["meta"]["warnings"][0]["files"] == ["img00.webp"]
    only = tmp_path / "webp"
    only.mkdir()
    for s in STEMS:
        (only / f"{s}.webp").write_bytes(b"RIFF....WEBP")
    res, _ = evaluate(tiny, folder=only)
    assert res.exit_code == 2 and "not read: img00.webp" in res.output and ".png" in res.output


def test_maps_unrelated_to_their_gt_are_recorded(tiny):
    import cv2

    rng = np.random.default_rng(1)
    for s in STEMS:  # maps that say nothing about their images (as maps saved under other images' names can)
        cv2.imwrite(str(tiny["preds"] / f"{s}.png"), rng.integers(0, 256, (30, 40), dtype=np.uint8))
    res, data = evaluate(tiny)
    assert res.exit_code == 0 and "unrelated-maps" in codes(data)
    res, _ = evaluate(tiny, "--strict")
    assert res.exit_code == 2 and "no closer to their own images' GT than to other images'" in res.output


def test_maps_saved_under_the_next_images_name_are_recorded(tiny):
    """Masks of unrelated layouts (the fixture's nested column blocks are too alike for the test), good maps,
    then the same maps saved under the next image's name."""
    import cv2

    rng = np.random.default_rng(4)
    maps = {}
    for s in STEMS:
        gt = np.zeros((30, 40), np.uint8)
        y, x = rng.integers(0, 20), rng.integers(0, 28)
        gt[y : y + 10 + rng.integers(0, 10), x : x + 12 + rng.integers(0, 12)] = 255
        cv2.imwrite(str(tiny["root"] / "TINY" / "gt" / f"{s}.png"), gt)
        maps[s] = np.clip(gt * 0.7 + rng.normal(40, 30, gt.shape), 0, 255).astype(np.uint8)
    for a, b in zip(STEMS, STEMS, strict=True):
        cv2.imwrite(str(tiny["preds"] / f"{a}.png"), maps[b])
    res, data = evaluate(tiny)
    assert res.exit_code == 0 and codes(data) == []
    for a, b in zip(STEMS, STEMS[1:] + STEMS[:1], strict=True):
        cv2.imwrite(str(tiny["preds"] / f"{a}.png"), maps[b])
    res, data = evaluate(tiny)
    assert res.exit_code == 0 and codes(data) == ["unrelated-maps"]


def test_good_maps_raise_none_of_these(tiny):
    res, data = evaluate(tiny)
    assert res.exit_code == 0 and codes(data) == [] and data["meta"]["n_images_registered"] == 6


# ------------------------------------------------------------------------------------------- turned maps


def test_rotation_and_transpose_are_told_apart_and_undone_exactly(tiny):
    import cv2

    m = dict(tiny["maps"])
    rng = np.random.default_rng(2)
    for s in ("img01", "img02"):  # masks without a mirror symmetry (the fixture's column blocks have one)
        gt = np.zeros((30, 40), np.uint8)
        gt[:12, :25] = 255
        gt[12:, :7] = 255
        cv2.imwrite(str(tiny["root"] / "TINY" / "gt" / f"{s}.png"), gt)
        m[s] = np.clip(gt * 0.7 + rng.normal(40, 30, gt.shape), 0, 255).astype(np.uint8)
        cv2.imwrite(str(tiny["preds"] / f"{s}.png"), m[s])
    _, clean = evaluate(tiny, out_name="clean.json")
    cv2.imwrite(str(tiny["preds"] / "img01.png"), np.ascontiguousarray(np.rot90(m["img01"], -1)))  # clockwise
    cv2.imwrite(str(tiny["preds"] / "img02.png"), np.ascontiguousarray(np.rot90(m["img02"], -1)))
    res, _ = evaluate(tiny)
    assert res.exit_code == 2 and "img01.png: rotated 90 degrees clockwise (pass --rotate-maps ccw)" in res.output
    res, _ = evaluate(tiny, "--transpose-maps")  # would mirror them: refused
    assert res.exit_code == 2 and "img02.png: rotated 90 degrees clockwise" in res.output
    res, data = evaluate(tiny, "--rotate-maps", "ccw")
    assert res.exit_code == 0 and data["scores"] == clean["scores"]
    assert codes(data) == ["resized"] and data["meta"]["warnings"][0]["files"] == ["img01.png", "img02.png"]
    cv2.imwrite(str(tiny["preds"] / "img01.png"), np.ascontiguousarray(m["img01"].T))
    cv2.imwrite(str(tiny["preds"] / "img02.png"), m["img02"])
    res, _ = evaluate(tiny, "--rotate-maps", "cw")
    assert res.exit_code == 2 and "img01.png: transposed (pass --transpose-maps)" in res.output
    res, data = evaluate(tiny, "--transpose-maps")
    assert res.exit_code == 0 and data["scores"] == clean["scores"]


def test_a_map_that_cannot_be_told_is_said_so(tiny):
    import cv2

    cv2.imwrite(str(tiny["preds"] / "img03.png"), np.full((40, 30), 90, np.uint8))  # constant: every turn alike
    res, _ = evaluate(tiny)
    assert res.exit_code == 2 and "img03.png: rotated or transposed, which cannot be told from the GT" in res.output
    res, data = evaluate(tiny, "--rotate-maps", "cw")
    turned = [w for w in data["meta"]["warnings"] if w["code"] == "resized"]
    assert res.exit_code == 0 and "could not be told" in turned[0]["message"] and turned[0]["files"] == ["img03.png"]


def test_another_aspect_ratio_is_refused_but_another_size_is_resized(tiny):
    import cv2

    cv2.imwrite(str(tiny["preds"] / "img04.png"), cv2.resize(tiny["maps"]["img04"], (32, 32)))  # square output
    res, _ = evaluate(tiny)
    assert res.exit_code == 2 and "another aspect ratio" in res.output and "img04.png" in res.output
    res, data = evaluate(tiny, "--accept", "aspect-ratio")
    assert res.exit_code == 0 and codes(data) == ["aspect-ratio"] and data["per_image"][4]["resized"]
    cv2.imwrite(str(tiny["preds"] / "img04.png"), cv2.resize(tiny["maps"]["img04"], (81, 61)))  # 2x, rounded
    res, data = evaluate(tiny)
    assert res.exit_code == 0 and codes(data) == ["resized"]


# --------------------------------------------------------------------------------------------- colormaps


@pytest.mark.parametrize("name", ["bone", "pink", "hot", "copper", "Blues", "jet", "viridis"])
def test_colormap_renderings_are_read_exactly(tiny, name):
    """plt.imsave output of a map spanning 0..255 reads back as the map itself with --colormap NAME where every
    colour of the colormap is distinct (matplotlib's 8-bit tables of copper, Blues, jet, viridis repeat a few
    colours: then the result says so); with --luminance it is refused (pseudo-colour) or scored with the
    conversion recorded, never silently."""
    import matplotlib.pyplot as plt

    from dbdbench.io import colormap_table

    distinct = len(np.unique(colormap_table(name), axis=0)) == 256
    for s in STEMS:
        m = tiny["maps"][s].copy()
        m[0, 0], m[0, 1] = 0, 255  # imsave stretches min..max to the colormap's ends
        tiny["maps"][s] = m
        import cv2

        cv2.imwrite(str(tiny["preds"] / f"{s}.png"), m)
    _, raw = evaluate(tiny, out_name="raw.json")
    for s in STEMS:
        plt.imsave(tiny["preds"] / f"{s}.png", tiny["maps"][s], cmap=name)
    res, data = evaluate(tiny, "--colormap", name)
    assert res.exit_code == 0, res.output
    (w,) = data["meta"]["warnings"]
    assert w["code"] == "colormap" and len(w["files"]) == 6
    if distinct:
        assert data["scores"] == raw["scores"] and "exact" in w["message"]
    else:
        assert "repeats" in w["message"]
        assert data["scores"]["mae"] == pytest.approx(raw["scores"]["mae"], abs=2e-3)
    res, data = evaluate(tiny, "--luminance")
    assert res.exit_code == 2 or "luminance" in codes(data)
    res, _ = evaluate(tiny, "--colormap", "magma")
    assert res.exit_code == 2 and "far from every colour of the colormap" in res.output and "img00.png" in res.output


def test_unknown_colormap_is_refused(tiny):
    res, _ = evaluate(tiny, "--colormap", "jett")
    assert res.exit_code == 2 and "unknown colormap 'jett'" in res.output
    res, _ = evaluate(tiny, "--colormap", "jet", "--luminance")
    assert res.exit_code == 2 and "not both" in res.output


def test_the_cli_applies_the_api_contract_swapped_maps_and_gt(tiny):
    """The maps and the GT swapped (graded "GT", binary "maps"): found by Evaluator.update in the workers, judged
    with the files named, for one job and for two."""
    import cv2

    for s in STEMS:
        cv2.imwrite(str(tiny["root"] / "TINY" / "gt" / f"{s}.png"), tiny["maps"][s])
        cv2.imwrite(str(tiny["preds"] / f"{s}.png"), tiny["gts"][s])
    for jobs in ("1", "2"):
        res, _ = evaluate(tiny, "-j", jobs)
        assert res.exit_code == 2 and "are the maps and the GT swapped?" in res.output and "img00.png" in res.output
    res, data = evaluate(tiny, "--accept", "swapped-arguments")
    assert res.exit_code == 0 and "swapped-arguments" in codes(data)
