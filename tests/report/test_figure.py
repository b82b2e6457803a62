"""Camera-ready figures: printed widths, every text at 7 pt or more, TrueType fonts, legends that grow."""

from __future__ import annotations

import json
import shutil
import subprocess
import warnings

import numpy as np
import pytest
from click.testing import CliRunner
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgba
from matplotlib.text import Text

from dbdbench.cli.report import plot as plot_cmd
from dbdbench.report.figure import MIN_FONT_PT, SIZES
from dbdbench.report.plots import HIGHLIGHT_COLOR, PALETTE, method_styles, plot_curves
from dbdbench.results import Result


def res(method: str, dataset: str) -> Result:
    """A result with random monotone curves (seeded by its names)."""
    rng = np.random.default_rng(sum(map(ord, method + dataset)))
    t = np.linspace(0, 1, 256)
    recall = np.sort(rng.uniform(0, 1, 256))[::-1]
    precision = np.clip(0.5 + 0.5 * t * rng.uniform(0.5, 1), 0, 1)
    curves = {"thresholds": t, "precision": precision, "recall": recall, "fpr": recall ** 2,
              "f": 1.3 * precision * recall / np.maximum(0.3 * precision + recall, 1e-12)}
    return Result(protocol="dbdbench", scores={"mae": 0.1}, dataset=dataset, method=method, curves=curves)


def visible_axes(fig):
    return [ax for ax in fig.axes if ax.get_visible()]


def method_lines(ax):
    return [ln for ln in ax.get_lines() if not ln.get_label().startswith("_")]


def methods(n: int) -> list[str]:
    return [f"Method-{i:02d}" for i in range(n)]


def drawn(fig):
    """Lay the figure out and draw it (a collapsed constrained layout warns, here an error); the renderer."""
    canvas = FigureCanvasAgg(fig)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        canvas.draw()
    return canvas.get_renderer()


def texts(fig) -> list[Text]:
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]


def pdf_font_types(path) -> list[str]:
    """The ``type`` column of ``pdffonts`` (poppler-utils), e.g. ``CID TrueType`` or ``Type 3``."""
    lines = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout.splitlines()
    start = lines[1].index("-") if len(lines) > 1 else 0
    widths = [len(w) for w in lines[1].split(" ")] if len(lines) > 1 else []
    col = start + widths[0] + 1
    return [ln[col:col + widths[1]].strip() for ln in lines[2:]]


needs_pdffonts = pytest.mark.skipif(shutil.which("pdffonts") is None,
                                    reason="pdffonts not installed (apt-get install poppler-utils)")


@pytest.mark.parametrize("n", [2, 6, 14])
@pytest.mark.parametrize(("kinds", "size"), [(["pr"], "column"), (["pr", "fmeasure"], "column"),
                                             (["pr", "fmeasure"], "page")])
def test_every_text_is_at_least_7_pt_at_the_printed_width(n, kinds, size):
    fig = plot_curves([res(m, "CUHK-TE-1") for m in methods(n)], kinds, size=size)
    renderer = drawn(fig)
    assert fig.get_size_inches()[0] == pytest.approx(SIZES[size])
    small = [(t.get_text(), t.get_fontsize()) for t in texts(fig) if t.get_fontsize() < MIN_FONT_PT]
    assert not small
    # nothing is drawn outside the figure (the saved file keeps this size, untrimmed)
    tight = fig.get_tightbbox(renderer)  # inches
    width, height = fig.get_size_inches()
    assert tight.x0 >= -0.01 and tight.y0 >= -0.01 and tight.x1 <= width + 0.01 and tight.y1 <= height + 0.01


@pytest.mark.parametrize("legend", ["below", "outside"])
def test_figures_grow_with_the_number_of_curves_and_legends_never_overlap(legend):
    heights = []
    for n in (6, 24, 48):
        fig = plot_curves([res(m, "CUHK") for m in methods(n)], "pr", size="page", legend=legend)
        renderer = drawn(fig)
        leg = fig.legends[0].get_window_extent(renderer)
        ax = visible_axes(fig)[0]
        panel = ax.get_tightbbox(renderer)
        assert not leg.overlaps(panel)
        assert fig.bbox.contains(leg.x0 + 1, leg.y0 + 1) and fig.bbox.contains(leg.x1 - 1, leg.y1 - 1)
        heights.append(fig.get_size_inches()[1])
    assert heights[0] <= heights[1] < heights[2]


