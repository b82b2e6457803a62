"""The ``ddffnet``, ``zhao`` and ``hifst`` protocols against small re-implementations of their scripts.

Each reference below is written from the documented behaviour of the original evaluation code
(``docs/protocols.md``), elementwise and without the counting kernel, and is run on synthetic maps so that
a fresh clone checks every protocol (the real-data tests need ``../shared/data``).
"""

from __future__ import annotations

import numpy as np
import pytest

from dbdbench.metrics import Evaluator

BETA2 = 0.3
TOL = 1e-12


def _f(p: float, r: float) -> float:
    return (1 + BETA2) * p * r / (BETA2 * p + r) if BETA2 * p + r > 0 else 0.0


def _pr(pos: np.ndarray, g: np.ndarray) -> tuple[float, float]:
    tp = np.count_nonzero(pos & g)
    return (tp / np.count_nonzero(pos) if pos.any() else 0.0), (tp / np.count_nonzero(g) if g.any() else 0.0)


def make_pairs(seed: int = 11) -> list[tuple[np.ndarray, np.ndarray]]:
    """Canonical (P(blur) float map, GT uint8 white = blur) pairs, with an empty and a full mask.

    The GT has a soft edge (values 20, 127, 128, 200) and the maps exact 0.5 pixels, so that every
    binarisation rule (``>= 0.1`` of the sharp class, ``> 0``, ``> 0.5``, ``>`` vs ``>=``) matters.
    """
    rng = np.random.default_rng(seed)
    out = []
    for i in range(7):
        gt = np.zeros((24, 32), np.uint8)
        gt[:, : 3 + 4 * i] = 255
        gt[:, 3 + 4 * i : 7 + 4 * i] = (20, 127, 128, 200)
        if i == 5:
            gt[:] = 0
        if i == 6:
            gt[:] = 255
        pred = np.clip(np.where(gt > 100, 165, 80) + rng.normal(0, 55, gt.shape), 0, 255).astype(np.uint8) / 255
        pred[::5, ::3] = 0.5
        out.append((pred, gt))
    return out


@pytest.fixture(scope="module")
def pairs() -> list[tuple[np.ndarray, np.ndarray]]:
    return make_pairs()


def _evaluate(protocol: str, pairs, metrics=None):
    ev = Evaluator(protocol, metrics=metrics)
    for pred, gt in pairs:
        ev.update(pred, gt)
    return ev.compute().scores


def reference_ddffnet(pairs) -> dict[str, float]:
    """D-DFFNet test1.py / test_iou.py on the blur class: map and GT > 0.5, F per image, IoU pooled."""
    f, mae, iou, pooled = [], [], [], np.zeros(3)
    for pred, gt in pairs:
        p, g = pred, gt / 255 > 0.5
        pos = p > 0.5
        f.append(_f(*_pr(pos, g)))
        mae.append(np.mean(np.abs(p - g)))
        tp, fp, fn = np.count_nonzero(pos & g), np.count_nonzero(pos & ~g), np.count_nonzero(~pos & g)
        iou.append(tp / (tp + fp + fn) if tp + fp + fn else 0.0)
        pooled += (tp, fp, fn)
    return {"mae": np.mean(mae), "bin_f": np.mean(f), "bin_iou": np.mean(iou),
            "bin_iou_pooled": pooled[0] / pooled.sum()}


def reference_zhao(pairs) -> dict[str, float]:
    """evaluate_dbd, quirks included: in-focus positive, GT >= 0.1, map / max, curves at MATLAB's 1:-.05:0.

    Per-image best F over ``i * 0.00392157``; an empty in-focus mask is scored as their code does: best F
    inverts the label at the first threshold only, the curves invert map and mask (``docs/protocols.md``).
    """
    # MATLAB's 1:-.05:0: the first half 1 - k * 0.05, the second half j * 0.05 (MathWorks 1-4FLI96)
    t21 = np.array(sorted([1 - k * 0.05 for k in range(11)] + [j * 0.05 for j in range(10)]))
    best_t = np.arange(1, 256) * 0.00392157
    P, R, best, mae = np.zeros(21), np.zeros(21), [], []
    for pred, gt in pairs:
        m, g = 1.0 - pred, (255 - gt) / 255 >= 0.1  # white = in focus
        m = m / m.max() if m.max() > 0 else m
        everything = np.ones(m.shape, bool)
        for k, t in enumerate(t21):
            p, r = _pr(m >= t, g) if g.any() else _pr(1.0 - m >= t, everything)
            P[k] += p / len(pairs)
            R[k] += r / len(pairs)
        if g.any():
            best.append(max(_f(*_pr(m >= t, g)) for t in best_t))
        else:
            first = _f(*_pr(m < best_t[0], everything))
            best.append(max([first] + [_f(*_pr(m >= t, everything)) for t in best_t[1:]]))
        mae.append(np.mean(np.abs(m - g)))
    F = np.array([_f(p, r) for p, r in zip(P, R, strict=True)])
    return {"max_f": np.mean(best), "auc_fcurve": np.trapezoid(F, t21), "mae": np.mean(mae)}


def reference_hifst(pairs) -> dict[str, float]:
    """PRDataComputation.m: GT > 0, score 255 - 255 mat2gray(sharp map), thresholds 0..255 (>=), F(mean P, R)."""
    P, R = np.zeros(256), np.zeros(256)
    for pred, gt in pairs:
        sharp = 1.0 - pred
        lo, hi = sharp.min(), sharp.max()
        m = np.clip((sharp - lo) / (hi - lo), 0, 1) if hi > lo else np.clip(sharp, 0, 1)
        score, g = 255 - 255 * m, gt > 0
        for t in range(256):
            p, r = _pr(score >= t, g)
            P[t] += p / len(pairs)
            R[t] += r / len(pairs)
    F = np.array([_f(p, r) for p, r in zip(P, R, strict=True)])
    return {"max_f": F.max(), "mean_f": F.mean()}


@pytest.mark.parametrize(
    ("protocol", "reference"),
    [("ddffnet", reference_ddffnet), ("zhao", reference_zhao), ("hifst", reference_hifst)],
)
def test_protocol_matches_its_reference(pairs, protocol, reference):
    want = reference(pairs)
    got = _evaluate(protocol, pairs, metrics=tuple(want))
    assert got == pytest.approx(want, rel=0, abs=TOL)


def test_protocols_disagree_on_the_same_maps(pairs):
    """The conventions matter: the references give different max-F for the same maps."""
    assert abs(reference_zhao(pairs)["max_f"] - reference_hifst(pairs)["max_f"]) > 0.01
