"""Plots: files in every format, one panel per dataset, one line per method, stable styles, grids."""

from __future__ import annotations

import zlib

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from matplotlib.colors import to_rgba

from dbdbench.cli.report import plot as plot_cmd
from dbdbench.report.figure import SIZES, dataset_title
from dbdbench.report.plots import MARKED, curve_caption, method_styles, plot_curves
from dbdbench.report.qualitative import plot_qualitative
from dbdbench.results import Result

MAGIC = {".pdf": b"%PDF", ".png": b"\x89PNG", ".svg": b"<?xml"}


def curves(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, 256)
    recall = np.sort(rng.uniform(0, 1, 256))[::-1]
    precision = np.clip(0.5 + 0.5 * t * rng.uniform(0.5, 1), 0, 1)
    return {"thresholds": t, "precision": precision, "recall": recall, "fpr": recall ** 2,
            "f": 1.3 * precision * recall / np.maximum(0.3 * precision + recall, 1e-12)}


def res(method, dataset, protocol="dbdbench", with_curves=True, kind=None) -> Result:
    return Result(protocol=protocol, scores={"mae": 0.1}, dataset=dataset, method=method,
                  curves=curves(zlib.crc32(f"{method}/{dataset}".encode())) if with_curves else {},
                  meta={"kind": kind} if kind else {})


METHODS = ["HiFST", "LBP", "DBDF", "BTBNet", "DeFusionNet", "D-DFFNet", "CENet", "BR2Net"]


def sample() -> list[Result]:
    return [res(m, d) for d in ["CUHK", "DUT-TE", "CTCUG"] for m in METHODS]


def visible_axes(fig):
    return [ax for ax in fig.axes if ax.get_visible()]


def method_lines(ax):
    return [ln for ln in ax.get_lines() if not ln.get_label().startswith("_")]


@pytest.mark.parametrize("suffix", [".pdf", ".png", ".svg"])
def test_each_format_is_written(tmp_path, suffix):
    out = tmp_path / f"pr{suffix}"
    plot_curves(sample()[:3], "pr", out)
    assert out.read_bytes()[:5].startswith(MAGIC[suffix])


@pytest.mark.parametrize("suffix", [".pdf", ".svg"])
def test_saved_files_are_byte_stable(tmp_path, suffix):
    # reports/ is regenerated and compared byte by byte, so no dates or random ids may leak into files
    a, b = tmp_path / f"a{suffix}", tmp_path / f"b{suffix}"
    plot_curves(sample()[:3], "pr", a)
    plot_curves(sample()[:3], "pr", b)
    assert a.read_bytes() == b.read_bytes()


@pytest.mark.parametrize("curve", ["pr", "fmeasure", "roc"])
def test_one_panel_per_dataset_and_one_line_per_method(curve):
    results = sample()
    fig = plot_curves(results, curve)
    axes = visible_axes(fig)
    assert [ax.get_title() for ax in axes] == [dataset_title(d) for d in ["CUHK", "DUT-TE", "CTCUG"]]
    for ax in axes:
        assert sorted(ln.get_label() for ln in method_lines(ax)) == sorted(METHODS)
    # the plotted data are the stored curves
    x_key, y_key = {"pr": ("recall", "precision"), "fmeasure": ("thresholds", "f"), "roc": ("fpr", "recall")}[curve]
    line = next(ln for ln in method_lines(axes[1]) if ln.get_label() == "LBP")
    want = next(r for r in results if r.method == "LBP" and r.dataset == "DUT-TE").curves
    np.testing.assert_array_equal(line.get_xdata(), want[x_key])
    np.testing.assert_array_equal(line.get_ydata(), want[y_key])


