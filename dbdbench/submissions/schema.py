"""The versioned schema of submission ``meta.json`` files and of the result files inside an entry.

Strict by design (unknown keys are errors, in the spirit of ``extra="forbid"``): a typo must fail CI rather
than silently drop a field. Registries (datasets, metrics, protocols) are looked up lazily so that this module
imports nothing heavy.

References
----------
.. [1] MTEB ``TaskMetadata`` (``extra="forbid"``) and the results repository's folder checks.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any

from dbdbench.results import SCHEMA, SCHEMA_VERSION
from dbdbench.settings import DECLARED_POLARITIES
from dbdbench.settings import POLARITIES as MAP_POLARITIES

META_SCHEMA = "dbdbench.submission"
META_VERSION = 1
RESULT_SCHEMA = SCHEMA  # the result JSON of dbdbench.results
RESULT_VERSIONS = (SCHEMA_VERSION,)
KINDS = ("reported", "rescored")
POLARITIES = DECLARED_POLARITIES  # what white may mean in submitted maps
CURVE_KEYS = ("thresholds", "precision", "recall", "fpr", "tpr", "f", "iou", "dice")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class SchemaError(ValueError):
    """A schema violation; the message names the key and the expected value."""


@dataclass(frozen=True)
class ReportedProtocol:
    """How one paper computed the numbers it published, when no runnable protocol reproduces it.

    ``labels`` maps each metric key to the paper's own column name, so outputs never pretend that, say,
    a paper's "AUC" is dbdbench's exact ROC area. ``primary`` is the score that orders the leaderboard.
    """

    name: str
    description: str
    metrics: tuple[str, ...]
    labels: dict[str, str] = field(default_factory=dict)
    primary: str = "max_f"


REPORTED_PROTOCOLS: dict[str, ReportedProtocol] = {
    "reported:defusionnet-tpami": ReportedProtocol(
        name="reported:defusionnet-tpami",
        description=(
            "Numbers of Tang et al., DeFusionNet, TPAMI 2022, Table 1 (methods run by the authors with the "
            "original implementations). F-beta with beta^2 = 0.3 (their eq. 11); the threshold rule is not "
            "stated (the group's public BR2Net code takes the maximum over 256 strict thresholds of F of "
            "mean P and mean R, hence the key max_f). 'AUC' is called the area under the ROC curve, but "
            "values near 0.6 next to F near 0.92 are inconsistent with an exact ROC area; the definition is "
            "unknown. MAE per their eq. 12. Not re-runnable."),
        metrics=("max_f", "mae", "auc"),
        labels={"max_f": "F-beta (paper)", "mae": "MAE (paper)", "auc": "'AUC' (paper, definition unclear)"},
    ),
}


def is_safe_name(name: str) -> bool:
    """A file or folder name made of letters, digits, ``-``, ``_`` and ``.``, without ``..``."""
    return bool(_SAFE_NAME.match(name)) and ".." not in name


def unsafe_path_reason(text: str) -> str | None:
    """Why ``text`` contains a machine path or a traversal, or None when it is safe.

    Every whitespace-separated token is checked: absolute POSIX/Windows paths, ``~`` home paths and
    ``..`` path segments are rejected; URLs are allowed.
    """
    for token in text.split():
        if _URL.match(token):
            continue
        if token.startswith(("/", "\\", "~/", "~\\")) or _DRIVE.match(token):
            return f"absolute path {token!r}"
        if re.search(r"(^|[/\\])\.\.([/\\]|$)", token):
            return f"path traversal ('..') in {token!r}"
    return None


_ABSOLUTE = re.compile(r"(?<!\S)(?:/|~[/\\]|[A-Za-z]:[/\\])\S*")


def bare_paths(value: Any) -> Any:
    """``value`` with every absolute path in its strings cut to its last component (``/a/b/maps:`` -> ``maps:``).

    The sanity stage names the map folder as it was given (often an absolute path); a submission keeps the
    message and drops the machine path.

    >>> bare_paths("/home/me/maps/ours: 2 map(s) hold only 0 and 1")
    'ours: 2 map(s) hold only 0 and 1'
    """
    if isinstance(value, list):
        return [bare_paths(v) for v in value]
    if not isinstance(value, str):
        return value

    def cut(m: re.Match) -> str:
        token = m.group(0)
        core = token.rstrip(":,;.)")
        name = PureWindowsPath(core).name if re.match(r"[A-Za-z]:", core) else PurePosixPath(core).name
        return (name or core.strip("/~")) + token[len(core) :]

    return _ABSOLUTE.sub(cut, value)


def bare_warnings(warnings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Recorded warnings (``{"code", "message", "files"}``) with :func:`bare_paths` applied to each value."""
    return [{k: bare_paths(v) for k, v in w.items()} for w in warnings]


