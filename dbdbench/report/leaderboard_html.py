"""The static ``reports/index.html`` leaderboard: one self-contained file, no network access needed.

The page embeds its data as JSON and its plots as ``data:`` URIs, with inline CSS and a small script that
switches dataset and protocol, sorts by any column and filters reported versus re-scored rows. Output is a
pure function of the rows (sorted keys, no timestamps), so the file is byte-stable.
"""

from __future__ import annotations

import html
import json
from typing import Any


def render_html(data: dict[str, Any]) -> str:
    """The complete page as a string (UTF-8, no external resources) from its data.

    ``data`` is :func:`dbdbench.report.leaderboard.page_data`: datasets -> protocols -> columns, rows,
    description, figures.
    """
    payload = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    payload = payload.replace("</", "<\\/")  # a "</script>" inside a string must not end the script element
    n_rows = sum(len(p["rows"]) for d in data.values() for p in d["protocols"].values())
    return (_TEMPLATE.replace("@@CSS@@", _CSS).replace("@@JS@@", _JS).replace("@@DATA@@", payload)
            .replace("@@SUMMARY@@", html.escape(f"{len(data)} datasets, {n_rows} results")))


_CSS = """
:root { --fg:#1b1f24; --muted:#57606a; --line:#d0d7de; --head:#f6f8fa; --rep:#6e7781; --res:#1a7f37; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg);
       margin: 0 auto; max-width: 1200px; padding: 16px 24px; }
h1 { font-size: 22px; margin: 4px 0 2px; }
.sub { color: var(--muted); margin: 0 0 12px; }
.controls { display: flex; gap: 16px; flex-wrap: wrap; align-items: center; margin: 8px 0 4px; }
.controls label { font-weight: 600; }
select { font: inherit; padding: 3px 6px; }
#lb-desc { color: var(--muted); margin: 6px 0 10px; max-width: 100ch; }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid var(--line); padding: 5px 8px; text-align: left; vertical-align: top; }
th { background: var(--head); position: sticky; top: 0; }
th button { all: unset; cursor: pointer; font-weight: 600; }
th button:focus-visible { outline: 2px solid #0969da; }
th[aria-sort=ascending] button::after { content: " \\25B2"; }
th[aria-sort=descending] button::after { content: " \\25BC"; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.best { font-weight: 700; }
.badge { display: inline-block; border-radius: 10px; padding: 0 8px; font-size: 12px; color: #fff; }
.badge.reported { background: var(--rep); }
.badge.rescored { background: var(--res); }
.small { color: var(--muted); font-size: 12px; }
.figs { display: flex; flex-wrap: wrap; gap: 12px; margin-top: 14px; }
.figs img { max-width: 380px; border: 1px solid var(--line); }
footer { color: var(--muted); font-size: 12px; margin-top: 18px; }
"""

