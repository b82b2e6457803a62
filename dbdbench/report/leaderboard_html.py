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
    description, figures (this module only renders; it imports nothing from the leaderboard).
    """
    payload = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    payload = payload.replace("</", "<\\/")  # a "</script>" inside a string must not end the script element
    n_rows = sum(len(p["rows"]) for d in data.values() for p in d["protocols"].values())
    nav = " ".join(f'<a href="#{html.escape(d, quote=True)}">{html.escape(d)}</a>' for d in data)
    script = _JS.replace("@@MARKS@@", MARKS_WORDS)
    return (_TEMPLATE.replace("@@CSS@@", _CSS).replace("@@JS@@", script).replace("@@DATA@@", payload)
            .replace("@@NAV@@", nav).replace("@@NOSCRIPT@@", static_table(data))
            .replace("@@SUMMARY@@", html.escape(f"{len(data)} datasets, {n_rows} results")))


MISSING = "\u2013"
#: how the training-data note names the page's marks (the script writes the same sentence)
MARKS_WORDS = "Best and second marks"


def static_table(data: dict[str, Any]) -> str:
    """A ``<noscript>`` copy of the page's default view (its dataset and protocol) as a plain table, with the
    same ranks and marks as the script (:func:`dbdbench.report.marks.display_ranks` and ``rank_marks``)."""
    from dbdbench.report._render import marks_note
    from dbdbench.report.marks import comparable_rows, display_ranks, rank_marks

    start = [d for d in data.values() if d.get("start")]
    if not start:
        return ""
    p = start[0]["protocols"][start[0]["default_protocol"]]
    cols = p["columns"]
    key = next((c for c in cols + p["more"] if c["key"] == p["rank_key"]), None)
    rows = p["rows"]
    rank = display_ranks([float(r["shown"][key["key"]]) if key and key["key"] in r["shown"] else None for r in rows],
                         bool(key and key["higher"]), 3)
    ok = comparable_rows([r["training_data"] for r in rows])[1]
    marks = {c["key"]: rank_marks([float(r["shown"].get(c["key"], "nan")) if k else float("nan")
                                   for r, k in zip(rows, ok, strict=True)], c["higher"], 3)
             for c in cols}
    esc = html.escape
    head = "".join(f'<th scope="col">{esc(t)}</th>' for t in ["#", "Method", "Kind", *(c["label"] for c in cols)])
    body = []
    for i, r in enumerate(rows):
        cells = [str(rank[i]) if rank[i] else MISSING, f'{r["method"]} ({r["venue"]} {r["year"]})', r["kind_label"]]
        tds = "".join(f"<td>{esc(c)}</td>" for c in cells)
        for c in cols:
            mark = marks[c["key"]][i]
            cls = ' class="num best" title="best"' if mark == 1 else ' class="num second" title="second best"' \
                if mark == 2 else ' class="num"'
            tds += f'<td{cls}>{esc(r["shown"].get(c["key"], MISSING))}</td>'
        body.append(f"<tr>{tds}</tr>")
    title = f'{start[0]["title"]}, protocol {start[0]["default_protocol"]}'
    common = comparable_rows([r["training_data"] for r in rows])[0]
    note = "" if common is None else " " + marks_note(
        common, hand_crafted=any(not r["training_data"] for r in rows), symbols=False, marks=MARKS_WORDS)
    return (f'<noscript><div class="scroll"><table><caption>{esc(title)}. {esc(p["caption"])}{esc(note)}</caption>'
            f'<thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div></noscript>')


_CSS = """
:root { --fg:#1b1f24; --muted:#57606a; --line:#d0d7de; --head:#f6f8fa; --rep:#6e7781; --res:#1a7f37; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg);
       margin: 0 auto; max-width: 1360px; padding: 16px 20px; }