def legend_texts(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_every_panel_legend_gives_the_headline_score_best_first():
    results = sample()
    for r in results:
        r.scores["max_f"] = float(np.max(r.curves["f"]))
        r.scores["auc"] = float(zlib.crc32(r.method.encode()) % 1000) / 1000
    fig = plot_curves(results, "pr", legend="inside")
    for ax in visible_axes(fig):
        texts = legend_texts(ax)
        scores = [float(t.rsplit(" ", 1)[1]) for t in texts]
        assert scores == sorted(scores, reverse=True) and len(texts) == len(METHODS)
        panel = [r for r in results if dataset_title(r.dataset) == ax.get_title()]
        for text in texts:
            name, score = text.rsplit(" ", 1)
            assert score == f"{next(r for r in panel if r.method == name).scores['max_f']:.3f}"
    roc = plot_curves(results, "roc", legend="inside")
    assert legend_texts(roc.axes[0])[0].endswith(f"{max(r.scores['auc'] for r in results):.3f}")


def test_markers_from_four_methods_up_spaced_and_offset():
    marked = plot_curves(sample()[:MARKED], "pr")
    lines = method_lines(marked.axes[0])
    assert all(ln.get_marker() not in (None, "None", "") for ln in lines)
    # spaced along the line (a tenth of its length), starting at different offsets so markers do not pile up
    assert all(ln.get_markevery()[1] == 0.1 for ln in lines)
    assert len({ln.get_markevery()[0] for ln in lines}) == len(lines)
    few = plot_curves(sample()[:MARKED - 1], "pr")
    assert all(ln.get_marker() in (None, "None", "") for ln in method_lines(few.axes[0]))


def test_one_title_and_footnote_only_on_request():
    cuhk = [r for r in sample() if r.dataset == "CUHK"]
    fig = plot_curves(cuhk, "pr")
    assert fig._suptitle is None and visible_axes(fig)[0].get_title() == dataset_title("CUHK")
    assert fig._supxlabel is None  # the protocol text belongs in the caption
    noted = plot_curves(cuhk, "pr", footnote=True)
    assert "Protocol dbdbench: blur class positive" in noted._supxlabel.get_text()
    assert "β² = 0.3" in noted._supxlabel.get_text()
    titled = plot_curves(cuhk, "pr", title="PR on CUHK")
    assert titled._suptitle is None and titled.axes[0].get_title() == "PR on CUHK"


def test_png_is_written_at_300_dpi_next_to_pdf_and_svg(tmp_path):
    outs = [tmp_path / "pr.png", tmp_path / "pr.pdf", tmp_path / "pr.svg"]
    plot_curves(sample()[:2], "pr", outs)
    for path in outs:
        assert path.read_bytes()[:5].startswith(MAGIC[path.suffix])
    image = cv2.imread(str(outs[0]))
    assert image.shape[1] == round(SIZES["column"] * 300)  # one panel: a 3.5-inch column at 300 dpi, not trimmed


def test_multi_dataset_grid_of_pr_and_f_curves_in_one_call():
    fig = plot_curves(sample(), ("pr", "fmeasure"))
    axes = visible_axes(fig)
    assert len(axes) == 6
    assert [ax.get_title() for ax in axes] == [dataset_title(d) for d in ["CUHK", "DUT-TE", "CTCUG"]] + [""] * 3
    assert [ax.get_xlabel() for ax in axes] == ["Recall"] * 3 + ["Threshold"] * 3
    # one shared legend (names only: the scores differ per dataset), no legend in any panel
    assert all(ax.get_legend() is None for ax in axes)
    assert len(fig.legends) == 1
    assert sorted(t.get_text() for t in fig.legends[0].get_texts()) == sorted(METHODS)
    assert fig.get_size_inches()[0] == pytest.approx(SIZES["page"])  # a grid is page-wide


def test_published_curve_gets_max_f_from_its_points_and_sits_under_the_rescored_one():
    """A curve-only entry under a protocol whose F is F of mean P and R: max F from the stored points."""
    p, r = np.array([0.6, 0.8, 0.95, 0.0]), np.array([1.0, 0.7, 0.3, 0.0])
    published = Result(protocol="hifst", scores={}, dataset="CUHK", method="HiFST", meta={"kind": "reported"},
                       curves={"thresholds": np.linspace(0, 1, 4), "precision": p, "recall": r})
    rescored = Result(protocol="hifst", scores={"max_f": 0.75}, dataset="CUHK", method="HiFST",
                      curves={"thresholds": np.linspace(0, 1, 4), "precision": p, "recall": r})
    fig = plot_curves([published, rescored], "pr")
    want = max(1.3 * a * b / (0.3 * a + b) for a, b in zip(p[:3], r[:3], strict=True))
    assert sorted(legend_texts(fig.axes[0])) == sorted([f"HiFST† {want:.3f}", "HiFST 0.750"])
    lines = {ln.get_label(): ln for ln in method_lines(fig.axes[0])}
    assert lines["HiFST"].get_zorder() > lines["HiFST†"].get_zorder()
    assert lines["HiFST†"].get_linewidth() > lines["HiFST"].get_linewidth()
    assert "†: curve published by the authors" in curve_caption([published, rescored], "pr")


def test_colours_are_consistent_across_figures():
    results = sample()
    a, b = plot_curves(results, "pr"), plot_curves(results[::-1], "roc")
    style = {ln.get_label(): (to_rgba(ln.get_color()), ln.get_linestyle()) for ax in a.axes for ln in method_lines(ax)}
    for ax in b.axes:
        for ln in method_lines(ax):
            assert (to_rgba(ln.get_color()), ln.get_linestyle()) == style[ln.get_label()]
    # a subset drawn with the styles of the full set keeps them
    shared = method_styles(r.method for r in results)
    sub = plot_curves([r for r in results if r.method in ("LBP", "HiFST")], "pr", styles=shared)
    for ln in method_lines(sub.axes[0]):
        assert to_rgba(ln.get_color()) == style[ln.get_label()][0]


def test_method_styles_are_deterministic_and_distinct():
    names = [f"m{i}" for i in range(25)]
    styles = method_styles(names)
    assert styles == method_styles(reversed(names))
    pairs = {(to_rgba(s["color"]), s["linestyle"]) for s in list(styles.values())[:20]}
    assert len(pairs) == 20
    triples = {(to_rgba(s["color"]), s["linestyle"], s["marker"]) for s in styles.values()}
    assert len(triples) == len(names)


def test_results_without_curves_are_named_and_left_out():
    results = sample()[:3] + [res("Paper", "CUHK", with_curves=False, kind="reported")]
    with pytest.warns(UserWarning, match="Paper/CUHK"):
        fig = plot_curves(results, "pr")
    assert len(method_lines(fig.axes[0])) == 3
    with pytest.raises(ValueError, match="reported-only"), pytest.warns(UserWarning):
        plot_curves(results[-1:], "pr")


def test_mixed_protocols_get_their_own_panels():
    fig = plot_curves([res("A", "CUHK", "dbdbench"), res("A", "CUHK", "pysod")], "pr")
    name = dataset_title("CUHK")
    assert [ax.get_title() for ax in visible_axes(fig)] == [f"{name}, protocol dbdbench", f"{name}, protocol pysod"]


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="extensions"):
        plot_curves(sample(), "pr", tmp_path / "x.jpg")
    with pytest.raises(ValueError, match="Unknown curve"):
        plot_curves(sample(), "det")


