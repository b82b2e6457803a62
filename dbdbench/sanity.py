"""The folder checks of ``dbdbench evaluate``: every input mistake of a folder that would change a score unnoticed.

A benchmark's worst bug is a plausible number that is wrong. Reading a folder of maps collects a few facts
per file (:class:`MapFacts`: value range, bit depth, size and turn against the GT, colour); this module turns
the facts of one folder, its pairing with the dataset and the layout of a run folder into
:class:`~dbdbench.findings.Finding` objects. The findings framework (codes, severities, ``accept`` and
``strict``) is :mod:`dbdbench.findings`, re-exported here; the value rules of single maps and masks, which
the Python API applies too, are :mod:`dbdbench.values`. A finding is an **error** (the evaluation is refused,
exit code 2, with the files named and the fix said) or a **warning** (stored in ``Result.meta["warnings"]``
with the files it concerns).

The checks, their thresholds and overrides are listed in ``docs/refusals.md``.

References
----------
.. [1] PySODEvalToolkit resizes predictions of another size to the GT (bilinear); dbdbench does the same but
   names the files and never resizes a turned or stretched map silently.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from dbdbench.findings import CODES, Checks, Finding, SanityError, Severity, judged, settle
from dbdbench.io import MAP_EXTS, colormap_table, resize_to
from dbdbench.values import RANGE_TEXT, map_range_code, rescale_map

__all__ = [  # the findings framework (dbdbench.findings) is re-exported for the modules that import it from here
    "CODES", "Checks", "Finding", "MapFacts", "SanityError", "Severity", "ambiguous_folders", "common_suffix",
    "fit_to_gt", "inspect_map", "judged", "pairing_gain", "review_maps", "review_pairing", "review_size", "settle",
    "swapped_maps", "thumbnail", "unknown_folders",
]  # fmt: skip

#: mean per-image MAE above which a folder's maps are taken as inverted (MAE(1 - p) = 1 - MAE for binary GT)
INVERTED_FOLDER_MAE = 0.6
#: per-image MAE above which one map is named as probably inverted
INVERTED_IMAGE_MAE = 0.75
#: share of images without a prediction above which ``--allow-missing`` alone is not enough
MOSTLY_MISSING = 0.5
#: share of images whose map equals its GT pixel for pixel (MAE 0) above which the maps are taken for GT copies
MAPS_ARE_GT = 0.5
#: side of the thumbnails (mean over blocks) of maps and masks on which the pairing is tested
THUMB = 8
#: how much closer in mean thumbnail MAE the maps (or, for inverted maps, the flipped maps) must be to their own
#: masks than to other images' masks (the median over the shifted pairings)
UNRELATED_GAIN = 0.01
#: fewest images for the unrelated-maps test to speak, and most shifted pairings it compares with
UNRELATED_MIN_IMAGES = 5
UNRELATED_SHIFTS = 10
#: mean colour spread (max - min over B, G, R, on the 0..1 scale) above which a colour map is a pseudo-colour
#: rendering (jet, viridis, ...) rather than a gray map with a tint; a jet rendering spreads about 0.7
PSEUDO_COLOUR_SPREAD = 0.25

@dataclass
class MapFacts:
    """What reading one prediction showed (filled by the loader, judged by :func:`review_folder`)."""

    stem: str
    file: str
    shape: tuple[int, int] = (0, 0)
    gt_shape: tuple[int, int] = (0, 0)
    dtype: str = "uint8"
    vmin: float = 0.0
    vmax: float = 0.0
    gt_max: float = 1.0
    gt_dtype: str = "uint8"
    colour_spread: float | None = None  # mean max-min over colour channels, when a colour map was converted
    colour: str | None = None  # the conversion from colour ("luminance", "colormap NAME"), None for gray files
    rescaled: bool = False
    transposed: bool = False
    resized: bool = False
    turn: str | None = None  # how a map with swapped width and height was turned (tell_turn), None: not told
    undone: str | None = None  # the turn undone by --transpose-maps / --rotate-maps
    stretched: bool = False  # resized with another aspect ratio than its GT's
    thumb: np.ndarray | None = None  # THUMB x THUMB block means of the scored map (canonical, [0, 1])
    gt_thumb: np.ndarray | None = None  # the same of its mask


def inspect_map(arr: np.ndarray, facts: MapFacts, checks: Checks) -> np.ndarray:
    """Record the value range of a raw map in ``facts`` and apply ``--rescale-maps`` when it is asked for.

    The ranges that are almost always a writing mistake are those of :func:`dbdbench.values.map_range_code`
    (0/1 or a few grey levels in an 8-bit file, 8-bit values in a 16-bit file); with ``rescale_maps`` such a
    map is read as :func:`dbdbench.values.rescale_map` says (exact for 0/1 and 16-bit files).
    """
    facts.dtype, facts.shape = str(arr.dtype), (int(arr.shape[0]), int(arr.shape[1]))
    if arr.size == 0:
        return arr
    facts.vmin, facts.vmax = float(arr.min()), float(arr.max())
    if not checks.rescale_maps or map_range_code(arr.dtype, facts.vmax) is None:
        return arr
    arr, facts.rescaled = rescale_map(arr)
    return arr


#: how a map with the GT's width and height swapped was turned when written -> what undoes it
UNDO: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "transposed": lambda m: m.T,
    "rotated 90 degrees clockwise": lambda m: np.rot90(m, 1),
    "rotated 90 degrees counter-clockwise": lambda m: np.rot90(m, -1),
    "transverse": lambda m: m[::-1, ::-1].T,
}
#: the option that undoes each turn exactly (None: no option; re-save the map)
TURN_FIX = {"transposed": "--transpose-maps", "rotated 90 degrees clockwise": "--rotate-maps ccw",
            "rotated 90 degrees counter-clockwise": "--rotate-maps cw", "transverse": None}
#: smallest MAE gap between the best and the second-best undone map for the turn to count as told
TURN_MARGIN = 0.02


def tell_turn(arr: np.ndarray, gt: np.ndarray) -> str | None:
    """How a map whose width and height are the GT's swapped was turned: the :data:`UNDO` key whose undoing
    brings it closest to the GT (MAE against the mask), or None when no turn is clearly closest (a
    symmetric scene, or a map unrelated to its mask): then it cannot be told from the files."""
    full = float(np.iinfo(arr.dtype).max) if arr.dtype.kind == "u" else 1.0
    unit = arr.astype(np.float64) / full
    g = gt.astype(bool) if gt.dtype == np.bool_ else gt.astype(np.float64) / (
        float(np.iinfo(gt.dtype).max) if gt.dtype.kind == "u" else 1.0) >= 0.5  # fmt: skip
    maes = sorted((float(np.mean(np.abs(undo(unit) - g))), name) for name, undo in UNDO.items())
    (best, name), (second, _) = maes[0], maes[1]
    return name if second - best >= TURN_MARGIN else None


def _user_turn(checks: Checks) -> str | None:
    """The turn that the user's option undoes."""
    if checks.transpose_maps:
        return "transposed"
    return {"cw": "rotated 90 degrees counter-clockwise", "ccw": "rotated 90 degrees clockwise"}.get(
        checks.rotate_maps or "")


