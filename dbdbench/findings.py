"""The findings framework: what every input check of every entry point reports, and how it is settled.

A :class:`Finding` is one problem of the input: its code (one of :data:`CODES`, listed with its default,
fix and override in ``docs/refusals.md``), its severity, the files or images it concerns and the fix. An
**error** refuses the input (exit code 2 for the CLI, :class:`SanityError`, a ``ValueError``, for the API);
a **warning** is stored in ``Result.meta["warnings"]``. :class:`Checks` holds what the user allowed:
``accept`` scores despite a refusal of the named codes (recorded as a warning), ``strict`` turns every
warning into an error. :func:`settle` applies both.

The folder checks of ``dbdbench evaluate`` (:mod:`dbdbench.sanity`), the value rules of single arrays
(:mod:`dbdbench.values`, used by the CLI and by ``Evaluator.update`` / ``TorchEvaluator.update``) and the GT
integrity check (:mod:`dbdbench.gt.check`) all report through this module.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning"]

#: every finding code, whether it can be accepted, and a one-line description (docs/refusals.md)
CODES: dict[str, tuple[Severity, str]] = {
    "range-01": ("error", "8-bit maps that hold only the values 0 and 1 (a mask saved without * 255)"),
    "range-16bit-8bit-values": ("error", "16-bit files whose maximum is <= 255 (8-bit values in a 16-bit file)"),
    "range-few-levels": ("error", "8-bit maps whose maximum is a few grey levels (a [0, 1] map saved without * 255)"),
    "gt-range-01": ("error", "GT masks that hold only the values 0 and 1"),
    "swapped-arguments": ("error", "a binary map next to a graded mask: update(gt, pred) instead of update(pred, gt)"),
    "transposed": ("error", "maps whose width and height are the GT's swapped"),
    "aspect-ratio": ("error", "maps whose aspect ratio differs from their GT's (resizing would stretch them)"),
    "pseudo-colour": ("error", "colour maps that look like a pseudo-colour rendering (with --luminance)"),
    "inverted-maps": ("error", "maps whose mean MAE says white means the other class (check --pred-white)"),
    "mostly-missing": ("error", "more than half of the dataset's images have no prediction"),
    "unknown-folders": ("error", "sub-folders of a multi-dataset run that name no registered dataset"),
    "ambiguous-folders": ("error", "a run folder whose maps could come from two places (same dataset twice, maps "
                          "beside dataset sub-folders)"),
    "unread-files": ("error", "files in a maps folder whose format is not read (e.g. .webp)"),
    "maps-are-gt": ("error", "maps equal to their GT masks pixel for pixel (the GT folder passed as predictions?)"),
    "partial-dataset": ("error", "a whole dataset named while only part of its GT files is on disk"),
    "gt-inverted": ("error", "GT masks that are the registry's pinned masks with black and white swapped"),
    "gt-foreign": ("error", "GT masks that differ from the registry's pinned digests (dbdbench.gt.check)"),
    "rescaled": ("warning", "maps rescaled by --rescale-maps"),
    "constant-map": ("warning", "maps with one value everywhere"),
    "inverted-images": ("warning", "single maps whose own MAE says they are inverted"),
    "resized": ("warning", "maps resized to the GT size"),
    "missing": ("warning", "images without a prediction scored as empty maps (--allow-missing)"),
    "extra-files": ("warning", "map files that match no GT image (ignored)"),
    "pred-white-override": ("warning", "--pred-white overrides the folder's meta.json"),
    "luminance": ("warning", "colour maps converted to their luminance (--luminance)"),
    "colormap": ("warning", "colour maps read through the inverse of a matplotlib colormap (--colormap)"),
    "unrelated-maps": ("warning", "maps that look unrelated to their GT (mean per-image ROC AUC near 0.5: names "
                       "shifted?)"),
    # recorded by the scoring itself (dbdbench.metrics.reduce.protocol_warnings), not by this stage
    "zhao-empty-mask": ("warning", "zhao protocol: images with an empty in-focus mask, scored by Zhao et al.'s quirks"),
    "zhao-nan-f": ("warning", "zhao protocol: F = 0/0 = NaN where no image has a hit, so auc_fcurve is NaN"),
    "zhao-zero-map-last": ("warning", "zhao protocol: the last image's map is all zero; means divide by N - 1"),
}


class SanityError(ValueError):
    """An input check refused an input; the message names the files and the fix for every error."""

    def __init__(self, findings: Sequence[Finding]) -> None:
        self.findings = list(findings)
        super().__init__("\n".join(f.text() for f in self.findings))


@dataclass(frozen=True)
class Finding:
    """One problem of one input: its code, what it means, the files it concerns and how to fix or accept it."""

    code: str
    severity: Severity
    message: str
    files: tuple[str, ...] = ()
    fix: str = ""

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise ValueError(f"unknown finding code {self.code!r}; valid: {', '.join(CODES)}")
        if self.severity not in ("error", "warning"):
            raise ValueError(f"severity must be 'error' or 'warning', got {self.severity!r}")

    def text(self) -> str:
        """One paragraph: the message, up to 5 files, the fix."""
        shown = ", ".join(self.files[:5]) + (f" and {len(self.files) - 5} more" if len(self.files) > 5 else "")
        files = f" ({shown})" if shown else ""
        return f"{self.message}{files}" + (f". {self.fix}" if self.fix else "")

    def as_dict(self) -> dict[str, Any]:
        """The form stored in ``Result.meta["warnings"]``: code, message (with the fix) and all files."""
        return {"code": self.code, "message": self.message + (f". {self.fix}" if self.fix else ""),
                "files": list(self.files)}  # fmt: skip

    @classmethod
    def recorded(cls, warning: dict[str, Any]) -> Finding:
        """The warning finding of a stored ``{"code", "message", "files"}`` (:meth:`as_dict`; the fix is part
        of the stored message)."""
        return cls(warning["code"], "warning", warning["message"], tuple(warning["files"]))


@dataclass(frozen=True)
class Checks:
    """What the user allowed: fixes to apply and findings to accept (all off: refuse every risky input).

    Attributes
    ----------
    rescale_maps : bool
        Read 8-bit maps holding only 0/1 as 0/255 and 16-bit files holding 8-bit values as 8-bit.
    transpose_maps : bool
        Transpose maps whose width and height are the GT's swapped.
    rotate_maps : {"cw", "ccw"} or None
        Rotate maps whose width and height are the GT's swapped by 90 degrees clockwise or counter-clockwise.
    accept : frozenset of str
        Error codes to score anyway (recorded as warnings).
    strict : bool
        Turn every warning into an error.
    """

    rescale_maps: bool = False
    transpose_maps: bool = False
    rotate_maps: str | None = None
    accept: frozenset[str] = field(default_factory=frozenset)
    strict: bool = False

    def __post_init__(self) -> None:
        bad = sorted(set(self.accept) - {c for c, (sev, _) in CODES.items() if sev == "error"})
        if bad:
            valid = ", ".join(c for c, (sev, _) in CODES.items() if sev == "error")
            raise ValueError(f"unknown --accept code(s) {', '.join(bad)}; valid: {valid}")
        object.__setattr__(self, "accept", frozenset(self.accept))
        if self.rotate_maps not in (None, "cw", "ccw"):
            raise ValueError(f"rotate_maps must be 'cw' or 'ccw', got {self.rotate_maps!r}")
        if self.rotate_maps and self.transpose_maps:
            raise ValueError("pass either --transpose-maps or --rotate-maps, not both")


def judged(code: str, message: str, files: Iterable[str], fix: str, checks: Checks) -> Finding:
    """A finding of ``code`` with its registered severity, or a warning when the user accepted the code."""
    severity, _ = CODES[code]
    if severity == "error" and code in checks.accept:
        return Finding(code, "warning", f"{message} (accepted with --accept {code})", tuple(files))
    return Finding(code, severity, message, tuple(files), fix)


def merged(findings: Iterable[Finding]) -> list[Finding]:
    """Findings of the same code, severity, message and fix as one finding naming all their files, in order."""
    groups: dict[tuple[str, str, str, str], list[str]] = {}
    for f in findings:
        groups.setdefault((f.code, f.severity, f.message, f.fix), []).extend(f.files)
    return [Finding(code, sev, msg, tuple(dict.fromkeys(files)), fix)  # type: ignore[arg-type]
            for (code, sev, msg, fix), files in groups.items()]  # fmt: skip


def settle(findings: Sequence[Finding], checks: Checks) -> list[dict[str, Any]]:
    """Raise :class:`SanityError` for the errors (and, with ``strict``, the warnings); return the warnings' dicts."""
    errors = [f for f in findings if f.severity == "error"]
    if checks.strict:
        errors += [Finding(f.code, "error", f"{f.message} (--strict)", f.files, f.fix) for f in findings
                   if f.severity == "warning"]  # fmt: skip
    if errors:
        raise SanityError(errors)
    return [f.as_dict() for f in findings]
