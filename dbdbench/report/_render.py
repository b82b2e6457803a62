"""LaTeX (booktabs) and Markdown writers for :class:`dbdbench.report.grid.ScoreGrid`.

Private: use :func:`dbdbench.report.tables.make_table` or :func:`dbdbench.report.tables.render_table`.
Marks are data given to the writers (1 = bold, 2 = underlined): ``ScoreGrid.marks`` for best and second,
or the statistical ties of ``dbdbench table --ci``; intervals, when given, are printed under each number.

References
----------
.. [1] S. Fear, "Publication quality tables in LaTeX" (booktabs package documentation): no vertical
   rules, ``\\toprule``/``\\midrule``/``\\bottomrule``, ``\\cmidrule`` under grouped headers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from dbdbench.metrics import METRICS
from dbdbench.report._captions import MARK_LEGENDS, caption_text

if TYPE_CHECKING:
    from dbdbench.report.grid import Row, ScoreGrid

#: row marks for training data other than the most common one in a table
TRAINING_MARKS = ("‡", "§", "¶")
#: printed widths (pt) of an IEEE/CVF column and page: ``table`` and ``table*``
LINE_WIDTH_PT = {False: 252.0, True: 516.0}
#: a table scaled below this to fit gets a warning
MIN_SCALE = 0.8

_LATEX_SPECIALS = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
}
_LATEX_RE = re.compile("|".join(re.escape(k) for k in _LATEX_SPECIALS))
#: Unicode in generated captions -> LaTeX (applied after escaping)
_LATEX_SYMBOLS = {"≥": r"$\geq$", "β²": r"$\beta^2$", "↑": r"$\uparrow$", "↓": r"$\downarrow$", "–": "--",
                  "†": r"$^\dagger$", "‡": r"$^\ddagger$", "§": r"$^\S$", "¶": r"$^\P$", "α": r"$\alpha$",
                  ">": "$>$", "<": "$<$"}  # < > are other glyphs in OT1 text fonts
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
    out = re.sub(r"β² = ([0-9.]*[0-9])", r"$\\beta^2 = \1$", out)  # one math group
    for symbol, tex in _LATEX_SYMBOLS.items():
        out = out.replace(symbol, tex)
    return out


def _arrow(metric: str, latex: bool) -> str:
    up = METRICS[metric].higher_is_better
    if latex:
        return r"\uparrow" if up else r"\downarrow"
    return "↑" if up else "↓"


def metric_head(metric: str, latex: bool) -> str:
    """Column head: the metric's label and its direction arrow, in LaTeX as one math group
    (``$F_\\beta^{\\max}\\uparrow$``)."""
    info = METRICS[metric]
    if not latex:
        return f"{info.label} {_arrow(metric, False)}"
    label = info.latex or latex_escape(info.label)
    if label.startswith("$") and label.endswith("$") and label.count("$") == 2:
        return f"{label[:-1]}{_arrow(metric, True)}$"
    return f"{label}${_arrow(metric, True)}$"


def _cell(value: float, mark: int, decimals: int, latex: bool, interval: tuple[float, float] | None = None) -> str:
    if np.isnan(value):
        return "--" if latex else MISSING_TEXT
    text = f"{value:.{decimals}f}"
    if mark == 1:
        text = rf"\textbf{{{text}}}" if latex else f"**{text}**"
    elif mark == 2:
        text = rf"\underline{{{text}}}" if latex else f"<u>{text}</u>"
    if interval is None or np.isnan(interval[0]):
        return text
    span = f"[{interval[0]:.{decimals}f}, {interval[1]:.{decimals}f}]"
    if latex:  # the interval under the number, in small type: the column stays narrow
        return rf"\begin{{tabular}}[t]{{@{{}}c@{{}}}}{text}\\[-1pt]{{\scriptsize {span}}}\end{{tabular}}"
    return f"{text} {span}"


def training_marks(grid: ScoreGrid) -> tuple[dict[Row, str], list[str]]:
    """Rows trained on other data than most rows of the table: a symbol per training set, and the notes.

    The notes say what each symbol means and which rows the marks compare: only the unmarked ones
    (:meth:`ScoreGrid.training_groups`; :meth:`ScoreGrid.marks` ranks them alone). Rows that
    declare no training data (hand-crafted methods) are not marked and are compared. No marks when all
    the declared sets agree.
    """
    sets = [grid.training.get(row, ()) for row in grid.rows]
    common, comparable = grid.training_groups()
    if common is None:
        return {}, []
    others = list(dict.fromkeys(t for t, ok in zip(sets, comparable, strict=True) if not ok))
    symbols = {t: TRAINING_MARKS[i] if i < len(TRAINING_MARKS) else "*" * (i - len(TRAINING_MARKS) + 2)
               for i, t in enumerate(others)}
    marks = {row: symbols[t] for row, t in zip(grid.rows, sets, strict=True) if t in symbols}
    notes = [f"{symbols[t]} trained on {' + '.join(t)}." for t in others]
    return marks, notes + [marks_note(common, hand_crafted=not all(sets), symbols=True)]


def marks_note(common: Sequence[str], *, hand_crafted: bool, symbols: bool, marks: str = "Bold and underline") -> str:
    """The sentence that says which rows the marks compare: those trained on ``common`` (and those that
    declare no training data when ``hand_crafted``); ``symbols`` when the other rows carry a symbol."""
    data = " + ".join(common) + (", or hand-crafted" if hand_crafted else "")
    if symbols:
        return f"{marks} compare only the rows without a symbol (training data: {data}); rows with a symbol are " \
            "never marked."
    return f"{marks} compare only the rows with training data: {data}; rows with other training data are never marked."


def _method(row: Row, latex: bool, marks: dict) -> str:
    symbol = ("†" if row.reported else "") + marks.get(row, "")
    return latex_escape(row.method) + latex_text(symbol) if latex else row.method + symbol


def notes(grid: ScoreGrid, warnings: bool = False) -> list[str]:
    """Footnotes in plain text: the reported-numbers dagger, the training-data marks and, with
    ``warnings``, the warnings recorded with the results (otherwise :func:`warning_lines` for stderr)."""
    out = [f"† {REPORTED_NOTE}."] if any(row.reported for row in grid.rows) else []
    out += training_marks(grid)[1]
    return out + (warning_lines(grid) if warnings else [])


def warning_lines(grid: ScoreGrid) -> list[str]:
    """The warnings recorded with the results, one line each."""
    return [f"Warning for {method} on {dataset} ({protocol}): {w.get('message', w.get('code', ''))}"
            for (method, dataset, protocol), found in grid.warnings.items() for w in found]


def _latex_body(grid: ScoreGrid, cells: list[list[str]], transpose: bool) -> list[str]:
    """Header and body lines of the tabular, in either orientation."""
    marks = training_marks(grid)[0]
    lines = []
    if not transpose:
        lines.append(" & ".join(["Method"] + [
            rf"\multicolumn{{{len(idx)}}}{{c}}{{{latex_escape(label)}}}" for label, idx in grid.groups()
        ]) + r" \\")
        lines.append(" ".join(rf"\cmidrule(lr){{{idx[0] + 2}-{idx[-1] + 2}}}" for _, idx in grid.groups()))
        lines.append(" & ".join([""] + [metric_head(c.metric, True) for c in grid.columns]) + r" \\")
        lines.append(r"\midrule")
        lines += [" & ".join([_method(row, True, marks)] + cells[i]) + r" \\" for i, row in enumerate(grid.rows)]
        return lines
    lines.append(" & ".join(["Dataset", "Metric"] + [_method(row, True, marks) for row in grid.rows]) + r" \\")
    lines.append(r"\midrule")
    for g, (label, idx) in enumerate(grid.groups()):
        if g:
            lines.append(r"\midrule")
        for k, j in enumerate(idx):
            head = latex_escape(label) if k == 0 else ""
            col = [cells[i][j] for i in range(len(grid.rows))]
            lines.append(" & ".join([head, metric_head(grid.columns[j].metric, True)] + col) + r" \\")
    return lines


#: approximate advance widths (pt) in \small (9 pt Computer Modern): digits, bold digits, text, script
_PT = {"digit": 4.5, "bold": 5.2, "char": 4.1, "script": 3.6, "gap": 6.0}


def _text_pt(cell: str) -> float:
    """Estimated width of one cell's LaTeX source as printed (numbers, names, intervals, math heads)."""
    if r"\scriptsize" in cell:
        number, _, span = cell.partition(r"\scriptsize")
        head = number.split("c@{}}", 1)[-1].split("\\\\[", 1)[0]
        return max(_text_pt(head), len(re.sub(r"[^0-9.,\[\] -]", "", span)) * _PT["script"])
    if cell.startswith(r"\textbf"):
        return len(re.sub(r"[^0-9.]", "", cell)) * _PT["bold"]
    plain = re.sub(r"\\[a-zA-Z]+|[{}$^_]", "", cell)
    return len(plain) * (_PT["digit"] if re.fullmatch(r"[0-9.\-]+", plain) else _PT["char"])