def fit_to_gt(arr: np.ndarray, facts: MapFacts, checks: Checks, resize: str,
              gt: np.ndarray | None = None) -> tuple[np.ndarray, bool]:
    """Bring a map to the GT size: undo a turn when asked and the sizes are swapped, else resize per ``resize``.

    Returns the map and whether it was resized. A swapped size is never resized silently: the turn is told
    from ``gt`` (:func:`tell_turn`); ``--transpose-maps`` or ``--rotate-maps`` undo it when they undo what
    was told (or when it cannot be told); otherwise the map is resized (so that reading can go on) and
    :func:`review_maps` refuses it unless ``transposed`` is accepted. A map whose aspect ratio differs from
    the GT's beyond rounding is marked ``stretched`` (refused unless ``aspect-ratio`` is accepted).
    """
    if arr.shape == facts.gt_shape:
        return arr, False
    swapped = arr.shape[::-1] == facts.gt_shape
    if swapped:
        facts.turn = tell_turn(arr, gt) if gt is not None else None
        wanted = _user_turn(checks)
        if wanted is not None and facts.turn in (None, wanted):
            facts.transposed, facts.undone = True, wanted
            return np.ascontiguousarray(UNDO[wanted](arr)), False
    facts.transposed = swapped
    (h, w), (gh, gw) = arr.shape, facts.gt_shape
    facts.stretched = not swapped and abs(w * gh / gw - h) > 1 and abs(h * gw / gh - w) > 1
    if resize == "error" and not swapped:
        raise ValueError(
            f"{facts.file}: size {arr.shape[1]}x{arr.shape[0]} differs from the GT "
            f"{facts.gt_shape[1]}x{facts.gt_shape[0]}; use --resize bilinear|nearest to resize predictions "
            "to the GT size"
        )
    facts.resized = True
    return resize_to(arr, facts.gt_shape, "bilinear" if resize == "error" else resize), True


