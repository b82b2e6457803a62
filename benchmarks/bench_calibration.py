"""Calibration of the tests, intervals and bold rule of ``dbdbench compare`` / ``evaluate --ci`` / ``table --ci``.

Not a test: it takes minutes. Run from the project root::

    python benchmarks/bench_calibration.py [--data ../shared/data] [--reps 500] [--cov-reps 500]
        [--fwer-reps 200] [--n-boot 1000] [--out calibration.md]

Maps: the published HiFST maps of the CUHK defocus images and seven perturbations of them (Gaussian blur
of 2 and 4 px, gamma 0.8 and 1.25, Gaussian noise of 8 grey levels, contrast 0.9, down- and up-sampling
by 2), scored with ``--protocol`` (default ``dbdbench``); the records are cached in ``--cache``.

* **Null rejection** (``--reps`` replications on CUHK-TE-1, 100 images): two exchangeable methods, made by
  giving each image's HiFST map and its 4-px-blurred map to A or B by a fair coin. Every test and every
  interval of a difference should reject ("interval excludes 0") in 5 % of replications.
* **Coverage** (``--cov-reps`` samples of 100 images drawn with replacement from the 704 defocus images, so
  that the images of a sample are independent draws from a known population, as the bootstrap assumes):
  A = HiFST, B = HiFST blurred by 4 px. A difference interval should contain the population difference, a
  single-score interval A's population score, in 95 % of samples. (Drawn without replacement, the sample
  means would vary by sqrt(1 - 100/704) = 0.93 of that spread and a calibrated interval would cover about
  96.5 %.)
* **Bold rule** (``--fwer-reps`` replications on CUHK-TE-1): 8 exchangeable methods (each image's 8 maps
  dealt to the 8 methods at random); with the first m = 2, 4, 6, 8 of them, the share of replications in
  which any method is not bold (not tied with the best) under all pairs with Holm (``table --ci``) and
  under Holm over the comparisons with the observed best only.

Each rate comes with a Clopper-Pearson 95 % interval. The table is printed (and written to ``--out``).
"""

from __future__ import annotations

import argparse
import hashlib
import pickle
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from scipy import stats

from dbdbench.datasets import read_split
from dbdbench.metrics import METRICS, Evaluator, get_protocol
from dbdbench.stats.resample import (
    Joint,
    mean_intervals,
    paired_mean_intervals,
    paired_reduction_inference,
    reduction_intervals,
    weights_of,
    wilcoxon_test,
)
from dbdbench.stats.samples import ScoreData, score_data
from dbdbench.stats.table import holm, tie_marks


def _noise(m: np.ndarray, stem: str) -> np.ndarray:
    rng = np.random.default_rng(int(hashlib.sha256(stem.encode()).hexdigest()[:8], 16))
    return m + rng.normal(0, 8, m.shape)


#: name -> perturbation of an 8-bit sharp-white map (float result, clipped later)
PERTURB = {
    "hifst": lambda m, s: m.astype(np.float64),
    "blur4": lambda m, s: cv2.GaussianBlur(m, (0, 0), 4).astype(np.float64),
    "blur2": lambda m, s: cv2.GaussianBlur(m, (0, 0), 2).astype(np.float64),
    "gamma0.8": lambda m, s: 255 * (m / 255.0) ** 0.8,
    "gamma1.25": lambda m, s: 255 * (m / 255.0) ** 1.25,
    "noise8": lambda m, s: _noise(m.astype(np.float64), s),
    "contrast0.9": lambda m, s: 128 + 0.9 * (m.astype(np.float64) - 128),
    "resample2": lambda m, s: cv2.resize(cv2.resize(m, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA),
                                         m.shape[::-1], interpolation=cv2.INTER_LINEAR).astype(np.float64),
}


def records(data: Path, stems: list[str], protocol: str, cache: Path) -> dict[str, list]:
    """ImageRecords of every perturbation on ``stems`` (canonical polarity: P(blur) = 1 - sharp map)."""
    key = hashlib.sha256(f"{protocol}|{','.join(stems)}|{','.join(PERTURB)}".encode()).hexdigest()[:16]
    path = cache / f"calibration-records-{key}.pkl"
    if path.is_file():
        return pickle.loads(path.read_bytes())
    evs = {name: Evaluator(protocol) for name in PERTURB}
    for k, stem in enumerate(stems):
        gt = cv2.imread(str(data / "cuhk" / "gt" / f"{stem}.png"), cv2.IMREAD_GRAYSCALE)
        sharp = cv2.imread(str(data / "hifst" / "cuhk_maps" / f"{stem}_HiFSTBlurMap.png"), cv2.IMREAD_GRAYSCALE)
        for name, fn in PERTURB.items():
            m = np.clip(np.rint(fn(sharp, stem)), 0, 255).astype(np.uint8)
            evs[name].update(255 - m, gt, stem)
        if k % 100 == 99:
            print(f"  scored {k + 1}/{len(stems)} images", file=sys.stderr)
    out = {name: list(ev.records) for name, ev in evs.items()}
    cache.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(out))
    return out