@needs_pdffonts
@pytest.mark.parametrize("curve", [["pr"], ["pr", "fmeasure"]])
def test_pdf_fonts_are_truetype_not_type3(tmp_path, curve):
    out = tmp_path / "fig.pdf"
    plot_curves([res(m, "CUHK-TE-1") for m in methods(3)], curve, out, footnote=True)
    types = pdf_font_types(out)
    assert types and not [t for t in types if "Type 3" in t]
    assert all("TrueType" in t for t in types)


def test_highlight_is_first_thick_and_in_its_reserved_colour():
    rs = [res(m, "CUHK") for m in methods(5)]
    for r in rs:
        r.scores["max_f"] = float(np.max(r.curves["f"]))
    fig = plot_curves(rs, "pr", highlight="Method-03", legend="inside")
    first = fig.axes[0].get_legend().get_texts()[0].get_text()
    assert first.startswith("Method-03 ")
    lines = {ln.get_label(): ln for ln in method_lines(fig.axes[0])}
    assert to_rgba(lines["Method-03"].get_color()) == to_rgba(HIGHLIGHT_COLOR)
    assert all(to_rgba(ln.get_color()) != to_rgba(HIGHLIGHT_COLOR) for k, ln in lines.items() if k != "Method-03")
    assert lines["Method-03"].get_linewidth() > max(ln.get_linewidth() for k, ln in lines.items() if k != "Method-03")
    assert to_rgba(HIGHLIGHT_COLOR) not in {to_rgba(c) for c in PALETTE}
    with pytest.raises(ValueError, match="no such method"):
        plot_curves(rs, "pr", highlight="Nope")


def test_names_and_methods_select_rename_and_order():
    rs = [res(m, "CUHK") for m in ("a", "b", "c")]
    fig = plot_curves(rs, "pr", methods=["C-Net", "a"], names={"c": "C-Net", "a": "A-Net"}, legend="inside")
    labels = [t.get_text().rsplit(" ", 1)[0] for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["C-Net", "A-Net"]  # the order of methods, not of the scores
    with pytest.raises(ValueError, match="No result for method 'z'"):
        plot_curves(rs, "pr", methods=["z"])
    with pytest.raises(ValueError, match="both shown as"):
        plot_curves(rs, "pr", names={"a": "X", "b": "X"})
    # the styles follow the result names, so renaming does not recolour a method
    ref = method_styles(["a", "b", "c"])
    lines = {ln.get_label(): ln for ln in method_lines(fig.axes[0])}
    assert to_rgba(lines["C-Net"].get_color()) == to_rgba(ref["c"]["color"])


def test_cli_prints_and_writes_the_caption(tmp_path):
    for i, m in enumerate(methods(2)):
        res(m, "CUHK-TE-1").to_json(tmp_path / f"r{i}.json")
    names = tmp_path / "names.yaml"
    names.write_text("Method-00: Ours\n", encoding="utf-8")
    (tmp_path / "n.json").write_text(json.dumps({"Method-01": "Theirs"}), encoding="utf-8")
    out, cap = tmp_path / "pr.pdf", tmp_path / "pr.txt"
    run = CliRunner().invoke(plot_cmd, [str(tmp_path / "r0.json"), str(tmp_path / "r1.json"), "--out", str(out),
                                        "--caption", str(cap), "--names", str(names), "--highlight", "Ours",
                                        "--size", "column", "--legend", "below"])
    assert run.exit_code == 0, run.output
    text = cap.read_text(encoding="utf-8").strip()
    assert text in run.output
    for words in ("Precision-recall curves of 2 methods", "CUHK-TE-1 (100 images)", "β² = 0.3", "256 thresholds"):
        assert words in text
    bad = CliRunner().invoke(plot_cmd, [str(tmp_path / "r0.json"), "--out", str(out), "--legend", "left"])
    assert bad.exit_code == 2