_JS = r"""
(function () {
  "use strict";
  var DATA = JSON.parse(document.getElementById("lb-data").textContent);
  var state = { dataset: null, protocol: null, key: null, dir: 1, kind: "all" };
  var $ = function (id) { return document.getElementById(id); };
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    if (cls) { e.className = cls; }
    return e;
  }
  function link(href, text) { var a = el("a", text); a.href = href; a.rel = "noopener"; return a; }
  function fill(select, values, labels, current) {
    select.replaceChildren();
    values.forEach(function (v, i) {
      var o = el("option", labels ? labels[i] : v); o.value = v; o.selected = v === current; select.appendChild(o);
    });
  }
  function current() { return DATA[state.dataset].protocols[state.protocol]; }
  function value(row, key) {
    if (key === "method") { return row.method.toLowerCase(); }
    if (key === "kind") { return row.kind; }
    var v = row.scores[key];
    return (v === undefined || v === null) ? null : v;
  }
  function sortedRows(p) {
    var rows = p.rows.filter(function (r) { return state.kind === "all" || r.kind === state.kind; });
    if (!state.key) { return rows; }
    return rows.map(function (r, i) { return [r, i]; }).sort(function (a, b) {
      var x = value(a[0], state.key), y = value(b[0], state.key);
      if (x === null || y === null) { return (x === null) - (y === null) || a[1] - b[1]; }
      if (x < y) { return -state.dir; }
      if (x > y) { return state.dir; }
      return a[1] - b[1];
    }).map(function (p) { return p[0]; });
  }
  function header(p) {
    var tr = el("tr");
    var cols = [["rank", "#"], ["method", "Method"], ["kind", "Kind"]].concat(
      p.columns.map(function (c) { return [c.key, c.label]; })).concat([["training", "Training data"],
      ["source", "Source"], ["links", "Links"]]);
    cols.forEach(function (c) {
      var th = el("th"); th.dataset.key = c[0]; th.scope = "col";
      var sortable = c[0] === "method" || c[0] === "kind" || p.columns.some(function (m) { return m.key === c[0]; });
      if (sortable) {
        var b = el("button", c[1]); b.type = "button"; b.title = "Sort by " + c[1];
        b.addEventListener("click", function () { sortBy(c[0]); });
        th.appendChild(b);
        th.setAttribute("aria-sort", state.key === c[0] ? (state.dir > 0 ? "ascending" : "descending") : "none");
      } else { th.textContent = c[1]; }
      tr.appendChild(th);
    });
    return tr;
  }
  function bestValues(p, rows) {
    var best = {};
    p.columns.forEach(function (c) {
      rows.forEach(function (r) {
        var v = r.scores[c.key];
        if (v === undefined || v === null) { return; }
        if (!(c.key in best) || (c.higher ? v > best[c.key] : v < best[c.key])) { best[c.key] = v; }
      });
    });
    return best;
  }
  function render() {
    var p = current(), rows = sortedRows(p), best = bestValues(p, rows);
    $("lb-title").textContent = DATA[state.dataset].title;
    $("lb-desc").textContent = "Protocol " + state.protocol + ": " + p.description;
    var thead = $("lb-table").tHead, tbody = $("lb-table").tBodies[0];
    thead.replaceChildren(header(p));
    tbody.replaceChildren();
    rows.forEach(function (r, i) {
      var tr = el("tr"); tr.dataset.method = r.method; tr.dataset.kind = r.kind;
      tr.appendChild(el("td", i + 1, "num"));
      var m = el("td", r.method); m.appendChild(el("div", r.venue + " " + r.year, "small")); tr.appendChild(m);
      var k = el("td"); k.appendChild(el("span", r.kind_label, "badge " + r.kind)); tr.appendChild(k);
      p.columns.forEach(function (c) {
        var v = r.scores[c.key], has = v !== undefined && v !== null;
        var td = el("td", has ? v.toFixed(3) : "\u2013", "num" + (has && v === best[c.key] ? " best" : ""));
        td.dataset.key = c.key; tr.appendChild(td);
      });
      tr.appendChild(el("td", r.training, "small"));
      tr.appendChild(el("td", r.source, "small"));
      var l = el("td");
      if (r.paper_url) { l.appendChild(link(r.paper_url, "paper")); l.appendChild(document.createTextNode(" ")); }
      if (r.code_url) { l.appendChild(link(r.code_url, "code")); }
      if (!r.paper_url && !r.code_url) { l.textContent = "\u2013"; }
      tr.appendChild(l);
      tbody.appendChild(tr);
    });
    var figs = $("lb-figs"); figs.replaceChildren();
    p.figures.forEach(function (f) {
      var img = el("img"); img.src = f.src; img.alt = f.curve + " curves, " + state.dataset + ", " + state.protocol;
      figs.appendChild(img);
    });
    $("lb-nofigs").hidden = p.figures.length > 0;
  }
  function sortBy(key) {
    if (state.key === key) { state.dir = -state.dir; }
    else {
      state.key = key;
      var col = current().columns.filter(function (c) { return c.key === key; })[0];
      state.dir = col && col.higher ? -1 : 1;
    }
    render();
  }
  function selectDataset(name, protocol) {
    state.dataset = name;
    var ps = Object.keys(DATA[name].protocols);
    state.protocol = ps.indexOf(protocol) >= 0 ? protocol : ps[0];
    state.key = null; state.dir = 1;
    fill($("lb-protocol"), ps, null, state.protocol);
    render();
  }
  var names = Object.keys(DATA);
  fill($("lb-dataset"), names, names.map(function (n) { return DATA[n].title; }), names[0]);
  $("lb-dataset").addEventListener("change", function (e) { selectDataset(e.target.value, state.protocol); });
  $("lb-protocol").addEventListener("change", function (e) {
    state.protocol = e.target.value; state.key = null; render();
  });
  $("lb-kind").addEventListener("change", function (e) { state.kind = e.target.value; render(); });
  if (names.length) { selectDataset(names[0], null); }
})();
"""

_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>dbdbench leaderboard: defocus blur detection</title>
<style>@@CSS@@</style>
</head>
<body>
<h1>dbdbench leaderboard: defocus blur detection</h1>
<p class="sub">@@SUMMARY@@. Generated by <code>dbdbench leaderboard</code> from <code>submissions/</code>.
<span class="badge reported">reported</span> numbers are copied from the paper named in <em>Source</em>;
<span class="badge rescored">re-scored</span> numbers were computed by dbdbench from published maps.
Numbers under different protocols are not comparable.</p>
<div class="controls">
  <span><label for="lb-dataset">Dataset</label> <select id="lb-dataset"></select></span>
  <span><label for="lb-protocol">Protocol</label> <select id="lb-protocol"></select></span>
  <span><label for="lb-kind">Show</label>
    <select id="lb-kind"><option value="all">all</option><option value="reported">reported</option>
    <option value="rescored">re-scored</option></select></span>
</div>
<h2 id="lb-title"></h2>
<p id="lb-desc"></p>
<table id="lb-table"><thead></thead><tbody></tbody></table>
<div id="lb-figs" class="figs"></div>
<p id="lb-nofigs" class="small">No curves for this dataset and protocol (reported numbers come without curves).</p>
<footer>Bold: best value in the column. Sort by clicking a column header.</footer>
<script type="application/json" id="lb-data">@@DATA@@</script>
<script>@@JS@@</script>
</body>
</html>
"""
