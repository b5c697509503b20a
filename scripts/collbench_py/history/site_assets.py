"""Style and script inlined into every page (file:// pages cannot fetch their own data)."""

# No network, no inline handlers: everything the page may load is itself.
CSP = ("default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
       "img-src data:")

CSS = """
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 24px 40px;
       color: #1d1d1f; background: #fff; }
h1 { font-size: 22px; margin: 18px 0 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
h3 { font-size: 14px; margin: 18px 0 6px; color: #333; }
nav a { margin-right: 14px; }
.meta { color: #555; font-size: 12px; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border-bottom: 1px solid #e5e5e5; padding: 3px 8px; text-align: left;
         vertical-align: top; }
th { background: #f5f5f7; }
tr[data-change] { cursor: pointer; }
tr[data-change]:hover { background: #fff6e0; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
.bad { color: #c62828; font-weight: 600; }
.good { color: #2e7d32; font-weight: 600; }
.new { background: #c62828; color: #fff; border-radius: 3px; padding: 0 4px; font-size: 11px; }
.grid-charts { display: flex; flex-wrap: wrap; gap: 6px 12px; }
figure { margin: 0; }
figcaption { font-size: 12px; color: #333; }
svg text { font: 10px system-ui, sans-serif; fill: #555; }
svg .legend { font-size: 11px; fill: #222; }
svg .grid { stroke: #eee; }
svg .line { fill: none; stroke: #1f77b4; stroke-width: 1.2; }
svg .level { stroke: #333; stroke-width: 1; stroke-dasharray: 3 2; opacity: 0.7; }
svg .cursor { stroke: #999; }
svg .cp { cursor: pointer; }
svg .cp line { stroke-width: 1.5; stroke-dasharray: 4 2; }
svg .cp.active line { stroke-width: 3; stroke-dasharray: none; }
#tip { position: fixed; pointer-events: none; background: #222; color: #fff; font-size: 12px;
       padding: 3px 6px; border-radius: 3px; white-space: nowrap; z-index: 10; }
#detail { position: fixed; right: 16px; bottom: 16px; max-width: 640px; max-height: 60vh;
          overflow: auto; background: #fff; border: 1px solid #bbb; border-radius: 6px;
          box-shadow: 0 4px 18px rgba(0,0,0,.18); padding: 10px 14px; z-index: 9; }
#detail button { float: right; }
#errors { background: #fdecea; color: #c62828; white-space: pre-wrap; }
.empty { color: #777; font-style: italic; }
"""

# Collects script errors into the page itself, so a headless browser's DOM dump shows them.
ERROR_HOOK = """
(function () {
  var box = document.getElementById("errors");
  window.addEventListener("error", function (e) {
    box.hidden = false;
    box.textContent += (e.message || "script error") + "\\n";
  });
})();
"""

