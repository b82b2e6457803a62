"""The leaderboard's data: rows of the submission files, their ranking, LaTeX tables, plots and page data.

Everything is a pure function of the submission files (no timestamps, stable ordering). Reported numbers
(copied from papers) and re-scored numbers (computed by dbdbench from maps) are kept apart and labelled in
every output. The Markdown pages are :mod:`dbdbench.report.leaderboard_md`, the static page
:mod:`dbdbench.report.leaderboard_html`, and :mod:`dbdbench.report.leaderboard_build` writes ``reports/``.
"""

from __future__ import annotations

import base64
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dbdbench.report.naming import slug
from dbdbench.submissions import REPORTED_PROTOCOLS, load_submissions

KIND_LABEL = {"reported": "reported", "rescored": "re-scored"}
DECIMALS = 3
CURVE_KINDS = ("pr", "fmeasure", "roc")


@dataclass(frozen=True)
class Row:
    """One leaderboard row: a result of one entry on one dataset under one protocol."""

    entry: str
    method: str
    kind: str
    dataset: str
    protocol: str
    scores: dict[str, float]
    training: tuple[str, ...]
    year: int
    venue: str
    paper_url: str | None
    code_url: str | None
    source: str
    result: dict[str, Any] = field(compare=False, repr=False)
    #: the address of the paper the numbers come from (reported rows: its URL, DOI or arXiv id)
    source_url: str | None = None
    #: score keys computed by dbdbench from a published curve (curve-only rows), not printed by the paper
    derived: tuple[str, ...] = ()


def collect_rows(submissions: str | Path) -> list[Row]:
    """Every (entry, result file) of a submissions folder as a :class:`Row`, sorted by entry and file."""
    rows = []
    for sub in load_submissions(submissions):
        meta = sub.meta
        for _, result in sorted(sub.results.items()):
            src = result["meta"].get("source") or {}
            source = f"{src['short']}, {src['table']}" if src else f"dbdbench {result.get('dbdbench_version', '')}"
            scores, derived = dict(result["scores"]), curve_scores(result)
            rows.append(Row(sub.entry_id, result["method"], meta["kind"], result["dataset"], result["protocol"],
                            scores | derived, tuple(meta["training_data"]), meta["year"], meta["venue"],
                            meta["paper_url"], meta["code_url"], source.strip(), result, source_url(src),
                            tuple(sorted(derived))))
    return rows


def curve_scores(result: dict[str, Any]) -> dict[str, float]:
    """A curve-only result's ranking score computed from its published curve: max F where the protocol
    defines it from the curve (:func:`dbdbench.report.plots.headline_score`); empty otherwise."""
    if result.get("scores") or not result.get("curves"):
        return {}
    from dbdbench.report.plots import headline_score
    from dbdbench.results import Result

    value = headline_score(Result.from_json(result), "pr")
    return {"max_f": value} if value is not None and primary_metric(result["protocol"]) == "max_f" else {}


def source_url(source: dict[str, Any]) -> str | None:
    """Where a reported number's paper is: its ``url``, else a DOI or arXiv id in its citation."""
    import re

    if source.get("url"):
        return str(source["url"])
    paper = str(source.get("paper", ""))
    doi = re.search(r"\b(10\.\d{4,9}/[^\s,;)]+)", paper)
    if doi:
        return f"https://doi.org/{doi.group(1)}"
    arxiv = re.search(r"arXiv:\s*(\d{4}\.\d{4,5})", paper, re.I)
    return f"https://arxiv.org/abs/{arxiv.group(1)}" if arxiv else None


def primary_metric(protocol: str) -> str | None:
    """The column that orders a protocol's leaderboard (best first): its ``primary`` in the registries."""
    if protocol in REPORTED_PROTOCOLS:
        return REPORTED_PROTOCOLS[protocol].primary
    from dbdbench.metrics import list_protocols

    if protocol in list_protocols():
        from dbdbench.metrics import get_protocol

        return get_protocol(protocol).primary
    return None


def metric_columns(protocol: str, rows: Sequence[Row], every: bool = False) -> list[str]:
    """The metric keys shown for a protocol, in the order of the LaTeX tables.

    By default the protocol's paper columns (:func:`dbdbench.report.columns.default_metrics`), plus the
    ranking metric (:func:`primary_metric`) when those lack it; with ``every``, all keys some row has (the
    protocol's own order, then the rest).
    """
    from dbdbench.report.columns import default_metrics

    present = {k for r in rows for k in r.scores}
    if every:
        if protocol in REPORTED_PROTOCOLS:
            order = list(REPORTED_PROTOCOLS[protocol].metrics)
        else:
            from dbdbench.metrics import get_protocol

            order = list(get_protocol(protocol).metrics)
        order = [m for m in order if m in present] + sorted(present - set(order))
    else:
        order = default_metrics(protocol, present)
    primary = primary_metric(protocol)
    return order if primary not in present or primary in order else [primary, *order]


