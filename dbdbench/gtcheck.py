"""GT integrity: is the GT on disk the one the registry describes?

A dataset whose masks are pinned (``DatasetSpec.digests``, :mod:`dbdbench.digests`) is checked mask by
mask before scoring. Each file is

* **ok**: its blur mask (after the flip that ``gt_white`` asks for) has the pinned digest;
* **inverted**: its mask with black and white swapped has the pinned digest, as in a copy distributed with
  the other polarity (the "xu100" copy of CUHK-TE-1 has white = in focus); scoring it would swap the
  classes of every image;
* **foreign**: another size, not black and white only, other pixels, or a stem the list does not know;
  scores on such a copy are not comparable with published ones.

Inverted and foreign files are errors; ``allow_foreign=True`` (``--allow-foreign-gt``) scores them as
they are and records a warning in the result. The clean path reads the digests from the headers of the GT
cache (:func:`dbdbench.gtcache.gt_digests`); a mismatch is confirmed on the file itself before it is
reported.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dbdbench.datasets import DatasetSpec, read_split
from dbdbench.digests import MaskDigests, Pin, read_digests
from dbdbench.gtcache import gt_digests
from dbdbench.io import ImageReadError

#: copies known to circulate with the other polarity: (digest list, split) -> what the copy is
KNOWN_INVERTED_COPIES = {("CUHK", "CUHK-TE-1"): "the 'xu100' re-distribution of CUHK-TE-1"}
_WHITE_WORDS = {"blur": "blurred", "sharp": "in focus"}
_OTHER = {"blur": "sharp", "sharp": "blur"}
_SHOWN = 10


@dataclass(frozen=True)
class Finding:
    """One problem found in the input: an error (refused) or a warning (recorded in the result).

    Attributes
    ----------
    level : {"error", "warning"}
    code : str
        Stable identifier, e.g. ``"gt-inverted"``.
    message : str
        What is wrong, with the files and what to do.
    files : tuple of str
        The files (stems) it concerns.
    """

    level: str
    code: str
    message: str
    files: tuple[str, ...] = field(default=())

    def as_warning(self) -> dict:
        """The form stored in ``Result.meta["warnings"]``."""
        return {"code": self.code, "message": self.message, "files": list(self.files)}


def _classify(d: MaskDigests, pin: Pin, gt_white: str) -> str:
    if d.shape != pin.shape:
        return f"{d.shape[1]}x{d.shape[0]}, the registry's is {pin.shape[1]}x{pin.shape[0]}"
    if d.white is None:
        return "not black and white only"
    if d.blur(gt_white) == pin.digest:
        return "ok"
    if d.sharp(gt_white) == pin.digest:
        return "inverted"
    return "other pixels"


def file_state(path: Path, pin: Pin | None, gt_white: str, *, from_source: bool = False) -> str:
    """``"ok"``, ``"inverted"`` or why the file is foreign; a mismatch on cached digests is confirmed on the file."""
    if pin is None:
        return "not in the registry's list"
    state = _classify(gt_digests(path, from_source=from_source), pin, gt_white)
    if state != "ok" and not from_source:
        state = _classify(gt_digests(path, from_source=True), pin, gt_white)
    return state


def _names(items: list[str], reasons: Mapping[str, str] | None = None) -> str:
    shown = [f"{s} ({reasons[s]})" if reasons else s for s in items[:_SHOWN]]
    return ", ".join(shown) + (f" and {len(items) - _SHOWN} more" if len(items) > _SHOWN else "")


def _inverted_finding(spec: DatasetSpec, stems: list[str], n: int, folder: Path, allow: bool) -> Finding:
    other = _OTHER[spec.gt_white]
    copy = next(
        (what for (lst, split), what in KNOWN_INVERTED_COPIES.items()
         if lst == spec.digests and {s.lower() for s in read_split(split)} == {s.lower() for s in stems}),
        f"a copy of {spec.name} with the other polarity",
    )  # fmt: skip
    found = (
        f"{len(stems)} of {n} GT masks in {folder} are the registry's masks with black and white swapped "
        f"({_names(stems)}): this looks like {copy} (white = {_WHITE_WORDS[other]})"
    )
    if allow:
        text = f"{spec.name}: scored as is (--allow-foreign-gt), but {found}"
        return Finding("warning", "gt-inverted", text, tuple(stems))
    source = spec.name if Path(spec.digests).suffix == ".txt" else spec.digests  # a user's list: its dataset
    fix = (
        f"Place the original {source} GT (white = {_WHITE_WORDS[spec.gt_white]}) under "
        f"<data-root>/{spec.folder}/{spec.gt_dir}/ ({spec.url or 'see docs/datasets.md'}), or register this copy as "
        f'a dataset of its own with gt_white = "{other}" and digests = "{spec.digests}" (docs/datasets.md)'
    )
    return Finding("error", "gt-inverted", f"{spec.name}: {found}. {fix}", tuple(stems))


def _foreign_finding(spec: DatasetSpec, reasons: dict[str, str], n: int, folder: Path, allow: bool) -> Finding:
    stems = sorted(reasons)
    found = (
        f"{len(stems)} of {n} GT masks in {folder} differ from the masks the registry pins for {spec.name}: "
        f"{_names(stems, reasons)}"
    )
    if allow:
        text = f"{spec.name}: scored with a foreign GT (--allow-foreign-gt): {found}"
        return Finding("warning", "gt-foreign", text, tuple(stems))
    fix = (
        "Scores on this copy are not comparable with published ones. Restore the original files "
        f"({spec.url or 'see docs/datasets.md'}), or pass --allow-foreign-gt to score this copy anyway "
        "(recorded as a warning in the result)"
    )
    return Finding("error", "gt-foreign", f"{spec.name}: {found}. {fix}", tuple(stems))


def verify_gt(
    spec: DatasetSpec, gt_files: Mapping[str, Path], *, allow_foreign: bool = False, from_source: bool = False
) -> list[Finding]:
    """Check GT files against the digests the registry pins for ``spec``.

    Parameters
    ----------
    spec : DatasetSpec
        The dataset; nothing is checked when it pins no digests or its GT polarity is unknown.
    gt_files : mapping of str to Path
        Stem -> GT file, as :meth:`DatasetSpec.gt_files` returns them.
    allow_foreign : bool
        Report inverted and foreign files as warnings instead of errors (``--allow-foreign-gt``).
    from_source : bool
        Decode every file instead of reading the digests from the GT cache (``dbdbench datasets --verify``).

    Returns
    -------
    list of Finding
        ``gt-unreadable`` (always an error), ``gt-inverted``, ``gt-foreign``; empty when every file is ok.
    """
    if spec.digests is None or spec.gt_white not in _OTHER or not gt_files:
        return []
    pins = read_digests(spec.digests)
    states: dict[str, str] = {}
    unreadable: dict[str, str] = {}
    for stem, path in gt_files.items():
        try:
            states[stem] = file_state(path, pins.get(stem.lower()), spec.gt_white, from_source=from_source)
        except ImageReadError as exc:
            unreadable[stem] = str(exc)
    folder = next(iter(gt_files.values())).parent
    out = []
    if unreadable:
        text = f"{spec.name}: unreadable GT file(s): {'; '.join(unreadable.values())}"
        out.append(Finding("error", "gt-unreadable", text, tuple(unreadable)))
    inverted = sorted(s for s, st in states.items() if st == "inverted")
    if inverted:
        out.append(_inverted_finding(spec, inverted, len(gt_files), folder, allow_foreign))
    foreign = {s: st for s, st in states.items() if st not in ("ok", "inverted")}
    if foreign:
        out.append(_foreign_finding(spec, foreign, len(gt_files), folder, allow_foreign))
    return out
