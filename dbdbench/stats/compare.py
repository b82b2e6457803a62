"""Compare two results of the same dataset, protocol and images: difference, interval and test per score."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from dbdbench.metrics import get_metric
from dbdbench.metrics.protocols import Protocol
from dbdbench.results import Result
from dbdbench.stats.resample import (
    mean_as_reduction,
    mean_intervals,
    paired_mean_intervals,
    paired_reduction_inference,
    reduction_intervals,
    wilcoxon_test,
)
from dbdbench.stats.samples import ScoreData, row_data, row_means, score_data
from dbdbench.stats.sidecar import has_counts, read_counts

COMPARE_SCHEMA = "dbdbench.compare"


@dataclass(frozen=True)
class Difference:
    """One score of a comparison: ``diff = b - a`` with its interval and paired test."""

    a: float
    b: float
    diff: float
    ci_low: float
    ci_high: float
    p_value: float
    test: str
    interval: str
    kind: str
    higher_is_better: bool
    n_images: int
    p_holm: float = float("nan")


def check_comparable(a: Result, b: Result) -> None:
    """Refuse two results that are not of the same dataset, protocol settings and images, naming the difference."""
    na, nb = _name(a), _name(b)
    for what, va, vb in (("dataset", a.dataset, b.dataset), ("protocol", a.protocol, b.protocol)):
        if va != vb:
            raise ValueError(f"{na} and {nb} differ in {what}: {va!r} vs {vb!r}; compare results of the same {what}")
    if a.protocol_settings != b.protocol_settings:
        keys = sorted(k for k in {*a.protocol_settings, *b.protocol_settings}
                      if a.protocol_settings.get(k) != b.protocol_settings.get(k))  # fmt: skip
        raise ValueError(f"{na} and {nb}: protocol {a.protocol!r} has different settings ({', '.join(keys)}); "
                         "re-score both with the same dbdbench version")
    names_a = [row["name"] for row in a.per_image]
    names_b = [row["name"] for row in b.per_image]
    if not names_a:
        raise ValueError(f"{na}: no per-image rows; comparisons need results written by dbdbench evaluate")
    if names_a != names_b:
        only_a = sorted(set(names_a) - set(names_b))
        only_b = sorted(set(names_b) - set(names_a))
        detail = (f"only in A: {', '.join(only_a[:5])}{' ...' if len(only_a) > 5 else ''}; "
                  f"only in B: {', '.join(only_b[:5])}{' ...' if len(only_b) > 5 else ''}"
                  if only_a or only_b else "same images in another order")  # fmt: skip
        raise ValueError(f"{na} and {nb} are not scored on the same images ({detail})")


def _name(res: Result) -> str:
    return str(res.source) if res.source is not None else str(res.method)


def compared_keys(a: Result, b: Result, metrics: str | None) -> tuple[list[str] | None, str]:
    """The score keys ``compare`` compares (None: every score both hold) and a note when some are left out.

    Without ``metrics`` and without the per-image counts files of both results, only the scores that are
    per-image means can be compared (:func:`dbdbench.stats.samples.row_means`).
    """
    keys = [k.strip() for k in metrics.split(",") if k.strip()] if metrics else None
    note = ""
    if keys is None and not (has_counts(a) and has_counts(b)):
        keys = [k for k in a.scores if k in b.scores and k in row_means()]
        skipped = [k for k in a.scores if k in b.scores and k not in keys]
        if skipped:
            note = (f"{', '.join(skipped)} need the per-image counts files of both results (written by "
                    "dbdbench evaluate --json); comparing the per-image means only")
    return keys, note


def result_data(res: Result, keys: Sequence[str], proto: Protocol) -> dict[str, ScoreData]:
    """Per-image data of ``keys``: from the counts file when there is one, else from the per-image rows.

    Raises
    ------
    ValueError
        When a key needs the counts file and the result has none (the message names the file).
    """
    if res.records is not None:
        return _checked(res, score_data(res.records, proto, keys))
    if has_counts(res):
        return _checked(res, score_data(read_counts(res), proto, keys))
    need = [k for k in keys if k not in row_means()]
    if need:
        read_counts(res)  # raises, naming the result and what to do
    return _checked(res, row_data(res.per_image, keys))


def _checked(res: Result, data: dict[str, ScoreData]) -> dict[str, ScoreData]:
    """Refuse per-image data that do not give the stored score back: every resample would be wrong too."""
    for key, d in data.items():
        stored = res.scores.get(key)
        if stored is None:
            continue
        got = float(d.score())
        if not (got == stored or (got != got and stored != stored) or abs(got - stored) <= 1e-9 * max(1, abs(stored))):
            raise ValueError(f"{_name(res)}: the per-image data give {key} = {got:.10g}, not the stored {stored:.10g}; "
                             "re-run dbdbench evaluate --json with this dbdbench to write both again")
    return data


def compare_results(
    a: Result,
    b: Result,
    proto: Protocol,
    keys: Sequence[str] | None = None,
    *,
    n_resamples: int = 10_000,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, Difference]:
    """Each score of B against A: values, ``b - a``, paired interval, paired p-value and Holm-adjusted p-value.

    The interval of every score is the inverted paired permutation test (:mod:`dbdbench.stats.inversion`);
    the test is Wilcoxon's signed-rank test for per-image means and the permutation test for dataset-level
    scores; ``p_holm`` adjusts the p-values of all compared scores together (Holm's step-down).

    Parameters
    ----------
    a, b : Result
        Results of the same dataset, protocol and images (:func:`check_comparable`).
    proto : Protocol
        The protocol both were scored with.
    keys : sequence of str, optional
        Scores to compare (default: those both results hold).
    n_resamples : int
        Bootstrap resamples and permutations.
    level : float
        Confidence level of the interval.
    seed : int
        Fixes every random draw: the same seed gives the same intervals and p-values.
    """
    check_comparable(a, b)
    keys = [k for k in a.scores if k in b.scores] if keys is None else list(keys)
    for key in keys:
        get_metric(key)
    data_a, data_b = result_data(a, keys, proto), result_data(b, keys, proto)
    opts: dict[str, Any] = {"n_resamples": n_resamples, "seed": seed}
    means = {k: (data_a[k], data_b[k]) for k in keys if data_a[k].kind == "mean"}
    cis = paired_mean_intervals(means, level=level, **opts)
    found = {}
    for k, (da, db) in means.items():
        va, vb = da.require("values"), db.require("values")
        found[k] = (cis[k], wilcoxon_test(va, vb), int(np.count_nonzero(~(np.isnan(va) | np.isnan(vb)))))
    red = [k for k in keys if data_a[k].kind == "reduction"]
    if red:
        red_cis, tests = paired_reduction_inference([data_a[k] for k in red], [data_b[k] for k in red],
                                                    level=level, **opts)  # fmt: skip
        n = len(a.per_image)
        found |= {k: (ci, t, n) for k, ci, t in zip(red, red_cis, tests, strict=True)}
    adjusted = dict(zip(keys, holm([found[k][1].p_value for k in keys]), strict=True))
    out = {}
    for key in keys:
        ci, test, n = found[key]
        va, vb = float(data_a[key].score()), float(data_b[key].score())
        out[key] = Difference(va, vb, vb - va, ci.low, ci.high, test.p_value, test.test, ci.method,
                              data_a[key].kind, get_metric(key).higher_is_better, n, float(adjusted[key]))  # fmt: skip
    return out


def holm(p_values: Sequence[float]) -> np.ndarray:
    r"""Holm's step-down adjusted p-values.

    With the m p-values sorted ascending, :math:`\tilde p_{(i)} = \max_{j \le i} \min(1, (m - j + 1) p_{(j)})`;
    rejecting where :math:`\tilde p < \alpha` controls the family-wise error rate at :math:`\alpha`:
    the chance of rejecting any true null hypothesis of the family [1]_.

    References
    ----------
    .. [1] S. Holm, "A simple sequentially rejective multiple test procedure", Scandinavian Journal of
       Statistics 6(2), 65-70, 1979.
    """
    p = np.asarray(p_values, dtype=np.float64)
    order = np.argsort(p, kind="stable")
    m = len(p)
    stepped = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.maximum.accumulate(stepped)
    return out


#: bootstrap method of the interval of one score (``evaluate --ci``, ``table --ci``), by score kind; chosen
#: by the coverage measured in ``benchmarks/bench_calibration.py`` (``docs/statistics.md``)
SCORE_METHOD = {"mean": "BCa", "reduction": "BCa"}


def score_method(data: ScoreData) -> str:
    """The bootstrap method of the interval of one score (:data:`SCORE_METHOD`)."""
    return SCORE_METHOD[data.kind]


def score_intervals(
    res: Result, proto: Protocol, keys: Sequence[str] | None = None, *, n_resamples: int = 10_000,
    level: float = 0.95, seed: int = 0,
) -> dict[str, tuple[float, float]]:
    """Bootstrap interval of each score of one result over resamples of its images (method: :func:`score_method`).

    Every call of one method draws the same image indices (the generator of the seed and the kind), so a
    score's interval does not depend on which other scores are asked for.
    """
    keys = list(res.scores) if keys is None else list(keys)
    return data_intervals(result_data(res, keys, proto), keys, n_resamples=n_resamples, level=level, seed=seed)


def data_intervals(data: dict[str, ScoreData], keys: Sequence[str], *, n_resamples: int = 10_000,
                   level: float = 0.95, seed: int = 0) -> dict[str, tuple[float, float]]:
    """:func:`score_intervals` of per-image data already read (:func:`result_data`)."""
    opts: dict[str, Any] = {"n_resamples": n_resamples, "level": level, "seed": seed}
    out: dict[str, Any] = {}
    for method in sorted({score_method(d) for d in data.values()}):
        # a mean that divides as zhao's totalNum is resampled as a one-feature reduction, keeping its divisor
        plain = {k: d.require("values") for k, d in data.items()
                 if score_method(d) == method and d.kind == "mean" and d.zero_last is None}  # fmt: skip
        out |= mean_intervals(plain, method=method, **opts) if plain else {}
        red = [k for k in keys if k not in plain and score_method(data[k]) == method]
        if red:
            datas = [mean_as_reduction(data[k]) if data[k].kind == "mean" else data[k] for k in red]
            out |= dict(zip(red, reduction_intervals(datas, method=method, **opts), strict=True))
    return {k: (out[k].low, out[k].high) for k in keys}


def worst_images(a: Result, b: Result, key: str, k: int) -> list[dict]:
    """The ``k`` images where B loses most to A on the per-image score ``key`` (a per-image row column).

    The loss is ``a - b`` for a score where higher is better and ``b - a`` otherwise; images where the
    score is undefined for either result are left out.
    """
    check_comparable(a, b)
    if not a.per_image or key not in a.per_image[0]:
        have = sorted(c for c in a.per_image[0] if isinstance(a.per_image[0][c], float)) if a.per_image else []
        raise KeyError(f"no per-image column {key!r}; valid: {', '.join(have)}")
    sign = 1.0 if get_metric(key).higher_is_better else -1.0
    rows = []
    for ra, rb in zip(a.per_image, b.per_image, strict=True):
        if ra[key] is None or rb[key] is None:
            continue
        rows.append({"name": ra["name"], "a": ra[key], "b": rb[key], "loss": sign * (ra[key] - rb[key])})
    rows.sort(key=lambda r: (-r["loss"], r["name"]))
    return rows[:k]


def comparison_dict(a: Result, b: Result, diffs: dict[str, Difference], settings: dict, worst=None) -> dict:
    """The JSON form of a comparison: the two results, the settings, and one object per score key."""
    out = {
        "schema": COMPARE_SCHEMA,
        "schema_version": 1,
        "a": {"file": _name(a), "method": a.method},
        "b": {"file": _name(b), "method": b.method},
        "dataset": a.dataset,
        "protocol": a.protocol,
        "n_images": len(a.per_image),
        **settings,
        "metrics": {k: _finite(asdict(d)) for k, d in diffs.items()},
    }
    if worst is not None:
        out["worst"] = worst
    return out


def _finite(d: dict) -> dict:
    return {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in d.items()}
