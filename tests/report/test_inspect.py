"""``dbdbench inspect`` on the small TINY dataset: page data, per-image curves, error maps, refusals."""

from __future__ import annotations

import base64
import json
import re

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from dbdbench.cli import main
from dbdbench.loading import MAP_READING
from dbdbench.metrics import list_protocols
from dbdbench.report.inspect import FALSE_BLUR, MISSED_BLUR, error_map

STEMS = [f"img{i:02d}" for i in range(6)]


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _page_json(path, element="inspect-data"):
    text = path.read_text(encoding="utf-8")
    found = re.search(rf'<script type="application/json" id="{element}">(.*?)</script>', text, re.S)
    assert found, f"no {element} in {path}"
    return json.loads(found.group(1))


@pytest.fixture
def two(tiny):
    """Results A (the TINY maps) and B (the same maps blurred), with their counts files."""
    tmp = tiny["tmp"]
    blurred = tmp / "blurred"
    blurred.mkdir()
    for stem in STEMS:
        cv2.imwrite(str(blurred / f"{stem}.png"), cv2.GaussianBlur(tiny["maps"][stem], (0, 0), 2))
    for label, folder in (("a", tiny["preds"]), ("b", blurred)):
        res = run("evaluate", folder, "-d", "TINY", "--pred-white", "blur", "--json", tmp / f"{label}.json", "-q")
        assert res.exit_code == 0, res.output
    return tiny | {"blurred": blurred}


def _inspect(t, *extra):
    out = t["tmp"] / "page.html"
    res = run("inspect", t["tmp"] / "a.json", t["tmp"] / "b.json", "--map", f"A={t['preds']}",
              "--map", f"B={t['blurred']}", "--out", out, "--n-boot", 200, *extra)
    assert res.exit_code == 0, res.output
    return out


def test_page_holds_every_per_image_score_and_the_numbers_of_compare(two):
    out = _inspect(two)
    data = _page_json(out)
    a, b = (json.loads((two["tmp"] / f"{x}.json").read_text()) for x in ("a", "b"))
    keys = [c["key"] for c in data["columns"]]
    assert keys == [k for k in a["per_image"][0] if k not in ("name", "empty_gt", "full_gt", "resized")]
    for i, img in enumerate(data["images"]):
        assert img["name"] == a["per_image"][i]["name"]
        assert img["values"] == [[r["per_image"][i][k] for k in keys] for r in (a, b)]
    res = run("compare", two["tmp"] / "a.json", two["tmp"] / "b.json", "--n-boot", 200, "--json", two["tmp"] / "c.json")
    assert res.exit_code == 0, res.output
    cmp = json.loads((two["tmp"] / "c.json").read_text())
    rows = {r["key"]: r for r in data["comparisons"][0]["rows"]}
    assert list(rows) == list(cmp["metrics"])
    for key, ref in cmp["metrics"].items():
        for field in ("a", "b", "diff", "ci_low", "ci_high", "p_value", "p_holm", "test"):
            assert rows[key][field] == ref[field], (key, field)
    assert [r["name"] for r in data["results"]] == [a["method"], b["method"]]
    assert data["dataset"] == "TINY" and data["protocol"] == "dbdbench"