# ------------------------------------------------------------------------------------------ grids


def _write_set(root, stems):
    rng = np.random.default_rng(3)
    for sub in ("img", "gt", "a", "b"):
        (root / sub).mkdir()
    truth = {}
    for stem in stems:
        gt = (rng.uniform(size=(12, 16)) > 0.5).astype(np.uint8) * 255
        sharp_map = rng.integers(0, 256, (12, 16), dtype=np.uint8)
        cv2.imwrite(str(root / "img" / f"{stem}.JPG"), rng.integers(0, 256, (12, 16, 3), dtype=np.uint8))
        cv2.imwrite(str(root / "gt" / f"{stem}.png"), gt)
        cv2.imwrite(str(root / "a" / f"{stem}_AMap.png"), sharp_map)
        cv2.imwrite(str(root / "b" / f"{stem}.png"), (sharp_map.astype(np.uint16) * 257))
        truth[stem] = (gt / 255.0, sharp_map / 255.0)
    return truth


def test_qualitative_grid_layout_and_polarity(tmp_path):
    stems = ["s1", "s2"]
    truth = _write_set(tmp_path, stems)
    out = tmp_path / "grid.png"
    fig = plot_qualitative(tmp_path / "img", tmp_path / "gt", {"A": tmp_path / "a", "B": tmp_path / "b"}, stems,
                           out, gt_white="blur", maps_white={"A": "sharp", "B": "blur"})
    assert out.read_bytes()[:4] == MAGIC[".png"]
    assert len(fig.axes) == len(stems) * 4
    axes = np.array(fig.axes).reshape(2, 4)
    assert [ax.get_title() for ax in axes[0]] == ["Input", "GT", "A", "B"]
    for i, stem in enumerate(stems):
        gt, sharp = truth[stem]
        np.testing.assert_allclose(axes[i, 1].images[0].get_array(), gt)
        np.testing.assert_allclose(axes[i, 2].images[0].get_array(), 1.0 - sharp)  # flipped to white = blur
        np.testing.assert_allclose(axes[i, 3].images[0].get_array(), sharp)  # 16-bit, shown as stored


def test_qualitative_grid_errors(tmp_path):
    _write_set(tmp_path, ["s1"])
    with pytest.raises(FileNotFoundError, match="No image for 'zz'"):
        plot_qualitative(None, tmp_path / "gt", {"A": tmp_path / "a"}, ["zz"], gt_white="blur", maps_white="blur")
    with pytest.raises(ValueError, match="'blur' or 'sharp'"):
        plot_qualitative(None, tmp_path / "gt", {"A": tmp_path / "a"}, ["s1"], gt_white="blur", maps_white="white")
    with pytest.raises(ValueError, match="--gt-white"):  # no silent default for the GT either
        plot_qualitative(None, tmp_path / "gt", {"A": tmp_path / "a"}, ["s1"], maps_white="blur")
    with pytest.raises(ValueError, match="--pred-white"):  # nor for maps without meta.json
        plot_qualitative(None, tmp_path / "gt", {"A": tmp_path / "a"}, ["s1"], gt_white="blur")