h1 { font-size: 22px; margin: 4px 0 2px; }
h2 { font-size: 18px; margin: 12px 0 2px; }
.sub { color: var(--muted); margin: 0 0 8px; }
nav { margin: 4px 0 8px; font-size: 13px; }
nav a { margin-right: 10px; }
.controls { display: flex; gap: 16px; flex-wrap: wrap; align-items: center; margin: 8px 0 4px; }
.controls label { font-weight: 600; }
select { font: inherit; padding: 3px 6px; }
#lb-desc { color: var(--muted); margin: 4px 0 8px; max-width: 110ch; }
/* the table scrolls in its own box (both ways), so the sticky header sticks to the top of that box */
.scroll { overflow: auto; max-width: 100%; max-height: 75vh; border-bottom: 1px solid var(--line); }
/* the caption is read by screen readers with the table; its visible copy sits above the scroll box */
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
#lb-caption-text { color: var(--muted); margin: 0 0 6px; max-width: 110ch; }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 7px; text-align: left; vertical-align: top; }
th { background: var(--head); position: sticky; top: 0; white-space: nowrap; }
th button { all: unset; cursor: pointer; font-weight: 600; }
th button:focus-visible { outline: 2px solid #0969da; }
th[aria-sort=ascending] button::after { content: " \\25B2"; }
th[aria-sort=descending] button::after { content: " \\25BC"; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.best { font-weight: 700; background: #dafbe1; }
td.second { font-style: italic; background: #f1f8ff; }
td.num sup { color: var(--muted); font-size: 10px; margin-left: 2px; }
td.small { max-width: 230px; }
.badge { display: inline-block; border-radius: 10px; padding: 0 8px; font-size: 12px; color: #fff;
         white-space: nowrap; }
.badge.reported { background: var(--rep); }
.badge.rescored { background: var(--res); }
.warn { color: #9a6700; cursor: help; }
.small { color: var(--muted); font-size: 12px; }
#lb-notes { color: #9a6700; font-size: 13px; }
.figs { display: flex; flex-wrap: wrap; gap: 12px; margin-top: 14px; align-items: flex-start; }
.figs img { max-width: 100%; height: auto; border: 1px solid var(--line); }
footer { color: var(--muted); font-size: 12px; margin-top: 18px; }
"""

_JS = r"""
(function () {
  "use strict";
  var DATA = JSON.parse(document.getElementById("lb-data").textContent);
  var state = { dataset: null, protocol: null, key: null, dir: 1, kind: "all", all: false };
  var $ = function (id) { return document.getElementById(id); };
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    if (cls) { e.className = cls; }
    return e;
  }
  function link(href, text) { var a = el("a", text); a.href = href; a.rel = "noopener"; return a; }
  function host(url) { try { return new URL(url).host.replace(/^www\./, ""); } catch (e) { return url; } }
  function fill(select, values, labels, current) {
    select.replaceChildren();
    values.forEach(function (v, i) {
      var o = el("option", labels ? labels[i] : v); o.value = v; o.selected = v === current; select.appendChild(o);
    });
  }
  function current() { return DATA[state.dataset].protocols[state.protocol]; }
  function columns(p) { return state.all ? p.columns.concat(p.more) : p.columns; }
  // the number as printed (the same string the Markdown leaderboard shows); null when missing
  function shown(row, key) { var t = row.shown[key]; return t === undefined ? null : parseFloat(t); }
  function value(row, key) {
    if (key === "method") { return row.method.toLowerCase(); }
    if (key === "kind") { return row.kind; }
    var v = row.scores[key];
    return (v === undefined || v === null) ? null : v;
  }
  // rank_marks of dbdbench.report.tables: 1 best, 2 second (only among 3+ numbers), none when < 2 numbers
  // or all print the same; dense over the printed values, direction-aware
  function marks(rows, col, ok) {
    var vals = rows.map(function (r, i) { return ok[i] ? shown(r, col.key) : null; });
    var present = vals.filter(function (v) { return v !== null; });
    var distinct = present.filter(function (v, i) { return present.indexOf(v) === i; });
    distinct.sort(function (a, b) { return col.higher ? b - a : a - b; });
    if (present.length < 2 || distinct.length < 2) { return vals.map(function () { return 0; }); }
    var places = present.length >= 3 ? 2 : 1;
    return vals.map(function (v) {
      var i = v === null ? -1 : distinct.indexOf(v);
      return i >= 0 && i < places ? i + 1 : 0;
    });
  }
  // comparable_rows of dbdbench.report.tables (training_key: declared_training): rows on the most common
  // declared training data (ties: the first to appear) or declaring none compete for the marks; all rows
  // when the declared sets agree
  function comparable(rows) {
    var keys = rows.map(function (r) { return JSON.stringify(r.training_key); });
    var declared = keys.filter(function (k, i) { return rows[i].training_key.length > 0; });
    var distinct = declared.filter(function (k, i) { return declared.indexOf(k) === i; });
    if (distinct.length < 2) { return {common: null, ok: rows.map(function () { return true; })}; }
    var count = function (k) { return declared.filter(function (d) { return d === k; }).length; };
    var common = distinct.reduce(function (a, b) { return count(b) > count(a) ? b : a; });
    return {common: JSON.parse(common), ok: rows.map(function (r, i) {
      return r.training_key.length === 0 || keys[i] === common; })};
  }
  // marks_note of dbdbench.report._render (symbols=False): which rows the marks compare
  function marksNote(rows, cmp) {
    if (!cmp.common) { return ""; }
    var hand = rows.some(function (r) { return r.training_data.length === 0; });
    return "@@MARKS@@ compare only the rows with training data: " + cmp.common.join(" + ") +
      (hand ? ", or hand-crafted" : "") + "; rows with other training data are never marked.";
  }
  // display_ranks: competition ranks ("1224") of the printed primary metric
  function ranks(rows, col) {
    var vals = rows.map(function (r) { return col ? shown(r, col.key) : null; });
    return vals.map(function (v) {
      if (v === null) { return null; }
      return 1 + vals.filter(function (o) { return o !== null && (col.higher ? o > v : o < v); }).length;
    });
  }
  function visibleRows(p) {
    return p.rows.filter(function (r) { return state.kind === "all" || r.kind === state.kind; });
  }
  function sortedRows(rows) {
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
      columns(p).map(function (c) { return [c.key, c.label]; })).concat([["training", "Training data"],
      ["source", "Source"], ["links", "Links"]]);
    cols.forEach(function (c) {
      var th = el("th"); th.dataset.key = c[0]; th.scope = "col";
      var sortable = c[0] === "method" || c[0] === "kind" || columns(p).some(function (m) { return m.key === c[0]; });
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
  function methodCell(r) {
    var m = el("td", r.method);
    if (r.warnings.length) {
      var w = el("span", " \u26A0", "warn"); w.title = r.warnings.join("\n"); m.appendChild(w);
    }
    m.appendChild(el("div", r.venue + " " + r.year, "small"));
    return m;
  }
  function render() {
    var p = current(), cols = columns(p), rows = visibleRows(p);
    var rankCol = p.columns.concat(p.more).filter(function (c) { return c.key === p.rank_key; })[0];
    var rank = ranks(rows, rankCol), mk = {}, cmp = comparable(rows);
    cols.forEach(function (c) { mk[c.key] = marks(rows, c, cmp.ok); });
    var order = sortedRows(rows);
    $("lb-title").textContent = DATA[state.dataset].title;
    $("lb-desc").textContent = "Protocol " + state.protocol + ": " + p.description;
    var caption = [p.caption, marksNote(rows, cmp)].filter(function (t) { return t; }).join(" ");
    $("lb-caption").textContent = caption;
    $("lb-caption-text").textContent = caption;
    var thead = $("lb-table").tHead, tbody = $("lb-table").tBodies[0];
    thead.replaceChildren(header(p));
    tbody.replaceChildren();
    var notes = [];
    order.forEach(function (r) {
      var i = rows.indexOf(r);
      var tr = el("tr"); tr.dataset.method = r.method; tr.dataset.kind = r.kind;
      tr.appendChild(el("td", rank[i] === null ? "\u2013" : rank[i], "num"));
      tr.appendChild(methodCell(r));
      var k = el("td"); k.appendChild(el("span", r.kind_label, "badge " + r.kind));
      if (r.curve_only) { k.appendChild(el("div", "curve only", "small")); }
      tr.appendChild(k);
      cols.forEach(function (c) {
        var t = r.shown[c.key], m = mk[c.key][i];
        var td = el("td", t === undefined ? "\u2013" : t, "num" + (m === 1 ? " best" : m === 2 ? " second" : ""));
        if (m) { td.title = m === 1 ? "best" : "second best"; }
        if (r.derived.indexOf(c.key) >= 0) {
          var sup = el("sup", "curve"); sup.title = "computed by dbdbench from the published curve";
          td.appendChild(sup);
        }
        td.dataset.key = c.key; tr.appendChild(td);
      });
      tr.appendChild(el("td", r.training, "small"));
      var src = el("td", r.source_url ? null : r.source, "small");
      if (r.source_url) { src.appendChild(link(r.source_url, r.source)); }
      tr.appendChild(src);
      var l = el("td");
      if (r.paper_url) {
        l.appendChild(link(r.paper_url, "paper (" + host(r.paper_url) + ")"));
        l.appendChild(document.createTextNode(" "));
      }
      if (r.code_url) { l.appendChild(link(r.code_url, "code (" + host(r.code_url) + ")")); }
      if (!r.paper_url && !r.code_url) { l.textContent = "\u2013"; }
      tr.appendChild(l);
      tbody.appendChild(tr);
      r.warnings.forEach(function (w) { notes.push("\u26A0 " + r.method + ": " + w); });
    });
    var box = $("lb-notes"); box.replaceChildren();
    notes.forEach(function (n) { box.appendChild(el("li", n)); });
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
      var col = columns(current()).filter(function (c) { return c.key === key; })[0];
      state.dir = col && col.higher ? -1 : 1;
    }
    render();
  }
  // "#CUHK" is the dataset's default protocol (the one with most entries), "#CUHK/hifst" any other
  function setHash() {
    var h = "#" + encodeURIComponent(state.dataset) + (state.protocol !== DATA[state.dataset].default_protocol ?
      "/" + encodeURIComponent(state.protocol) : "");
    if (location.hash !== h) { history.replaceState(null, "", h); }
  }
  function selectDataset(name, protocol) {
    state.dataset = name;
    var ps = Object.keys(DATA[name].protocols);
    state.protocol = ps.indexOf(protocol) >= 0 ? protocol : DATA[name].default_protocol;
    state.key = null; state.dir = 1;
    $("lb-dataset").value = name;
    fill($("lb-protocol"), ps, null, state.protocol);
    setHash();
    render();
  }
  // "#DUT-TE" or "#CUHK/hifst" opens that dataset (and protocol)
  function fromHash() {
    var parts = location.hash.slice(1).split("/").map(function (x) {
      try { return decodeURIComponent(x); } catch (e) { return x; }
    });
    return DATA[parts[0]] ? parts : null;
  }
  var names = Object.keys(DATA).sort(function (a, b) { return DATA[a].order - DATA[b].order; });
  var first = names.filter(function (n) { return DATA[n].start; })[0] || names[0];
  fill($("lb-dataset"), names, names.map(function (n) { return DATA[n].title; }), first);
  $("lb-dataset").addEventListener("change", function (e) { selectDataset(e.target.value, null); });
  $("lb-protocol").addEventListener("change", function (e) {
    state.protocol = e.target.value; state.key = null; setHash(); render();
  });
  $("lb-kind").addEventListener("change", function (e) { state.kind = e.target.value; render(); });
  $("lb-all").addEventListener("change", function (e) { state.all = e.target.checked; render(); });
  window.addEventListener("hashchange", function () {
    var h = fromHash();
    if (h && (h[0] !== state.dataset || (h[1] && h[1] !== state.protocol))) { selectDataset(h[0], h[1]); }
  });
  var start = fromHash();
  if (start) { selectDataset(start[0], start[1]); } else if (names.length) { selectDataset(first, null); }
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
<nav aria-label="Datasets">Datasets: @@NAV@@</nav>
<div class="controls">
  <span><label for="lb-dataset">Dataset</label> <select id="lb-dataset"></select></span>
  <span><label for="lb-protocol">Protocol</label> <select id="lb-protocol"></select></span>
  <span><label for="lb-kind">Show</label>
    <select id="lb-kind"><option value="all">all</option><option value="reported">reported</option>
    <option value="rescored">re-scored</option></select></span>
  <span><input type="checkbox" id="lb-all"> <label for="lb-all">all stored metrics</label></span>
</div>
<h2 id="lb-title"></h2>
<p id="lb-desc"></p>
<p id="lb-caption-text" aria-hidden="true"></p>
<div class="scroll"><table id="lb-table"><caption id="lb-caption" class="sr-only"></caption>
<thead></thead><tbody></tbody></table></div>
@@NOSCRIPT@@
<ul id="lb-notes"></ul>
<div id="lb-figs" class="figs"></div>
<p id="lb-nofigs" class="small">No curves for this dataset and protocol (reported numbers come without curves).</p>
<footer>Rank (#) by the protocol's ranking metric (named under the table's caption). Bold on green: best,
italic on blue: second (among three or more numbers);
ranks and marks compare the numbers as printed, so equal printed numbers share a rank and a mark; ranks compare
all rows shown, marks only those on the most common training data when the training data differ (the caption
then says which).
Sort by clicking a column header; link to a dataset as <code>index.html#DUT-TE</code>
(or <code>#CUHK/hifst</code> for a protocol).</footer>
<script type="application/json" id="lb-data">@@DATA@@</script>
<script>@@JS@@</script>
</body>
</html>
"""
