/* The reliability diagram of /calibration/: stated vs realised breach rate per
   bin of stated probability, one colour per tier, the diagonal for reference. */
(function () {
  "use strict";

  var SVG = "http://www.w3.org/2000/svg";
  var COLOURS = { conservative: "#2f6f4f", balanced: "#2563c9", aggressive: "#c2410c" };

  function el(tag, attrs, text) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function draw(figure, data) {
    var W = 520, H = 420, M = { left: 56, right: 130, top: 20, bottom: 46 };
    var points = [];
    data.tier_names.forEach(function (name) {
      ((data.tiers[name] || {}).reliability || []).forEach(function (bin) {
        var stated = bin.mean_stated_probability !== undefined ? bin.mean_stated_probability
          : (bin.stated_lo + bin.stated_hi) / 2;
        points.push({ tier: name, x: stated, y: bin.realised_breach_rate, pairs: bin.pairs, bin: bin });
      });
    });
    // Both axes on one scale, up to the largest rate seen (at least 5%).
    var top = Math.max(0.05, Math.max.apply(null, points.map(function (p) { return Math.max(p.x, p.y); }).concat([0])));
    top = Math.min(1, Math.ceil(top * 20) / 20);
    var plotW = W - M.left - M.right, plotH = H - M.top - M.bottom;
    function sx(v) { return M.left + plotW * v / top; }
    function sy(v) { return M.top + plotH * (1 - v / top); }
    var svg = el("svg", { viewBox: "0 0 " + W + " " + H, role: "img", class: "reliability-chart",
                          "aria-label": "Reliability diagram: stated against realised breach rate" });
    for (var i = 0; i <= 5; i++) {
      var v = top * i / 5, label = (v * 100).toFixed(v * 100 < 10 ? 1 : 0) + "%";
      svg.appendChild(el("line", { x1: sx(0), x2: sx(top), y1: sy(v), y2: sy(v), stroke: "#e3e8ef" }));
      svg.appendChild(el("line", { x1: sx(v), x2: sx(v), y1: sy(0), y2: sy(top), stroke: "#e3e8ef" }));
      svg.appendChild(el("text", { x: M.left - 6, y: sy(v) + 4, "text-anchor": "end", "font-size": 11, fill: "#5b6b7f" }, label));
      svg.appendChild(el("text", { x: sx(v), y: H - M.bottom + 16, "text-anchor": "middle", "font-size": 11, fill: "#5b6b7f" }, label));
    }
    svg.appendChild(el("line", { class: "diagonal", x1: sx(0), y1: sy(0), x2: sx(top), y2: sy(top),
                                 stroke: "#8a97a8", "stroke-dasharray": "5 4" }));
    svg.appendChild(el("text", { x: M.left + plotW / 2, y: H - 8, "text-anchor": "middle", "font-size": 12, fill: "#1d2733" },
                       "stated breach probability"));
    svg.appendChild(el("text", { x: 14, y: M.top + plotH / 2, "text-anchor": "middle", "font-size": 12, fill: "#1d2733",
                                 transform: "rotate(-90 14 " + (M.top + plotH / 2) + ")" }, "realised breach rate"));
    var most = Math.max.apply(null, points.map(function (p) { return p.pairs; }).concat([1]));
    points.forEach(function (p) {
      var dot = el("circle", { class: "bin bin-" + p.tier, cx: sx(Math.min(p.x, top)), cy: sy(Math.min(p.y, top)),
                               r: 3 + 7 * Math.sqrt(p.pairs / most), fill: COLOURS[p.tier], "fill-opacity": 0.75 });
      dot.appendChild(el("title", {}, p.tier + ": stated " + (p.x * 100).toFixed(2) + "%, realised " +
                         (p.y * 100).toFixed(2) + "% over " + p.pairs + " pairs"));
      svg.appendChild(dot);
    });
    data.tier_names.forEach(function (name, k) {
      var y = M.top + 10 + 20 * k;
      svg.appendChild(el("circle", { cx: W - M.right + 20, cy: y, r: 6, fill: COLOURS[name] }));
      svg.appendChild(el("text", { x: W - M.right + 32, y: y + 4, "font-size": 12, fill: "#1d2733" }, name));
    });
    figure.appendChild(svg);
  }

  var figure = document.getElementById("reliability-diagram");
  var data = JSON.parse(document.getElementById("calibration-data").textContent);
  if (figure && data.tier_names) draw(figure, data);
})();