def review_maps(facts: Sequence[MapFacts], maes: dict[str, float], checks: Checks, pred_dir: str) -> list[Finding]:
    """Judge the per-map facts of one folder; ``maes`` is each image's MAE (canonical polarity)."""
    out: list[Finding] = []
    real = [f for f in facts if f.file]

    def files(pred) -> list[str]:
        return [f.file for f in real if pred(f)]

    rescaled = files(lambda f: f.rescaled)
    if rescaled:
        out.append(judged("rescaled", f"{len(rescaled)} map(s) rescaled (0/1 -> 0/255, a few grey levels "
                            "stretched to 0..255, or 16-bit files holding 8-bit values read as 8-bit) by "
                            "--rescale-maps", rescaled, "", checks))  # fmt: skip
    for code, (what, _, fix) in RANGE_TEXT.items():
        bad = files(lambda f, code=code: not f.rescaled and map_range_code(f.dtype, f.vmax) == code)
        if bad:
            out.append(judged(code, f"{pred_dir}: {len(bad)} {what}", bad, fix, checks))
    gt01 = sorted({f.stem for f in facts if f.gt_dtype == "uint8" and f.gt_max == 1})
    if gt01:
        out.append(judged(
            "gt-range-01", f"{len(gt01)} GT mask(s) hold only the values 0 and 1; binarised on the 0..255 scale they "
            "are empty", gt01, "Use the dataset's original 0/255 masks (`dbdbench datasets --verify`)", checks))
    const = files(lambda f: f.vmin == f.vmax and f.dtype != "bool")
    if const:
        out.append(judged("constant-map", f"{len(const)} map(s) have one value everywhere", const, "", checks))
    out += _review_geometry(real, checks, pred_dir)
    out += _review_polarity(real, maes, checks, pred_dir)
    out += _review_agreement(real, maes, checks, pred_dir)
    return out


def _review_agreement(real: Sequence[MapFacts], maes: dict[str, float], checks: Checks,
                      pred_dir: str) -> list[Finding]:
    """Maps that are the GT itself (MAE 0 on most images), and maps that look unrelated to their GT."""
    out = []
    exact = [f.file for f in real if maes.get(f.stem) == 0.0]
    if real and len(exact) > MAPS_ARE_GT * len(real):
        out.append(judged(
            "maps-are-gt", f"{pred_dir}: {len(exact)} of {len(real)} maps equal their GT mask pixel for pixel (the GT "
            "folder passed as predictions, or GT copies matched as maps?)", exact,
            "Pass the folder of predicted maps (--accept maps-are-gt scores them as they are)", checks))  # fmt: skip
    pairs = [(f.thumb, f.gt_thumb) for f in real if f.thumb is not None and f.gt_thumb is not None]
    if len(pairs) >= UNRELATED_MIN_IMAGES:
        maps, gts = [m for m, _ in pairs], [g for _, g in pairs]
        gain = max(pairing_gain(maps, gts), pairing_gain([1 - m for m in maps], gts))
        if gain < UNRELATED_GAIN:
            out.append(judged(
                "unrelated-maps", f"{pred_dir}: the maps are no closer to their own images' GT than to other "
                f"images' (mean MAE of {THUMB}x{THUMB} thumbnails {gain:+.3f} better than with shifted names): are "
                "the maps saved under the right image names?", [], "", checks))  # fmt: skip
    return out


