"""Batches of torch tensors in, per-image states out, records back: the plumbing around the torch kernel.

:func:`batch_states` checks and splits a batch (a (B, 1, H, W) or (B, H, W) tensor, a padded batch with
per-image sizes, or a list of differently sized maps), scores each group of same-size images with
:func:`dbdbench.metrics.torch_kernel.score_batch` and returns a dict of per-image state tensors, the form
in which both :class:`~dbdbench.metrics.torch_evaluator.TorchEvaluator` and the ``torchmetrics`` variant
accumulate (and the latter syncs across processes). :func:`records_from_states` turns the concatenated
states into the :class:`~dbdbench.metrics.image.ImageRecord` list that the numpy ``Evaluator`` reduces.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from dbdbench.findings import Checks, Finding, judged, settle
from dbdbench.metrics.counts import Counts, cumulative_rows
from dbdbench.metrics.handlers import get_handler
from dbdbench.metrics.image import ImageRecord, map_terms, needs_map, score_canonical
from dbdbench.metrics.info import image_terms
from dbdbench.metrics.protocols import Protocol
from dbdbench.metrics.steps import canonical_pair, table_terms
from dbdbench.metrics.torch_kernel import BAD_GT, BAD_PRED, OK, score_batch
from dbdbench.values import FEW_LEVELS, GRADED_SHARE, RANGE_TEXT, swapped_finding

PRED_DTYPES = (torch.uint8, torch.bool, torch.float16, torch.bfloat16, torch.float32, torch.float64)
GT_DTYPES = (torch.bool, torch.uint8, torch.float16, torch.float32, torch.float64)
STATE_KEYS = ("hist", "single", "mae", "status", "bounds", "extra", "ids")
#: status codes of the value rules (:mod:`dbdbench.values`), set at the input boundary after scoring: the image
#: is scored as given, and ``compute()`` refuses it or, where the code is accepted, records a warning
VALUE_STATUS = {3: "range-01", 4: "range-few-levels", 5: "swapped-arguments"}
#: score CPU tensors with the numpy kernel on their memory (faster there than the batched torch kernel, with
#: no float64 copies of whole batches); the torch kernel then runs on other devices only
NUMPY_ON_CPU = True


def extra_layout(proto: Protocol, structure: frozenset) -> list[tuple[str, int]]:
    """Columns of the ``extra`` state (the :func:`~dbdbench.metrics.image.map_terms` of each image): (key, width).

    Keys of ``ImageRecord.extra``, then ``curve_counts`` (present flag, ``tp``, ``fp``, ``fg``, ``bg``) and
    ``zero_map`` where the protocol has Zhao et al.'s empty-mask and zero-map rules.
    """
    handler = get_handler(proto.best_f)
    layout = [] if handler is None else [(handler.key, 1)]
    layout += [(term.key, term.width) for term in image_terms(structure)]
    if proto.empty_mask == "zhao":
        layout.append(("curve_counts", 2 * (proto.n_levels + 1) + 3))
    if proto.zero_maps == "zhao":
        layout.append(("zero_map", 1))
    return layout


def _pack(extra: dict, curve_counts: Counts | None, zero_map: bool, layout) -> np.ndarray:
    cols: list[np.ndarray] = []
    for key, width in layout:
        if key == "curve_counts":
            c = curve_counts
            cols.append(np.zeros(width) if c is None else np.concatenate([[1.0], c.tp, c.fp, [c.fg, c.bg]]))
        elif key == "zero_map":
            cols.append(np.array([float(zero_map)]))
        else:
            cols.append(np.ravel(np.asarray(extra[key], dtype=np.float64)))
    return np.concatenate(cols)


def _unpack(row: np.ndarray, layout) -> tuple[dict, Counts | None, bool]:
    extra, curve_counts, zero_map, col = {}, None, False, 0
    for key, width in layout:
        vals = row[col : col + width]
        col += width
        if key == "curve_counts":
            if vals[0]:
                k = (width - 3) // 2
                tp, fp = vals[1 : 1 + k].astype(np.int64), vals[1 + k : 1 + 2 * k].astype(np.int64)
                curve_counts = Counts(tp=tp, fp=fp, fg=int(vals[-2]), bg=int(vals[-1]))
        elif key == "zero_map":
            zero_map = bool(vals[0])
        else:
            extra[key] = vals.copy() if width > 1 else float(vals[0])
    return extra, curve_counts, zero_map


def _as_images(x, what: str) -> list[torch.Tensor] | torch.Tensor:
    """A (B, H, W) tensor, or a list of (H, W) tensors; channel dimensions of size 1 are dropped."""
    if isinstance(x, (list, tuple)):
        out = []
        for i, t in enumerate(x):
            t = torch.as_tensor(t)
            if t.ndim == 3 and t.shape[0] == 1:
                t = t[0]
            if t.ndim != 2:
                raise ValueError(f"{what}[{i}] has shape {tuple(t.shape)}; give (H, W) or (1, H, W) maps")
            out.append(t)
        return out
    x = torch.as_tensor(x)
    if x.ndim == 4 and x.shape[1] == 1:
        x = x[:, 0]
    elif x.ndim == 2:
        x = x[None]
    if x.ndim != 3:
        raise ValueError(f"{what} has shape {tuple(x.shape)}; give (B, 1, H, W) or (B, H, W) batches of gray maps "
                         "(convert colour maps to gray first)")
    return x


def _check_dtypes(pred: torch.Tensor, gt: torch.Tensor, from_logits: bool) -> None:
    if from_logits and not pred.is_floating_point():
        raise ValueError(f"from_logits=True needs float logits, got dtype {pred.dtype}")
    if pred.dtype not in PRED_DTYPES:
        raise ValueError(f"prediction has dtype {pred.dtype}; use uint8, bool or float in [0, 1] (or logits with "
                         "from_logits=True); convert uint16 maps to float with x / 65535 (x / 255 if they hold "
                         "8-bit values)")
    if gt.dtype not in GT_DTYPES:
        raise ValueError(f"ground truth has dtype {gt.dtype}; use bool, uint8 or float in [0, 1]")


def _prepare_pred(pred: torch.Tensor, from_logits: bool) -> torch.Tensor:
    pred = pred.detach()
    if pred.dtype == torch.bfloat16:  # numpy has no bfloat16: score the exact float32 values
        pred = pred.float()
    return torch.sigmoid(pred) if from_logits else pred


def _groups(preds, gts, sizes) -> list[tuple[list[int], torch.Tensor, torch.Tensor, tuple[int, int]]]:
    """Same-size groups: (positions in the batch, flat maps (b, h*w), flat masks (b, h*w), (h, w))."""
    if isinstance(preds, list) or isinstance(gts, list):
        preds = list(preds) if isinstance(preds, list) else list(preds.unbind(0))
        gts = list(gts) if isinstance(gts, list) else list(gts.unbind(0))
        if len(preds) != len(gts):
            raise ValueError(f"{len(preds)} predictions but {len(gts)} masks")
        if sizes is not None:
            raise ValueError("sizes= is for padded batches; a list of maps carries its own sizes")
        shapes = [(*p.shape, p.dtype, g.dtype) for p, g in zip(preds, gts, strict=True)]  # maps keep their dtype
    else:
        if preds.shape[0] != gts.shape[0]:
            raise ValueError(f"{preds.shape[0]} predictions but {gts.shape[0]} masks")
        shapes = _padded_shapes(preds.shape, sizes)
    for i, (p, g) in enumerate(zip(preds, gts, strict=True)):
        if tuple(p.shape) != tuple(g.shape):
            raise ValueError(f"image {i}: shape mismatch: prediction {tuple(p.shape)} vs ground truth "
                             f"{tuple(g.shape)}; resize the prediction to the GT size")
    out = []
    for key in dict.fromkeys(shapes):
        idx = [i for i, s in enumerate(shapes) if s == key]
        h, w = key[:2]
        shape = (h, w)
        if h * w == 0:
            raise ValueError(f"image {idx[0]} is empty (shape {shape})")
        if isinstance(preds, list):
            p = torch.stack([preds[i] for i in idx]).reshape(len(idx), h * w)
            g = torch.stack([gts[i].to(preds[i].device) for i in idx]).reshape(len(idx), h * w)
        elif len(idx) == len(shapes) and shape == tuple(preds.shape[1:]):
            p, g = preds.reshape(len(idx), h * w), gts.to(preds.device).reshape(len(idx), h * w)
        else:
            sel = torch.as_tensor(idx, device=preds.device)
            p = preds.index_select(0, sel)[:, :h, :w].reshape(len(idx), h * w)
            g = gts.to(preds.device).index_select(0, sel)[:, :h, :w].reshape(len(idx), h * w)
        out.append((idx, p, g, shape))
    return out


def _padded_shapes(shape: torch.Size, sizes) -> list[tuple[int, int]]:
    b, h, w = shape
    if sizes is None:
        return [(h, w)] * b
    sizes = [tuple(int(v) for v in s) for s in (sizes.tolist() if torch.is_tensor(sizes) else sizes)]
    if len(sizes) != b or any(len(s) != 2 for s in sizes):
        raise ValueError(f"sizes must give (height, width) for each of the {b} images, got {sizes}")
    for i, (sh, sw) in enumerate(sizes):
        if not (0 < sh <= h and 0 < sw <= w):
            raise ValueError(f"image {i}: size {(sh, sw)} does not fit the padded batch ({h}, {w})")
    return sizes


def batch_states(preds, gts, proto: Protocol, structure: frozenset, ids, *, auto_ids: tuple[int, int, int] = (0, 1, 0),
                 from_logits: bool = False, sizes=None) -> dict[str, torch.Tensor]:
    """Score a batch; returns the per-image states (:data:`STATE_KEYS`) in batch order, on the maps' device.

    ``ids`` (B,) ints name each image (``image{id:05d}``) and order the records; None gives image ``k`` of
    the batch the id ``(first + k) * step + offset`` for ``auto_ids = (first, step, offset)``, made on the
    device. The maps in ``preds`` keep their values: the result equals the numpy ``Evaluator`` fed the same
    maps (after the sigmoid when ``from_logits``), image by image.
    """
    preds, gts = _as_images(preds, "preds"), _as_images(gts, "gts")
    groups = _groups(preds, gts, sizes)
    layout = extra_layout(proto, structure)
    parts, order = [], []
    for idx, p, g, shape in groups:
        _check_dtypes(p, g, from_logits)
        g = _gt_as_mask(g)
        hi = p.amax(dim=1) if p.dtype == torch.uint8 else None  # the value rules read the raw 8-bit maximum
        p = _prepare_pred(p, from_logits)
        if NUMPY_ON_CPU and p.device.type == "cpu":
            part = numpy_states(p, g, shape, proto, structure, layout)
        else:
            stats, p_norm, g_bin = score_batch(p, g, proto)
            extra = _host_extras(p_norm, g_bin, stats.status, shape, proto, structure, layout)
            part = {"hist": stats.hist, "single": stats.single, "mae": stats.mae, "status": stats.status,
                    "bounds": stats.bounds, "extra": extra}
        part["status"] = _value_status(hi, g, part["status"], part["hist"])
        parts.append(part)
        order += idx
    states = parts[0] if len(parts) == 1 else {k: torch.cat([part[k] for part in parts]) for k in parts[0]}
    if order != sorted(order):  # back to batch order
        inverse = torch.as_tensor(np.argsort(order), device=states["mae"].device)
        states = {k: v.index_select(0, inverse) for k, v in states.items()}
    device = states["mae"].device
    if ids is None:
        first, step, offset = auto_ids
        if device.type == "cpu":  # numpy's arange costs a fraction of torch's here
            ids = torch.from_numpy((np.arange(len(order), dtype=np.int64) + first) * step + offset)
        else:
            ids = (torch.arange(len(order), device=device) + first) * step + offset
    ids = torch.as_tensor(ids, dtype=torch.int64).to(device, non_blocking=True).reshape(-1)
    if ids.shape[0] != len(order):
        raise ValueError(f"ids has {ids.shape[0]} entries for {len(order)} images")
    states["ids"] = ids
    return states


def _gt_as_mask(g: torch.Tensor) -> torch.Tensor:
    """:func:`dbdbench.values.gt_as_mask` on rows, on the device: 8-bit masks whose maximum is 1 become 0/255."""
    if g.dtype != torch.uint8:
        return g
    return torch.where(g.amax(dim=1, keepdim=True) <= 1, g * 255, g)


def _value_status(hi: torch.Tensor | None, g: torch.Tensor, status: torch.Tensor, hist: torch.Tensor) -> torch.Tensor:
    """The kernel's status with the value rules of :mod:`dbdbench.values` (:data:`VALUE_STATUS`), per image;
    ``hi``: the maximum of each 8-bit map (None for other dtypes)."""
    ok = status == OK
    if hi is not None:
        hi = hi.to(status.device)
        status = torch.where(ok & (hi == 1), 3, status)
        status = torch.where(ok & (hi > 1) & (hi <= FEW_LEVELS), 4, status)
    if g.dtype != torch.bool:
        n = hist.shape[1] // 2
        binary = ((hist[:, :n] + hist[:, n:]) > 0).sum(dim=1) <= 2
        if g.device.type != "cpu" or bool(binary.any()):  # on the CPU a look costs nothing and spares the pass
            full = 255 if g.dtype == torch.uint8 else 1.0
            graded = ((g > 0) & (g < full)).sum(dim=1) > GRADED_SHARE * g.shape[1]
            status = torch.where((status == OK) & binary & graded, 5, status)
    return status


def value_findings(status: np.ndarray, ids: np.ndarray, checks: Checks) -> list[Finding]:
    """The findings of the value status codes (``compute()``): errors unless accepted, with the images named."""
    out = []
    for value, code in VALUE_STATUS.items():
        names = [f"image{i:05d}" for i in np.sort(ids[status == value])]
        if not names:
            continue
        if code == "swapped-arguments":
            out.append(swapped_finding(names, checks))
        else:
            what, fix, _ = RANGE_TEXT[code]
            out.append(judged(code, what, names, fix, checks))
    return out


def _host_extras(p: torch.Tensor, g: torch.Tensor, status: torch.Tensor, shape: tuple[int, int],
                 proto: Protocol, structure: frozenset, layout: list[tuple[str, int]]) -> torch.Tensor:
    """The ``extra`` columns: :func:`~dbdbench.metrics.image.map_terms` on the host (one copy of the batch)."""
    width = sum(w for _, w in layout)
    if not needs_map(proto, structure):
        return torch.zeros((p.shape[0], width), dtype=torch.float64, device=p.device)
    out = np.zeros((p.shape[0], width), dtype=np.float64)
    p_host, g_host, ok = p.cpu().numpy(), g.cpu().numpy(), status.cpu().numpy() == OK
    for i in np.flatnonzero(ok):
        out[i] = _pack(*map_terms(p_host[i].reshape(shape), g_host[i].reshape(shape), proto, structure), layout)
    return torch.from_numpy(out).to(p.device)


def numpy_states(pred: torch.Tensor, gt: torch.Tensor, shape: tuple[int, int], proto: Protocol,
                 structure: frozenset, layout: list[tuple[str, int]]) -> dict[str, torch.Tensor]:
    """The states of b CPU images (``pred``, ``gt`` (b, h*w)) from the numpy kernel on the tensors' memory.

    8-bit and bool maps go through :func:`~dbdbench.metrics.steps.table_terms` as one batch, float maps
    through :func:`~dbdbench.metrics.image.score_canonical` one by one: the numpy ``Evaluator``'s own steps, so
    the states are its numbers by construction. Maps that fail the input check are left out and reported by
    ``compute()``, as on other devices.
    """
    maps, masks = pred.numpy(), gt.detach().numpy()
    b, n = len(maps), proto.n_levels
    st = {"hist": np.zeros((b, 2 * n), dtype=np.int64), "single": np.zeros((b, 8), dtype=np.int64),
          "mae": np.zeros(b, dtype=np.float64), "status": np.full(b, OK, dtype=np.int64),
          "bounds": np.zeros((b, 4), dtype=np.float64),
          "extra": np.zeros((b, sum(w for _, w in layout)), dtype=np.float64)}
    if maps.dtype in (np.uint8, np.bool_):
        _check_rows(maps, masks, st["bounds"], st["status"])
        ok = np.flatnonzero(st["status"] == OK)
        p8, g = canonical_pair(maps[ok] if len(ok) < b else maps, masks[ok] if len(ok) < b else masks, proto)
        p8, g = np.ascontiguousarray(p8), np.ascontiguousarray(g)
        terms = table_terms(p8, g, proto)
        if len(ok) == b:  # every map passed: the batch's arrays are the states
            st["hist"], st["single"], st["mae"] = terms.hist, terms.single, terms.mae
        else:
            st["hist"][ok], st["single"][ok], st["mae"][ok] = terms.hist, terms.single, terms.mae
        for j, i in enumerate(ok if layout else ()):
            p_map = terms.tables[j].p.take(p8[j]).reshape(shape)
            st["extra"][i] = _pack(*map_terms(p_map, g[j].reshape(shape), proto, structure), layout)
    else:
        for i in range(b):  # checked and scored image by image, while the image is in the cache
            if _check_rows(maps[i : i + 1], masks[i : i + 1], st["bounds"][i : i + 1], st["status"][i : i + 1]):
                p, g = canonical_pair(maps[i].reshape(shape), masks[i].reshape(shape), proto)
                _store(st, i, score_canonical(p, g, proto, structure=structure), layout)
    return {k: torch.from_numpy(v) for k, v in st.items()}


def _store(st: dict[str, np.ndarray], i: int, rec: ImageRecord, layout: list[tuple[str, int]]) -> None:
    """Row ``i`` of the states from a record."""
    n = st["hist"].shape[1] // 2
    c = rec.counts
    np.subtract(c.fp[:-1], c.fp[1:], out=st["hist"][i, :n])  # back from cumulative counts to the histogram
    np.subtract(c.tp[:-1], c.tp[1:], out=st["hist"][i, n:])
    st["single"][i] = (*rec.adaptive, *rec.binary)
    st["mae"][i] = rec.mae
    if layout:
        st["extra"][i] = _pack(rec.extra, rec.curve_counts, rec.zero_map, layout)


def _check_rows(maps: np.ndarray, masks: np.ndarray, bounds: np.ndarray, status: np.ndarray) -> bool:
    """The range and NaN checks of ``check_map`` on float rows: fills ``bounds`` (min and max of map and mask)
    and ``status`` in place; returns whether every row passed. Integer and bool rows always pass (bounds 0)."""
    for col, arr, code in ((0, maps, BAD_PRED), (2, masks, BAD_GT)):
        if arr.dtype.kind == "f":
            lo, hi = arr.min(axis=1), arr.max(axis=1)  # NaN propagates and fails both comparisons below
            bounds[:, col], bounds[:, col + 1] = lo, hi
            status[(status == OK) & ~((lo >= 0) & (hi <= 1))] = code
    return bool((status == OK).all())


def empty_states(proto: Protocol, layout: list[tuple[str, int]], device) -> dict[str, torch.Tensor]:
    """Zero-image states of the right dtypes and widths (what a process without images contributes)."""
    widths = {"hist": (2 * proto.n_levels,), "single": (8,), "bounds": (4,), "extra": (sum(w for _, w in layout),)}
    dtypes = {"mae": torch.float64, "bounds": torch.float64, "extra": torch.float64}
    return {k: torch.zeros((0, *widths.get(k, ())), dtype=dtypes.get(k, torch.int64), device=device)
            for k in STATE_KEYS}


def concat_states(batches: Sequence[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """One dict of states from per-batch dicts."""
    return {k: torch.cat([b[k] for b in batches]) for k in STATE_KEYS}


def records_from_states(states: dict[str, torch.Tensor], proto: Protocol, layout: list[tuple[str, int]], *,
                        checks: Checks | None = None, findings: list[Finding] | None = None) -> list[ImageRecord]:
    """Records in ``ids`` order (one host copy); refuses repeated ids and maps that failed the input check.

    The value rules' findings (:func:`value_findings`) are settled with ``checks``: errors raise
    :class:`~dbdbench.findings.SanityError`, warnings are appended to ``findings``.
    """
    host = {k: v.detach().cpu().numpy() for k, v in states.items()}
    ids = host["ids"]
    order = np.argsort(ids, kind="stable")
    uniq, counts = np.unique(ids, return_counts=True)
    if (counts > 1).any():
        raise ValueError(f"image ids seen more than once: {uniq[counts > 1][:10].tolist()}; give each image one "
                         "id (a DistributedSampler pads its last batch with repeated images: shard without "
                         "padding)")
    _raise_on_bad(host, ids)
    found = value_findings(host["status"], ids, checks or Checks())
    settle(found, checks or Checks())
    if findings is not None:
        findings += found
    tp, fp = cumulative_rows(host["hist"], proto.n_levels)  # every image's curve counts at once
    fg, bg = tp[:, 0].tolist(), fp[:, 0].tolist()
    single, mae, names = host["single"].tolist(), host["mae"].tolist(), [f"image{i:05d}" for i in ids.tolist()]
    records = []
    for i in order:
        extra, curve_counts, zero_map = _unpack(host["extra"][i], layout)
        records.append(ImageRecord(names[i], Counts(tp=tp[i], fp=fp[i], fg=fg[i], bg=bg[i]), tuple(single[i][:4]),
                                   tuple(single[i][4:]), mae[i], extra, curve_counts=curve_counts, zero_map=zero_map))
    return records


def _raise_on_bad(host: dict[str, np.ndarray], ids: np.ndarray) -> None:
    bad = np.flatnonzero((host["status"] == BAD_PRED) | (host["status"] == BAD_GT))
    if not len(bad):
        return
    lines = []
    for i in bad[:5]:
        lo, hi, g_lo, g_hi = host["bounds"][i]
        if host["status"][i] == BAD_PRED:
            lines.append(f"image{ids[i]:05d}: prediction has values in [{lo:g}, {hi:g}] (NaN or infinite values, "
                         "or outside [0, 1]); pass probabilities in [0, 1] or logits with from_logits=True")
        elif host["status"][i] == BAD_GT:
            lines.append(f"image{ids[i]:05d}: ground truth has values in [{g_lo:g}, {g_hi:g}]; float masks must "
                         "lie in [0, 1]")
    more = f" (and {len(bad) - 5} more)" if len(bad) > 5 else ""
    raise ValueError("; ".join(lines) + more)
