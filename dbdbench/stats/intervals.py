"""Bootstrap intervals for the scores of one result (``dbdbench evaluate --ci``)."""

from __future__ import annotations

import json
import math

from dbdbench.metrics import get_protocol
from dbdbench.metrics.protocols import Protocol
from dbdbench.results import Result

#: protocol settings that do not change a number (identity and the default score list)
_LABELS = ("name", "description", "source", "metrics")


def protocol_of(res: Result) -> Protocol:
    """The registered protocol a result was scored with, refusing one whose stored settings differ.

    Recomputing a score from per-image counts applies today's reduction, so it must be the one that made
    the stored scores.
    """
    proto = get_protocol(res.protocol)
    if res.protocol_settings:
        now = json.loads(json.dumps(proto.settings()))
        diff = sorted(k for k in now if k not in _LABELS and now[k] != res.protocol_settings.get(k, now[k]))
        if diff:
            where = res.source or res.method
            raise ValueError(f"{where}: protocol {res.protocol!r} was stored with other settings ({', '.join(diff)}) "
                             "than this dbdbench uses; re-run dbdbench evaluate")
    return proto


def add_intervals(res: Result, *, n_resamples: int = 10_000, level: float = 0.95, seed: int = 0) -> dict:
    """Put a bootstrap interval of every score of ``res`` into ``res.meta["ci"]`` and return that entry.

    The entry holds ``level``, ``n_resamples``, ``seed``, ``method``, ``methods`` (score key -> bootstrap
    method, :func:`~dbdbench.stats.compare.score_method`) and ``intervals`` (score key -> ``[low, high]``,
    null where a score is undefined). Each score is recomputed on every resample as the protocol computes
    it, Zhao et al.'s ``totalNum`` divisor included.
    """
    from dbdbench.stats.compare import data_intervals, result_data, score_method

    keys = list(res.scores)
    data = result_data(res, keys, protocol_of(res))  # the counts file is read and checked once
    intervals = data_intervals(data, keys, n_resamples=n_resamples, level=level, seed=seed)
    methods = {k: score_method(d) for k, d in data.items()}
    entry = {
        "level": level,
        "n_resamples": n_resamples,
        "seed": seed,
        "method": "bootstrap over images, the method of each score in docs/statistics.md",
        "methods": methods,
        "intervals": {k: [_num(lo), _num(hi)] for k, (lo, hi) in intervals.items()},
    }
    res.meta["ci"] = entry
    return entry


def format_intervals(res: Result, decimals: int = 4) -> list[str]:
    """One line per score, ``label  value  [low, high]``, for results that carry ``meta["ci"]``."""
    from dbdbench.metrics import METRICS

    ci = res.meta.get("ci")
    if not ci:
        return []
    lines = [f"{res.dataset} [{res.protocol}]: {level_label(ci['level'])} intervals, {ci['method']}, "
             f"{ci['n_resamples']} resamples, seed {ci['seed']}"]  # fmt: skip
    for key, (lo, hi) in ci["intervals"].items():
        value = res.scores[key]
        span = "undefined" if lo is None else f"[{lo:.{decimals}f}, {hi:.{decimals}f}]"
        lines.append(f"  {METRICS[key].label:<12} {value:.{decimals}f}  {span}")
    return lines


def level_label(level: float) -> str:
    """A confidence level as a percentage with the digits it needs: ``95 %``, ``99.9 %``."""
    return f"{round(100 * level, 6):g} %"


def fmt_signed(x: float, decimals: int = 4, digits: int = 2) -> str:
    """``x`` with a sign and at least ``decimals`` decimals, more where needed to show ``digits`` significant digits.

    So a nonzero number never prints as zero (no ``+0.0000`` for an interval end that excludes 0, no
    ``-0.0000``); 0 prints as ``0``, NaN as ``nan``.

    >>> fmt_signed(0.00081), fmt_signed(-0.0000123), fmt_signed(0.0), fmt_signed(-0.25)
    ('+0.00081', '-0.000012', '0', '-0.2500')
    """
    if x != x:
        return "nan"
    if x == 0 or math.isinf(x):
        return "0" if x == 0 else f"{x:+}"
    places = max(decimals, digits - 1 - math.floor(math.log10(abs(x))))
    return f"{x:+.{places}f}"


def _num(v: float) -> float | None:
    return None if v != v else float(v)