def thumbnail(arr: np.ndarray) -> np.ndarray:
    """Block means of a map or mask on the [0, 1] scale, :data:`THUMB` x :data:`THUMB` (float32), from a regular
    sample of the pixels (a heuristic's input: cheap on the clean path)."""
    full = 1.0 if arr.dtype == np.bool_ else float(np.iinfo(arr.dtype).max) if arr.dtype.kind == "u" else 1.0
    step = max(1, min(arr.shape) // (4 * THUMB))  # every step-th pixel: about 16 x 16 samples per block
    sample = np.ascontiguousarray(arr[::step, ::step], dtype=np.float32)
    return cv2.resize(sample, (THUMB, THUMB), interpolation=cv2.INTER_AREA) * np.float32(1 / full)


def pairing_gain(maps: Sequence[np.ndarray], gts: Sequence[np.ndarray]) -> float:
    """How much closer the maps are to their own masks than to other images' masks: the median over the names
    shifted by 1..:data:`UNRELATED_SHIFTS` (cyclically) of the mean thumbnail MAE, minus that of the given
    pairing. Near 0 when the maps say nothing about their own images; the median is not moved by the one shift
    that undoes names saved shifted."""
    m, g = np.stack(maps), np.stack(gts)
    own = float(np.mean(np.abs(m - g)))
    shifts = range(1, min(UNRELATED_SHIFTS, len(m) - 1) + 1)
    return float(np.median([np.mean(np.abs(m - np.roll(g, k, axis=0))) for k in shifts])) - own


def _review_geometry(real: Sequence[MapFacts], checks: Checks, pred_dir: str) -> list[Finding]:
    out = []
    undone = [f for f in real if f.undone]
    for how in dict.fromkeys(f.undone for f in undone):
        files = [f.file for f in undone if f.undone == how]
        unknown = sum(f.turn is None for f in undone if f.undone == how)
        note = f" ({unknown} of them could not be told from the GT)" if unknown else ""
        out.append(judged("resized", f"{len(files)} map(s) had width and height swapped and were turned back as "
                          f"maps {how} on writing{note}", files, "", checks))  # fmt: skip
    swapped = [f for f in real if f.transposed and not f.undone]
    if swapped:
        out.append(judged(
            "transposed", f"{pred_dir}: {len(swapped)} map(s) have the GT's width and height swapped: "
            + "; ".join(_turn_text(f) for f in swapped[:5]) + (" ..." if len(swapped) > 5 else ""),
            [f.file for f in swapped], "Save them in the photo's orientation, or pass the option named for each "
            "(--transpose-maps is exact only for a transpose: a rotated map comes out mirrored); --accept "
            "transposed resizes them to the GT size", checks))  # fmt: skip
    resized = [f.file for f in real if f.resized and not f.transposed and not f.stretched]
    if resized:
        out.append(judged("resized", f"{len(resized)} map(s) of another size than their GT were resized to it",
                            resized, "", checks))  # fmt: skip
    stretched = [f.file for f in real if f.stretched]
    if stretched:
        out.append(judged(
            "aspect-ratio", f"{pred_dir}: {len(stretched)} map(s) have another aspect ratio than their GT (not just "
            "another size): resizing stretches them", stretched, "Save them at the GT size or aspect ratio; "
            "--accept aspect-ratio resizes (stretches) them to the GT size, as PySODEvalToolkit does", checks))
    colour = [f.file for f in real if f.colour_spread is not None and f.colour_spread > PSEUDO_COLOUR_SPREAD]
    if colour:
        out.append(judged(
            "pseudo-colour", f"{pred_dir}: {len(colour)} colour map(s) look like a pseudo-colour rendering (jet, "
            "viridis, ...): their luminance is not the map value", colour,
            "Save the raw gray maps, or pass --colormap NAME for a rendering with a matplotlib colormap "
            "(--accept pseudo-colour converts them to luminance anyway)", checks))
    for how in sorted({f.colour for f in real if f.colour}):
        files = [f.file for f in real if f.colour == how and f.file not in colour]
        if files:
            code = "luminance" if how == "luminance" else "colormap"
            out.append(judged(code, f"{len(files)} colour map(s) read as gray through {how}{_repeats(how)}", files,
                              "", checks))  # fmt: skip
    return out


def _repeats(how: str) -> str:
    """For ``colormap NAME``: how many of its colours stand for more than one value (read as the first)."""
    if not how.startswith("colormap "):
        return ""
    table = colormap_table(how.split(" ", 1)[1])
    _, first, counts = np.unique(table, axis=0, return_index=True, return_counts=True)
    if (counts == 1).all():
        return " (exact: every colour of the colormap stands for one value)"
    return (f"; the colormap repeats {int((counts > 1).sum())} of its colours, whose pixels read as the first of "
            f"their values (up to {int(counts.max()) - 1} level(s) low)")


def _turn_text(f: MapFacts) -> str:
    if f.turn is None:
        return f"{f.file}: rotated or transposed, which cannot be told from the GT"
    fix = TURN_FIX[f.turn]
    return f"{f.file}: {f.turn}" + (f" (pass {fix})" if fix else " (re-save it; no option undoes this turn)")


def _review_polarity(real: Sequence[MapFacts], maes: dict[str, float], checks: Checks, pred_dir: str):
    scored = {f.stem: maes[f.stem] for f in real if f.stem in maes and np.isfinite(maes[f.stem])}
    if not scored:
        return []
    mean = float(np.mean(list(scored.values())))
    if mean > INVERTED_FOLDER_MAE:
        return [judged(
            "inverted-maps", f"{pred_dir}: mean MAE {mean:.3f}; the flipped maps would give {1 - mean:.3f}, so white "
            "probably means the other class", [], "Check --pred-white (or meta.json's pred_white); "
            "--accept inverted-maps scores them as declared", checks)]  # fmt: skip
    by_stem = {f.stem: f.file for f in real}
    bad = [by_stem[s] for s, m in scored.items() if m > INVERTED_IMAGE_MAE]
    if bad:
        return [judged("inverted-images", f"{len(bad)} map(s) have MAE > {INVERTED_IMAGE_MAE} on their own "
                         "(inverted, or a failure of the method)", bad, "", checks)]  # fmt: skip
    return []


def review_pairing(
    pred_dir: str, n_gt: int, missing: Sequence[str], extra: Sequence[str], gt_stems: Sequence[str],
    *, allow_missing: bool, checks: Checks, unread: Sequence[str] = (),
) -> list[Finding]:  # fmt: skip
    """Judge how the folder's files matched the dataset: missing images, unmatched files, a suffix to pass.

    Missing images are an error unless ``allow_missing``; even then, more than :data:`MOSTLY_MISSING` of the
    dataset missing is an error unless ``mostly-missing`` is accepted, and unmatched files that share one
    suffix after an image stem are always named with the ``--suffix`` to pass.
    """
    out: list[Finding] = []
    if unread:
        out.append(judged(
            "unread-files", f"{pred_dir}: {len(unread)} file(s) of a format that is not read", unread,
            f"Convert them to one of {', '.join(MAP_EXTS)}, or remove them (--accept unread-files ignores them)",
            checks))  # fmt: skip
    suffix = common_suffix(extra, gt_stems)
    hint = f"The unmatched files end in {suffix!r} after the image name: pass --suffix {suffix}" if suffix else ""
    if missing and not allow_missing:
        shown = ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else "")
        raise SanityError([*[f for f in out if f.severity == "error"], Finding(
            "missing", "error", f"{pred_dir}: {len(missing)} of {n_gt} images have no prediction: {shown}",
            (), hint or "Predict them, or pass --allow-missing to score them as empty maps")])  # fmt: skip
    if missing and (suffix or len(missing) > MOSTLY_MISSING * n_gt):
        out.append(judged(
            "mostly-missing", f"{pred_dir}: {len(missing)} of {n_gt} images have no prediction", missing,
            hint or "Check the folder and the dataset; --accept mostly-missing scores them as empty maps", checks))
    if missing:
        out.append(judged("missing", f"{len(missing)} image(s) without a prediction were scored as empty maps",
                            missing, "", checks))  # fmt: skip
    if extra:
        out.append(judged("extra-files", f"{len(extra)} file(s) match no GT image and were ignored",
                            extra, hint, checks))  # fmt: skip
    return out


