"""Write the ``dbdbench inspect`` page: one HTML file with inline CSS, JS and data, nothing fetched from a network.

Thumbnails are embedded as ``data:`` URIs, or written to the folder ``<page stem>_files/`` beside the page
when they would make the page large (``assets="auto"``: more than :data:`INLINE_LIMIT` bytes of images).
The page script and style are package data (``dbdbench/report/assets/inspect.{js,css}``).
"""

from __future__ import annotations

import base64
import html
import json
import shutil
from importlib import resources
from pathlib import Path

from dbdbench.io import atomic_write_text

#: bytes of encoded thumbnails above which ``assets="auto"`` writes them beside the page
INLINE_LIMIT = 24 * 2**20
ASSET_MODES = ("auto", "inline", "folder")

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{css}</style>
</head>
<body>
<h1>{title}</h1>
<div id="head"></div>
<h2>Images</h2>
<div class="controls">
 <input type="text" id="filter" placeholder="filter names" aria-label="filter image names">
 <select id="fcol" aria-label="score to filter"></select>
 <input type="number" id="fmin" step="any" placeholder="min" aria-label="minimum">
 <input type="number" id="fmax" step="any" placeholder="max" aria-label="maximum">
 <button id="prev">&larr;</button><span id="pageinfo"></span><button id="next">&rarr;</button>
 <button id="select-shown">select page</button><button id="select-none">clear</button>
 <span id="nsel"></span>
 <button id="figure" title="the dbdbench plot --grid command of the selected images">figure</button>
 <span id="copied" class="muted"></span>
</div>
<textarea id="figure-cmd" readonly
 placeholder="tick images, then press figure: the command that draws them as a PDF appears here"></textarea>
<div class="legend muted" id="legend"></div>
<table id="grid"><thead></thead><tbody></tbody></table>
<script type="application/json" id="inspect-data">{data}</script>
<script type="application/json" id="inspect-thumbs">{thumbs}</script>
<script>{js}</script>
</body>
</html>
"""

_MIME = {b"\xff\xd8": ("image/jpeg", "jpg"), b"\x89P": ("image/png", "png")}


def _asset(name: str) -> str:
    return resources.files("dbdbench.report").joinpath("assets").joinpath(name).read_text(encoding="utf-8")


def _json_script(obj) -> str:
    """JSON safe inside a ``<script>`` element (no ``</`` and no ``<!--``)."""
    return json.dumps(obj, allow_nan=False, separators=(",", ":")).replace("<", "\\u003c")


def _kind(blob: bytes) -> tuple[str, str]:
    return _MIME[blob[:2]]


def write_page(data: dict, thumbs: list[list[bytes | None]], out: str | Path, assets: str = "auto") -> Path | None:
    """Write the page to ``out``; returns the folder of the thumbnails when they were written beside it.

    Parameters
    ----------
    data : dict
        What the page shows (see :func:`dbdbench.report.inspect.build`, plus ``title``, ``dataset``,
        ``protocol``, ``results``, ``comparisons``, ``figure``, ``colours``).
    thumbs : list of list of bytes or None
        Per image, the encoded thumbnails in the page's order (photo, GT, map and errors per result).
    assets : {"auto", "inline", "folder"}
        Embed the thumbnails, write them to ``<stem>_files/``, or choose by size (:data:`INLINE_LIMIT`).
    """
    if assets not in ASSET_MODES:
        raise ValueError(f"assets must be one of {', '.join(ASSET_MODES)}, got {assets!r}")
    out = Path(out)
    total = sum(len(b) for row in thumbs for b in row if b is not None)
    folder = out.with_name(f"{out.stem}_files")
    beside = assets == "folder" or (assets == "auto" and total > INLINE_LIMIT)
    if folder.exists():
        shutil.rmtree(folder)  # thumbnails of an earlier run never mix with these
    if beside:
        folder.mkdir(parents=True)
        refs = [[_write_thumb(folder, i, j, b) for j, b in enumerate(row)] for i, row in enumerate(thumbs)]
    else:
        refs = [[None if b is None else f"data:{_kind(b)[0]};base64,{base64.b64encode(b).decode('ascii')}"
                 for b in row] for row in thumbs]  # fmt: skip
    page = _PAGE.format(
        title=html.escape(data.get("title", "dbdbench inspect")),
        css=_asset("inspect.css"),
        js=_asset("inspect.js"),
        data=_json_script(data),
        thumbs=_json_script(refs),
    )
    atomic_write_text(out, page)
    return folder if beside else None


def _write_thumb(folder: Path, i: int, j: int, blob: bytes | None) -> str | None:
    if blob is None:
        return None
    name = f"{i:05d}_{j}.{_kind(blob)[1]}"
    (folder / name).write_bytes(blob)  # a fresh folder: no reader can see a half-written file
    return f"{folder.name}/{name}"