class Pool:
    """Per-image data of several methods on the same images, mixed and subset without recomputing."""

    def __init__(self, by_method: list[dict[str, ScoreData]]) -> None:
        if any(d.zero_last is not None for m in by_method for d in m.values()):
            raise ValueError("mixing maps would change zhao's totalNum divisor; use another protocol")
        self.by_method = by_method
        self.keys = list(by_method[0])

    def take(self, choice: np.ndarray, subset: np.ndarray | None = None) -> dict[str, ScoreData]:
        """Image i's data from method ``choice[i]`` (images ``subset`` only)."""
        rows = np.arange(len(choice)) if subset is None else subset
        pick = choice[rows]
        made: dict[int, np.ndarray] = {}  # keys that share a feature matrix keep sharing it
        out = {}
        for key in self.keys:
            ds = [m[key] for m in self.by_method]
            if ds[0].kind == "mean":
                v = np.stack([d.values for d in ds])[pick, rows]
                out[key] = ScoreData(key, "mean", values=v)
                continue
            fid = id(ds[0].features)
            if fid not in made:
                made[fid] = np.stack([d.features for d in ds])[pick, rows]
            out[key] = ScoreData(key, "reduction", features=made[fid], finish=ds[0].finish)
        return out


def _bootstrap_diff(a: dict, b: dict, keys: list[str], n_boot: int, rng, method: str) -> dict[str, tuple]:
    """Paired bootstrap intervals (scipy, ``method``) of score(B) - score(A), scores recomputed per resample."""
    joint = Joint([_as_red(a[k]) for k in keys] + [_as_red(b[k]) for k in keys])
    n, k = joint.features.shape[0], len(keys)

    def statistic(idx, axis=-1):
        s = joint.score(weights_of(idx, n))
        return np.moveaxis(s[..., k:] - s[..., :k], -1, 0)

    res = stats.bootstrap((np.arange(n),), statistic, n_resamples=n_boot, batch=1000, vectorized=True,
                          method=method, rng=rng)  # fmt: skip
    lo, hi = np.atleast_1d(res.confidence_interval.low), np.atleast_1d(res.confidence_interval.high)
    return {key: (lo[j], hi[j]) for j, key in enumerate(keys)}


def _as_red(d: ScoreData) -> ScoreData:
    if d.kind == "reduction":
        return d
    return ScoreData(d.key, "reduction", features=d.values[:, None], finish=lambda m: m[..., 0])


def _excludes(lo: float, hi: float, x: float) -> bool:
    return bool(lo > x or hi < x)


def null_rates(pool: Pool, reps: int, n_boot: int, seed: int) -> dict[tuple[str, str], list[bool]]:
    rng = np.random.default_rng(seed)
    keys = pool.keys
    mean_keys = [k for k in keys if pool.by_method[0][k].kind == "mean"]
    red_keys = [k for k in keys if k not in mean_keys]
    n = len(pool.by_method[0][keys[0]].values if mean_keys else pool.by_method[0][keys[0]].features)
    hits: dict[tuple[str, str], list[bool]] = {}
    for r in range(reps):
        coin = rng.integers(0, 2, n)
        a, b = pool.take(coin), pool.take(1 - coin)
        s = int(rng.integers(2**31))
        ints = paired_mean_intervals({k: (a[k], b[k]) for k in mean_keys}, n_resamples=n_boot, level=0.95, seed=s)
        for k in mean_keys:
            hits.setdefault((k, "Wilcoxon test"), []).append(wilcoxon_test(a[k].values, b[k].values).p_value < 0.05)
            hits.setdefault((k, "interval: permutation inverted"), []).append(_excludes(ints[k].low, ints[k].high, 0))
        cis, tests = paired_reduction_inference([a[k] for k in red_keys], [b[k] for k in red_keys],
                                                n_resamples=n_boot, level=0.95, seed=s)  # fmt: skip
        for k, ci, t in zip(red_keys, cis, tests, strict=True):
            hits.setdefault((k, "permutation test"), []).append(t.p_value < 0.05)
            hits.setdefault((k, "interval: permutation inverted"), []).append(_excludes(ci.low, ci.high, 0))
        ps = [wilcoxon_test(a[k].values, b[k].values).p_value for k in mean_keys] + [t.p_value for t in tests]
        hits.setdefault((ALL, f"some raw p < 0.05 among {len(keys)} scores"), []).append(min(ps) < 0.05)
        hits.setdefault((ALL, f"some Holm-adjusted p < 0.05 among {len(keys)} scores"), []).append(
            bool(np.any(holm(ps) < 0.05)))
        for method in ("BCa", "percentile"):
            boot = _bootstrap_diff(a, b, keys, n_boot, np.random.default_rng(s), method)
            for k in keys:
                hits.setdefault((k, f"interval: {method} bootstrap (not used)" if method == "BCa" else
                                 f"interval: {method} bootstrap"), []).append(_excludes(*boot[k], 0))  # fmt: skip
        if r % 50 == 49:
            print(f"  null {r + 1}/{reps}", file=sys.stderr)
    return hits