def rank_key(protocol: str, rows: Sequence[Row]) -> str | None:
    """The metric that ranks a protocol's rows: its primary metric when some row has it, else the first
    column."""
    primary = primary_metric(protocol)
    if primary is not None and any(primary in r.scores for r in rows):
        return primary
    cols = metric_columns(protocol, rows)
    return cols[0] if cols else None


def metric_label(protocol: str, key: str) -> str:
    """Column header: the paper's label for reported protocols, else the registry label, with an arrow."""
    from dbdbench.metrics import METRICS

    info = METRICS[key]
    label = REPORTED_PROTOCOLS[protocol].labels.get(key, info.label) if protocol in REPORTED_PROTOCOLS else info.label
    return f"{label} {'↑' if info.higher_is_better else '↓'}"


def protocol_description(protocol: str) -> str:
    """One paragraph saying how the numbers of ``protocol`` were computed."""
    if protocol in REPORTED_PROTOCOLS:
        return REPORTED_PROTOCOLS[protocol].description
    from dbdbench.metrics import get_protocol

    return get_protocol(protocol).description


def rank_rows(rows: Sequence[Row], protocol: str) -> list[Row]:
    """Rows sorted best first by the protocol's primary metric; rows without it last; ties by name."""
    from dbdbench.metrics import METRICS

    key = rank_key(protocol, rows)
    sign = -1.0 if key and METRICS[key].higher_is_better else 1.0

    def order(r: Row) -> tuple[int, float, str, str]:
        value = r.scores.get(key) if key else None
        return (value is None, sign * value if value is not None else 0.0, r.method.lower(), r.kind)

    return sorted(rows, key=order)


def ranks(rows: Sequence[Row], protocol: str, decimals: int = DECIMALS) -> list[int | None]:
    """Tie-aware ranks by the primary metric as printed (``display_ranks``); None for rows without it."""
    from dbdbench.metrics import METRICS
    from dbdbench.report.marks import display_ranks

    key = rank_key(protocol, rows)
    if key is None:
        return [None] * len(rows)
    return display_ranks([r.scores.get(key) for r in rows], METRICS[key].higher_is_better, decimals)


def grouped(rows: Sequence[Row]) -> dict[str, dict[str, list[Row]]]:
    """dataset -> protocol -> ranked rows; datasets in registry order, protocols sorted."""
    from dbdbench.datasets import list_datasets

    out: dict[str, dict[str, list[Row]]] = {}
    for r in rows:
        out.setdefault(r.dataset, {}).setdefault(r.protocol, []).append(r)
    known = list_datasets()
    order = sorted(out, key=lambda d: (known.index(d) if d in known else len(known), d))
    return {d: {p: rank_rows(out[d][p], p) for p in sorted(out[d])} for d in order}


def warnings_of(r: Row) -> list[str]:
    """The warnings stored with a row's result (``meta["warnings"]``), as ``"message (code)"`` lines."""
    found = (r.result.get("meta") or {}).get("warnings") or []
    return [f"{w.get('message', '')} ({w.get('code', 'warning')})" if isinstance(w, dict) else str(w) for w in found]


def curve_only(r: Row) -> bool:
    """A published curve without scalar scores (drawn in the figures; ranked by the max F of its curve)."""
    return not r.result.get("scores") and bool(r.result.get("curves"))


def dataset_title(name: str) -> str:
    """``"CUHK-TE-1 (100 images)"`` from the registry, or the bare name when it has no count."""
    from dbdbench.datasets import get_dataset

    spec = get_dataset(name)
    n = getattr(spec, "n_images", None)
    return f"{name} ({n} images)" if n else name


# ------------------------------------------------------------------------------------ tables and plots


def _results(rows: Sequence[Row]) -> list[Any]:
    """The rows' result files, with the entry's training data in ``meta`` (tables mark rows trained on
    other data)."""
    from dbdbench.results import Result

    out = []
    for r in rows:
        result = Result.from_json(r.result)
        result.meta = {**(result.meta or {}), "training_data": list(r.training)}
        out.append(result)
    return out


def latex_tables(groups: dict[str, dict[str, list[Row]]]) -> dict[str, str]:
    """One LaTeX table per protocol (every dataset scored under it), keyed by file name."""
    from dbdbench.report.tables import make_table

    by_protocol: dict[str, list[Row]] = {}
    for by_p in groups.values():
        for protocol, rows in by_p.items():
            by_protocol.setdefault(protocol, []).extend(rows)
    out = {}
    for protocol in sorted(by_protocol):
        rows = [r for r in by_protocol[protocol] if not curve_only(r)]
        if not rows:
            continue
        with warnings.catch_warnings(record=True) as caught:  # the width guard: kept in the file, as a comment
            warnings.simplefilter("always")
            text = make_table(_results(rows), fmt="latex", label=f"tab:{slug(protocol)}")
        text = "".join(f"% warning: {w.message}\n" for w in caught) + text
        out[f"{slug(protocol)}.tex"] = text if text.endswith("\n") else text + "\n"
    return out


