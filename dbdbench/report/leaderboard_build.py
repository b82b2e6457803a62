"""Generate ``reports/`` from ``submissions/``: Markdown leaderboards, LaTeX tables, plots and a static page.

Everything is a pure function of the submission files (no timestamps, stable ordering), so regenerating
into a temporary folder and comparing byte by byte tells whether the committed ``reports/`` is stale
(``dbdbench leaderboard --check``). Reported numbers (copied from papers) and re-scored numbers (computed
by dbdbench from maps) are kept apart and labelled in every output.

References
----------
.. [1] Croce et al., "RobustBench", NeurIPS Datasets and Benchmarks 2021 (generated leaderboard pages that
   list reported next to re-measured numbers).
"""

from __future__ import annotations

import filecmp
import shutil
import tempfile
from pathlib import Path

from dbdbench.report.leaderboard import collect_rows, grouped, latex_tables, page_data, slug, write_plots
from dbdbench.report.leaderboard_md import markdown_dataset, markdown_index


def generate(submissions: str | Path, out: str | Path, plots: bool = True) -> list[Path]:
    """Write the whole report tree into ``out`` (replacing what the generator owns) and list the files.

    Layout: ``leaderboard/README.md`` and ``leaderboard/<DATASET>.md``, ``tables/<protocol>.tex``,
    ``figures/<dataset>__<protocol>__<curve>.svg`` and ``index.html``.
    """
    from dbdbench.io import atomic_write_text
    from dbdbench.report.leaderboard_html import render_html

    out = Path(out)
    groups = grouped(collect_rows(submissions))
    for sub in ("leaderboard", "tables", "figures"):
        shutil.rmtree(out / sub, ignore_errors=True)
        (out / sub).mkdir(parents=True)
    figures = write_plots(groups, out / "figures") if plots else []
    atomic_write_text(out / "leaderboard" / "README.md", markdown_index(groups))
    for dataset, by_protocol in groups.items():
        text = markdown_dataset(dataset, by_protocol, figures=figures)
        atomic_write_text(out / "leaderboard" / f"{slug(dataset)}.md", text)
    for name, text in latex_tables(groups).items():
        atomic_write_text(out / "tables" / name, text)
    svgs = {name: (out / "figures" / name).read_text(encoding="utf-8") for name in figures}
    atomic_write_text(out / "index.html", render_html(page_data(groups, svgs)))
    return sorted(p for p in out.rglob("*") if p.is_file())


def stale_files(submissions: str | Path, out: str | Path, plots: bool = True) -> list[str]:
    """Files of ``out`` that differ from a fresh generation (missing, extra or changed); empty when current."""
    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="dbdbench-reports-") as tmp:
        fresh = Path(tmp)
        generate(submissions, fresh, plots=plots)
        want = {p.relative_to(fresh).as_posix() for p in fresh.rglob("*") if p.is_file()}
        have = {p.relative_to(out).as_posix() for sub in ("leaderboard", "tables", "figures")
                for p in (out / sub).rglob("*") if p.is_file()} if out.is_dir() else set()
        if (out / "index.html").is_file():
            have.add("index.html")
        stale = sorted(have ^ want)
        stale += sorted(n for n in want & have if not filecmp.cmp(fresh / n, out / n, shallow=False))
    return sorted(set(stale))
