"""The value rules of single maps and masks: one implementation for the CLI, ``Evaluator`` and ``TorchEvaluator``.

Some value ranges are almost always a writing or loading mistake, and scored as they are they give a
plausible, wrong number:

- an 8-bit map whose maximum is 1 (a 0/1 mask saved or loaded without ``* 255``: ``range-01``) or a few grey
  levels (a [0, 1] map written to 8 bits or JPEG without ``* 255``: ``range-few-levels``): scored on the
  0..255 scale it means "almost nothing blurred";
- a 16-bit map whose maximum is at most 255 (8-bit values in a 16-bit container,
  ``range-16bit-8bit-values``): read as ``v / 65535`` it is nearly black;
- a binary map next to a graded mask: the arguments of ``update(pred, gt)`` swapped (``swapped-arguments``).

These are refused with the fix (or scored as they are when the code is accepted, and recorded). A mask
given as 0/1 integers (``uint8`` or ``uint16``, the usual way masks are loaded in training code) is
unambiguous and is read as the mask it is; so is a 16-bit mask holding 8-bit values. Every threshold and
fix is listed in ``docs/refusals.md``.
"""

from __future__ import annotations

import numpy as np

from dbdbench.findings import Checks, Finding, judged

#: largest maximum of an 8-bit map refused as "a few grey levels" (1 is ``range-01``); a [0, 1] map written to
#: 8 bits without ``* 255`` holds 0 and 1, and JPEG compression adds a level or two
FEW_LEVELS = 3
#: share of a mask's pixels strictly between 0 and full scale above which it is a graded map, not a mask
#: (soft DBD masks hold up to about 28 % of intermediate values at their anti-aliased borders)
GRADED_SHARE = 0.4

#: for each map range code: what is wrong, the fix in the Python API, the fix on the command line
RANGE_TEXT: dict[str, tuple[str, str, str]] = {
    "range-01": (
        "8-bit map(s) hold only the values 0 and 1 (a mask saved or loaded without * 255?); scored as they are "
        "they mean 'almost nothing blurred'",
        "Pass the map as bool or as pred * 255, or accept=('range-01',) to score the values as they are",
        "Re-save them as 0/255, or pass --rescale-maps to read 0/1 as 0/255 (--accept range-01 scores the "
        "values as they are)",
    ),
    "range-few-levels": (
        f"8-bit map(s) whose maximum is {FEW_LEVELS} or less (a [0, 1] map written to 8 bits or JPEG without "
        "* 255?); scored as they are they are near-black maps",
        "Pass float maps in [0, 1] or 8-bit maps on the 0..255 scale, or accept=('range-few-levels',) to score "
        "the values as they are",
        "Re-save them as round(255 p), or pass --rescale-maps to stretch each map's values to 0..255 "
        "(--accept range-few-levels scores the values as they are)",
    ),
    "range-16bit-8bit-values": (
        "16-bit map(s) hold only values <= 255 (8-bit values in a 16-bit container?); read as value/65535 "
        "they are nearly black",
        "Pass the map as uint8, or accept=('range-16bit-8bit-values',) to read it as value/65535",
        "Re-save them as 8-bit PNGs, or pass --rescale-maps to read them as 8-bit "
        "(--accept range-16bit-8bit-values reads them as value/65535)",
    ),
}


def map_range_code(dtype: np.dtype | str, vmax: float) -> str | None:
    """The range code of a map of ``dtype`` whose maximum is ``vmax``, or None for a range that is fine.

    An all-zero map is fine in any dtype (it means "nothing blurred" on every scale).
    """
    dtype = np.dtype(dtype)
    if dtype == np.uint16 and 0 < vmax <= 255:
        return "range-16bit-8bit-values"
    if dtype == np.uint8 and vmax == 1:
        return "range-01"
    if dtype == np.uint8 and 1 < vmax <= FEW_LEVELS:
        return "range-few-levels"
    return None


def rescale_map(arr: np.ndarray) -> tuple[np.ndarray, bool]:
    """The ``--rescale-maps`` fix: 16-bit maps holding 8-bit values as 8-bit, 0/1 as 0/255, few levels stretched.

    0/1 maps become ``255 v`` and 16-bit maps with values <= 255 their 8-bit values (both exact); maps whose
    maximum ``m`` is a few levels become ``round(255 v / m)`` (the original values are lost; the order of the
    pixels is kept). Returns the map and whether it changed.
    """
    changed = False
    vmax = int(arr.max()) if arr.size and arr.dtype.kind == "u" else 0
    if map_range_code(arr.dtype, vmax) == "range-16bit-8bit-values":
        arr, changed = arr.astype(np.uint8), True
    code = map_range_code(arr.dtype, vmax)
    if code == "range-01":
        return arr * np.uint8(255), True
    if code == "range-few-levels":
        return np.rint(arr * (255.0 / vmax)).astype(np.uint8), True
    return arr, changed


def gt_as_mask(gt: np.ndarray) -> np.ndarray:
    """A mask read as what it is: integer masks whose maximum is 1 become bool, 16-bit ones holding 8-bit values
    are read as 8-bit; other masks are returned unchanged (the protocol binarises them)."""
    if gt.dtype not in (np.uint8, np.uint16) or gt.size == 0:
        return gt
    vmax = int(gt.max())
    if vmax <= 1:
        return gt.astype(bool)
    if gt.dtype == np.uint16 and vmax <= 255:
        return gt.astype(np.uint8)
    return gt


def graded_share(gt: np.ndarray) -> float:
    """Share of pixels strictly between 0 and full scale (0 for a bool mask)."""
    if gt.dtype == np.bool_:
        return 0.0
    full = float(np.iinfo(gt.dtype).max) if gt.dtype.kind == "u" else 1.0
    return float(np.count_nonzero((gt > 0) & (gt < full))) / max(gt.size, 1)


def looks_swapped(pred_levels: int, gt: np.ndarray) -> bool:
    """A map with at most two distinct levels next to a mask of which more than :data:`GRADED_SHARE` is graded."""
    return pred_levels <= 2 and graded_share(gt) > GRADED_SHARE


def map_findings(pred: np.ndarray, name: str, checks: Checks) -> list[Finding]:
    """The range findings of one API map (``Evaluator.update``): an error unless the code is accepted."""
    if pred.dtype not in (np.uint8, np.uint16) or pred.size == 0:
        return []
    code = map_range_code(pred.dtype, int(pred.max()))
    if code is None:
        return []
    what, api_fix, _ = RANGE_TEXT[code]
    return [judged(code, what, [name], api_fix, checks)]


def swapped_finding(names: list[str], checks: Checks) -> Finding:
    """The ``swapped-arguments`` finding of the images ``names`` (API)."""
    return judged(
        "swapped-arguments", "a binary map next to a graded mask: were the arguments swapped (update(gt, pred))?",
        names, "Call update(pred, gt): the P(blur) map first, then the mask; accept=('swapped-arguments',) "
        "scores a binary map against a soft mask as given", checks)  # fmt: skip
