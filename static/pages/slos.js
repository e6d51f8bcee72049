/* The service page's SLO panel: Accept / Modify / Reject beside the tiers,
   Retire, Score now, and each SLO's error-budget burn-down (inline SVG).
   Exposes `window.sloRecordState` for tests. */
(function () {
  "use strict";

  var SVG = "http://www.w3.org/2000/svg";
  var dataNode = document.getElementById("slo-data");
  if (!dataNode) return;
  var data = JSON.parse(dataNode.textContent);
  var state = { charts: 0, lastResponse: null, lastError: null };
  window.sloRecordState = state;

  function svgEl(tag, attrs, text) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  /** Budget left over the window: 100% at the start, the zero line marked. */
  function burnDown(container, points) {
    if (!points || points.length < 2) {
      container.appendChild(slo.el("figcaption", {}, "No burn-down yet: it appears once the SLO is scored."));
      return;
    }
    var W = 520, H = 200, M = { top: 22, right: 16, bottom: 28, left: 48 };
    var times = points.map(function (p) { return Date.parse(p.at); });
    var values = points.map(function (p) { return p.budget_remaining; });
    var lo = Math.min(0, Math.min.apply(null, values)), hi = 1;
    var t0 = times[0], t1 = times[times.length - 1];
    var x = function (t) { return M.left + (t - t0) * (W - M.left - M.right) / ((t1 - t0) || 1); };
    var y = function (v) { return M.top + (hi - v) * (H - M.top - M.bottom) / ((hi - lo) || 1); };
    var svg = svgEl("svg", { viewBox: "0 0 " + W + " " + H, role: "img", class: "burn-down-chart",
      "aria-label": "Error budget left over the window" });
    svg.appendChild(svgEl("text", { x: M.left, y: 14, "font-size": 12.5, "font-weight": 600, fill: "#1d2733" },
      "Error budget left"));
    [1, 0.5, 0].concat(lo < 0 ? [lo] : []).forEach(function (v) {
      svg.appendChild(svgEl("line", { x1: M.left, x2: W - M.right, y1: y(v), y2: y(v),
        stroke: v === 0 ? "#d1394b" : "#e7ebf0", "stroke-dasharray": v === 0 ? "4 3" : "" }));
      svg.appendChild(svgEl("text", { x: M.left - 6, y: y(v) + 4, "font-size": 10.5, "text-anchor": "end",
        fill: "#647184" }, Math.round(v * 100) + "%"));
    });
    [t0, t1].forEach(function (t, i) {
      svg.appendChild(svgEl("text", { x: x(t), y: H - 8, "font-size": 10.5, "text-anchor": i ? "end" : "start",
        fill: "#647184" }, new Date(t).toISOString().slice(0, 10)));
    });
    var path = points.map(function (p, i) {
      return (i ? "L" : "M") + x(times[i]).toFixed(1) + " " + y(p.budget_remaining).toFixed(1);
    }).join(" ");
    var last = values[values.length - 1];
    var colour = last <= 0 ? "#7a1020" : last < 0.2 ? "#d1394b" : last < 0.5 ? "#d08a00" : "#1f8a5b";
    svg.appendChild(svgEl("path", { d: path, fill: "none", stroke: colour, "stroke-width": 2, class: "burn-line" }));
    svg.appendChild(svgEl("circle", { cx: x(t1), cy: y(last), r: 3.5, fill: colour }));
    container.appendChild(svg);
    state.charts += 1;
  }

  document.querySelectorAll(".burn-down").forEach(function (figure) {
    burnDown(figure, data.burn_down[figure.getAttribute("data-slo-id")]);
  });

  function setStatus(node, text, isError) {
    node.textContent = text;
    node.classList.toggle("error", !!isError);
  }

  function after(message, node) {
    return function (body) {
      state.lastResponse = body;
      setStatus(node, message);
      window.setTimeout(function () { window.location.reload(); }, 300);
    };
  }

  function failed(node) {
    return function (err) {
      state.lastError = err.message;
      var fields = (err.problem && err.problem.errors || []).map(function (e) {
        return e.field ? e.field + ": " + e.message : e.message;
      });
      setStatus(node, (fields.length ? fields.join("; ") : err.message), true);
    };
  }

  document.querySelectorAll("form.decision").forEach(function (form) {
    var status = form.querySelector(".status");
    form.querySelectorAll("button.decide").forEach(function (button) {
      button.addEventListener("click", function () {
        var action = button.getAttribute("data-action");
        var body = {
          action: action,
          recommendation_id: parseInt(form.getAttribute("data-recommendation-id"), 10),
          tier: form.elements.tier.value,
          rationale: form.elements.rationale.value,
        };
        if (action === "modify") {
          if (form.elements.target.value !== "") body.target = parseFloat(form.elements.target.value) / 100;
          if (form.elements.threshold_ms && form.elements.threshold_ms.value !== "") {
            body.threshold_ms = parseFloat(form.elements.threshold_ms.value);
          }
          if (form.elements.window_days.value !== "") body.window_days = parseInt(form.elements.window_days.value, 10);
        }
        setStatus(status, "Saving…");
        slo.apiFetch(data.slos_url, { method: "POST", body: body })
          .then(after(action === "reject" ? "Rejection recorded." : "SLO of record saved.", status), failed(status));
      });
    });
  });

  var panelStatus = document.getElementById("slo-status");
  document.querySelectorAll("button.retire").forEach(function (button) {
    button.addEventListener("click", function () {
      var rationale = window.prompt("Why retire this SLO? (kept in the audit trail)", "");
      if (rationale === null) return;
      slo.apiFetch(data.slos_url + "/" + button.getAttribute("data-slo-id"), { method: "DELETE",
        body: { rationale: rationale } }).then(after("SLO retired.", panelStatus), failed(panelStatus));
    });
  });

  var refresh = document.getElementById("slo-refresh");
  if (refresh) {
    refresh.addEventListener("click", function () {
      setStatus(panelStatus, "Scoring from telemetry…");
      slo.apiFetch(data.slos_url + "?refresh=true").then(after("Scored.", panelStatus), failed(panelStatus));
    });
  }
})();