def coverage(pool: Pool, reps: int, n_boot: int, seed: int, size: int) -> dict[tuple[str, str], list[bool]]:
    """Pool methods 0 (A) and 1 (B) on the population images; samples of ``size`` images."""
    rng = np.random.default_rng(seed)
    keys = pool.keys
    n = len(next(iter(pool.by_method[0].values())).values if pool.by_method[0][keys[0]].kind == "mean"
            else pool.by_method[0][keys[0]].features)  # fmt: skip
    zeros, ones = np.zeros(n, dtype=int), np.ones(n, dtype=int)
    pop_a, pop_b = pool.take(zeros), pool.take(ones)
    true_a = {k: float(pop_a[k].score()) for k in keys}
    true_d = {k: float(pop_b[k].score()) - true_a[k] for k in keys}
    mean_keys = [k for k in keys if pop_a[k].kind == "mean"]
    red_keys = [k for k in keys if k not in mean_keys]
    hits: dict[tuple[str, str], list[bool]] = {}
    for r in range(reps):
        sub = np.sort(rng.choice(n, size, replace=True))
        a, b = pool.take(zeros, sub), pool.take(ones, sub)
        s = int(rng.integers(2**31))
        ints = paired_mean_intervals({k: (a[k], b[k]) for k in mean_keys}, n_resamples=n_boot, level=0.95, seed=s)
        cis, _ = paired_reduction_inference([a[k] for k in red_keys], [b[k] for k in red_keys], n_resamples=n_boot,
                                            level=0.95, seed=s)  # fmt: skip
        ints |= dict(zip(red_keys, cis, strict=True))
        for k in keys:
            hits.setdefault((k, "difference: permutation inverted"), []).append(
                not _excludes(ints[k].low, ints[k].high, true_d[k]))
        for method in ("BCa", "percentile"):
            boot = _bootstrap_diff(a, b, keys, n_boot, np.random.default_rng(s), method)
            for k in keys:
                hits.setdefault((k, f"difference: {method} bootstrap"), []).append(not _excludes(*boot[k], true_d[k]))
        for method in ("BCa", "percentile", "basic"):
            one = mean_intervals({k: a[k].values for k in mean_keys}, n_resamples=n_boot, level=0.95, seed=s,
                                 method=method)  # fmt: skip
            one |= dict(zip(red_keys, reduction_intervals([a[k] for k in red_keys], n_resamples=n_boot, level=0.95,
                                                          seed=s, method=method), strict=True))  # fmt: skip
            for k in keys:
                hits.setdefault((k, f"score: {method} bootstrap"), []).append(
                    not _excludes(one[k].low, one[k].high, true_a[k]))
        if r % 50 == 49:
            print(f"  coverage {r + 1}/{reps}", file=sys.stderr)
    return hits


def _pair_p(d: dict[int, ScoreData], i: int, k: int, n_boot: int, seed: int) -> float:
    if d[i].kind == "mean":
        return wilcoxon_test(d[i].values, d[k].values).p_value
    _, (t,) = paired_reduction_inference([d[i]], [d[k]], n_resamples=n_boot, level=0.95, seed=seed)
    return t.p_value


def bold_rule(pool: Pool, keys: list[str], reps: int, n_boot: int, seed: int) -> dict[tuple[str, str], list[bool]]:
    """Family-wise rate of leaving an exchangeable method unbolded, at 2, 4, 6 and 8 methods."""
    rng = np.random.default_rng(seed)
    n_methods = len(pool.by_method)
    first = pool.by_method[0][keys[0]]
    n = len(first.values if first.kind == "mean" else first.features)
    hits: dict[tuple[str, str], list[bool]] = {}
    for r in range(reps):
        deal = rng.permuted(np.tile(np.arange(n_methods), (n, 1)), axis=1)  # image i: method slot -> map
        s = int(rng.integers(2**31))
        for key in keys:
            higher = METRICS[key].higher_is_better
            data = {m: pool.take(deal[:, m])[key] for m in range(n_methods)}
            values = {m: float(data[m].score()) for m in data}
            pair_p = {(i, k): _pair_p(data, i, k, n_boot, s) for i in data for k in data if i < k}
            for m in (2, 4, 6, 8):
                vals = {i: values[i] for i in range(m)}
                pp = {q: p for q, p in pair_p.items() if q[1] < m}
                marks = tie_marks(vals, pp, 0.05, higher)
                hits.setdefault((key, f"all pairs, Holm ({m} methods)"), []).append(
                    any(mark == "different" for _, mark in marks.values()))
                top = max(vals, key=lambda i: vals[i] if higher else -vals[i])
                raw = [pp[(min(i, top), max(i, top))] for i in vals if i != top]
                hits.setdefault((key, f"vs observed best only, Holm ({m} methods)"), []).append(
                    bool(np.any(holm(raw) < 0.05)))
        if r % 20 == 19:
            print(f"  bold rule {r + 1}/{reps}", file=sys.stderr)
    return hits