def scan_strings(obj: Any, where: str = "") -> None:
    """Raise :class:`SchemaError` for the first key or string value anywhere in ``obj`` that is unsafe."""
    if isinstance(obj, str):
        reason = unsafe_path_reason(obj)
        if reason:
            raise SchemaError(f"{where or 'value'}: {reason}; store names or paths relative to the repository")
    elif isinstance(obj, dict):
        for key, value in obj.items():
            scan_strings(key, f"{where}key")
            scan_strings(value, f"{where}{key}." if isinstance(value, (dict, list)) else f"{where}{key}")
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            scan_strings(value, f"{where}[{i}]")


# ------------------------------------------------------------------------------------------ type checks


def _is_str(v: Any) -> bool:
    return isinstance(v, str) and v.strip() != ""


def _opt(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda v: v is None or check(v)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0


def _is_url(v: Any) -> bool:
    return isinstance(v, str) and bool(_URL.match(v))


def _is_str_list(v: Any) -> bool:
    return isinstance(v, list) and all(_is_str(x) for x in v)


#: meta.json key -> (required, check, what a valid value looks like)
META_FIELDS: dict[str, tuple[bool, Callable[[Any], bool], str]] = {
    "schema": (True, lambda v: v == META_SCHEMA, f"'{META_SCHEMA}'"),
    "schema_version": (True, lambda v: v == META_VERSION, f"{META_VERSION}"),
    "id": (True, _is_str, "the entry folder name"),
    "name": (True, _is_str, "the method's display name (equal to 'method' in every result file)"),
    "kind": (True, lambda v: v in KINDS, f"one of {KINDS}"),
    "authors": (True, lambda v: _is_str_list(v) and len(v) > 0, "a non-empty list of names"),
    "venue": (True, _is_str, "e.g. 'CVPR'"),
    "year": (True, lambda v: isinstance(v, int) and not isinstance(v, bool) and 1980 <= v <= 2100, "a year"),
    "paper_url": (True, _opt(_is_url), "an http(s) URL or null"),
    "code_url": (True, _opt(_is_url), "an http(s) URL or null"),
    "backbone": (True, _opt(_is_str), "e.g. 'VGG16', or null for hand-crafted methods"),
    "training_data": (True, _is_str_list, "a list of training sets ([] for hand-crafted methods)"),
    "parameters_m": (True, _opt(_is_number), "millions of parameters, or null when unknown"),
    "runtime_s": (True, _opt(_is_number), "seconds per image as published, or null when unknown"),
    "map_polarity": (True, lambda v: v in POLARITIES, f"one of {POLARITIES} (what white means in the maps)"),
    "licence": (True, _opt(_is_str), "the licence of the maps/code, or null when unknown"),
    "rescore": (False, lambda v: isinstance(v, dict), "an object (re-scored entries only)"),
    "notes": (False, _is_str, "free text"),
}
RESCORE_FIELDS: dict[str, tuple[bool, Callable[[Any], bool], str]] = {
    "maps": (True, lambda v: isinstance(v, dict) and all(_is_str(x) for x in v.values()),
             "{result file stem: map folder relative to --maps-root}"),
    "pred_white": (True, lambda v: v in MAP_POLARITIES, f"one of {MAP_POLARITIES}"),
    "command": (False, _is_str, "the command that produced the result files"),
    "weights_sha256": (False, lambda v: isinstance(v, str) and bool(_SHA256.fullmatch(v)),
                       "the SHA-256 (64 lowercase hex digits) of the weights file the maps were predicted with"),
}
SOURCE_FIELDS: dict[str, tuple[bool, Callable[[Any], bool], str]] = {
    "paper": (True, _is_str, "the citation of the paper the numbers come from"),
    "short": (True, _is_str, "a short name for tables, e.g. 'D-DFFNet (ICME 2023)'"),
    "table": (True, _is_str, "e.g. 'Table 1'"),
    "page": (True, _opt(lambda v: isinstance(v, int) and not isinstance(v, bool) and v > 0),
             "a page number, or null when the available copy has none"),
    "url": (False, _opt(_is_url), "an http(s) URL"),
    "note": (False, _is_str, "free text"),
}


def check_fields(obj: Any, fields: dict[str, tuple[bool, Callable[[Any], bool], str]], what: str) -> None:
    """Strict object check: every required key present, no unknown key, every value passing its check."""
    if not isinstance(obj, dict):
        raise SchemaError(f"{what} must be a JSON object, got {type(obj).__name__}")
    unknown = sorted(set(obj) - set(fields))
    if unknown:
        raise SchemaError(f"{what}: unknown key(s) {unknown}; allowed: {sorted(fields)}")
    for key, (required, check, expected) in fields.items():
        if key not in obj:
            if required:
                raise SchemaError(f"{what}: missing required field {key!r} ({expected})")
            continue
        if not check(obj[key]):
            raise SchemaError(f"{what}: field {key!r} = {obj[key]!r} is invalid; expected {expected}")


def validate_meta(meta: Any, entry_id: str) -> None:
    """Validate a ``meta.json`` object for the entry folder ``entry_id``."""
    check_fields(meta, META_FIELDS, "meta.json")
    scan_strings(meta)
    if meta["id"] != entry_id:
        raise SchemaError(f"meta.json: id {meta['id']!r} differs from the folder name {entry_id!r}")
    if meta["kind"] == "rescored":
        if "rescore" not in meta:
            raise SchemaError("meta.json: re-scored entries need 'rescore' {maps, pred_white}")
        check_fields(meta["rescore"], RESCORE_FIELDS, "meta.json rescore")
        if meta["map_polarity"] != meta["rescore"]["pred_white"]:
            raise SchemaError("meta.json: map_polarity and rescore.pred_white disagree")
    elif "rescore" in meta:
        raise SchemaError("meta.json: 'rescore' is only for kind 'rescored'")


# ------------------------------------------------------------------------------------------ result files

RESULT_FIELDS: dict[str, tuple[bool, Callable[[Any], bool], str]] = {
    "schema": (True, lambda v: v == RESULT_SCHEMA, f"'{RESULT_SCHEMA}'"),
    "schema_version": (True, lambda v: v in RESULT_VERSIONS, f"one of {RESULT_VERSIONS}"),
    "dbdbench_version": (False, _is_str, "the dbdbench version that wrote the file"),
    "protocol": (True, _is_str, "a registered or reported protocol name"),
    "protocol_settings": (False, lambda v: isinstance(v, dict), "an object"),
    "dataset": (True, _is_str, "a registered dataset name"),
    "method": (True, _is_str, "the method's display name"),
    "n_images": (False, _opt(lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0), "a count"),
    "n_empty_gt": (False, _opt(lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0), "a count"),
    "scores": (True, lambda v: isinstance(v, dict), "an object {metric: value} ({} for a curve-only entry)"),
    "curves": (False, lambda v: isinstance(v, dict), "an object of equal-length lists"),
    "per_image": (False, lambda v: isinstance(v, list), "a list of per-image records"),
    "meta": (True, lambda v: isinstance(v, dict), "an object with 'kind'"),
}
REPORTED_META_FIELDS: dict[str, tuple[bool, Callable[[Any], bool], str]] = {
    "kind": (True, lambda v: v == "reported", "'reported'"),
    "source": (True, lambda v: isinstance(v, dict), "{paper, short, table, page}"),
}
RESCORED_META_FIELDS: dict[str, tuple[bool, Callable[[Any], bool], str]] = {
    "kind": (True, lambda v: v == "rescored", "'rescored'"),
    "pred_dir": (True, lambda v: _is_str(v) and is_safe_name(v), "the map folder's name (no path)"),
    "pred_white": (True, lambda v: v in MAP_POLARITIES, f"one of {MAP_POLARITIES}"),
    "files_sha256": (True, lambda v: isinstance(v, dict) and len(v) > 0 and all(
        is_safe_name(k) and isinstance(h, str) and bool(_SHA256.match(h)) for k, h in v.items()),
        "{map file name: sha256 hex}"),
    "created": (False, _is_str, "an ISO time"),
    "data_root": (False, _is_str, "never stored (machine path)"),
    "resized": (False, lambda v: isinstance(v, (int, list)), "how many maps were resized"),
    "warnings": (False, lambda v: isinstance(v, list) and all(
        isinstance(w, dict) and _is_str(w.get("message")) for w in v),
        "a list of {code, message, files} recorded by the sanity stage"),
    "map_reading": (False, lambda v: isinstance(v, dict), "the map-reading options the maps were scored with"),
}
#: the values each map-reading option (the keys of :data:`dbdbench.evaluate.MAP_READING`) may take
MAP_READING_VALUES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "rescale_maps": (lambda v: isinstance(v, bool), "true or false (--rescale-maps)"),
    "transpose_maps": (lambda v: isinstance(v, bool), "true or false (--transpose-maps)"),
    "rotate_maps": (lambda v: v in (None, "cw", "ccw"), "'cw', 'ccw' or null (--rotate-maps)"),
    "luminance": (lambda v: isinstance(v, bool), "true or false (--luminance)"),
    "colormap": (_opt(_is_str), "a matplotlib colormap name or null (--colormap)"),
}


