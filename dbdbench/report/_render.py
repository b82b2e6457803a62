"""LaTeX (booktabs) and Markdown writers for :class:`dbdbench.report.tables.ScoreGrid`.

Private: use :func:`dbdbench.report.tables.make_table`. Highlight codes come from ``ScoreGrid.marks``
(1 = best, bold; 2 = second, underlined).

References
----------
.. [1] S. Fear, "Publication quality tables in LaTeX" (booktabs package documentation): no vertical
   rules, ``\\toprule``/``\\midrule``/``\\bottomrule``, ``\\cmidrule`` under grouped headers.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np

from dbdbench.metrics import METRICS

if TYPE_CHECKING:
    from dbdbench.report.tables import ScoreGrid

_LATEX_SPECIALS = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
}
_LATEX_RE = re.compile("|".join(re.escape(k) for k in _LATEX_SPECIALS))
#: Unicode in generated captions -> LaTeX (applied after escaping)
_LATEX_SYMBOLS = {"≥": r"$\geq$", "β²": r"$\beta^2$", "↑": r"$\uparrow$", "↓": r"$\downarrow$", "–": "--",
                  "†": r"$^\dagger$", ">": "$>$", "<": "$<$"}  # < > are other glyphs in OT1 text fonts
MISSING_TEXT = "–"
REPORTED_NOTE = "reported in the original paper (copied, not re-scored by dbdbench)"
#: inside the float: smaller type and narrower column gaps, as two-column papers set their tables
LATEX_SETUP = (r"\small", r"\setlength{\tabcolsep}{3pt}")


def latex_escape(text: str) -> str:
    """Escape the LaTeX special characters ``\\ & % $ # _ { } ~ ^`` of plain text."""
    return _LATEX_RE.sub(lambda m: _LATEX_SPECIALS[m.group()], text)


def latex_text(text: str) -> str:
    """Plain text with a few symbols (``≥ β² ↑ ↓ – † < >``) as LaTeX: escape, then map the symbols."""
    out = latex_escape(text).replace("--", "-{}-")  # an option name such as --strict, not an en dash
    for symbol, tex in _LATEX_SYMBOLS.items():
        out = out.replace(symbol, tex)
    return out


def _arrow(metric: str, latex: bool) -> str:
    up = METRICS[metric].higher_is_better
    if latex:
        return r"$\uparrow$" if up else r"$\downarrow$"
    return "↑" if up else "↓"


def _metric_head(metric: str, latex: bool) -> str:
    info = METRICS[metric]
    if latex:
        return f"{info.latex or latex_escape(info.label)}{_arrow(metric, True)}"
    return f"{info.label} {_arrow(metric, False)}"


def _cell(value: float, mark: int, decimals: int, latex: bool) -> str:
    if np.isnan(value):
        return "--" if latex else MISSING_TEXT
    text = f"{value:.{decimals}f}"
    if mark == 1:
        return rf"\textbf{{{text}}}" if latex else f"**{text}**"
    if mark == 2:
        return rf"\underline{{{text}}}" if latex else f"<u>{text}</u>"
    return text


def _method(row, latex: bool) -> str:
    if latex:
        return latex_escape(row.method) + (r"$^\dagger$" if row.reported else "")
    return row.method + ("†" if row.reported else "")


def caption_text(grid: ScoreGrid, caption: str | None, latex: bool, marked: int = 2) -> str:
    """The user's caption, then what was scored (datasets with image counts), the protocol's choices in
    words, and the legend of the marks in use (``marked``: 0 none, 1 bold only, 2 bold and underline)."""
    code = (lambda p: rf"\texttt{{{latex_escape(p)}}}") if latex else (lambda p: f"`{p}`")
    conv = latex_text if latex else str
    sentences = []
    for protocol, datasets in grid.protocols().items():
        scored = ", ".join(f"{d} ({grid.n_images[d]} images)" if grid.n_images.get(d) else d for d in datasets)
        words = grid.descriptions.get(protocol)
        how = f": {words}" if words else ": numbers as printed in the source paper, with that paper's definitions"
        sentences.append(f"{conv(scored)}, protocol {code(protocol)}{conv(how)}.")
    marks = {0: "", 1: "Best in bold (compared as printed); "}.get(
        marked, "Best in bold, second underlined (compared as printed); ")
    legend = conv(f"{marks}↑/↓: higher/lower is better.")
    text = " ".join([*sentences, legend])
    if not caption:
        return text
    return f"{(latex_escape(caption) if latex else caption).rstrip()} {text}"


def notes(grid: ScoreGrid) -> list[str]:
    """Footnotes in plain text: the reported-numbers dagger and the warnings recorded with the results."""
    out = [f"† {REPORTED_NOTE}."] if any(row.reported for row in grid.rows) else []
    for (method, dataset, protocol), warnings in grid.warnings.items():
        for w in warnings:
            out.append(f"Warning for {method} on {dataset} ({protocol}): {w.get('message', w.get('code', ''))}")
    return out


