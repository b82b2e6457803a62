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
MISSING_TEXT = "–"
REPORTED_NOTE = "reported in the original paper (copied, not re-scored by dbdbench)"


def latex_escape(text: str) -> str:
    """Escape the LaTeX special characters ``\\ & % $ # _ { } ~ ^`` of plain text."""
    return _LATEX_RE.sub(lambda m: _LATEX_SPECIALS[m.group()], text)


def _arrow(metric: str, latex: bool) -> str:
    up = METRICS[metric].higher_is_better
    if latex:
        return r"$\uparrow$" if up else r"$\downarrow$"
    return "↑" if up else "↓"


def _metric_head(metric: str, latex: bool) -> str:
    if latex:
        # the table's paper-style LaTeX label, else its text label escaped
        return f"{METRICS[metric].latex or latex_escape(METRICS[metric].label)} {_arrow(metric, True)}"
    return f"{METRICS[metric].label} {_arrow(metric, False)}"


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


def caption_text(grid: ScoreGrid, caption: str | None, latex: bool) -> str:
    """The user's caption followed by the legend of marks and the protocol(s) of every column."""
    protocols = grid.protocols()
    code = (lambda p: rf"\texttt{{{latex_escape(p)}}}") if latex else (lambda p: f"`{p}`")
    arrows = (r"$\uparrow$/$\downarrow$" if latex else "↑/↓") + ": higher/lower is better"
    if len(protocols) == 1:
        proto = f"Protocol: {code(next(iter(protocols)))}."
    else:
        esc = latex_escape if latex else str
        parts = [f"{code(p)} ({', '.join(esc(d) for d in ds)})" for p, ds in protocols.items()]
        proto = "Protocols: " + "; ".join(parts) + "."
    text = f"Best in bold, second underlined; {arrows}. {proto}"
    if not caption:
        return text
    return f"{(latex_escape(caption) if latex else caption).rstrip()} {text}"


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


def latex(grid: ScoreGrid, marks: np.ndarray, decimals: int, transpose: bool, caption: str | None,
          label: str | None) -> str:
    """A complete ``table`` float with a booktabs ``tabular``, caption and reported-numbers footnote."""
    cells = [[_cell(v, m, decimals, True) for v, m in zip(vals, mks, strict=True)]
             for vals, mks in zip(grid.values, marks, strict=True)]
    n_data = len(grid.rows) if transpose else len(grid.columns)
    spec = ("ll" if transpose else "l") + "c" * n_data
    out = [
        "% requires \\usepackage{booktabs}",
        r"\begin{table}[t]",
        r"\centering",
        rf"\caption{{{caption_text(grid, caption, True)}}}",
    ]
    if label:
        out.append(rf"\label{{{label}}}")
    out += [rf"\begin{{tabular}}{{{spec}}}", r"\toprule", *_latex_body(grid, cells, transpose),
            r"\bottomrule", r"\end{tabular}"]
    if any(row.reported for row in grid.rows):
        out += [r"\par\smallskip", rf"{{\footnotesize $^\dagger$ {REPORTED_NOTE}.}}"]
    out.append(r"\end{table}")
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
    lines.append(caption_text(grid, caption, False))
    if any(row.reported for row in grid.rows):
        lines += ["", f"† {REPORTED_NOTE}."]
    return "\n".join(lines) + "\n"
