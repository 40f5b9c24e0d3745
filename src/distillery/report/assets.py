"""The report's stylesheet and its loader script, inlined into every report.

The loader draws each Plotly figure from the JSON next to it and marks every figure
`data-rendered="true"` once it is drawn (an image: once it decoded), or "false" with a
visible message when it could not be; the page's `data-plots-rendered` counts the drawn
ones. People see which plot failed, and a headless browser can check the page.
"""

from __future__ import annotations

CSS = """
:root { --ink: #1f2933; --muted: #616e7c; --line: #d9e2ec; --ok: #2f8132; --missing: #a06100;
        --error: #b42318; --panel: #f7f9fb; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: var(--ink); background: #fff; }
header { padding: 24px 40px 12px; border-bottom: 1px solid var(--line); }
header h1 { margin: 0 0 4px; font-size: 26px; }
header p { margin: 2px 0; color: var(--muted); }
nav { padding: 10px 40px; border-bottom: 1px solid var(--line); background: var(--panel); }
nav ol { margin: 0; padding-left: 20px; columns: 2; }
nav a { color: var(--ink); }
main { padding: 0 40px 40px; max-width: 1400px; }
section { border-bottom: 1px solid var(--line); padding: 18px 0 24px; }
section h2 { margin: 0 0 6px; font-size: 21px; }
.step { color: var(--muted); font-size: 13px; font-weight: normal; margin-left: 8px; }
.badge { display: inline-block; font-size: 12px; padding: 1px 8px; border-radius: 10px;
         color: #fff; margin-left: 6px; vertical-align: middle; }
.badge.ok { background: var(--ok); } .badge.missing { background: var(--missing); }
.badge.error { background: var(--error); }
.notes { margin: 8px 0; padding-left: 20px; color: var(--muted); }
.notes.missing { color: var(--missing); font-weight: 600; }
.notes.error { color: var(--error); font-weight: 600; }
.metrics { display: flex; flex-wrap: wrap; gap: 10px; margin: 10px 0; }
.metric { background: var(--panel); border: 1px solid var(--line); border-radius: 6px;
          padding: 6px 12px; min-width: 140px; }
.metric .label { color: var(--muted); font-size: 12px; }
.metric .value { font-size: 17px; font-weight: 600; }
.figures { display: flex; flex-wrap: wrap; gap: 16px; }
figure.plot { margin: 8px 0; flex: 1 1 620px; min-width: 480px; border: 1px solid var(--line);
              border-radius: 6px; padding: 8px; }
figure.plot img { max-width: 100%; height: auto; display: block; margin: 0 auto; }
figcaption { color: var(--muted); font-size: 13px; margin-top: 6px; }
.plot-error { color: var(--error); font-weight: 600; }
table { border-collapse: collapse; margin: 10px 0 4px; font-size: 13px; }
caption { text-align: left; font-weight: 600; padding: 4px 0; }
th, td { border: 1px solid var(--line); padding: 3px 8px; text-align: left;
         vertical-align: top; }
th { background: var(--panel); }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.table-wrap { overflow-x: auto; max-width: 100%; }
footer { padding: 16px 40px; color: var(--muted); font-size: 13px; }
"""

LOADER = """
(function () {
  var figures = Array.prototype.slice.call(document.querySelectorAll("figure.plot"));
  var drawn = 0;
  function mark(figure, ok, why) {
    figure.setAttribute("data-rendered", ok ? "true" : "false");
    if (ok) {
      drawn += 1;
      document.body.setAttribute("data-plots-rendered", String(drawn));
    } else {
      var p = document.createElement("p");
      p.className = "plot-error";
      p.textContent = "This plot could not be drawn: " + why;
      figure.insertBefore(p, figure.firstChild);
    }
  }
  document.body.setAttribute("data-plots-expected", String(figures.length));
  document.body.setAttribute("data-plots-rendered", "0");
  figures.forEach(function (figure) {
    if (figure.getAttribute("data-kind") === "png") {
      var img = figure.querySelector("img");
      var done = function () { mark(figure, img.naturalWidth > 0, "the image did not decode"); };
      if (img.complete) { done(); } else {
        img.addEventListener("load", done); img.addEventListener("error", done);
      }
      return;
    }
    try {
      if (typeof Plotly === "undefined") { throw new Error("plotly.js is missing"); }
      var spec = JSON.parse(document.getElementById(figure.getAttribute("data-spec")).textContent);
      var area = figure.querySelector(".plot-area");
      Plotly.newPlot(area, spec.data, spec.layout, {responsive: true, displaylogo: false})
        .then(function () { mark(figure, true); },
              function (error) { mark(figure, false, String(error)); });
    } catch (error) {
      mark(figure, false, String(error));
    }
  });
})();
"""