def common_suffix(extra: Sequence[str], gt_stems: Sequence[str]) -> str | None:
    """The one suffix that most unmatched file stems add after a GT stem (``img_mynet_v2.png`` -> ``_mynet_v2``)."""
    stems = sorted(gt_stems, key=len, reverse=True)
    lower = [s.lower() for s in stems]
    found: dict[str, int] = {}
    for name in extra:
        stem = os.path.splitext(name)[0].lower()
        for s in lower:
            if stem.startswith(s) and len(stem) > len(s):
                tail = os.path.splitext(name)[0][len(s):]
                found[tail] = found.get(tail, 0) + 1
                break
    if not found:
        return None
    best, n = max(found.items(), key=lambda kv: kv[1])
    return best if n >= max(1, len(extra) // 2) else None


def unknown_folders(folder: Path, names: Iterable[str], valid: Sequence[str], checks: Checks) -> list[Finding]:
    """Sub-folders of a multi-dataset run that name no dataset (a typo would be skipped silently)."""
    import difflib

    names = sorted(names)
    if not names:
        return []
    hints = []
    lower = {v.lower(): v for v in valid}
    for n in names:  # compared without case: "cuhk-te1" is closest to "CUHK-TE-1"
        close = difflib.get_close_matches(n.lower(), list(lower), n=1, cutoff=0.6)
        hints.append(f"{n} (did you mean {lower[close[0]]}?)" if close else n)
    return [judged(
        "unknown-folders", f"{folder}: sub-folder(s) {', '.join(hints)} name no registered dataset", names,
        "Rename them to a dataset name (`dbdbench datasets`), or pass --accept unknown-folders to skip them",
        checks)]  # fmt: skip


def ambiguous_folders(pred_dir: Path, dirs: Sequence[Path], maps_here: Sequence[str], datasets: Sequence[str],
                      valid: Sequence[str], checks: Checks) -> list[Finding]:
    """Refuse a run folder whose maps could come from two places (``ambiguous-folders``), naming the folders;
    returns the accepted ones (warnings)."""
    registered = {n.lower() for n in valid}
    by_key: dict[str, list[str]] = {}
    for p in dirs:
        by_key.setdefault(p.name.lower(), []).append(p.name)
    found = []
    for names in by_key.values():
        if len(names) > 1 and names[0].lower() in registered:
            found.append(judged(
                "ambiguous-folders", f"{pred_dir}: sub-folders {', '.join(names)} name the same dataset", names,
                "Keep one of them", checks))  # fmt: skip
    dataset_dirs = [p.name for p in dirs if p.name.lower() in registered
                    and (not datasets or p.name.lower() in {d.lower() for d in datasets})]  # fmt: skip
    if maps_here and dataset_dirs:
        shown = ", ".join(maps_here[:3]) + (f" and {len(maps_here) - 3} more" if len(maps_here) > 3 else "")
        found.append(judged(
            "ambiguous-folders", f"{pred_dir}: holds maps ({shown}) beside the dataset sub-folder(s) "
            f"{', '.join(dataset_dirs)}: which are the predictions?", dataset_dirs,
            "Move the maps into their dataset's sub-folder, or remove the stale sub-folder (--accept "
            "ambiguous-folders scores the sub-folders)", checks))  # fmt: skip
    if any(f.severity == "error" for f in found):
        raise SanityError([f for f in found if f.severity == "error"])
    return found


def review_size(name: str, n_images: int | None, split: str | None, n_found: int, checks: Checks) -> list[Finding]:
    """A whole dataset (no ``split`` list) named while fewer GT files than the registry's ``n_images`` are on disk."""
    if split is not None or n_images is None or n_found >= n_images:
        return []
    return [judged(
        "partial-dataset", f"{name}: only {n_found} of its {n_images} GT files are on disk; a score on "
        f"them is not a score on {name}", [],
        "Complete the dataset (`dbdbench datasets --verify`), evaluate a listed split of it, or pass --accept "
        "partial-dataset to score the files found (n_images is recorded)", checks)]  # fmt: skip


def swapped_maps(value_findings: Sequence[Finding], files: Mapping[str, str], checks: Checks,
             pred_dir: str | Path) -> list[Finding]:
    """The ``swapped-arguments`` findings of the workers' Evaluators, judged with the user's checks and the files
    named (the range rules are judged by the folder review, from the same :mod:`dbdbench.values` rule)."""
    stems = [s for f in value_findings if f.code == "swapped-arguments" for s in f.files]
    if not stems:
        return []
    return [judged(
        "swapped-arguments", f"{pred_dir}: {len(stems)} binary map(s) beside graded GT masks: are the maps and the "
        "GT swapped?", [files.get(s, s) for s in stems], "Pass the folder of predicted maps (--accept "
        "swapped-arguments scores them as given)", checks)]  # fmt: skip
