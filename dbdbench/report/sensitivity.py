"""Protocol sensitivity: the same maps scored under every protocol, side by side, with rank changes.

The ranking logic is pure and works on a long table of scores (columns ``method``, ``protocol``,
``metric``, ``value``): :func:`rank_table` ranks the methods per (metric, protocol) and records how far
each one moves against a reference protocol, :func:`agreement` summarises each protocol's ranking against
the reference (Kendall tau-b, number of method pairs whose order flips). :func:`sensitivity_from_results`
starts from results already computed (by :func:`dbdbench.evaluate.evaluate_protocols` from prediction
folders, or loaded from submissions); this module never runs an evaluation.

References
----------
.. [1] M. G. Kendall, "The treatment of ties in ranking problems", Biometrika 33(3), 1945 (tau-b).
.. [2] ``reference/evaluation-conventions.md`` of this project (sec. 3.4): why the same maps give max-F
   from 0.80 to 0.91 depending on the protocol.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy.stats import kendalltau

from dbdbench.metrics import METRICS

if TYPE_CHECKING:
    from dbdbench.results import Result

SCORE_COLUMNS = ("method", "protocol", "metric", "value")
DEFAULT_REFERENCE = "dbdbench"


def rank_scores(values: Sequence[float], higher_is_better: bool, decimals: int = 3) -> np.ndarray:
    """Competition ranks ("1224"): rank = 1 + number of methods strictly better after rounding to ``decimals``.

    Methods whose scores print the same share a rank; NaN (not scored) gets rank NaN.
    """
    shown = np.round(np.asarray(values, dtype=float), decimals)
    better = shown[None, :] > shown[:, None] if higher_is_better else shown[None, :] < shown[:, None]
    ranks = 1.0 + np.sum(better & ~np.isnan(shown)[None, :], axis=1)
    return np.where(np.isnan(shown), np.nan, ranks)


def _check_scores(scores: pd.DataFrame) -> None:
    missing = [c for c in SCORE_COLUMNS if c not in scores.columns]
    if missing:
        raise ValueError(f"Score table lacks column(s) {missing}; expected {SCORE_COLUMNS}")
    dup = scores.duplicated(["method", "protocol", "metric"])
    if dup.any():
        first = scores.loc[dup, ["method", "protocol", "metric"]].iloc[0].tolist()
        raise ValueError(f"Two scores for (method, protocol, metric) = {first}; pass one result per pair")
    unknown = sorted(set(scores["metric"]) - set(METRICS))
    if unknown:
        raise ValueError(f"Unknown metric key(s) {unknown}; valid keys: {', '.join(METRICS)}")


def pick_reference(protocols: Sequence[str], reference: str | None = None) -> str:
    """``reference`` if given (must be one of ``protocols``), else ``dbdbench`` when present, else the first."""
    if reference is not None:
        if reference not in protocols:
            raise ValueError(f"Reference protocol {reference!r} was not scored; scored: {list(protocols)}")
        return reference
    return DEFAULT_REFERENCE if DEFAULT_REFERENCE in protocols else protocols[0]


def rank_table(scores: pd.DataFrame, reference: str | None = None, decimals: int = 3) -> pd.DataFrame:
    """Rank methods per (metric, protocol) and measure each rank's shift against the reference protocol.

    Parameters
    ----------
    scores : DataFrame
        Long table with columns ``method``, ``protocol``, ``metric``, ``value``.
    reference : str, optional
        Protocol whose ranking the others are compared with (see :func:`pick_reference`).
    decimals : int
        Scores equal at this many decimals tie.

    Returns
    -------
    DataFrame
        ``scores`` plus ``rank``, ``reference_rank`` and ``shift = rank - reference_rank`` (positive: the
        method falls behind under that protocol; NaN where either rank is missing).
    """
    _check_scores(scores)
    out = scores.loc[:, list(SCORE_COLUMNS)].copy()
    out["value"] = out["value"].astype(float)
    out["rank"] = np.nan
    for (metric, _), idx in out.groupby(["metric", "protocol"], sort=False).groups.items():
        out.loc[idx, "rank"] = rank_scores(out.loc[idx, "value"].to_numpy(), METRICS[metric].higher_is_better,
                                           decimals)
    ref = pick_reference(list(dict.fromkeys(out["protocol"])), reference)
    ref_ranks = out[out["protocol"] == ref].set_index(["metric", "method"])["rank"]
    keys = pd.MultiIndex.from_arrays([out["metric"], out["method"]])
    out["reference_rank"] = ref_ranks.reindex(keys).to_numpy()
    out["shift"] = out["rank"] - out["reference_rank"]
    out.attrs["reference"] = ref
    return out


def discordant_pairs(a: Mapping[str, float], b: Mapping[str, float]) -> list[tuple[str, str]]:
    """Pairs of methods ranked in strictly opposite order by rankings ``a`` and ``b`` (method -> rank)."""
    common = sorted(m for m in a if m in b and not (np.isnan(a[m]) or np.isnan(b[m])))
    return [(m, n) for i, m in enumerate(common) for n in common[i + 1:]
            if (a[m] - a[n]) * (b[m] - b[n]) < 0]


def agreement(ranked: pd.DataFrame) -> pd.DataFrame:
    """Per (metric, protocol): Kendall tau-b against the reference ranking and the pairs whose order flips.

    Returns columns ``metric``, ``protocol``, ``n_methods`` (scored under both), ``kendall_tau`` (NaN with
    fewer than two methods or constant ranks), ``n_flipped`` and ``flipped`` (``"A/B"`` pairs).
    """
    ref = ranked.attrs["reference"]
    rows = []
    for (metric, protocol), group in ranked.groupby(["metric", "protocol"], sort=False):
        base = ranked[(ranked["metric"] == metric) & (ranked["protocol"] == ref)].set_index("method")["rank"]
        ranks = group.set_index("method")["rank"]
        both = [m for m in ranks.index if m in base.index and not np.isnan(ranks[m]) and not np.isnan(base[m])]
        tau = np.nan
        if len(both) >= 2 and ranks[both].nunique() > 1 and base[both].nunique() > 1:
            tau = float(kendalltau(base[both].to_numpy(), ranks[both].to_numpy()).statistic)
        flips = discordant_pairs(base.to_dict(), ranks.to_dict())
        rows.append({"metric": metric, "protocol": protocol, "n_methods": len(both), "kendall_tau": tau,
                     "n_flipped": len(flips), "flipped": ", ".join(f"{m}/{n}" for m, n in flips)})
    return pd.DataFrame(rows, columns=["metric", "protocol", "n_methods", "kendall_tau", "n_flipped", "flipped"])


def _cell(value: float, rank: float, shift: float, decimals: int) -> str:
    if np.isnan(value):
        return "–"
    text = f"{value:.{decimals}f} ({int(rank)})"
    if np.isnan(shift) or shift == 0:
        return text
    arrow = f"▼{int(shift)}" if shift > 0 else f"▲{int(-shift)}"
    return f"**{text} {arrow}**"


def _md_escape(text: str) -> str:
    return text.replace("|", r"\|")


def to_markdown(ranked: pd.DataFrame, decimals: int = 3, title: str | None = None) -> str:
    """One Markdown table per metric (methods x protocols, "score (rank)"), rank changes in bold.

    ``▼k``/``▲k``: the method ranks k places lower/higher than under the reference protocol. Rows are
    sorted by the reference ranking. A summary table (Kendall tau, flipped pairs) follows.
    """
    ref = ranked.attrs["reference"]
    protocols = [ref] + [p for p in dict.fromkeys(ranked["protocol"]) if p != ref]
    lines = [f"# {title}", ""] if title else []
    lines += [f"Reference protocol: `{ref}`. Cells: score (rank); **bold** with ▼k/▲k where the rank differs "
              "from the reference by k places. Scores equal at the shown decimals share a rank.", ""]
    for metric, group in ranked.groupby("metric", sort=False):
        info = METRICS[metric]
        lines += [f"## {info.label} (`{metric}`, {'higher' if info.higher_is_better else 'lower'} is better)", ""]
        wide = group.pivot(index="method", columns="protocol", values=["value", "rank", "shift"])
        order = wide[("rank", ref)].sort_values(na_position="last", kind="stable").index if ref in \
            wide["rank"] else wide.index
        present = [p for p in protocols if p in wide["value"]]
        lines += ["| Method | " + " | ".join(f"`{p}`" for p in present) + " |",
                  "|:--|" + "--:|" * len(present)]
        for m in order:
            cells = [_cell(wide.at[m, ("value", p)], wide.at[m, ("rank", p)], wide.at[m, ("shift", p)], decimals)
                     for p in present]
            lines.append("| " + " | ".join([_md_escape(str(m)), *cells]) + " |")
        lines.append("")
    summary = agreement(ranked)
    summary = summary[summary["protocol"] != ref]
    if len(summary):
        lines += [f"## Agreement with `{ref}`", "", "| Metric | Protocol | Kendall τ | Flipped pairs |",
                  "|:--|:--|--:|:--|"]
        for row in summary.itertuples():
            tau = "–" if np.isnan(row.kendall_tau) else f"{row.kendall_tau:.2f}"
            lines.append(f"| {row.metric} | `{row.protocol}` | {tau} | {row.n_flipped}"
                         f"{': ' + row.flipped if row.flipped else ''} |")
        lines.append("")
    return "\n".join(lines)


@dataclass
class SensitivityReport:
    """Scores of the same maps under several protocols; ``ranked`` is the output of :func:`rank_table`."""

    dataset: str
    ranked: pd.DataFrame
    decimals: int = 3
    warnings: list[str] = field(default_factory=list)  # the sanity-stage warnings of the scored results

    @property
    def reference(self) -> str:
        return str(self.ranked.attrs["reference"])

    def agreement(self) -> pd.DataFrame:
        return agreement(self.ranked)

    def to_markdown(self) -> str:
        text = to_markdown(self.ranked, self.decimals, title=f"Protocol sensitivity on {self.dataset}")
        notes = "".join(f"- warning: {w}\n" for w in self.warnings)
        return f"{text.rstrip()}\n\n{notes}" if notes else text

    def to_csv(self) -> str:
        return self.ranked.to_csv(index=False, float_format=f"%.{self.decimals + 3}g")


def scores_frame(results: Sequence[Result], metrics: Sequence[str] | None = None) -> pd.DataFrame:
    """Long score table (method, protocol, metric, value) from results.

    Default ``metrics``: every key scored under at least two protocols (only those can be compared), in
    registry order.
    """
    rows = [(r.method, r.protocol, k, float(v)) for r in results for k, v in r.scores.items() if v is not None]
    frame = pd.DataFrame(rows, columns=list(SCORE_COLUMNS))
    if metrics is None:
        counts = frame.groupby("metric")["protocol"].nunique()
        metrics = [m for m in METRICS if counts.get(m, 0) >= 2]
        if not metrics:
            raise ValueError(f"No metric is scored under two or more protocols (protocols: "
                             f"{sorted(set(frame['protocol']))}); a sensitivity report needs at least two")
    absent = [m for m in metrics if m not in set(frame["metric"])]
    if absent:
        raise ValueError(f"No result has metric(s) {absent}; present: {sorted(set(frame['metric']))}")
    frame = frame[frame["metric"].isin(metrics)]
    order = {m: i for i, m in enumerate(metrics)}
    return frame.sort_values("metric", key=lambda s: s.map(order), kind="stable").reset_index(drop=True)


def sensitivity_from_results(results: Sequence[Result], metrics: Sequence[str] | None = None,
                             reference: str | None = None, decimals: int = 3) -> SensitivityReport:
    """Build the report from results of one dataset under several protocols (e.g. from submissions)."""
    datasets = sorted({str(r.dataset) for r in results})
    if len(datasets) != 1 or any(r.dataset is None for r in results):
        raise ValueError(f"A sensitivity report covers one dataset; got {datasets or 'no results'}")
    ranked = rank_table(scores_frame(results, metrics), reference, decimals)
    notes = sorted({f"{r.method}: {w['message']}" + (f" ({', '.join(w['files'][:5])})" if w.get("files") else "")
                    for r in results for w in r.meta.get("warnings", [])})  # fmt: skip
    return SensitivityReport(datasets[0], ranked, decimals, notes)

