"""``dbdbench evaluate`` end to end on a small dataset built in the test, including every bad input."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from dbdbench.cli import main
from dbdbench.metrics import Evaluator

#: the image stems of the ``tiny`` dataset of conftest.py
STEMS = [f"img{i:02d}" for i in range(6)]


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_scores_equal_the_evaluator(tiny):
    out = tiny["tmp"] / "r.json"
    res = run("evaluate", tiny["preds"], "-d", "TINY", "--pred-white", "blur", "--json", out, "-q")
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    ev = Evaluator("dbdbench")
    for stem in STEMS:
        ev.update(tiny["maps"][stem], tiny["gts"][stem], stem)
    expected = ev.compute().scores
    assert data["scores"] == pytest.approx(expected, abs=0, rel=0)
    assert data["dataset"] == "TINY" and data["protocol"] == "dbdbench" and data["n_images"] == 6
    assert set(data["meta"]["files_sha256"]) == set(STEMS)
    assert "MAE" in res.output


def test_sharp_polarity_flips_maps(tiny):
    for stem in STEMS:
        cv2.imwrite(str(tiny["preds"] / f"{stem}.png"), 255 - tiny["maps"][stem])
    blur = tiny["tmp"] / "b.json"
    res = run("evaluate", tiny["preds"], "-d", "TINY", "--pred-white", "sharp", "--json", blur, "-q")
    assert res.exit_code == 0, res.output
    ev = Evaluator()
    for stem in STEMS:
        ev.update(tiny["maps"][stem], tiny["gts"][stem])
    assert json.loads(blur.read_text())["scores"]["max_f"] == ev.compute().scores["max_f"]


def test_meta_file_declares_polarity_and_inverted_maps_are_refused(tiny):
    (tiny["preds"] / "meta.json").write_text(json.dumps({"schema": "dbdbench.maps", "pred_white": "sharp"}))
    res = run("evaluate", tiny["preds"], "-d", "TINY", "-q")  # wrong declaration: maps are P(blur)
    assert res.exit_code == 2, res.output
    assert "flipped maps would give" in res.output and "--accept inverted-maps" in res.output
    out = tiny["tmp"] / "r.json"
    res = run("evaluate", tiny["preds"], "-d", "TINY", "-q", "--accept", "inverted-maps", "--json", out)
    assert res.exit_code == 0, res.output
    assert [w["code"] for w in json.loads(out.read_text())["meta"]["warnings"]] == ["inverted-maps"]


def test_jobs_2_equals_jobs_1(tiny):
    a, b = tiny["tmp"] / "a.json", tiny["tmp"] / "b.json"
    for out, jobs in ((a, 1), (b, 2)):
        res = run("evaluate", tiny["preds"], "-d", "TINY", "--pred-white", "blur", "-j", jobs, "--json", out, "-q")
        assert res.exit_code == 0, res.output
    da, db = json.loads(a.read_text()), json.loads(b.read_text())
    assert da["scores"] == db["scores"] and da["per_image"] == db["per_image"] and da["curves"] == db["curves"]


def test_per_image_csv_and_several_datasets(tiny):
    import pandas as pd

    nested = tiny["tmp"] / "nested"
    (nested / "TINY").mkdir(parents=True)
    for p in tiny["preds"].iterdir():
        (nested / "TINY" / p.name).write_bytes(p.read_bytes())
    res = run("evaluate", nested, "--pred-white", "blur", "--per-image", tiny["tmp"] / "csv", "-q")
    assert res.exit_code == 0, res.output
    frame = pd.read_csv(tiny["tmp"] / "csv" / "TINY.csv")
    assert list(frame["name"]) == STEMS


def test_resized_predictions_are_flagged(tiny):
    big = cv2.resize(tiny["maps"]["img00"], (80, 60))
    cv2.imwrite(str(tiny["preds"] / "img00.png"), big)
    out = tiny["tmp"] / "r.json"
    res = run("evaluate", tiny["preds"], "-d", "TINY", "--pred-white", "blur", "--json", out, "-q")
    assert res.exit_code == 0 and "1 map(s) of another size than their GT were resized" in res.output
    assert "img00.png" in res.output  # the resized file is named
    data = json.loads(out.read_text())
    assert data["per_image"][0]["resized"] is True
    assert {"code": "resized", "files": ["img00.png"]}.items() <= data["meta"]["warnings"][0].items()


def _corrupt(preds):
    (preds / "img02.png").write_bytes(b"garbage")
    return "img02.png"


def _truncate(preds):
    data = (preds / "img03.png").read_bytes()
    (preds / "img03.png").write_bytes(data[: len(data) // 2])
    return "img03.png"


def _wrong_size(preds):
    cv2.imwrite(str(preds / "img01.png"), np.zeros((10, 10), np.uint8))
    return "img01.png"


def _colour(preds):
    cv2.imwrite(str(preds / "img04.png"), np.dstack([np.zeros((30, 40), np.uint8), np.full((30, 40), 90, np.uint8),
                                                     np.full((30, 40), 200, np.uint8)]))  # fmt: skip
    return "img04.png"


def _transparent(preds):
    rgba = np.zeros((30, 40, 4), np.uint8)
    rgba[..., 3] = 128
    cv2.imwrite(str(preds / "img05.png"), rgba)
    return "img05.png"


def _nan(preds):
    (preds / "img00.png").unlink()
    m = np.full((30, 40), 0.5)
    m[0, 0] = np.nan
    np.save(preds / "img00.npy", m)
    return "img00.npy"


def _missing(preds):
    (preds / "img04.png").unlink()
    return "img04"


def _duplicate(preds):
    (preds / "IMG01_pred.png").write_bytes((preds / "img01.png").read_bytes())
    return "img01"


def _empty_file(preds):
    (preds / "img02.png").write_bytes(b"")
    return "img02.png"


def _outside_symlink(preds):
    target = preds.parent / "elsewhere.png"
    target.write_bytes((preds / "img01.png").read_bytes())
    (preds / "img01.png").unlink()
    (preds / "img01.png").symlink_to(target)
    return "img01.png"


BAD = {
    "corrupt": _corrupt,
    "truncated": _truncate,
    "colour": _colour,
    "transparent": _transparent,
    "nan": _nan,
    "missing": _missing,
    "duplicate": _duplicate,
    "empty_file": _empty_file,
    "outside_symlink": _outside_symlink,
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_exit_2_names_the_file_and_writes_nothing(tiny, case):
    needle = BAD[case](tiny["preds"])
    out = tiny["tmp"] / "out" / "r.json"
    res = run("evaluate", tiny["preds"], "-d", "TINY", "--pred-white", "blur", "--json", out, "-q", "-j", 2)
    assert res.exit_code == 2, res.output
    assert needle.lower() in res.output.lower()
    assert not out.exists() and not (out.parent.exists() and any(out.parent.iterdir()))


def test_wrong_size_with_resize_error(tiny):
    needle = _wrong_size(tiny["preds"])
    res = run("evaluate", tiny["preds"], "-d", "TINY", "--pred-white", "blur", "--resize", "error", "-q")
    assert res.exit_code == 2 and needle in res.output and "--resize" in res.output


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["evaluate", "{tmp}/nope", "-d", "TINY", "--pred-white", "blur"], "does not exist"),
        (["evaluate", "{tmp}/emptydir", "-d", "TINY", "--pred-white", "blur"], "no map files"),
        (["evaluate", "{preds}", "-d", "NOSUCH", "--pred-white", "blur"], "Unknown dataset 'NOSUCH'"),
        (["evaluate", "{preds}", "-d", "TINY"], "--pred-white"),
        (["evaluate", "{preds}", "-d", "CUHK-TE-2", "--pred-white", "blur"], "not public"),
        (["evaluate", "{preds}", "-d", "SZU-BD", "--pred-white", "blur"], "polarity"),
        (["evaluate", "{preds}", "-d", "TINY", "--pred-white", "blur", "--metrics", "maxF"], "Unknown metric"),
    ],
)
def test_bad_arguments_exit_2(tiny, args, needle):
    (tiny["tmp"] / "emptydir").mkdir()
    args = [a.format(tmp=tiny["tmp"], preds=tiny["preds"]) for a in args]
    res = run(*args)
    assert res.exit_code == 2, res.output
    assert needle in res.output


def test_unlisted_split_offers_only_listed_splits(tiny):
    """The refusal of a split without a public image list suggests only splits that can be evaluated."""
    from dbdbench.datasets import get_dataset

    res = run("evaluate", tiny["preds"], "-d", "CUHK-TE-2", "--pred-white", "blur")
    offered = " ".join(res.output.split()).split("use a listed split (")[1].split(")")[0].split(", ")
    assert res.exit_code == 2 and "CUHK-TE-1" in offered
    assert all(get_dataset(name).listed for name in offered), offered


def test_zhao_quirk_warnings_recorded_and_strict(tiny):
    """zhao: an empty in-focus mask (GT all blurred) is scored by their quirk: warned, stored, --strict refuses."""
    cv2.imwrite(str(tiny["root"] / "TINY" / "gt" / "img05.png"), np.full((30, 40), 255, np.uint8))
    out = tiny["tmp"] / "z.json"
    args = ("evaluate", tiny["preds"], "-d", "TINY", "--pred-white", "blur", "-p", "zhao")
    res = run(*args, "--json", out)
    assert res.exit_code == 0 and "empty in-focus mask" in res.output
    found = json.loads(out.read_text())["meta"]["warnings"]
    assert [(w["code"], w["files"]) for w in found] == [("zhao-empty-mask", ["img05"])]
    strict = run(*args, "--strict")
    assert strict.exit_code == 2 and "img05" in strict.output


def test_allow_missing_scores_empty_maps(tiny):
    _missing(tiny["preds"])
    out = tiny["tmp"] / "r.json"
    res = run("evaluate", tiny["preds"], "-d", "TINY", "--pred-white", "blur", "--allow-missing", "--json", out, "-q")
    assert res.exit_code == 0 and "without a prediction were scored as empty maps" in res.output
    data = json.loads(out.read_text())
    assert data["meta"]["missing"] == ["img04"]
    assert [(w["code"], w["files"]) for w in data["meta"]["warnings"]] == [("missing", ["img04"])]


def test_16_bit_predictions_score_like_8_bit(tiny):
    a = tiny["tmp"] / "a.json"
    run("evaluate", tiny["preds"], "-d", "TINY", "--pred-white", "blur", "--json", a, "-q")
    for stem in STEMS:
        cv2.imwrite(str(tiny["preds"] / f"{stem}.png"), tiny["maps"][stem].astype(np.uint16) * 257)
    b = tiny["tmp"] / "b.json"
    res = run("evaluate", tiny["preds"], "-d", "TINY", "--pred-white", "blur", "--json", b, "-q")
    assert res.exit_code == 0, res.output
    sa, sb = json.loads(a.read_text())["scores"], json.loads(b.read_text())["scores"]
    assert sb == pytest.approx(sa, abs=1e-12)


def test_dask_backend_gives_identical_results(tiny):
    pytest.importorskip("distributed")
    from distributed import Client, LocalCluster

    from dbdbench.datasets import register_from_toml
    from dbdbench.evaluate import evaluate_folder

    # the library reads no environment variables: the dataset file and the data root are passed explicitly
    register_from_toml(tiny["tmp"] / "datasets.toml")
    kw = {"pred_white": "blur", "hashes": False, "data_root": tiny["root"]}
    local = evaluate_folder(tiny["preds"], "TINY", **kw)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        with Client(cluster):
            remote = evaluate_folder(tiny["preds"], "TINY", **kw, backend="dask", jobs=2)
    assert remote.scores == local.scores and remote.per_image == local.per_image


def test_dask_backend_through_the_cli(tiny):
    pytest.importorskip("distributed")
    out = tiny["tmp"] / "d.json"
    res = run("evaluate", tiny["preds"], "-d", "TINY", "--pred-white", "blur", "--backend", "dask", "-j", 1,
              "--json", out, "-q")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert json.loads(out.read_text())["n_images"] == 6


def test_map_reading_options_are_recorded(tiny):
    """meta.map_reading holds every option of MAP_READING with its value; an unknown one is refused on reading."""
    from dbdbench.loading import MAP_READING, map_reading

    out = tiny["tmp"] / "r.json"
    res = run("evaluate", tiny["preds"], "-d", "TINY", "--pred-white", "blur", "--rescale-maps", "--rotate-maps",
              "ccw", "--colormap", "magma", "--json", out, "-q")  # fmt: skip
    assert res.exit_code == 0, res.output
    meta = json.loads(out.read_text())["meta"]
    assert meta["map_reading"] == {"rescale_maps": True, "transpose_maps": False, "rotate_maps": "ccw",
                                   "luminance": False, "colormap": "magma"}  # fmt: skip
    assert set(meta["map_reading"]) == set(MAP_READING) and map_reading(meta) == meta["map_reading"]
    with pytest.raises(ValueError, match="unknown map-reading option.*sharpen"):
        map_reading({"map_reading": {"sharpen": True}}, "x.json")