SCRIPT = """
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("history-data").textContent);
  var tip = document.getElementById("tip");
  var detail = document.getElementById("detail");
  var body = document.getElementById("detail-body");

  function runInfo(machine, position) {
    var r = data.machines[machine][position];
    return {id: r[0], time: r[1], sha: r[2]};
  }
  function positionOf(s, i) {
    return s.idx ? s.idx[i] : s.start + i;
  }
  function pct(x) {
    return (x >= 0 ? "+" : "") + (100 * x).toFixed(1) + "%";
  }
  function cell(row, text, cls) {
    var td = document.createElement("td");
    td.textContent = text;
    if (cls) { td.className = cls; }
    row.appendChild(td);
  }
  function showChange(number) {
    var c = data.changes[number];
    if (!c) { return; }
    document.querySelectorAll(".cp.active").forEach(function (g) {
      g.classList.remove("active");
    });
    document.querySelectorAll('.cp[data-change="' + number + '"]').forEach(function (g) {
      g.classList.add("active");
    });
    body.textContent = "";
    var h = document.createElement("h3");
    h.textContent = c.kind + " " + pct(c.time_change) + " time (" + pct(c.busbw_change) +
        " busbw), " + c.shape + ", " + c.status + (c.new ? ", new" : "");
    body.appendChild(h);
    var p = document.createElement("p");
    p.textContent = c.label + ". First run after: run " + c.run[0] + " (" + c.run[1] +
        ", " + c.run[2] + "); before it: run " + c.prev[0] + " (" + c.prev[1] + ", " +
        c.prev[2] + "). Confidence " + (100 * c.confidence).toFixed(1) + "% (p = " +
        c.p_value.toFixed(4) + ", " + c.runs_before + " runs before, " + c.runs_after +
        " after).";
    body.appendChild(p);
    var table = document.createElement("table");
    var head = document.createElement("tr");
    ["what changed", "before", "after"].forEach(function (t) {
      var th = document.createElement("th");
      th.textContent = t;
      head.appendChild(th);
    });
    table.appendChild(head);
    if (c.diff.length === 0) {
      var none = document.createElement("tr");
      cell(none, "nothing recorded differs between the two runs", "empty");
      table.appendChild(none);
    }
    c.diff.forEach(function (d) {
      var row = document.createElement("tr");
      cell(row, d[0]);
      cell(row, d[1] === null ? "(none)" : String(d[1]));
      cell(row, d[2] === null ? "(none)" : String(d[2]));
      table.appendChild(row);
    });
    body.appendChild(table);
    detail.hidden = false;
  }

  document.querySelectorAll("svg.trend").forEach(function (svg) {
    var s = data.series[svg.getAttribute("data-series")];
    var n = +svg.getAttribute("data-n");
    var left = +svg.getAttribute("data-left");
    var width = +svg.getAttribute("data-width");
    var cursor = svg.querySelector(".cursor");
    svg.addEventListener("mousemove", function (ev) {
      var box = svg.getBoundingClientRect();
      var x = ev.clientX - box.left;
      var i = n > 1 ? Math.round((x - left) / width * (n - 1)) : 0;
      if (i < 0 || i >= n) { tip.hidden = true; return; }
      var r = runInfo(s.machine, positionOf(s, i));
      tip.textContent = r.time + " · run " + r.id + " · " + r.sha + " · " + s.values[i] +
          " " + s.unit;
      tip.style.left = (ev.clientX + 12) + "px";
      tip.style.top = (ev.clientY + 12) + "px";
      tip.hidden = false;
      var cx = n > 1 ? left + width * i / (n - 1) : left + width / 2;
      cursor.setAttribute("x1", cx);
      cursor.setAttribute("x2", cx);
      cursor.setAttribute("visibility", "visible");
    });
    svg.addEventListener("mouseleave", function () {
      tip.hidden = true;
      cursor.setAttribute("visibility", "hidden");
    });
  });
  document.addEventListener("click", function (ev) {
    var hit = ev.target.closest("[data-change]");
    if (hit) { showChange(+hit.getAttribute("data-change")); }
  });
  document.addEventListener("keydown", function (ev) {
    var hit = ev.target.closest ? ev.target.closest("[data-change]") : null;
    if (hit && ev.key === "Enter") { showChange(+hit.getAttribute("data-change")); }
    if (ev.key === "Escape") { detail.hidden = true; }
  });
  document.getElementById("detail-close").addEventListener("click", function () {
    detail.hidden = true;
  });
  var hash = /^#change-(\\d+)$/.exec(window.location.hash);
  if (hash) { showChange(+hash[1]); }
  document.body.setAttribute("data-render-ms", Math.round(performance.now()));
  document.body.setAttribute("data-ready", "1");
  window.addEventListener("load", function () {
    // After layout: what opening the page costs, for bench-history.
    window.requestAnimationFrame(function () {
      document.body.setAttribute("data-load-ms", Math.round(performance.now()));
    });
  });
})();
"""
