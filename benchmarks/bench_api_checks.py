"""Cost of the API input checks (:mod:`dbdbench.values`) against ``Evaluator.update`` on 320x320 maps.

Same process, same maps: the time of ``Evaluator.update`` (checks included) and of the checks alone
(``map_findings``, ``gt_as_mask``, the level count of the record), for an 8-bit and a float map with a bool
and an 8-bit mask. Prints the ratio; the checks should cost well under 5 % of ``update``.

    python benchmarks/bench_api_checks.py
"""

from __future__ import annotations

import time

import numpy as np

from dbdbench.findings import Checks
from dbdbench.metrics import Evaluator
from dbdbench.metrics.evaluator import _n_levels
from dbdbench.values import gt_as_mask, map_findings


def _best(fn, repeat: int = 7, number: int = 100) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t) / number)
    return best


def main() -> None:
    rng = np.random.default_rng(0)
    gt = np.zeros((320, 320), bool)
    gt[:, :150] = True
    p8 = rng.integers(0, 256, gt.shape, dtype=np.uint8)
    checks = Checks()
    for pred, mask in ((p8, gt), (p8, gt.astype(np.uint8) * 255), (p8 / 255, gt)):
        ev = Evaluator()
        rec = ev.update(pred, mask)

        def checks_only(pred=pred, mask=mask, rec=rec):
            map_findings(pred, "x", checks)
            gt_as_mask(mask)
            _n_levels(rec)

        t_update = _best(lambda pred=pred, mask=mask, ev=ev: ev.update(pred, mask))
        t_checks = _best(checks_only)
        print(f"pred {pred.dtype}, gt {mask.dtype}: update {t_update * 1e6:.0f} us, checks {t_checks * 1e6:.1f} us "
              f"({100 * t_checks / t_update:.1f} % of update)")


if __name__ == "__main__":
    main()
