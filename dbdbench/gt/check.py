"""GT integrity: is the GT on disk the one the registry describes?

A dataset whose masks are pinned (``DatasetSpec.digests``, :mod:`dbdbench.digests`) is checked mask by
mask before scoring. Each file is

* **ok**: its blur mask (after the flip that ``gt_white`` asks for) has the pinned digest;
* **inverted**: its mask with black and white swapped has the pinned digest, as in a copy distributed with
  the other polarity (the "xu100" copy of CUHK-TE-1 has white = in focus); scoring it would swap the
  classes of every image;
* **foreign**: another size, not black and white only, other pixels, or a stem the list does not know;
  scores on such a copy are not comparable with published ones.

Inverted and foreign files are errors (:mod:`dbdbench.sanity` findings ``gt-inverted`` and ``gt-foreign``);
``--accept gt-inverted`` / ``--accept gt-foreign`` scores them as they are and records a warning in the
result. The clean path reads the digests from the headers of the GT cache
(:func:`dbdbench.gt.cache.gt_digests`); a mismatch is confirmed on the file itself before it is reported.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from dbdbench.datasets import DatasetSpec, read_split
from dbdbench.digests import MaskDigests, Pin, read_digests
from dbdbench.gt.cache import FROM_ENV, CacheFolder, gt_digests
from dbdbench.io import ImageReadError
from dbdbench.sanity import Checks, Finding, judged

#: copies known to circulate with the other polarity: (digest list, split) -> what the copy is
KNOWN_INVERTED_COPIES = {("CUHK", "CUHK-TE-1"): "the 'xu100' re-distribution of CUHK-TE-1"}
_WHITE_WORDS = {"blur": "blurred", "sharp": "in focus"}
_OTHER = {"blur": "sharp", "sharp": "blur"}
#: why a file is foreign -> how the message says it
_REASONS = {
    "size": "have another size than the registry's",
    "not-binary": "are not black and white only (the registry's masks are)",
    "pixels": "have other pixels than the registry's",
    "unlisted": "are not in the registry's list",
}


def _classify(d: MaskDigests, pin: Pin, gt_white: str) -> str:
    if d.shape != pin.shape:
        return "size"
    if d.white is None:
        return "not-binary"
    if d.blur(gt_white) == pin.digest:
        return "ok"
    if d.sharp(gt_white) == pin.digest:
        return "inverted"
    return "pixels"


def file_state(path: Path, pin: Pin | None, gt_white: str, *, from_source: bool = False,
               cache: CacheFolder = FROM_ENV) -> str:
    """``"ok"``, ``"inverted"`` or why the file is foreign (a key of ``_REASONS``).

    A mismatch on the digests of the GT cache is confirmed on the file itself, so that a damaged cache
    entry is never reported as a foreign file.
    """
    if pin is None:
        return "unlisted"
    state = _classify(gt_digests(path, from_source=from_source, folder=cache), pin, gt_white)
    if state != "ok" and not from_source:
        state = _classify(gt_digests(path, from_source=True), pin, gt_white)
    return state


def gt_states(
    spec: DatasetSpec, gt_files: Mapping[str, Path], *, from_source: bool = False, cache: CacheFolder = FROM_ENV
) -> tuple[dict[str, str], dict[str, str]]:
    """Each file's state (:func:`file_state`) and, apart, the unreadable files with the reader's message."""
    pins = read_digests(spec.digests)
    states, unreadable = {}, {}
    for stem, path in gt_files.items():
        try:
            states[stem] = file_state(path, pins.get(stem.lower()), spec.gt_white, from_source=from_source,
                                      cache=cache)
        except ImageReadError as exc:
            unreadable[stem] = str(exc)
    return states, unreadable


def _inverted(spec: DatasetSpec, stems: list[str], n: int, folder: Path, checks: Checks) -> Finding:
    other = _OTHER[spec.gt_white]
    lowered = {s.lower() for s in stems}
    copy = next(
        (what for (lst, split), what in KNOWN_INVERTED_COPIES.items()
         if lst == spec.digests and {s.lower() for s in read_split(split)} == lowered),
        f"a copy of {spec.name} with the other polarity",
    )  # fmt: skip
    message = (
        f"{spec.name}: {len(stems)} of {n} GT masks in {folder} are the registry's masks with black and white "
        f"swapped: this looks like {copy} (white = {_WHITE_WORDS[other]})"
    )
    source = spec.name if Path(spec.digests or "").suffix == ".txt" else spec.digests  # a user's list: its dataset
    fix = (
        f"Place the original {source} GT (white = {_WHITE_WORDS[spec.gt_white]}) under "
        f"<data-root>/{spec.folder}/{spec.gt_dir}/ ({spec.url or 'see docs/datasets.md'}), or register this copy as "
        f'a dataset of its own with gt_white = "{other}" and digests = "{spec.digests}" (docs/datasets.md); '
        "--accept gt-inverted scores it as it is"
    )
    return judged("gt-inverted", message, stems, fix, checks)


def _foreign(spec: DatasetSpec, stems: list[str], reason: str, n: int, folder: Path, checks: Checks) -> Finding:
    count = f"{len(stems)} GT file(s)" if reason == "unlisted" else f"{len(stems)} of {n} GT masks"
    message = f"{spec.name}: {count} in {folder} {_REASONS[reason]}"
    fix = (
        "Scores on this copy are not comparable with published ones: restore the original files "
        f"({spec.url or 'see docs/datasets.md'}), or pass --accept gt-foreign to score it as it is"
    )
    return judged("gt-foreign", message, stems, fix, checks)


def verify_gt(
    spec: DatasetSpec, gt_files: Mapping[str, Path], checks: Checks | None = None, *, from_source: bool = False,
    cache: CacheFolder = FROM_ENV,
) -> list[Finding]:
    """Check GT files against the digests the registry pins for ``spec``.

    Parameters
    ----------
    spec : DatasetSpec
        The dataset; nothing is checked when it pins no digests or its GT polarity is unknown.
    gt_files : mapping of str to Path
        Stem -> GT file, as :meth:`DatasetSpec.gt_files` returns them.
    checks : Checks, optional
        ``accept`` holding ``gt-inverted`` or ``gt-foreign`` turns those errors into warnings.
    from_source : bool
        Decode every file instead of reading the digests from the GT cache (``dbdbench datasets verify``).
    cache : Path, None or "env"
        The GT cache folder (:func:`dbdbench.gt.cache.cache_dir` when "env"; None: no cache).

    Returns
    -------
    list of Finding
        ``gt-inverted`` (one) and ``gt-foreign`` (one per reason: size, values, pixels, unknown stem); empty
        when every file matches.

    Raises
    ------
    ImageReadError
        A ``ValueError`` naming every GT file that cannot be read.
    """
    if spec.digests is None or spec.gt_white not in _OTHER or not gt_files:
        return []
    checks = Checks() if checks is None else checks
    states, unreadable = gt_states(spec, gt_files, from_source=from_source, cache=cache)
    if unreadable:
        raise ImageReadError("; ".join(unreadable.values()))
    return judge(spec, states, next(iter(gt_files.values())).parent, checks)


def judge(spec: DatasetSpec, states: Mapping[str, str], folder: Path, checks: Checks) -> list[Finding]:
    """The findings for the files' states (:func:`gt_states`) of one GT folder."""
    out = []
    inverted = sorted(s for s, st in states.items() if st == "inverted")
    if inverted:
        out.append(_inverted(spec, inverted, len(states), folder, checks))
    for reason in _REASONS:
        stems = sorted(s for s, st in states.items() if st == reason)
        if stems:
            out.append(_foreign(spec, stems, reason, len(states), folder, checks))
    return out
