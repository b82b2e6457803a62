// dbdbench inspect: table of per-image scores, thumbnails, per-image PR curves, figure command. No network.
"use strict";
(function () {
  const D = JSON.parse(document.getElementById("inspect-data").textContent);
  const T = JSON.parse(document.getElementById("inspect-thumbs").textContent);
  const COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2"];
  const R = D.results.length, C = D.columns.length;
  const state = { sort: null, dir: -1, page: 0, size: 50, filter: "", fcol: "", fmin: null, fmax: null,
                  selected: new Set(), open: new Set() };
  const $ = (id) => document.getElementById(id);
  const el = (tag, attrs, text) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const fmt = (v, d) => (v === null || v === undefined || Number.isNaN(v)) ? "–" : v.toFixed(d === undefined ? 4 : d);
  const signed = (v) => (v === null || Number.isNaN(v)) ? "–" : (v >= 0 ? "+" : "") + v.toFixed(4);

  // value of a sort/filter key "v:r:c" (result r, column c) or "d:r:c" (result r minus result 0)
  function value(img, key) {
    if (key === "name") return img.name;
    const [kind, r, c] = key.split(":");
    const v = img.values[+r][+c];
    if (kind === "v") return v;
    const a = img.values[0][+c];
    return (v === null || a === null) ? null : v - a;
  }
  function keys() {
    const out = [];
    D.columns.forEach((col, c) => {
      for (let r = 0; r < R; r++) out.push({ key: `v:${r}:${c}`, label: `${col.label} ${D.results[r].tag}` });
      for (let r = 1; r < R; r++) out.push({ key: `d:${r}:${c}`, label: `Δ${col.label} ${D.results[r].tag}−A` });
    });
    return out;
  }

  function header() {
    const h = $("head");
    const sub = el("div", { class: "sub" },
      `${D.dataset} · protocol ${D.protocol} (${D.protocol_description}) · ${D.images.length} images`);
    h.appendChild(sub);
    const box = el("div", { class: "results" });
    D.results.forEach((res, r) => {
      const card = el("div", { class: "card", "data-result": r });
      const title = el("div");
      const tag = el("b", { class: "tag", style: `background:${COLOURS[r % COLOURS.length]}` }, res.tag);
      title.append(tag, el("b", {}, res.name), document.createTextNode(` (${res.kind})`));
      card.appendChild(title);
      for (const [k, v] of [["file", res.file], ["maps", `${res.maps} (white = ${res.pred_white})`],
                            ["dbdbench", res.version]]) {
        card.appendChild(el("div", { class: "kv" }, `${k}: ${v}`));
      }
      if (res.warnings.length === 0) card.appendChild(el("div", { class: "ok" }, "no warnings recorded"));
      for (const w of res.warnings) card.appendChild(el("div", { class: "warn" }, `⚠ ${w.code}: ${w.message}`));
      box.appendChild(card);
    });
    h.appendChild(box);
    for (const cmp of D.comparisons) h.appendChild(comparison(cmp));
  }

  function comparison(cmp) {
    const wrap = el("div", { class: "comparison" });
    const a = D.results[cmp.a], b = D.results[cmp.b];
    wrap.appendChild(el("h2", {}, `${b.tag} − ${a.tag}: ${b.name} vs ${a.name} (as dbdbench compare)`));
    const t = el("table", { class: "cmp" });
    const hr = el("tr");
    for (const h of ["score", a.tag, b.tag, `${b.tag} − ${a.tag}`, `${Math.round(cmp.level * 100)}% interval`, "p", "test"]) {
      hr.appendChild(el("th", {}, h));
    }
    t.appendChild(hr);
    for (const row of cmp.rows) {
      const tr = el("tr", { "data-key": row.key });
      const span = row.ci_low === null ? "undefined" : `[${signed(row.ci_low)}, ${signed(row.ci_high)}]`;
      const cells = [row.label + (row.higher ? "↑" : "↓"), fmt(row.a), fmt(row.b), signed(row.diff), span,
                     row.p_value === null ? "–" : Number(row.p_value).toPrecision(3), row.test];
      cells.forEach((c, i) => tr.appendChild(el("td", i === 3 ? { "data-diff": row.diff } : {}, c)));
      t.appendChild(tr);
    }
    wrap.appendChild(t);
    wrap.appendChild(el("div", { class: "muted" },
      `paired over ${cmp.n_images} images, ${cmp.n_resamples} resamples, seed ${cmp.seed}` +
      (cmp.note ? `; ${cmp.note}` : "")));
    return wrap;
  }

  function controls() {
    const sel = $("fcol");
    sel.appendChild(el("option", { value: "" }, "filter by score…"));
    for (const k of keys()) sel.appendChild(el("option", { value: k.key }, k.label));
    $("filter").addEventListener("input", (e) => { state.filter = e.target.value.toLowerCase(); state.page = 0; render(); });
    sel.addEventListener("change", (e) => { state.fcol = e.target.value; state.page = 0; render(); });
    const num = (v) => (v === "" ? null : Number(v));
    $("fmin").addEventListener("input", (e) => { state.fmin = num(e.target.value); state.page = 0; render(); });
    $("fmax").addEventListener("input", (e) => { state.fmax = num(e.target.value); state.page = 0; render(); });
    $("prev").addEventListener("click", () => { state.page = Math.max(0, state.page - 1); render(); });
    $("next").addEventListener("click", () => { state.page += 1; render(); });
    $("select-shown").addEventListener("click", () => { shown().forEach((i) => state.selected.add(i)); render(); });
    $("select-none").addEventListener("click", () => { state.selected.clear(); render(); });
    $("figure").addEventListener("click", figure);
    const legend = $("legend");
    legend.innerHTML = "";
    legend.append("error maps:", el("span", { style: `background:${D.colours.false_blur}` }), "false blur (predicted blurred, sharp in GT)",
                  el("span", { style: `background:${D.colours.missed_blur}` }), "missed blur (predicted sharp, blurred in GT)",
                  " · GT and maps shown with white = blurred (maps declared white = sharp are flipped)");
  }

  function filtered() {
    const out = [];
    D.images.forEach((img, i) => {
      if (state.filter && !img.name.toLowerCase().includes(state.filter)) return;
      if (state.fcol) {
        const v = value(img, state.fcol);
        if (v === null) return;
        if (state.fmin !== null && !(v >= state.fmin)) return;
        if (state.fmax !== null && !(v <= state.fmax)) return;
      }
      out.push(i);
    });
    if (state.sort) {
      const k = state.sort, dir = state.dir;
      out.sort((i, j) => {
        const a = value(D.images[i], k), b = value(D.images[j], k);
        if (a === b) return i - j;
        if (a === null) return 1;   // undefined values last in both directions
        if (b === null) return -1;
        return (a < b ? -1 : 1) * dir;
      });
    }
    return out;
  }
  function shown() {
    const rows = filtered();
    return rows.slice(state.page * state.size, (state.page + 1) * state.size);
  }

  function thead() {
    const tr = el("tr");
    tr.appendChild(el("th", {}, "✓"));
    const nameTh = el("th", { class: "sortable", "data-sort": "name" }, "image");
    tr.appendChild(nameTh);
    for (const k of keys()) tr.appendChild(el("th", { class: "sortable", "data-sort": k.key }, k.label));
    tr.appendChild(el("th", {}, "PR"));
    for (const th of tr.querySelectorAll("th.sortable")) {
      th.addEventListener("click", () => {
        const k = th.getAttribute("data-sort");
        if (state.sort === k) state.dir = -state.dir; else { state.sort = k; state.dir = k === "name" ? 1 : -1; }
        state.page = 0;
        render();
      });
    }
    $("grid").querySelector("thead").replaceChildren(tr);
  }

  function pic(src, label) {
    const box = el("div", { class: "pic" });
    if (src) box.appendChild(el("img", { src: src, alt: label, loading: "lazy", decoding: "async" }));
    else box.appendChild(el("div", { class: "none" }, "no photo"));
    box.appendChild(el("div", {}, label));
    return box;
  }

  function row(i) {
    const img = D.images[i], th = T[i];
    const tr = el("tr", { "data-name": img.name, "data-index": i });
    const cb = el("input", { type: "checkbox" });
    cb.checked = state.selected.has(i);
    cb.addEventListener("change", () => { if (cb.checked) state.selected.add(i); else state.selected.delete(i); count(); });
    const c0 = el("td"); c0.appendChild(cb); tr.appendChild(c0);
    tr.appendChild(el("td", { class: "name" }, img.name + (img.empty_gt ? " (empty GT)" : "") + (img.resized ? " (resized)" : "")));
    for (const k of keys()) {
      const v = value(img, k.key);
      const td = el("td", { "data-key": k.key }, k.key[0] === "d" ? signed(v) : fmt(v));
      if (k.key[0] === "d" && v !== null && v !== 0) {
        const col = D.columns[+k.key.split(":")[2]];
        td.className = (v > 0) === col.higher ? "neg" : "pos";  // green: B better than A, red: worse
      }
      tr.appendChild(td);
    }
    const b = el("button", { class: "pr" }, state.open.has(i) ? "hide PR" : "PR");
    b.addEventListener("click", () => { if (state.open.has(i)) state.open.delete(i); else state.open.add(i); render(); });
    const cb2 = el("td"); cb2.appendChild(b); tr.appendChild(cb2);
    // the pictures: a second row under the scores, across the table
    const tr2 = el("tr", { class: "pics", "data-pics": img.name });
    const pics = el("td", { class: "pics", colspan: 3 + keys().length });
    pics.append(pic(th[0], "photo"), pic(th[1], "GT"));
    for (let r = 0; r < R; r++) pics.append(pic(th[2 + 2 * r], `${D.results[r].tag} map`), pic(th[3 + 2 * r], `${D.results[r].tag} errors`));
    if (state.open.has(i)) {
      const box = el("div", { class: "pic curvebox" });
      box.appendChild(curve(i));
      box.appendChild(el("div", {}, `per-image PR, ${D.n_thresholds} thresholds (recall 0 not drawn)`));
      pics.appendChild(box);
    }
    tr2.appendChild(pics);
    const frag = document.createDocumentFragment();
    frag.append(tr, tr2);
    return frag;
  }

  function decode(b64) {
    const bin = atob(b64), n = bin.length / 2, out = new Float64Array(n);
    for (let k = 0; k < n; k++) out[k] = (bin.charCodeAt(2 * k) | (bin.charCodeAt(2 * k + 1) << 8)) / 65535;
    return out;
  }

  function curve(i) {
    const W = 300, H = 200, L = 40, B = 30, P = 8;
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("width", W); svg.setAttribute("height", H); svg.setAttribute("class", "prcurve");
    const x = (v) => L + v * (W - L - P), y = (v) => H - B - v * (H - B - P);
    const add = (tag, attrs, text) => {
      const e = document.createElementNS(ns, tag);
      for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
      if (text !== undefined) e.textContent = text;
      svg.appendChild(e);
      return e;
    };
    add("rect", { x: L, y: P, width: W - L - P, height: H - B - P, fill: "#fff", stroke: "#999" });
    for (let t = 0; t <= 10; t += 2) {
      const v = t / 10;
      add("line", { x1: x(v), x2: x(v), y1: y(0), y2: y(1), stroke: "#eee" });
      add("line", { x1: x(0), x2: x(1), y1: y(v), y2: y(v), stroke: "#eee" });
      add("text", { x: x(v), y: H - B + 14, "text-anchor": "middle", "font-size": 10 }, v.toFixed(1));
      add("text", { x: L - 4, y: y(v) + 3, "text-anchor": "end", "font-size": 10 }, v.toFixed(1));
    }
    add("text", { x: (L + W) / 2, y: H - 4, "text-anchor": "middle", "font-size": 11 }, "recall");
    add("text", { x: 12, y: (H - B) / 2, "text-anchor": "middle", "font-size": 11, transform: `rotate(-90 12 ${(H - B) / 2})` }, "precision");
    D.curves[i].forEach(([p64, r64], r) => {
      const p = decode(p64), rc = decode(r64);
      // thresholds with no true positive (recall 0) are not drawn: precision there is 0 or undefined
      let d = "";
      const points = new Set();
      for (let k = 0; k < p.length; k++) {
        if (rc[k] <= 0) continue;
        const xy = x(rc[k]).toFixed(1) + " " + y(p[k]).toFixed(1);
        d += (d ? "L" : "M") + xy;
        points.add(xy);
      }
      const colour = COLOURS[r % COLOURS.length];
      add("path", { d: d, fill: "none", stroke: colour, "stroke-width": 1.6, "data-result": r });
      if (points.size === 1) {  // a map with one level (e.g. constant): its curve is a single point
        const [px, py] = [...points][0].split(" ");
        add("circle", { cx: px, cy: py, r: 3.5, fill: colour });
      }
      add("text", { x: L + 8, y: P + 14 + 13 * r, "font-size": 11, fill: colour }, `${D.results[r].tag}: ${D.results[r].name}`);
    });
    return svg;
  }

  function count() {
    $("nsel").textContent = `${state.selected.size} selected`;
  }

  function render() {
    const rows = filtered(), pages = Math.max(1, Math.ceil(rows.length / state.size));
    state.page = Math.min(state.page, pages - 1);
    const body = $("grid").querySelector("tbody");
    const frag = document.createDocumentFragment();
    for (const i of rows.slice(state.page * state.size, (state.page + 1) * state.size)) {
      frag.appendChild(row(i));
    }
    body.replaceChildren(frag);
    for (const th of $("grid").querySelectorAll("th.sortable")) {
      const k = th.getAttribute("data-sort");
      if (k === state.sort) th.setAttribute("aria-sort", state.dir > 0 ? "ascending" : "descending");
      else th.removeAttribute("aria-sort");
    }
    $("pageinfo").textContent = `${rows.length} of ${D.images.length} images · page ${state.page + 1} of ${pages}`;
    count();
  }

  function quote(s) {
    return /^[\w@%+=:,./-]+$/.test(s) ? s : "'" + s.replace(/'/g, "'\\''") + "'";
  }
  function figure() {
    const chosen = [...state.selected].sort((a, b) => a - b);
    const stems = chosen.map((i) => D.images[i].name);
    const box = $("figure-cmd");
    if (stems.length === 0) { box.value = "select images with the check boxes first"; return; }
    const f = D.figure, args = ["dbdbench", "plot", "--grid", "--gt", f.gt, "--gt-white", f.gt_white];
    // plot --grid draws the photo column only when every selected image has its photo
    if (f.images && chosen.every((i) => D.images[i].photo)) args.push("--images", f.images);
    for (const m of f.maps) args.push("--map", `${m.name}=${m.dir}`, "--map-white", `${m.name}=${m.white}`);
    args.push("--stems", stems.join(","), "--out", "figure.pdf");
    box.value = args.map(quote).join(" ");
    box.select();
    const done = () => { $("copied").textContent = "copied to the clipboard"; };
    if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(box.value).then(done, () => {});
    else { try { if (document.execCommand("copy")) done(); } catch (e) { /* shown in the box */ } }
  }

  header();
  controls();
  thead();
  if (R > 1 && C > 0) { state.sort = "d:1:0"; state.dir = -1; }
  render();
  document.body.setAttribute("data-ready", "1");
})();