def check_map_reading(meta: dict[str, Any], where: str) -> dict[str, Any]:
    """The map-reading options a re-scored result's ``meta`` records (:func:`dbdbench.evaluate.map_reading`),
    complete and checked value by value; ``where`` names the result in every message.

    A result without ``map_reading`` reads as the defaults unless its warnings show that an option changed
    maps (then it cannot be re-scored as its author scored it).

    Raises
    ------
    SchemaError
        An unknown option, an invalid value, ``luminance`` with ``colormap``, or options used but not recorded.
    """
    from dbdbench.loading import map_reading  # lazily: this module imports nothing heavy

    try:
        reading = map_reading(meta, where)
    except ValueError as exc:
        raise SchemaError(str(exc)) from None
    for key, value in reading.items():
        check, expected = MAP_READING_VALUES[key]
        if not check(value):
            raise SchemaError(f"{where}: map_reading.{key} = {value!r} is invalid; expected {expected}")
    if reading["luminance"] and reading["colormap"] is not None:
        raise SchemaError(f"{where}: map_reading has both luminance and colormap; maps are read with one of them")
    return reading


def _registries() -> tuple[Any, Any, Any]:
    """The dataset registry module, the metric table and the protocol lister, imported lazily."""
    from dbdbench import datasets, metrics

    return datasets, metrics.METRICS, metrics