def write_plots(groups: dict[str, dict[str, list[Row]]], out_dir: Path) -> list[str]:
    """SVG curves for every (dataset, protocol, curve) that some result has; returns the written names.

    Each figure holds the results that carry that curve (published PR curves have no F or ROC curve).
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib import rc_context

    from dbdbench.report.plots import CURVES, plot_curves

    written = []
    for dataset, by_protocol in groups.items():
        for protocol, rows in by_protocol.items():
            for curve in CURVE_KINDS:
                x_key, y_key = CURVES[curve][:2]
                drawn = [r for r in rows if (r.result.get("curves") or {}).get(x_key)
                         and (r.result.get("curves") or {}).get(y_key)]
                if not drawn:
                    continue
                name = f"{slug(dataset)}__{slug(protocol)}__{curve}.svg"
                with rc_context({"svg.hashsalt": "dbdbench", "svg.fonttype": "none"}):
                    fig = plot_curves(_results(drawn), curve=curve, out=out_dir / name)
                plt.close(fig)
                written.append(name)
    return written


def _row_data(r: Row, keys: list[str], decimals: int) -> dict[str, Any]:
    from dbdbench.report.marks import declared_training

    return {"entry": r.entry, "method": r.method, "venue": r.venue, "year": r.year, "kind": r.kind,
            "kind_label": KIND_LABEL[r.kind], "scores": r.scores,
            # the printed numbers: the page shows, ranks and marks exactly these strings (as the Markdown does)
            "shown": {k: f"{r.scores[k]:.{decimals}f}" for k in keys if k in r.scores},
            "curve_only": curve_only(r), "warnings": warnings_of(r),
            "training": "; ".join(r.training) or "none (hand-crafted)", "training_data": list(r.training),
            "training_key": list(declared_training(r.training)),  # what the marks compare (comparable_rows)
            "source": r.source,
            "source_url": r.source_url, "derived": list(r.derived), "paper_url": r.paper_url,
            "code_url": r.code_url}


def table_caption(protocol: str, rows: Sequence[Row]) -> str:
    """The words of the LaTeX table's short caption for these rows (what is compared, the protocol in a
    few words, image counts) and the ranking metric."""
    from dbdbench.report._captions import caption_sentences
    from dbdbench.report.grid import build_grid

    scored = [r for r in rows if not curve_only(r)]
    words = caption_sentences(build_grid(_results(scored)), "short") if scored else []
    n_curves = len(rows) - len(scored)
    if n_curves:
        words.append(f"Also {n_curves} published curve{'s' if n_curves > 1 else ''} without scores, ranked by the "
                     "max F of their points.")
    key = rank_key(protocol, rows)
    return " ".join([*words, f"Ranked by {metric_label(protocol, key)[:-2]}." if key else ""]).strip()


def default_view(groups: dict[str, dict[str, list[Row]]]) -> tuple[str, dict[str, str]]:
    """The dataset the page opens on and each dataset's default protocol: the ones with the most entries
    (ties: the first dataset in registry order, the first protocol by name)."""
    protocols = {d: max(by_p, key=lambda p: (len(by_p[p]), -sorted(by_p).index(p))) for d, by_p in groups.items()}
    names = list(groups)
    start = max(names, key=lambda d: (len(groups[d][protocols[d]]), -names.index(d)))
    return start, protocols


def _column(protocol: str, key: str) -> dict[str, Any]:
    from dbdbench.metrics import METRICS

    return {"key": key, "label": metric_label(protocol, key), "higher": METRICS[key].higher_is_better}


def page_data(groups: dict[str, dict[str, list[Row]]], svgs: dict[str, str], decimals: int = 3) -> dict[str, Any]:
    """The JSON the page script reads: datasets -> protocols -> columns (the paper set, then the other
    stored metrics), rows with their printed numbers, description, figures."""
    data: dict[str, Any] = {}
    start, defaults = default_view(groups)
    for order, (dataset, by_protocol) in enumerate(groups.items()):
        protocols = {}
        for protocol, rows in by_protocol.items():
            cols = metric_columns(protocol, rows)
            more = [m for m in metric_columns(protocol, rows, every=True) if m not in cols]
            figures = []
            for curve in CURVE_KINDS:
                name = f"{slug(dataset)}__{slug(protocol)}__{curve}.svg"
                if name in svgs:
                    uri = "data:image/svg+xml;base64," + base64.b64encode(svgs[name].encode("utf-8")).decode("ascii")
                    figures.append({"curve": curve, "src": uri})
            protocols[protocol] = {
                "description": protocol_description(protocol),
                "caption": table_caption(protocol, rows),
                "rank_key": rank_key(protocol, rows),
                "columns": [_column(protocol, c) for c in cols],
                "more": [_column(protocol, c) for c in more],
                "rows": [_row_data(r, cols + more, decimals) for r in rows],
                "figures": figures,
            }
        data[dataset] = {"title": dataset_title(dataset), "protocols": protocols, "order": order,
                         "default_protocol": defaults[dataset], "start": dataset == start}
    return data
