"""What a paper table shows by default: the metric columns of each protocol and a caption in words.

Papers print three to five numbers per dataset; the protocols compute up to seventeen. The default column
set of a protocol (``Protocol.columns``) is what the papers that use it report; every other stored metric
is available on request (``metrics=[...]`` / ``--metrics``). The caption states the protocol's choices in words, so a
reader of the table knows what "F" means without looking the protocol up.

The adaptive scores (``MetricInfo.threshold == "adaptive"``, threshold ``min(2 mean(p), 1)``) are left out
of every default set except ``pysod``'s: with blur as the positive class and blur covering more than half
of many DBD images, ``2 mean(p)`` reaches 1 and the adaptive threshold keeps almost no pixel, so the score
says little about the map (HiFST on CUHK-TE-1: adaptive F 0.223 next to max F 0.914). ``pysod``
reproduces PySODMetrics, whose tables print the adaptive F, so it keeps it.

References
----------
.. [1] Jin et al., D-DFFNet, ICME 2023, Table I (MAE, F, IoU per dataset).
.. [2] Tang et al., DeFusionNet, IEEE TPAMI 2022, Table 1 (F, MAE per dataset).
.. [3] R. Achanta et al., "Frequency-tuned salient region detection", CVPR 2009 (the adaptive
   threshold ``2 mean``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

#: at most this many columns per dataset for a protocol without a default set
MAX_FALLBACK = 5


def default_metrics(protocol: str, present: Iterable[str]) -> list[str]:
    """The default columns of ``protocol`` that some result has.

    Protocols without a default set (reported protocols, custom ones) show the keys present in registry
    order, adaptive scores (``MetricInfo.threshold == "adaptive"``) last-resort excluded, at most
    :data:`MAX_FALLBACK` for runnable protocols. When none of a protocol's defaults is present, the
    fallback applies too.
    """
    from dbdbench.metrics import METRICS, PROTOCOLS

    present = set(present)
    columns = PROTOCOLS[protocol].columns if protocol in PROTOCOLS else ()
    chosen = [m for m in columns if m in present]
    if chosen:
        return chosen
    ordered = [m for m in METRICS if m in present]
    plain = [m for m in ordered if METRICS[m].threshold != "adaptive"] or ordered
    return plain if protocol.startswith("reported:") else plain[:MAX_FALLBACK]


# ------------------------------------------------------------------------------------------ captions

_NORMALIZE = {
    "none": "maps not normalised",
    "minmax": "maps min-max normalised per image",
    "max": "maps divided by their maximum",
    "mat2gray": "maps rescaled with MATLAB mat2gray",
}


def _num(value: float) -> str:
    """``0.5``, ``0.502``, ``0``, ``2``: at most four decimals, no trailing zeros."""
    return f"{value:.4f}".rstrip("0").rstrip(".") if value != round(value) else str(int(value))


def describe_settings(settings: Mapping[str, Any], metrics: Iterable[str]) -> str:
    """The protocol's choices that matter for ``metrics``, as one sentence of plain words.

    Uses the Unicode symbols ``≥``, ``>``, ``β²``; :func:`dbdbench.report._render.latex_text` turns them
    into LaTeX.
    """
    from dbdbench.metrics import METRICS
    from dbdbench.metrics.handlers import HANDLERS

    metrics = set(metrics)
    infos = [info for key, info in METRICS.items() if key in metrics]  # table order
    ge = ">" if settings.get("gt_strict") else "≥"
    positive = "blur" if settings.get("positive", "blur") == "blur" else "in-focus"
    parts = [f"{positive} class positive", f"GT {ge} {_num(float(settings.get('gt_threshold', 0.5)))}",
             _NORMALIZE.get(str(settings.get("normalize", "none")), f"maps normalised ({settings.get('normalize')})")]
    thresholds = settings.get("thresholds")
    n = len(thresholds) if thresholds else 256
    curves = any(info.threshold == "curve" for info in infos)
    if curves:
        parts.append(f"{n} thresholds (≥)")
    if any("beta2" in info.reads for info in infos):
        parts.append(f"F-beta with β² = {_num(float(settings.get('beta2', 0.3)))}")
    if any("wf_beta2" in info.reads for info in infos):
        parts.append(f"weighted F with β² = {_num(float(settings.get('wf_beta2', 1.0)))}")
    if curves:
        if settings.get("curve_average") == "pr":
            uses_f = any("curve_average" in info.reads for info in infos)
            parts.append("F from the mean precision and mean recall over images" if uses_f
                         else "per-image rates averaged over images")
        else:
            parts.append("curves averaged over images")
    handler = HANDLERS.get(str(settings.get("best_f", "curve")))
    if handler is not None and metrics & set(handler.overrides):
        parts.append(handler.caption)
    binary = [info.key for info in infos if info.threshold == "binary"]
    if binary:
        cmp = ">" if settings.get("binary_strict") else "≥"
        parts.append(f"F/IoU at threshold {cmp} {_num(float(settings.get('binary_threshold', 0.5)))}")
        if any(m.endswith("_pooled") for m in binary):
            parts.append("pooled = from dataset-summed counts, else per-image mean")
    if any(info.threshold == "adaptive" for info in infos):
        parts.append(f"adaptive threshold min({_num(float(settings.get('adaptive_factor', 2.0)))} mean, 1)")
    parts += [info.note for info in infos if info.note]
    return "; ".join(parts)


def protocol_settings(protocol: str, results: Iterable[Any]) -> dict[str, Any] | None:
    """The settings stored with the results of ``protocol`` or, if none stored, the registry's; None when
    the protocol only describes published numbers."""
    for r in results:
        if r.protocol == protocol and r.protocol_settings:
            return dict(r.protocol_settings)
    from dbdbench.metrics import list_protocols

    if protocol in list_protocols():
        from dbdbench.metrics import get_protocol

        return get_protocol(protocol).settings()
    return None