def allowed_metrics(protocol: str, kind: str) -> tuple[set[str], set[str]]:
    """(allowed metric keys, required metric keys) for a result under ``protocol``.

    Reported numbers may be any subset of the protocol's metrics (papers print a few columns); re-scored
    results must carry every metric of their protocol.
    """
    _, metric_table, metrics_mod = _registries()
    if protocol in REPORTED_PROTOCOLS:
        if kind != "reported":
            raise SchemaError(f"protocol {protocol!r} only describes published numbers; re-score under one of "
                              f"{metrics_mod.list_protocols()}")
        return set(REPORTED_PROTOCOLS[protocol].metrics), set()
    if protocol not in metrics_mod.list_protocols():
        raise SchemaError(f"unknown protocol {protocol!r}; valid: {metrics_mod.list_protocols()} or "
                          f"{sorted(REPORTED_PROTOCOLS)}")
    proto_metrics = set(metrics_mod.get_protocol(protocol).metrics) & set(metric_table)
    return (proto_metrics, set() if kind == "reported" else proto_metrics)


def validate_result(result: Any, stem: str, meta: dict[str, Any]) -> None:
    """Validate one result file named ``<stem>.json`` of the entry described by ``meta``."""
    check_fields(result, RESULT_FIELDS, "result")
    scan_strings(result)
    dataset, _, stem_protocol = stem.partition(".")
    if result["dataset"] != dataset:
        raise SchemaError(f"file name says dataset {dataset!r} but the file has dataset {result['dataset']!r}; "
                          "name result files <DATASET>.json")
    if stem_protocol and result["protocol"] != stem_protocol:
        raise SchemaError(f"file name says protocol {stem_protocol!r} but the file has {result['protocol']!r}")
    datasets_mod, metric_table, _ = _registries()
    known = datasets_mod.list_datasets()
    if dataset not in known:
        raise SchemaError(f"unknown dataset {dataset!r}; registered: {known}")
    n_expected = datasets_mod.get_dataset(dataset).n_images
    if result.get("n_images") is not None and n_expected and result["n_images"] != n_expected:
        raise SchemaError(f"n_images {result['n_images']} differs from the {n_expected} images of {dataset}")
    if result["method"] != meta["name"]:
        raise SchemaError(f"method {result['method']!r} differs from meta.json name {meta['name']!r}")
    kind = result["meta"].get("kind")
    if kind != meta["kind"]:
        raise SchemaError(f"meta.kind {kind!r} differs from meta.json kind {meta['kind']!r}")
    if kind == "reported":
        check_fields(result["meta"], REPORTED_META_FIELDS, "result meta")
        check_fields(result["meta"]["source"], SOURCE_FIELDS, "result meta.source")
    else:
        check_fields(result["meta"], RESCORED_META_FIELDS, "result meta")
        if "data_root" in result["meta"]:
            raise SchemaError("result meta: 'data_root' is a machine path; drop it before committing")
        if "map_reading" in result["meta"]:
            check_map_reading(result["meta"], "result meta")
    _check_scores(result["scores"], result["protocol"], kind, metric_table)
    _check_curves(result.get("curves") or {})
    if not result["scores"]:
        _check_curve_only(result, kind)
    _check_per_image(result.get("per_image") or [], metric_table)