def natural_width_pt(grid: ScoreGrid, cells: list[list[str]], transpose: bool) -> float:
    """An estimate of the tabular's natural width in points (3 pt column gaps on both sides)."""
    marks = training_marks(grid)[0]
    names = [_method(row, True, marks) for row in grid.rows]
    heads = [metric_head(c.metric, True) for c in grid.columns]
    if transpose:
        first = [max((len(label) * _PT["char"] for label, _ in grid.groups()), default=0.0),
                 max((_text_pt(h) for h in heads), default=0.0)]
        cols = [max([_text_pt(names[i])] + [_text_pt(c) for c in cells[i]]) for i in range(len(grid.rows))]
    else:
        first = [max((_text_pt(n) for n in names), default=0.0)]
        cols = [max([_text_pt(heads[j])] + [_text_pt(cells[i][j]) for i in range(len(grid.rows))])
                for j in range(len(grid.columns))]
    return sum(w + _PT["gap"] for w in first + cols)


def _width_guard(natural: float, wide: bool, fit: str) -> None:
    import warnings

    line = LINE_WIDTH_PT[wide]
    scale = line / natural if natural else 1.0
    if scale >= MIN_SCALE and (fit != "none" or scale >= 1.0):
        return
    fixes = ["fewer metrics (--metrics)", "one table per dataset (--datasets)", "--transpose"]
    if not wide:
        fixes.insert(1, "a page-wide table* (--wide)")
    what = f"shrinks its text to about {scale:.0%}" if fit != "none" else "runs past the line (--fit none)"
    warnings.warn(f"The table is about {natural:.0f} pt wide; set in a {line:.0f} pt "
                  f"{'page' if wide else 'column'} it {what}. To make it fit: {', '.join(fixes)}.", stacklevel=4)


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