def _latex_body(grid: ScoreGrid, cells: list[list[str]], transpose: bool) -> list[str]:
    """Header and body lines of the tabular, in either orientation."""
    lines = []
    if not transpose:
        lines.append(" & ".join(["Method"] + [
            rf"\multicolumn{{{len(idx)}}}{{c}}{{{latex_escape(label)}}}" for label, idx in grid.groups()
        ]) + r" \\")
        lines.append(" ".join(rf"\cmidrule(lr){{{idx[0] + 2}-{idx[-1] + 2}}}" for _, idx in grid.groups()))
        lines.append(" & ".join([""] + [_metric_head(c.metric, True) for c in grid.columns]) + r" \\")
        lines.append(r"\midrule")
        lines += [" & ".join([_method(row, True)] + cells[i]) + r" \\" for i, row in enumerate(grid.rows)]
        return lines
    lines.append(" & ".join(["Dataset", "Metric"] + [_method(row, True) for row in grid.rows]) + r" \\")
    lines.append(r"\midrule")
    for g, (label, idx) in enumerate(grid.groups()):
        if g:
            lines.append(r"\midrule")
        for k, j in enumerate(idx):
            head = latex_escape(label) if k == 0 else ""
            col = [cells[i][j] for i in range(len(grid.rows))]
            lines.append(" & ".join([head, _metric_head(grid.columns[j].metric, True)] + col) + r" \\")
    return lines


def _latex_tabular(spec: str, body: list[str], fit: str) -> list[str]:
    """The tabular, wrapped so that it never runs past the text width when ``fit`` asks for it.

    ``auto`` measures the tabular in a box and scales it down only when it is wider than ``\\linewidth``;
    ``resize`` always scales it to the line width; ``none`` leaves it at its natural size.
    """
    tabular = [rf"\begin{{tabular}}{{{spec}}}", r"\toprule", *body, r"\bottomrule", r"\end{tabular}"]
    if fit == "none":
        return tabular
    if fit == "resize":
        return [r"\resizebox{\linewidth}{!}{%", *tabular, "}"]
    return [r"\sbox0{%", *tabular, "}%",
            r"\ifdim\wd0>\linewidth\resizebox{\linewidth}{!}{\usebox0}\else\usebox0\fi"]


def latex(grid: ScoreGrid, marks: np.ndarray, decimals: int, transpose: bool, caption: str | None,
          label: str | None, wide: bool, fit: str) -> str:
    """A complete ``table`` (or ``table*`` when ``wide``) float: caption, booktabs tabular, footnotes."""
    cells = [[_cell(v, m, decimals, True) for v, m in zip(vals, mks, strict=True)]
             for vals, mks in zip(grid.values, marks, strict=True)]
    n_data = len(grid.rows) if transpose else len(grid.columns)
    spec = ("ll" if transpose else "l") + "c" * n_data
    env = "table*" if wide else "table"
    out = [
        "% requires \\usepackage{booktabs}" + (" and \\usepackage{graphicx}" if fit != "none" else ""),
        rf"\begin{{{env}}}[t]",
        r"\centering",
        rf"\caption{{{caption_text(grid, caption, True, int(marks.max(initial=0)))}}}",
    ]
    if label:
        out.append(rf"\label{{{label}}}")
    out += [r"\smallskip", *LATEX_SETUP, *_latex_tabular(spec, _latex_body(grid, cells, transpose), fit)]
    footnotes = notes(grid)
    if footnotes:
        out.append(r"\par\smallskip")
        out += [rf"{{\footnotesize {latex_text(n)}\par}}" for n in footnotes]
    out.append(rf"\end{{{env}}}")
    return "\n".join(out) + "\n"


def _md_row(cells: list[str]) -> str:
    return "| " + " | ".join(c.replace("|", r"\|") for c in cells) + " |"


def markdown(grid: ScoreGrid, marks: np.ndarray, decimals: int, transpose: bool, caption: str | None) -> str:
    """A GitHub-flavoured Markdown table (bold best, ``<u>`` second) followed by caption and footnote."""
    cells = [[_cell(v, m, decimals, False) for v, m in zip(vals, mks, strict=True)]
             for vals, mks in zip(grid.values, marks, strict=True)]
    if not transpose:
        head = ["Method"] + [f"{grid.group_label(c)} {_metric_head(c.metric, False)}" for c in grid.columns]
        body = [[_method(row, False)] + cells[i] for i, row in enumerate(grid.rows)]
        align = [":--"] + ["--:"] * len(grid.columns)
    else:
        head = ["Dataset", "Metric"] + [_method(row, False) for row in grid.rows]
        body = [[grid.group_label(c), _metric_head(c.metric, False)] + [cells[i][j] for i in range(len(grid.rows))]
                for j, c in enumerate(grid.columns)]
        align = [":--", ":--"] + ["--:"] * len(grid.rows)
    lines = [_md_row(head), "|" + "|".join(align) + "|", *(_md_row(r) for r in body), ""]
    lines.append(caption_text(grid, caption, False, int(marks.max(initial=0))))
    footnotes = notes(grid)
    if footnotes:
        lines += ["", *footnotes]
    return "\n".join(lines) + "\n"
