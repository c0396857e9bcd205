// pytest-sacredx report: renders the runs embedded as JSON in #sacredx-data.
// Only the rows of the current page are in the document, so 10,000 runs open at once.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("sacredx-data").textContent);
  var PAGE = 100;
  var cols = data.columns;
  var rows = data.rows;
  var state = { sort: null, desc: false, filter: "", page: 0, shown: data.shown.slice(), order: null };

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    if (attrs) { for (var k in attrs) { if (Object.prototype.hasOwnProperty.call(attrs, k)) { e.setAttribute(k, attrs[k]); } } }
    if (text !== undefined && text !== null) { e.textContent = text; }
    return e;
  }

  function fmt(col, v) {
    if (v === null || v === undefined) { return ""; }
    if (typeof v === "number") {
      if (col === "duration") { return v < 60 ? v.toFixed(1) + "s" : Math.floor(v / 60) + "m" + ("0" + Math.round(v % 60)).slice(-2) + "s"; }
      if (Number.isInteger(v)) { return String(v); }
      return Number(v.toPrecision(4)).toString();
    }
    if (typeof v === "boolean") { return v ? "true" : "false"; }
    if (col === "start" || col === "stop") { return String(v).replace("T", " "); }
    if (col === "case" && String(v).indexOf("::") >= 0) { return String(v).split("::").pop(); }
    if (col === "id" && String(v).length > 12) { return String(v).slice(0, 12); }
    return String(v);
  }

  function compare(a, b) {
    var an = a === null || a === undefined, bn = b === null || b === undefined;
    if (an || bn) { return an && bn ? 0 : (an ? 1 : -1); }
    if (typeof a === "number" && typeof b === "number") { return a - b; }
    return String(a) < String(b) ? -1 : (String(a) > String(b) ? 1 : 0);
  }

  function selection() {
    var idx = [];
    var f = state.filter.toLowerCase();
    var visible = state.shown.map(function (c) { return cols.indexOf(c); });
    for (var i = 0; i < rows.length; i++) {
      if (f) {
        var hit = false;
        for (var j = 0; j < visible.length && !hit; j++) {
          var v = rows[i][visible[j]];
          if (v !== null && fmt(cols[visible[j]], v).toLowerCase().indexOf(f) >= 0) { hit = true; }
        }
        if (!hit) { continue; }
      }
      idx.push(i);
    }
    if (state.sort !== null) {
      var c = cols.indexOf(state.sort), sign = state.desc ? -1 : 1;
      idx.sort(function (x, y) {
        var a = rows[x][c], b = rows[y][c];
        var nullish = (a === null || a === undefined) - (b === null || b === undefined);
        if (nullish) { return nullish; }
        return sign * compare(a, b) || x - y;
      });
    }
    return idx;
  }

  function renderRuns() {
    var table = document.getElementById("runs");
    var idx = selection();
    var pages = Math.max(1, Math.ceil(idx.length / PAGE));
    if (state.page >= pages) { state.page = pages - 1; }
    var head = el("thead"), tr = el("tr");
    state.shown.forEach(function (c) {
      var th = el("th", { "data-col": c, title: "sort by " + c }, c.replace(/^(config|metrics)\./, ""));
      if (state.sort === c) { th.className = state.desc ? "desc" : "asc"; }
      th.addEventListener("click", function () {
        if (state.sort === c) { state.desc = !state.desc; } else { state.sort = c; state.desc = false; }
        state.page = 0; renderRuns();
      });
      tr.appendChild(th);
    });
    head.appendChild(tr);
    var body = el("tbody");
    var shownIdx = state.shown.map(function (c) { return cols.indexOf(c); });
    idx.slice(state.page * PAGE, (state.page + 1) * PAGE).forEach(function (i) {
      var r = el("tr", { "data-row": String(i) });
      shownIdx.forEach(function (j, k) {
        var v = rows[i][j];
        var td = el("td", typeof v === "number" ? { "class": "num" } : null, fmt(cols[j], v));
        if (state.shown[k] === "status") { td.className = "status " + String(v); }
        r.appendChild(td);
      });
      r.addEventListener("click", function () { showRun(i); });
      body.appendChild(r);
    });
    table.replaceChildren(head, body);
    document.getElementById("count").textContent = idx.length + " of " + rows.length + " runs" +
      (pages > 1 ? " \u2014 page " + (state.page + 1) + " of " + pages : "");
    document.getElementById("prev").disabled = state.page === 0;
    document.getElementById("next").disabled = state.page >= pages - 1;
  }

  function columnChooser() {
    var box = document.getElementById("columns");
    cols.forEach(function (c) {
      var label = el("label"), cb = el("input", { type: "checkbox", value: c });
      cb.checked = state.shown.indexOf(c) >= 0;
      cb.addEventListener("change", function () {
        if (cb.checked) { state.shown = cols.filter(function (x) { return x === c || state.shown.indexOf(x) >= 0; }); }
        else { state.shown = state.shown.filter(function (x) { return x !== c; }); }
        renderRuns();
      });
      label.appendChild(cb); label.appendChild(document.createTextNode(" " + c));
      box.appendChild(label);
    });
  }

  var SVG = "http://www.w3.org/2000/svg";
  function svgEl(tag, attrs) {
    var e = document.createElementNS(SVG, tag);
    for (var k in attrs) { if (Object.prototype.hasOwnProperty.call(attrs, k)) { e.setAttribute(k, attrs[k]); } }
    return e;
  }

  function curve(name, c) {
    var vs = c.v, n = vs.length, steps = [];
    for (var i = 0; i < n; i++) { steps.push(c.s ? c.s[i] : (i === n - 1 ? c.l : c.a + i * c.d)); }
    var W = 320, H = 160, P = 30;
    var pts = [];
    for (var j = 0; j < n; j++) { if (vs[j] !== null && steps[j] !== null) { pts.push([steps[j], vs[j]]); } }
    var fig = el("figure", { "class": "curve" });
    fig.appendChild(el("figcaption", null, name));
    var svg = svgEl("svg", { width: W, height: H, viewBox: "0 0 " + W + " " + H, role: "img" });
    if (pts.length) {
      var xs = pts.map(function (p) { return p[0]; }), ys = pts.map(function (p) { return p[1]; });
      var x0 = Math.min.apply(null, xs), x1 = Math.max.apply(null, xs);
      var y0 = Math.min.apply(null, ys), y1 = Math.max.apply(null, ys);
      var sx = (W - 2 * P) / ((x1 - x0) || 1), sy = (H - 2 * P) / ((y1 - y0) || 1);
      var d = pts.map(function (p) { return (P + (p[0] - x0) * sx).toFixed(1) + "," + (H - P - (p[1] - y0) * sy).toFixed(1); }).join(" ");
      svg.appendChild(svgEl("rect", { x: P, y: P, width: W - 2 * P, height: H - 2 * P, "class": "frame" }));
      svg.appendChild(svgEl("polyline", { points: d, "class": "line" }));
      [[P, H - P + 14, String(x0)], [W - P, H - P + 14, String(x1)], [2, H - P, fmt("", y0)], [2, P + 4, fmt("", y1)]].forEach(function (t) {
        var tx = svgEl("text", { x: t[0], y: t[1], "class": "tick" }); tx.textContent = t[2]; svg.appendChild(tx);
      });
    }
    fig.appendChild(svg);
    return fig;
  }

  function showRun(i) {
    var panel = document.getElementById("run");
    panel.replaceChildren();
    panel.appendChild(el("h3", null, "Run " + rows[i][cols.indexOf("id")]));
    var dl = el("dl");
    cols.forEach(function (c, j) {
      var v = rows[i][j];
      if (v === null || v === undefined || v === "") { return; }
      dl.appendChild(el("dt", null, c)); dl.appendChild(el("dd", null, typeof v === "number" ? String(v) : fmt("", v)));
    });
    panel.appendChild(dl);
    var curves = data.curves[i] || {};
    var names = Object.keys(curves).sort();
    var box = el("div", { "class": "curves" });
    names.forEach(function (n) { box.appendChild(curve(n, curves[n])); });
    if (!names.length) { box.appendChild(el("p", null, "no metrics logged")); }
    panel.appendChild(box);
    panel.hidden = false;
  }

  function simpleTable(id, spec) {
    var host = document.getElementById(id);
    if (spec && spec.title) { host.appendChild(el("p", { "class": "title" }, spec.title)); }
    if (!spec || !spec.rows || !spec.rows.length) {
      host.appendChild(el("p", { "class": "none" }, spec && spec.empty ? spec.empty : "nothing to show"));
      ((spec && spec.notes) || []).forEach(function (n) { host.appendChild(el("p", { "class": "note" }, n)); });
      return;
    }
    var t = el("table", { "class": "simple" }), head = el("tr");
    spec.header.forEach(function (h) { head.appendChild(el("th", null, h)); });
    var thead = el("thead"); thead.appendChild(head); t.appendChild(thead);
    var body = el("tbody");
    spec.rows.forEach(function (r) {
      var tr = el("tr");
      r.forEach(function (v) { tr.appendChild(el("td", typeof v === "number" ? { "class": "num" } : null, fmt("", v))); });
      body.appendChild(tr);
    });
    t.appendChild(body); host.appendChild(t);
    (spec.notes || []).forEach(function (n) { host.appendChild(el("p", { "class": "note" }, n)); });
  }

  document.getElementById("filter").addEventListener("input", function (e) {
    state.filter = e.target.value; state.page = 0; renderRuns();
  });
  document.getElementById("prev").addEventListener("click", function () { state.page -= 1; renderRuns(); });
  document.getElementById("next").addEventListener("click", function () { state.page += 1; renderRuns(); });
  columnChooser();
  renderRuns();
  simpleTable("groups", data.groups);
  simpleTable("comparison", data.comparison);
  document.body.setAttribute("data-ready", "1");
})();