def _check_scores(scores: dict[str, Any], protocol: str, kind: str, metric_table: dict[str, Any]) -> None:
    unknown = sorted(set(scores) - set(metric_table))
    if unknown:
        raise SchemaError(f"unknown metric key(s) {unknown}; known: {sorted(metric_table)}")
    allowed, required = allowed_metrics(protocol, kind)
    if set(scores) - allowed:
        raise SchemaError(f"metric(s) {sorted(set(scores) - allowed)} are not part of protocol {protocol!r} "
                          f"({sorted(allowed)})")
    if required - set(scores):
        raise SchemaError(f"missing metric(s) {sorted(required - set(scores))} of protocol {protocol!r}; a "
                          "re-scored result carries every metric its protocol reports: re-score it from its maps "
                          "(dbdbench leaderboard --rescore --maps-root MAPS)")
    for key, value in scores.items():
        if not _in_unit(value):
            raise SchemaError(f"score {key} = {value!r} is outside [0, 1]")


#: curve pairs a curve-only entry may carry (each one is a figure): (x, y)
PLOTTABLE = (("recall", "precision"), ("fpr", "tpr"), ("fpr", "recall"), ("thresholds", "f"))


def _check_curve_only(result: dict[str, Any], kind: str) -> None:
    """A result without scalar scores: allowed for published curves (kind reported) that hold a drawable
    pair, e.g. the precision-recall curves a paper published as a figure's data."""
    if kind != "reported":
        raise SchemaError("scores is empty; only reported entries may carry curves without scores (re-scored "
                          "results carry every metric of their protocol)")
    curves = result.get("curves") or {}
    if not any(x in curves and y in curves and len(curves[x]) > 0 for x, y in PLOTTABLE):
        raise SchemaError("scores is empty and curves hold no drawable pair; a curve-only entry needs one of "
                          + ", ".join(f"{x}+{y}" for x, y in PLOTTABLE))


def _in_unit(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and (
        0.0 <= value <= 1.0)


def _is_threshold(value: Any) -> bool:
    return _in_unit(value) or value == 256 / 255


def _check_curves(curves: dict[str, Any]) -> None:
    unknown = sorted(set(curves) - set(CURVE_KEYS))
    if unknown:
        raise SchemaError(f"curves: unknown key(s) {unknown}; allowed: {list(CURVE_KEYS)}")
    lengths = {key: len(v) if isinstance(v, list) else -1 for key, v in curves.items()}
    if len(set(lengths.values())) > 1 or -1 in lengths.values():
        raise SchemaError(f"curves must be lists of equal length, got lengths {lengths}")
    for key, values in curves.items():
        # thresholds may end with the "nothing positive" end point 256/255 (protocol dbdbench)
        ok = _is_threshold if key == "thresholds" else _in_unit
        bad = [v for v in values if not ok(v)]
        if bad:
            raise SchemaError(f"curves.{key} has a value {bad[0]!r} outside [0, 1]")
    t = curves.get("thresholds", [])
    if any(b < a for a, b in zip(t, t[1:], strict=False)):
        raise SchemaError("curves.thresholds must be in ascending order")


def _check_per_image(records: list[Any], metric_table: dict[str, Any]) -> None:
    for i, rec in enumerate(records):
        if not isinstance(rec, dict) or not _is_str(rec.get("name")) or not is_safe_name(rec["name"]):
            raise SchemaError(f"per_image[{i}] needs a 'name' that is a bare file stem")
        for key, value in rec.items():
            if key == "name":
                continue
            if key in ("empty_gt", "full_gt", "resized"):
                if not isinstance(value, bool):
                    raise SchemaError(f"per_image[{i}].{key} must be true/false")
            elif key not in metric_table and key != "best_f":  # best_f: Zhao et al.'s per-image best F
                raise SchemaError(f"per_image[{i}]: unknown key {key!r}")
            elif value is not None and not _in_unit(value):
                raise SchemaError(f"per_image[{i}].{key} = {value!r} is outside [0, 1]")