#: the pseudo score key of rates over all scores of a comparison
ALL = "all"


def _rate(flags: list[bool]) -> str:
    k, n = int(np.sum(flags)), len(flags)
    ci = stats.binomtest(k, n).proportion_ci(method="exact")
    return f"{100 * k / n:.1f} % [{100 * ci.low:.1f}, {100 * ci.high:.1f}]"


def table(hits: dict[tuple[str, str], list[bool]], what: str) -> list[str]:
    lines = [f"| score | {what} | rate [95 % interval] | n |", "|---|---|---|---|"]
    for (key, name), flags in hits.items():
        label = "all scores" if key == ALL else f"{METRICS[key].label} (`{key}`)"
        lines.append(f"| {label} | {name} | {_rate(flags)} | {len(flags)} |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "data")
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "dbdbench-bench")
    ap.add_argument("--reps", type=int, default=500, help="null replications")
    ap.add_argument("--cov-reps", type=int, default=500, help="coverage samples")
    ap.add_argument("--fwer-reps", type=int, default=200, help="replications of the bold rule")
    ap.add_argument("--n-boot", type=int, default=1000, help="resamples / permutations per interval and test")
    ap.add_argument("--size", type=int, default=100, help="images per coverage sample")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--protocol", default="dbdbench", help="scoring protocol (structure scores left out; not zhao)")
    ap.add_argument("--only", choices=("null", "coverage", "bold"), action="append", help="run only these parts")
    ap.add_argument("--out", type=Path, help="also write the tables (Markdown) here")
    args = ap.parse_args()
    if not (args.data / "cuhk" / "gt").is_dir():
        sys.exit(f"{args.data}: no cuhk/gt folder; pass --data, the folder of the shared real data")
    parts = set(args.only or ("null", "coverage", "bold"))
    proto = get_protocol(args.protocol)
    keys = [k for k in proto.metrics if not METRICS[k].structure]
    t0 = time.perf_counter()
    te1 = read_split("CUHK-TE-1")
    out = [f"protocol {args.protocol}; {args.n_boot} resamples / permutations per interval and test; "
           f"seed {args.seed}", ""]
    if parts & {"null", "bold"}:
        rec = records(args.data, te1, args.protocol, args.cache)
        pool = Pool([score_data(rec[name], proto, keys) for name in PERTURB])
        if "null" in parts:
            two = Pool(pool.by_method[:2])  # HiFST and HiFST blurred by 4 px
            hits = null_rates(two, args.reps, args.n_boot, args.seed)
            out += [f"Null rejection at 5 % (CUHK-TE-1, HiFST vs its 4-px blur dealt by a coin, {args.reps} "
                    "replications):", ""] + table(hits, "test or interval")
            out.append("")
        if "bold" in parts:
            out += [f"Bold rule: share of replications with any exchangeable method not bold (CUHK-TE-1, 8 maps "
                    f"dealt at random, {args.fwer_reps} replications):", ""]
            out += table(bold_rule(pool, ["max_f", "bin_f"], args.fwer_reps, args.n_boot, args.seed), "rule")
            out.append("")
    if "coverage" in parts:
        defocus = sorted(p.stem for p in (args.data / "cuhk" / "gt").glob("out_of_focus*.png"))
        rec = records(args.data, defocus, args.protocol, args.cache)
        pool = Pool([score_data(rec[name], proto, keys) for name in ("hifst", "blur4")])
        out += [f"Coverage at 95 % ({len(defocus)} CUHK defocus images as the population, {args.cov_reps} samples "
                f"of {args.size} drawn with replacement; A = HiFST, B = its 4-px blur):", ""]
        out += table(coverage(pool, args.cov_reps, args.n_boot, args.seed, args.size), "interval")
    out.append(f"\n({time.perf_counter() - t0:.0f} s)")
    text = "\n".join(out) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