def test_qualitative_grid_honours_meta_json(tmp_path):
    from dbdbench.io import write_maps_meta

    _write_set(tmp_path, ["s1"])
    write_maps_meta(tmp_path / "a", pred_white="sharp", method="A")
    declared = plot_qualitative(None, tmp_path / "gt", {"A": tmp_path / "a"}, ["s1"], gt_white="blur")
    given = plot_qualitative(None, tmp_path / "gt", {"A": tmp_path / "a"}, ["s1"], gt_white="blur",
                             maps_white="sharp")
    plain = plot_qualitative(None, tmp_path / "gt", {"A": tmp_path / "a"}, ["s1"], gt_white="blur",
                             maps_white="blur")
    shown = [f.axes[1].images[0].get_array() for f in (declared, given, plain)]
    np.testing.assert_array_equal(shown[0], shown[1])
    np.testing.assert_allclose(shown[0], 1.0 - shown[2])


def test_qualitative_grid_on_real_cuhk_and_hifst(shared_data, tmp_path):
    stems = ["out_of_focus0284", "out_of_focus0607"]
    fig = plot_qualitative(shared_data / "cuhk" / "images", shared_data / "cuhk" / "gt",
                           {"HiFST": shared_data / "hifst" / "cuhk_maps"}, stems, tmp_path / "g.pdf",
                           gt_white="blur", maps_white="sharp")
    assert len(fig.axes) == 6
    gt = fig.axes[1].images[0].get_array()
    hifst = fig.axes[2].images[0].get_array()
    assert gt.shape == hifst.shape and set(np.unique(gt)) <= {0.0, 1.0}
    # HiFST is a real detector: after the flip its map is brighter on blurred (GT white) pixels
    assert hifst[gt > 0.5].mean() > hifst[gt < 0.5].mean()


def test_cli_plot_curves_and_grid(tmp_path):
    for i, r in enumerate(sample()[:4]):
        r.to_json(tmp_path / f"r{i}.json")
    run = CliRunner().invoke(plot_cmd, [str(tmp_path), "--curve", "roc", "--out", str(tmp_path / "roc.svg")])
    assert run.exit_code == 0, run.output
    assert (tmp_path / "roc.svg").read_bytes()[:5] == MAGIC[".svg"]
    run = CliRunner().invoke(plot_cmd, [str(tmp_path), "--curve", "pr,fmeasure", "--out", str(tmp_path / "g.pdf"),
                                        "--out", str(tmp_path / "g.png")])
    assert run.exit_code == 0, run.output
    assert (tmp_path / "g.pdf").read_bytes()[:4] == MAGIC[".pdf"] and (tmp_path / "g.png").is_file()
    bad = CliRunner().invoke(plot_cmd, [str(tmp_path), "--curve", "pr,det", "--out", str(tmp_path / "x.png")])
    assert bad.exit_code == 2 and "Unknown curve 'det'" in bad.output
    _write_set(tmp_path, ["s1"])
    run = CliRunner().invoke(plot_cmd, ["--grid", "--gt", str(tmp_path / "gt"), "--map", f"A={tmp_path / 'a'}",
                                        "--map", str(tmp_path / "b"), "--map-white", "A=sharp", "--stems", "s1",
                                        "--out", str(tmp_path / "g.png")])
    assert run.exit_code == 2 and "--gt-white" in run.output
    run = CliRunner().invoke(plot_cmd, ["--grid", "--gt", str(tmp_path / "gt"), "--map", f"A={tmp_path / 'a'}",
                                        "--map", str(tmp_path / "b"), "--map-white", "A=sharp", "--stems", "s1",
                                        "--gt-white", "blur", "--out", str(tmp_path / "g.png")])
    assert run.exit_code == 2 and "--pred-white" in run.output  # b declares nothing
    run = CliRunner().invoke(plot_cmd, ["--grid", "--gt", str(tmp_path / "gt"), "--map", f"A={tmp_path / 'a'}",
                                        "--map", str(tmp_path / "b"), "--map-white", "A=sharp", "--stems", "s1",
                                        "--gt-white", "blur", "--maps-white", "blur", "--out", str(tmp_path / "g.png")])
    assert run.exit_code == 0, run.output
    run = CliRunner().invoke(plot_cmd, ["--grid", "--gt", str(tmp_path / "gt"), "--map", f"A={tmp_path / 'a'}",
                                        "--map-white", "Z=sharp", "--stems", "s1", "--gt-white", "blur",
                                        "--out", str(tmp_path / "g.png")])
    assert run.exit_code == 2 and "no --map named 'Z'" in run.output
    run = CliRunner().invoke(plot_cmd, ["--grid", "--out", str(tmp_path / "g.png")])
    assert run.exit_code == 2 and "--grid needs" in run.output
