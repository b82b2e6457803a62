"""Camera-ready check: the tables and figures dbdbench writes, dropped unchanged into an IEEEtran two-column
conference paper, compile without errors or overfull boxes, and no PDF carries a Type 3 font."""

from __future__ import annotations

import re
import shutil
import subprocess
import warnings

import numpy as np
import pytest

from dbdbench.metrics import get_protocol
from dbdbench.report.plots import plot_curves
from dbdbench.report.tables import make_table
from dbdbench.results import Result
from dbdbench.stats.table import make_ci_table


def _missing_tools() -> str | None:
    for tool, package in (("pdflatex", "texlive-latex-base"), ("kpsewhich", "texlive-latex-base"),
                          ("pdffonts", "poppler-utils")):
        if shutil.which(tool) is None:
            return f"{tool} not installed (apt-get install {package})"
    found = subprocess.run(["kpsewhich", "IEEEtran.cls"], capture_output=True, text=True).stdout.strip()
    return None if found else "IEEEtran.cls not installed (apt-get install texlive-publishers)"


needs_tex = pytest.mark.skipif(_missing_tools() is not None, reason=str(_missing_tools()))
METHODS = ["D-DFFNet", "DeFusionNet", "BR2Net", "CENet", "BTBNet", "HiFST", "LBP", "DBDF", "SVD", "JNB", "Bae07",
           "Chakrabarti", "Su", "Tang"]


def scored(method: str, dataset: str, rng: np.random.Generator, n: int = 60) -> Result:
    """A dbdbench result with per-image rows (for --ci), the default columns and random curves."""
    proto = get_protocol("dbdbench")
    shift = rng.uniform(-0.1, 0.1)
    rows = [{"name": f"img{i:03d}", "mae": float(np.clip(rng.normal(0.2 - shift, 0.05), 0, 1)),
             "bin_f": float(np.clip(rng.normal(0.7 + shift, 0.1), 0, 1)),
             "auc": float(np.clip(rng.normal(0.8 + shift, 0.05), 0, 1))} for i in range(n)]
    scores = {k: float(np.mean([r[k] for r in rows])) for k in ("mae", "bin_f", "auc")}
    scores |= {"max_f": float(rng.uniform(0.7, 0.9)), "bin_iou_pooled": float(rng.uniform(0.5, 0.8))}
    t = np.linspace(0, 1, 256)
    recall = np.sort(rng.uniform(0, 1, 256))[::-1]
    precision = np.clip(0.55 + 0.4 * t * rng.uniform(0.5, 1), 0, 1)
    curves = {"thresholds": t, "precision": precision, "recall": recall, "fpr": recall ** 2,
              "f": 1.3 * precision * recall / np.maximum(0.3 * precision + recall, 1e-12)}
    return Result(protocol="dbdbench", scores=scores, curves=curves, per_image=rows, n_images=n, dataset=dataset,
                  method=method, protocol_settings=proto.settings())


def font_types(pdf) -> list[str]:
    out = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout.splitlines()
    if len(out) < 2:
        return []
    dashes = out[1].split(" ")
    start = len(dashes[0]) + 1
    return [line[start:start + len(dashes[1])].strip() for line in out[2:]]


@needs_tex
def test_ieeetran_paper_with_tables_and_figures_compiles_cleanly(tmp_path):
    rng = np.random.default_rng(22)
    one = [scored(m, "CUHK-TE-1", rng) for m in METHODS]
    two = [scored(m, d, rng) for m in METHODS[:4] for d in ("CUHK-TE-1", "DUT-TE")]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the width guard would warn if a table had to shrink below 80 %
        tables = [make_table(one[:2], label="tab:default"),
                  make_ci_table(one[:6], ["mae", "bin_f", "auc"], "latex", n_resamples=200, label="tab:ci"),
                  make_table(two, label="tab:two")]
    assert r"\begin{table}[t]" in tables[0] and r"\begin{table}[t]" in tables[1]
    figures = []
    for n in (2, 14):
        path = tmp_path / f"pr{n}.pdf"
        plot_curves(one[:n], ["pr", "fmeasure"], path, size="column")
        figures.append(rf"\begin{{figure}}[t]\centering\includegraphics{{{path.name}}}"
                       rf"\caption{{PR and F curves of {n} methods.}}\end{{figure}}")
    body = "\n\n".join(["\\section{Results}", "Text " * 200, *tables, *figures, "Text " * 400])
    doc = ("\\documentclass[conference]{IEEEtran}\n\\usepackage{booktabs}\n\\usepackage{graphicx}\n"
           "\\begin{document}\n\\title{Camera-ready check}\n\\maketitle\n" + body + "\n\\end{document}\n")
    (tmp_path / "paper.tex").write_text(doc, encoding="utf-8")
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "paper.tex"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=180)
    log = (tmp_path / "paper.log").read_text(encoding="utf-8", errors="replace")
    assert proc.returncode == 0, log[-3000:]
    assert not re.search(r"^! ", log, re.M), log[-3000:]
    assert "Overfull" not in log, [ln for ln in log.splitlines() if "Overfull" in ln]
    for pdf in [tmp_path / "pr2.pdf", tmp_path / "pr14.pdf", tmp_path / "paper.pdf"]:
        types = font_types(pdf)
        assert types and not [t for t in types if "Type 3" in t], (pdf.name, types)