def _decode(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<u2") / 65535


def test_curves_are_each_images_precision_and_recall(two):
    """Against a direct count: level k of an 8-bit map is positive when value >= k; 256 is the end point."""
    data = _page_json(_inspect(two))
    for i, stem in enumerate(STEMS):
        pred, g = two["maps"][stem], two["gts"][stem] >= 128
        tp = np.array([np.sum((pred >= k) & g) for k in range(257)], dtype=float)
        fp = np.array([np.sum((pred >= k) & ~g) for k in range(257)], dtype=float)
        precision = np.divide(tp, tp + fp, out=np.zeros(257), where=tp + fp > 0)
        recall = tp / g.sum()
        p64, r64 = data["curves"][i][0]
        assert np.abs(_decode(p64) - precision).max() <= 0.5 / 65535 + 1e-12
        assert np.abs(_decode(r64) - recall).max() <= 0.5 / 65535 + 1e-12


def test_error_map_colours_false_and_missed_blur():
    gt = np.array([[True, True, False, False]])
    pred = np.array([[True, False, True, False]])
    out = error_map(pred, gt)
    assert tuple(out[0, 1]) == MISSED_BLUR and tuple(out[0, 2]) == FALSE_BLUR
    assert out[0, 0].tolist() == [150] * 3 and out[0, 3].tolist() == [60] * 3


def test_thumbnails_inline_or_beside_the_page(two):
    out = _inspect(two, "--assets", "inline")
    thumbs = _page_json(out, "inspect-thumbs")
    assert len(thumbs) == len(STEMS) and all(len(row) == 2 + 2 * 2 for row in thumbs)
    assert all(t.startswith("data:image/") for row in thumbs for t in row[1:])
    assert not (out.parent / "page_files").exists()
    out = _inspect(two, "--assets", "folder")
    thumbs = _page_json(out, "inspect-thumbs")
    files = [t for row in thumbs for t in row if t]
    assert all(t.startswith("page_files/") and (out.parent / t).is_file() for t in files)
    err = cv2.imread(str(out.parent / thumbs[0][3]))
    assert err is not None and err.shape[2] == 3


def test_maps_other_than_the_scored_ones_are_refused(two):
    cv2.imwrite(str(two["blurred"] / "img03.png"), 255 - two["maps"]["img03"])
    out = two["tmp"] / "x.html"
    res = run("inspect", two["tmp"] / "a.json", two["tmp"] / "b.json", "--map", f"A={two['preds']}",
              "--map", f"B={two['blurred']}", "--out", out)
    assert res.exit_code == 2 and "SHA-256" in res.output and "img03" in res.output
    data = json.loads((two["tmp"] / "b.json").read_text())
    del data["meta"]["files_sha256"]
    (two["tmp"] / "b.json").write_text(json.dumps(data))
    res = run("inspect", two["tmp"] / "a.json", two["tmp"] / "b.json", "--map", f"A={two['preds']}",
              "--map", f"B={two['blurred']}", "--out", out)
    assert res.exit_code == 2 and "not the scored maps" in res.output and "img03" in res.output
    assert not out.exists()


def test_map_folder_found_from_the_result_meta(two):
    """Without --map the folder named in meta.pred_dir is looked up under --maps-root."""
    out = two["tmp"] / "one.html"
    res = run("inspect", two["tmp"] / "a.json", "--maps-root", two["tmp"], "--out", out)
    assert res.exit_code == 0, res.output
    assert _page_json(out)["results"][0]["maps"] == str(two["preds"])
    decoy = two["tmp"] / "decoy" / "preds"  # a folder of that name holding other maps
    decoy.mkdir(parents=True)
    for path in two["blurred"].iterdir():
        (decoy / path.name).write_bytes(path.read_bytes())
    res = run("inspect", two["tmp"] / "a.json", "--maps-root", decoy.parent, "--out", out)
    assert res.exit_code == 2 and "SHA-256" in res.output and "--map" in res.output


@pytest.mark.parametrize("protocol", list_protocols())
def test_every_protocol_re_scores_to_the_stored_numbers(tiny, protocol):
    """inspect re-scores each map under the result's protocol; the stored per-image MAE must come out again."""
    out = tiny["tmp"] / f"{protocol}.json"
    res = run("evaluate", tiny["preds"], "-d", "TINY", "-p", protocol, "--pred-white", "blur", "--json", out, "-q")
    assert res.exit_code == 0, res.output
    page = tiny["tmp"] / f"{protocol}.html"
    res = run("inspect", out, "--map", f"A={tiny['preds']}", "--out", page)
    assert res.exit_code == 0, res.output
    data = _page_json(page)
    rows = json.loads(out.read_text())["per_image"]
    assert [c["key"] for c in data["columns"]][0] == "mae"
    assert [img["values"][0][0] for img in data["images"]] == [r["mae"] for r in rows]
    assert len(data["curves"][0][0][0]) > 0 and data["protocol"] == protocol


#: each map-reading option of evaluate: how the maps are written so that they need it, and the option
READ_OPTIONS = {
    "rescale": (lambda m: (m >= 128).astype(np.uint8), ["--rescale-maps"]),
    "transpose": (lambda m: np.ascontiguousarray(m.T), ["--transpose-maps"]),
    "rotate-cw": (lambda m: np.ascontiguousarray(np.rot90(m, 1)), ["--rotate-maps", "cw"]),
    "rotate-ccw": (lambda m: np.ascontiguousarray(np.rot90(m, -1)), ["--rotate-maps", "ccw"]),
    "luminance": (lambda m: np.dstack([m, m, (m * 0.8).astype(np.uint8)]), ["--luminance"]),  # B, G, R
    "colormap": ("magma", ["--colormap", "magma"]),
}


def _needing(tiny, option):
    """A folder of the TINY maps written so that evaluate must be given ``option`` to read them."""
    write, args = READ_OPTIONS[option]
    folder = tiny["tmp"] / f"maps_{option}"
    folder.mkdir()
    for stem in STEMS:
        if write == "magma":  # a grey map rendered with a matplotlib colormap, as plt.imsave writes it
            import matplotlib.pyplot as plt

            plt.imsave(folder / f"{stem}.png", tiny["maps"][stem], cmap="magma", vmin=0, vmax=255)
        else:
            cv2.imwrite(str(folder / f"{stem}.png"), write(tiny["maps"][stem]))
    out = tiny["tmp"] / f"{option}.json"
    res = run("evaluate", folder, "-d", "TINY", "--pred-white", "blur", "--json", out, "-q", *args)
    assert res.exit_code == 0, res.output
    return folder, out


@pytest.mark.parametrize("option", list(READ_OPTIONS))
def test_maps_are_read_as_evaluate_read_them(tiny, option):
    """Maps that evaluate read with an option (recorded in meta.map_reading) inspect to the stored numbers."""
    folder, out = _needing(tiny, option)
    stored = json.loads(out.read_text())
    plain = run("evaluate", folder, "-d", "TINY", "--pred-white", "blur", "-q", "--json", tiny["tmp"] / "x.json")
    assert plain.exit_code == 2, plain.output  # the folder needs the option
    assert stored["meta"]["map_reading"] != MAP_READING
    page = tiny["tmp"] / f"{option}.html"
    res = run("inspect", out, "--map", f"A={folder}", "--out", page, "--assets", "inline")
    assert res.exit_code == 0, res.output
    data = _page_json(page)
    keys = [c["key"] for c in data["columns"]]
    assert [img["name"] for img in data["images"]] == [r["name"] for r in stored["per_image"]]
    assert [img["values"][0] for img in data["images"]] == [[r[k] for k in keys] for r in stored["per_image"]]
    for row in _page_json(page, "inspect-thumbs"):  # the map shown is the map scored: gray, at the GT's size
        shown = cv2.imdecode(np.frombuffer(base64.b64decode(row[2].split(",", 1)[1]), np.uint8), cv2.IMREAD_UNCHANGED)
        assert shown.shape == tiny["gts"][STEMS[0]].shape


@pytest.mark.parametrize("option", ["rescale", "transpose", "rotate-cw", "luminance", "colormap"])
def test_results_without_the_recorded_reading_are_refused_when_an_option_was_used(tiny, option):
    """A result written before meta.map_reading was recorded: its warnings tell that an option changed maps."""
    folder, out = _needing(tiny, option)
    data = json.loads(out.read_text())
    del data["meta"]["map_reading"]
    out.write_text(json.dumps(data))
    page = tiny["tmp"] / "old.html"
    res = run("inspect", out, "--map", f"A={folder}", "--out", page)
    assert res.exit_code == 2 and "meta.map_reading" in res.output and "evaluate the maps again" in res.output
    code = {"rescale": "rescaled", "colormap": "colormap", "luminance": "luminance"}.get(option, "resized")
    assert code in res.output
    assert not page.exists()


def test_results_without_the_recorded_reading_inspect_as_before_when_no_option_was_used(tiny):
    out = tiny["tmp"] / "plain.json"
    res = run("evaluate", tiny["preds"], "-d", "TINY", "--pred-white", "blur", "--rescale-maps", "--json", out, "-q")
    assert res.exit_code == 0, res.output  # --rescale-maps changed no map: no warning, read as without it
    data = json.loads(out.read_text())
    assert data["meta"]["map_reading"]["rescale_maps"] is True
    del data["meta"]["map_reading"]
    out.write_text(json.dumps(data))
    page = tiny["tmp"] / "plain.html"
    res = run("inspect", out, "--map", f"A={tiny['preds']}", "--out", page)
    assert res.exit_code == 0, res.output
    assert [img["values"][0][0] for img in _page_json(page)["images"]] == [r["mae"] for r in data["per_image"]]
