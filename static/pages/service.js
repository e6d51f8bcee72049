/* The service page: SLI history and attribution charts (inline SVG), export
   downloads and on-demand regeneration. Exposes `window.sloServiceState`. */
(function () {
  "use strict";

  var SVG = "http://www.w3.org/2000/svg";
  var TIER_COLOURS = { conservative: "#1f8a5b", balanced: "#2563eb", aggressive: "#c2410c" };
  var data = JSON.parse(document.getElementById("service-data").textContent);
  var state = { historyLoaded: false, historyError: null, days: [], charts: [], downloads: [] };
  window.sloServiceState = state;

  function svgEl(tag, attrs, text) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function recommendation(sliType) {
    return data.recommendations.filter(function (r) { return r.sli_type === sliType; })[0] || null;
  }

  function niceTicks(min, max, count) {
    var span = max - min || Math.abs(max) || 1;
    var step = Math.pow(10, Math.floor(Math.log10(span / count)));
    [1, 2, 2.5, 5, 10].some(function (m) { if (span / (step * m) <= count) { step *= m; return true; } return false; });
    var ticks = [];
    for (var v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) ticks.push(v);
    return ticks;
  }

  /**
   * A line chart of daily values with horizontal reference lines.
   * spec: {title, points: [{day, value}], lines: [{value, label, colour}], format(v), floor, ceiling}
   */
  function lineChart(container, spec) {
    var W = 560, H = 250, M = { top: 26, right: 96, bottom: 30, left: 62 };
    var values = spec.points.map(function (p) { return p.value; }).filter(function (v) { return v !== null; });
    var refs = spec.lines.map(function (l) { return l.value; });
    var all = values.concat(refs);
    var lo = Math.min.apply(null, all), hi = Math.max.apply(null, all);
    var pad = (hi - lo) * 0.12 || Math.abs(hi) * 0.05 || 1;
    lo -= pad; hi += pad;
    if (spec.floor !== undefined) lo = Math.max(lo, spec.floor);
    if (spec.ceiling !== undefined) hi = Math.min(hi, spec.ceiling);
    var n = spec.points.length;
    var x = function (i) { return M.left + (n <= 1 ? 0 : i * (W - M.left - M.right) / (n - 1)); };
    var y = function (v) { return M.top + (hi - v) * (H - M.top - M.bottom) / (hi - lo || 1); };
    var svg = svgEl("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": spec.title, class: "line-chart" });
    svg.appendChild(svgEl("text", { x: M.left, y: 16, "font-size": 13, "font-weight": 600, fill: "#1d2733" }, spec.title));
    var ticks = niceTicks(lo, hi, 5);
    var step = ticks.length > 1 ? ticks[1] - ticks[0] : 0;
    ticks.forEach(function (t) {
      svg.appendChild(svgEl("line", { x1: M.left, x2: W - M.right, y1: y(t), y2: y(t), stroke: "#e7ebf0" }));
      svg.appendChild(svgEl("text", { x: M.left - 6, y: y(t) + 4, "font-size": 10.5, "text-anchor": "end", fill: "#647184" },
        (spec.tickFormat || spec.format)(t, step)));
    });
    [0, Math.floor((n - 1) / 2), n - 1].filter(function (i, k, arr) { return i >= 0 && arr.indexOf(i) === k; })
      .forEach(function (i) {
        svg.appendChild(svgEl("text", { x: x(i), y: H - 10, "font-size": 10.5, "text-anchor": "middle", fill: "#647184" },
          spec.points[i].day.slice(5)));
      });
    // Tiers capped at the same value share one line; labels that would
    // overlap are nudged apart.
    var groups = [];
    spec.lines.forEach(function (l) {
      var same = groups.filter(function (g) { return Math.abs(y(g.value) - y(l.value)) < 1; })[0];
      if (same) same.tiers.push(l.tier); else groups.push({ value: l.value, colour: l.colour, label: l.label, tiers: [l.tier] });
    });
    var lastLabelY = -Infinity;
    groups.sort(function (a, b) { return y(a.value) - y(b.value); }).forEach(function (g) {
      var yy = y(g.value);
      g.tiers.forEach(function (tier) {
        svg.appendChild(svgEl("line", { x1: M.left, x2: W - M.right, y1: yy, y2: yy, stroke: g.colour,
          "stroke-width": 1.5, "stroke-dasharray": "5 3", class: "target-line", "data-tier": tier }));
      });
      var labelY = Math.max(yy + 4, lastLabelY + 12);
      lastLabelY = labelY;
      svg.appendChild(svgEl("text", { x: W - M.right + 6, y: labelY, "font-size": 10.5,
        fill: g.tiers.length > 1 ? "#1d2733" : g.colour },
        g.label + (g.tiers.length > 1 ? " (" + g.tiers.length + " tiers)" : "")));
    });
    var legendX = W - M.right;
    ["aggressive", "balanced", "conservative"].forEach(function (tier) {
      if (!spec.lines.some(function (l) { return l.tier === tier; })) return;
      var text = svgEl("text", { x: legendX, y: 16, "font-size": 10.5, "text-anchor": "end", fill: TIER_COLOURS[tier] }, tier);
      svg.appendChild(text);
      legendX -= tier.length * 6 + 12;
    });
    var segment = [];
    function flush() {
      if (segment.length > 1) {
        svg.appendChild(svgEl("polyline", { points: segment.join(" "), fill: "none", stroke: "#17212e",
          "stroke-width": 1.8, class: "data-line" }));
      }
      segment = [];
    }
    spec.points.forEach(function (p, i) {
      if (p.value === null) { flush(); return; }
      segment.push(x(i).toFixed(1) + "," + y(p.value).toFixed(1));
      var dot = svgEl("circle", { cx: x(i), cy: y(p.value), r: 2.6, fill: "#17212e", class: "data-point" });
      dot.appendChild(svgEl("title", {}, p.day + ": " + spec.format(p.value)));
      svg.appendChild(dot);
    });
    flush();
    container.textContent = "";
    container.appendChild(svg);
    state.charts.push(spec.title);
  }

  function drawHistory(history) {
    var avail = recommendation("availability");
    var latency = recommendation("latency");
    var tierLines = function (rec, field, format) {
      if (!rec) return [];
      return ["conservative", "balanced", "aggressive"].filter(function (t) {
        return rec.tiers[t] && typeof rec.tiers[t][field] === "number";
      }).map(function (t) {
        return { tier: t, value: rec.tiers[t][field], colour: TIER_COLOURS[t], label: format(rec.tiers[t][field]) };
      });
    };
    // Start at the first day with data: a cold-start service has a long empty lookback.
    var first = 0;
    while (first < history.days.length - 1 && history.days[first].total === null) first += 1;
    var days = history.days.slice(first);
    var availPoints = days.map(function (d) { return { day: d.day, value: d.availability }; });
    var latencyPoints = days.map(function (d) {
      return { day: d.day, value: d.latency_p99_ms === undefined ? null : d.latency_p99_ms };
    });
    var status = document.getElementById("history-status");
    status.textContent = history.days_with_data + " of " + history.lookback_days + " days with data, " +
      history.start + " to " + history.end + ".";
    if (availPoints.some(function (p) { return p.value !== null; })) {
      lineChart(document.getElementById("availability-chart"), {
        title: "Daily availability", points: availPoints, lines: tierLines(avail, "target", function (v) { return slo.percent(v); }),
        format: function (v) { return slo.percent(v, 3); }, ceiling: 1,
        // Enough decimals that neighbouring ticks differ (99.998% vs 99.999%).
        tickFormat: function (v, step) {
          var digits = step > 0 ? Math.max(1, Math.ceil(-Math.log10(step * 100) - 1e-9)) : 2;
          return (v * 100).toFixed(digits) + "%";
        },
      });
    }
    if (latencyPoints.some(function (p) { return p.value !== null; })) {
      lineChart(document.getElementById("latency-chart"), {
        title: "Daily p99 latency", points: latencyPoints,
        lines: tierLines(latency, "threshold_ms", function (v) { return Math.round(v) + " ms"; }),
        format: function (v) { return Math.round(v) + " ms"; }, floor: 0,
      });
    }
  }

  function addBadge(kind, text) {
    var list = document.getElementById("quality-badges");
    if (list.querySelector(".badge-" + kind)) return;
    list.appendChild(slo.el("li", { class: "badge badge-" + kind }, text));
  }

  function loadHistory() {
    return fetch(data.history_url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (history) {
        state.days = history.days || [];
        if (history.error) throw new Error(history.error);
        if (history.days_with_data === 0) {
          addBadge("no-data", "No data");
          document.getElementById("history-status").textContent =
            "No telemetry for this service in " + history.start + " to " + history.end + ".";
        } else {
          if (!data.recommendations.length && history.days_with_data < 7) {
            addBadge("cold-start", "Only " + history.days_with_data + " days of data");
          }
          drawHistory(history);
        }
        state.historyLoaded = true;
      })
      .catch(function (err) {
        state.historyError = err.message;
        state.historyLoaded = true;
        document.getElementById("history-status").textContent = err.message;
      });
  }

  /** Horizontal bars of the feature attributions (percentage points), around zero. */
  function attributionChart(figure) {
    var rec = data.recommendations.filter(function (r) { return r.metric === figure.dataset.metric; })[0];
    var items = ((rec && rec.explanation && rec.explanation.feature_attributions) || []);
    if (!items.length) return;
    var W = 360, row = 26, M = { top: 22, left: 130, right: 70 };
    var H = M.top + items.length * row + 8;
    var max = Math.max.apply(null, items.map(function (a) { return Math.abs(a.contribution); })) || 1;
    var span = W - M.left - M.right;
    var hasNegative = items.some(function (a) { return a.contribution < 0; });
    var zero = M.left + (hasNegative ? span / 2 : 0);
    var scale = (hasNegative ? span / 2 : span) / max;
    var svg = svgEl("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": "Attributions" });
    svg.appendChild(svgEl("text", { x: 0, y: 14, "font-size": 12, "font-weight": 600, fill: "#1d2733" },
      "Observed minus balanced target, by cause (pp)"));
    items.forEach(function (a, i) {
      var yTop = M.top + i * row;
      var w = Math.abs(a.contribution) * scale;
      var xStart = a.contribution >= 0 ? zero : zero - w;
      svg.appendChild(svgEl("text", { x: M.left - 8, y: yTop + 15, "font-size": 11.5, "text-anchor": "end", fill: "#1d2733" },
        a.feature.replace(/_/g, " ")));
      var bar = svgEl("rect", { x: xStart, y: yTop + 4, width: Math.max(w, 1), height: row - 10, rx: 2,
        fill: a.contribution >= 0 ? "#3b82c4" : "#d1394b", class: "attribution-bar" });
      bar.appendChild(svgEl("title", {}, a.description || a.feature));
      svg.appendChild(bar);
      svg.appendChild(svgEl("text", { x: Math.max(xStart + w, zero) + 4, y: yTop + 15, "font-size": 10.5, fill: "#647184" },
        (a.contribution * 100).toFixed(3)));
    });
    svg.appendChild(svgEl("line", { x1: zero, x2: zero, y1: M.top, y2: H - 4, stroke: "#647184" }));
    figure.appendChild(svg);
  }

  function download(format) {
    var tier = document.getElementById("export-tier").value;
    var status = document.getElementById("export-status");
    var url = data.api_base + "/slo-recommendations/export?format=" + encodeURIComponent(format) +
      "&tier=" + encodeURIComponent(tier);
    status.textContent = "Exporting " + format + " (" + tier + ")…";
    return slo.apiFetch(url, { text: true }).then(function (text) {
      var blob = new Blob([text], { type: "application/yaml" });
      var link = slo.el("a", { href: URL.createObjectURL(blob), download: data.service_id + "-slo-" + tier + "." + format + ".yaml" });
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(function () { URL.revokeObjectURL(link.href); }, 1000);
      state.downloads.push(format);
      status.textContent = "Downloaded " + link.getAttribute("download") + ".";
    }).catch(function (err) { status.textContent = "Export failed: " + err.message; });
  }

  Array.prototype.forEach.call(document.querySelectorAll(".export-button"), function (button) {
    button.addEventListener("click", function () { download(button.dataset.format); });
  });
  document.getElementById("regenerate-button").addEventListener("click", function () {
    var status = document.getElementById("export-status");
    status.textContent = "Computing recommendations…";
    slo.apiFetch(data.api_base + "/slo-recommendations?force_regenerate=true")
      .then(function () { window.location.reload(); })
      .catch(function (err) { status.textContent = "No recommendation: " + err.message; });
  });
  Array.prototype.forEach.call(document.querySelectorAll(".attribution-chart"), attributionChart);
  state.ready = loadHistory();
})();
