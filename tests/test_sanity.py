"""The sanity stage: every input mistake that would change a score unnoticed is refused or handled right.

Each case builds the mistake from good maps (the ``tiny`` dataset of ``conftest.py``), checks that plain
``dbdbench evaluate`` refuses it (exit code 2, the file named, the fix said), and that the offered fix gives
exactly the scores of the correct files, with the fix recorded in the result's warnings.
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from _tiny_cli import STEMS, evaluate, run

from dbdbench.sanity import CODES, Checks, Finding, common_suffix, settle


@pytest.fixture
def clean(tiny):
    res, data = evaluate(tiny, out_name="clean.json")
    assert res.exit_code == 0, res.output
    assert data["meta"]["warnings"] == []
    return data


def codes(data):
    return [w["code"] for w in data["meta"]["warnings"]]


# ---------------------------------------------------------------------------------------------------- names


def test_suffix_is_named_and_allow_missing_does_not_hide_it(tiny, clean):
    for stem in STEMS:
        (tiny["preds"] / f"{stem}.png").rename(tiny["preds"] / f"{stem}_mynet_v2.png")
    res, _ = evaluate(tiny)
    assert res.exit_code == 2 and "--suffix _mynet_v2" in res.output
    res, _ = evaluate(tiny, "--allow-missing")  # scoring 6 empty maps would be a plausible wrong number
    assert res.exit_code == 2 and "--suffix _mynet_v2" in res.output
    res, data = evaluate(tiny, "--suffix", "_mynet_v2")
    assert res.exit_code == 0 and data["scores"] == clean["scores"]


def test_mostly_missing_is_refused_even_with_allow_missing(tiny, clean):
    for stem in STEMS[:4]:
        (tiny["preds"] / f"{stem}.png").unlink()
    res, _ = evaluate(tiny, "--allow-missing")
    assert res.exit_code == 2 and "4 of 6 images have no prediction" in res.output
    assert "--accept mostly-missing" in res.output
    res, data = evaluate(tiny, "--allow-missing", "--accept", "mostly-missing")
    assert res.exit_code == 0 and codes(data) == ["mostly-missing", "missing"]
    assert data["meta"]["warnings"][1]["files"] == STEMS[:4]


def test_common_suffix():
    stems = ["a1", "a10", "b"]
    assert common_suffix(["a1_x.png", "a10_x.png", "b_x.png"], stems) == "_x"
    assert common_suffix(["a10-net.png"], stems) == "-net"  # the longest stem that prefixes the name
    assert common_suffix(["zzz.png", "yyy.png"], stems) is None


# ---------------------------------------------------------------------------------------------- value range


def test_maps_saved_as_0_1_are_refused_and_rescaled_exactly(tiny):
    binary = {s: np.where(tiny["maps"][s] >= 128, 255, 0).astype(np.uint8) for s in STEMS}
    for s in STEMS:
        cv2.imwrite(str(tiny["preds"] / f"{s}.png"), binary[s])
    _, ref = evaluate(tiny, out_name="ref.json")
    for s in STEMS:
        cv2.imwrite(str(tiny["preds"] / f"{s}.png"), binary[s] // 255)  # the forgotten * 255
    res, _ = evaluate(tiny)
    assert res.exit_code == 2 and "only the values 0 and 1" in res.output and "img00.png" in res.output
    assert "--rescale-maps" in res.output
    res, data = evaluate(tiny, "--rescale-maps")
    assert res.exit_code == 0 and data["scores"] == ref["scores"]
    assert codes(data) == ["rescaled"] and len(data["meta"]["warnings"][0]["files"]) == 6
    res, data = evaluate(tiny, "--accept", "range-01")  # near-black maps: also no closer to their own GT
    assert res.exit_code == 0 and codes(data) == ["range-01", "unrelated-maps"]
    assert data["scores"]["mae"] > ref["scores"]["mae"] + 0.2


def test_16_bit_files_holding_8_bit_values(tiny, clean):
    for s in STEMS:
        cv2.imwrite(str(tiny["preds"] / f"{s}.png"), tiny["maps"][s].astype(np.uint16))
    res, _ = evaluate(tiny)
    assert res.exit_code == 2 and "16-bit map(s) hold only values <= 255" in res.output
    res, data = evaluate(tiny, "--rescale-maps")
    assert res.exit_code == 0 and data["scores"] == clean["scores"] and codes(data) == ["rescaled"]


def test_maps_of_a_few_grey_levels_are_refused_and_rescaled(tiny):
    """A [0, 1] map written to 8 bits without * 255 (values 0..2 after rounding; JPEG would add noise)."""
    for s in STEMS:
        cv2.imwrite(str(tiny["preds"] / f"{s}.png"), np.rint(tiny["maps"][s] / 255 * 2).astype(np.uint8))
    res, _ = evaluate(tiny)
    assert res.exit_code == 2 and "maximum is 3 or less" in res.output and "img00.png" in res.output
    assert "--rescale-maps" in res.output and "--accept range-few-levels" in res.output
    res, data = evaluate(tiny, "--rescale-maps", out_name="fixed.json")
    assert res.exit_code == 0 and codes(data) == ["rescaled"]
    for s in STEMS:  # the stretched maps are exactly what --rescale-maps documents: round(255 v / max)
        v = np.rint(tiny["maps"][s] / 255 * 2)
        cv2.imwrite(str(tiny["preds"] / f"{s}.png"), np.rint(v * 255 / v.max()).astype(np.uint8))
    _, ref = evaluate(tiny, out_name="ref.json")
    assert data["scores"] == ref["scores"]


def test_constant_maps_are_a_recorded_warning(tiny):
    cv2.imwrite(str(tiny["preds"] / "img03.png"), np.full((30, 40), 7, np.uint8))
    res, data = evaluate(tiny)
    assert res.exit_code == 0 and codes(data) == ["constant-map"]
    assert data["meta"]["warnings"][0]["files"] == ["img03.png"] and "img03.png" in res.output


# ---------------------------------------------------------------------------------------------------- geometry


def test_transposed_maps_are_refused_not_resized(tiny, clean):
    cv2.imwrite(str(tiny["preds"] / "img02.png"), tiny["maps"]["img02"].T.copy())
    res, _ = evaluate(tiny)
    assert res.exit_code == 2 and "width and height swapped" in res.output and "img02.png" in res.output
    res, data = evaluate(tiny, "--transpose-maps")
    assert res.exit_code == 0 and data["scores"] == clean["scores"]
    assert data["meta"]["warnings"][0]["files"] == ["img02.png"]
    res, data = evaluate(tiny, "--accept", "transposed")  # the old behaviour (resized), now recorded
    assert res.exit_code == 0 and codes(data) == ["transposed"] and data["per_image"][2]["resized"] is True


def test_jet_rendering_is_refused_with_luminance_but_a_tinted_gray_is_not(tiny):
    import matplotlib

    jet = matplotlib.colormaps["jet"]
    rgb = (jet(tiny["maps"]["img01"] / 255.0)[..., :3] * 255).round().astype(np.uint8)
    cv2.imwrite(str(tiny["preds"] / "img01.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    res, _ = evaluate(tiny, "--luminance")
    assert res.exit_code == 2 and "pseudo-colour" in res.output and "img01.png" in res.output
    tinted = np.dstack([tiny["maps"]["img01"]] * 3).astype(np.int16) + np.array([0, 6, 12])
    cv2.imwrite(str(tiny["preds"] / "img01.png"), np.clip(tinted, 0, 255).astype(np.uint8))
    res, data = evaluate(tiny, "--luminance")  # scored, and the conversion recorded with the file
    assert res.exit_code == 0 and codes(data) == ["luminance"] and data["meta"]["warnings"][0]["files"] == ["img01.png"]


# ---------------------------------------------------------------------------------------------------- polarity


def test_one_inverted_map_is_named(tiny):
    cv2.imwrite(str(tiny["preds"] / "img05.png"), 255 - np.where(tiny["gts"]["img05"] > 0, 250, 5).astype(np.uint8))
    res, data = evaluate(tiny)
    assert res.exit_code == 0 and codes(data) == ["inverted-images"]
    assert data["meta"]["warnings"][0]["files"] == ["img05.png"]


def test_pred_white_override_is_recorded_in_the_result(tiny):
    (tiny["preds"] / "meta.json").write_text(json.dumps({"schema": "dbdbench.maps", "pred_white": "sharp"}))
    res, data = evaluate(tiny)  # --pred-white blur (right) overrides meta.json (wrong)
    assert res.exit_code == 0 and codes(data) == ["pred-white-override"]
    assert "overrides meta.json" in data["meta"]["warnings"][0]["message"]


def test_strict_turns_warnings_into_errors(tiny):
    cv2.imwrite(str(tiny["preds"] / "img03.png"), np.full((30, 40), 7, np.uint8))
    res, _ = evaluate(tiny, "--strict")
    assert res.exit_code == 2 and "--strict" in res.output and "img03.png" in res.output
    assert not (tiny["tmp"] / "r.json").exists()


# ------------------------------------------------------------------------------------------ multi-dataset runs


def test_mistyped_sub_folder_is_refused(tiny):
    nested = tiny["tmp"] / "runs"
    for name in ("TINY", "TNIY"):
        (nested / name).mkdir(parents=True)
        for p in tiny["preds"].iterdir():
            (nested / name / p.name).write_bytes(p.read_bytes())
    res = run("evaluate", nested, "--pred-white", "blur", "-q")
    assert res.exit_code == 2 and "TNIY (did you mean TINY?)" in res.output
    out = tiny["tmp"] / "outs"
    res = run("evaluate", nested, "--pred-white", "blur", "-q", "--accept", "unknown-folders", "--json", out)
    assert res.exit_code == 0, res.output
    data = json.loads((out / "TINY.json").read_text())
    assert codes(data) == ["unknown-folders"] and data["meta"]["warnings"][0]["files"] == ["TNIY"]


# ---------------------------------------------------------------------------------------------------- units


def test_unknown_codes_are_refused_with_the_valid_ones():
    with pytest.raises(ValueError, match="valid: range-01"):
        Checks(accept=frozenset({"range01"}))
    with pytest.raises(ValueError, match="unknown finding code"):
        Finding("nope", "error", "x")


def test_settle_returns_warnings_and_raises_errors():
    warn = Finding("constant-map", "warning", "one value", ("a.png",))
    assert settle([warn], Checks()) == [{"code": "constant-map", "message": "one value", "files": ["a.png"]}]
    with pytest.raises(ValueError, match="one value"):
        settle([warn], Checks(strict=True))
    err = Finding("transposed", "error", "swapped", ("b.png",), "fix it")
    with pytest.raises(ValueError, match=r"swapped \(b.png\). fix it"):
        settle([warn, err], Checks())


def test_every_code_is_documented():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[1] / "docs" / "refusals.md").read_text()
    assert [c for c in CODES if f"`{c}`" not in doc] == []


# ------------------------------------------------------------------------------- one polarity rule everywhere


def test_sensitivity_needs_a_declared_polarity_and_honours_meta_json(tiny):
    res = run("sensitivity", tiny["preds"], "--dataset", "TINY", "--protocols", "dbdbench,pysod")
    assert res.exit_code == 2 and "--pred-white" in res.output  # no silent 'blur'
    (tiny["preds"] / "meta.json").write_text(json.dumps({"schema": "dbdbench.maps", "pred_white": "blur"}))
    declared = run("sensitivity", tiny["preds"], "--dataset", "TINY", "--protocols", "dbdbench,pysod")
    given = run("sensitivity", tiny["preds"], "--dataset", "TINY", "--protocols", "dbdbench,pysod",
                "--pred-white", "blur")
    assert declared.exit_code == 0 and declared.output == given.output


def test_sensitivity_reports_the_warnings_of_its_results(tiny):
    cv2.imwrite(str(tiny["preds"] / "img03.png"), np.full((30, 40), 7, np.uint8))
    res = run("sensitivity", tiny["preds"], "--dataset", "TINY", "--protocols", "dbdbench,pysod", "--pred-white",
              "blur")
    assert res.exit_code == 0 and "warning: preds: 1 map(s) have one value everywhere (img03.png)" in res.output
