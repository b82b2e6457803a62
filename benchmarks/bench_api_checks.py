"""Cost of the input contract on the clean path, same process, 320x320 maps.

* the API checks (:mod:`dbdbench.values`: ``map_findings``, ``gt_as_mask``, the level count of the record)
  against ``Evaluator.update`` (checks included), for an 8-bit and a float map with a bool and an 8-bit mask;
* what ``evaluate`` adds per file: ``Evaluator.update`` instead of ``score_image``, and the reader's EXIF
  orientation scan against decoding the PNG.

Prints the ratios; each should be well under 5 %.

    python benchmarks/bench_api_checks.py
"""

from __future__ import annotations

import time

import cv2
import numpy as np

from dbdbench.findings import Checks
from dbdbench.io import exif_orientation
from dbdbench.metrics import Evaluator
from dbdbench.metrics.evaluator import _n_levels
from dbdbench.metrics.image import score_image
from dbdbench.metrics.protocols import CORE_METRICS
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
    ev = Evaluator("pysod", CORE_METRICS)  # the metrics of bench_evaluate.py
    t_update = _best(lambda: ev.update(p8, gt))
    t_score = _best(lambda: score_image(p8, gt, ev.protocol, structure=ev.structure))
    print(f"evaluate's path: Evaluator.update {t_update * 1e6:.0f} us vs score_image {t_score * 1e6:.0f} us "
          f"({100 * (t_update - t_score) / t_score:+.1f} %)")
    data = cv2.imencode(".png", p8)[1].tobytes()
    t_decode = _best(lambda: cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED))
    t_tag = _best(lambda: exif_orientation(data))
    print(f"reader: orientation scan {t_tag * 1e6:.1f} us vs PNG decode {t_decode * 1e6:.0f} us "
          f"({100 * t_tag / t_decode:.2f} %)")


if __name__ == "__main__":
    main()