def _cells(grid: ScoreGrid, marks: np.ndarray, decimals: int, latex: bool, intervals) -> list[list[str]]:
    return [[_cell(v, int(m), decimals, latex, None if intervals is None else (intervals[0][i, j], intervals[1][i, j]))
             for j, (v, m) in enumerate(zip(vals, mks, strict=True))]
            for i, (vals, mks) in enumerate(zip(grid.values, marks, strict=True))]


def _legend(marks: np.ndarray, legend: str | None) -> str:
    return legend if legend is not None else MARK_LEGENDS.get(int(marks.max(initial=0)), MARK_LEGENDS[2])


def latex(grid: ScoreGrid, marks: np.ndarray, decimals: int, transpose: bool, caption: str | None,
          label: str | None, wide: bool, fit: str, *, style: str = "short", intervals=None,
          legend: str | None = None, with_warnings: bool = False) -> str:
    """A complete ``table`` (or ``table*`` when ``wide``) float: caption, booktabs tabular, footnotes.

    Warns (``UserWarning``) when the tabular, as estimated by :func:`natural_width_pt`, would be scaled
    below :data:`MIN_SCALE` to fit the line (or run past it with ``fit="none"``), naming what makes it fit.
    """
    cells = _cells(grid, marks, decimals, True, intervals)
    _width_guard(natural_width_pt(grid, cells, transpose), wide, fit)
    n_data = len(grid.rows) if transpose else len(grid.columns)
    spec = ("ll" if transpose else "l") + "c" * n_data
    env = "table*" if wide else "table"
    text = latex_text(caption_text(grid, None, style, _legend(marks, legend)))
    if caption:
        text = f"{latex_escape(caption).rstrip()} {text}"
    out = [
        "% requires \\usepackage{booktabs}" + (" and \\usepackage{graphicx}" if fit != "none" else ""),
        rf"\begin{{{env}}}[t]",
        r"\centering",
        rf"\caption{{{text}}}",
    ]
    if label:
        out.append(rf"\label{{{label}}}")
    out += [r"\smallskip", *LATEX_SETUP, *_latex_tabular(spec, _latex_body(grid, cells, transpose), fit)]
    footnotes = notes(grid, with_warnings)
    if footnotes:
        out.append(r"\par\smallskip")
        out += [rf"{{\footnotesize {latex_text(n)}\par}}" for n in footnotes]
    out.append(rf"\end{{{env}}}")
    return "\n".join(out) + "\n"


def _md_row(cells: list[str]) -> str:
    return "| " + " | ".join(c.replace("|", r"\|") for c in cells) + " |"


def markdown(grid: ScoreGrid, marks: np.ndarray, decimals: int, transpose: bool, caption: str | None, *,
             style: str = "short", intervals=None, legend: str | None = None, with_warnings: bool = False) -> str:
    """A GitHub-flavoured Markdown table (bold best, ``<u>`` second) followed by caption and footnotes."""
    cells = _cells(grid, marks, decimals, False, intervals)
    rmarks = training_marks(grid)[0]
    if not transpose:
        head = ["Method"] + [f"{grid.group_label(c)} {metric_head(c.metric, False)}" for c in grid.columns]
        body = [[_method(row, False, rmarks)] + cells[i] for i, row in enumerate(grid.rows)]
        align = [":--"] + ["--:"] * len(grid.columns)
    else:
        head = ["Dataset", "Metric"] + [_method(row, False, rmarks) for row in grid.rows]
        body = [[grid.group_label(c), metric_head(c.metric, False)] + [cells[i][j] for i in range(len(grid.rows))]
                for j, c in enumerate(grid.columns)]
        align = [":--", ":--"] + ["--:"] * len(grid.rows)
    lines = [_md_row(head), "|" + "|".join(align) + "|", *(_md_row(r) for r in body), ""]
    lines.append(caption_text(grid, caption, style, _legend(marks, legend)))
    footnotes = notes(grid, with_warnings)
    if footnotes:
        lines += ["", *footnotes]
    return "\n".join(lines) + "\n"
