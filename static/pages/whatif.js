/* What-if over the graph (DESIGN.md section 14).
   On the service page: the constraint analysis of the balanced target and
   the what-if box (impact analysis), listed in tables.
   On the map (`/?focus=<id>&whatif=<availability>[&max_depth=<n>]`): the
   same impact analysis, its services highlighted, the at-risk ones distinct.
   Exposes `window.sloWhatIf` (the last analysis, or its error) for tests. */
(function () {
  "use strict";

  var state = { constraint: null, impact: null, error: null, done: false };
  window.sloWhatIf = state;

  function signed(value) {
    var text = (value * 100).toFixed(4).replace(/0+$/, "").replace(/\.$/, "");
    return (value > 0 ? "+" : "") + text + " pp";
  }

  function cell(row, text, cls) {
    var td = slo.el("td", cls ? { class: cls } : {}, text);
    row.appendChild(td);
    return td;
  }

  function serviceLink(id) {
    return slo.el("a", { href: "/services/" + encodeURIComponent(id) + "/" }, id);
  }

  function impactUrl() { return "/api/v1/impact-analysis"; }

  function runImpact(serviceId, availability, maxDepth) {
    return slo.apiFetch(impactUrl(), { method: "POST",
      body: { service_id: serviceId, availability: availability, max_depth: maxDepth } });
  }

  /* ---- the service page ---- */

  function balancedTarget() {
    var data = document.getElementById("service-data");
    if (!data) return null;
    var recommendations = JSON.parse(data.textContent).recommendations || [];
    for (var i = 0; i < recommendations.length; i++) {
      var r = recommendations[i];
      var tier = r.sli_type === "availability" && r.tiers && r.tiers.balanced;
      if (tier && typeof tier.target === "number") return tier.target;
    }
    return null;
  }

  function showConstraint(box, body) {
    var status = document.getElementById("constraint-status");
    var summary = document.getElementById("constraint-summary");
    document.getElementById("constraint-target").textContent = slo.percent(body.target);
    status.textContent = "";
    summary.hidden = false;
    summary.textContent = (body.dependencies.length ?
      body.dependencies.length + " unique hard sync dependenc" + (body.dependencies.length === 1 ? "y" : "ies") +
      " bound it at " + slo.percent(body.dependency_bound) + ": " : "No hard sync dependency: ") +
      (body.achievable ? "achievable, leaving " + Math.round(body.own_budget_minutes) + " minutes of the " +
        body.window_days + "-day window for its own outages." : "not achievable.");
    summary.className = "small " + (body.achievable ? "ok" : "warning");
    var warnings = document.getElementById("constraint-warnings");
    warnings.textContent = "";
    body.warnings.forEach(function (w) { warnings.appendChild(slo.el("li", { class: "warning" }, w)); });
    var table = document.getElementById("constraint-table");
    var tbody = table.querySelector("tbody");
    tbody.textContent = "";
    body.dependencies.forEach(function (d) {
      var row = slo.el("tr", { "data-service": d.service_id, class: d.meets_required === false ? "short" : "" });
      var name = cell(row, "");
      name.appendChild(serviceLink(d.service_id));
      if (d.members.length > 1) name.appendChild(slo.el("span", { class: "muted small" }, " (cycle: " + d.members.join(", ") + ")"));
      cell(row, String(d.depth));
      cell(row, slo.percent(d.availability, 4) + (d.availability_basis === "edge" ? " (its calls)" : ""));
      cell(row, slo.percent(d.required_availability, 4));
      cell(row, slo.percent(d.extra_nine_availability, 4));
      cell(row, d.slo_target === null ? "–" : slo.percent(d.slo_target));
      cell(row, d.meets_required === null ? "no data" : d.meets_required ? "yes" : "no");
      tbody.appendChild(row);
    });
    table.hidden = body.dependencies.length === 0;
  }

  function loadConstraint(box) {
    var target = balancedTarget();
    var status = document.getElementById("constraint-status");
    if (target === null) {
      // No request: the analysis is of the balanced tier, and there is none yet.
      status.textContent = "No balanced availability target yet: the analysis appears with a recommendation.";
      return Promise.resolve(null);
    }
    var url = "/api/v1/services/" + encodeURIComponent(box.dataset.serviceId) + "/constraint-analysis?target=" +
      encodeURIComponent(target);
    return slo.apiFetch(url).then(function (body) {
      state.constraint = body;
      showConstraint(box, body);
    }).catch(function (err) {
      status.textContent = "Could not analyse the dependencies: " + err.message;
      state.error = err.message;
    });
  }

  function showImpact(body) {
    var summary = document.getElementById("whatif-summary");
    summary.hidden = false;
    summary.textContent = body.summary.impacted ?
      body.summary.impacted + " service" + (body.summary.impacted === 1 ? "" : "s") + " upstream would be bound lower; " +
      body.summary.at_risk + " SLO" + (body.summary.at_risk === 1 ? "" : "s") + " of record would sit above its bound" +
      (body.summary.at_risk_already ? " (" + body.summary.at_risk_already + " already do)." : ".") :
      "No service depends on it through hard sync edges.";
    summary.className = "small " + (body.summary.at_risk ? "warning" : "");
    var table = document.getElementById("whatif-table");
    var tbody = table.querySelector("tbody");
    tbody.textContent = "";
    body.impacted.forEach(function (r) {
      var row = slo.el("tr", { "data-service": r.service_id, class: r.slo_at_risk ? "at-risk" : "" });
      cell(row, "").appendChild(serviceLink(r.service_id));
      cell(row, String(r.depth));
      cell(row, slo.percent(r.current_bound, 4));
      cell(row, slo.percent(r.projected_bound, 4));
      cell(row, signed(r.delta));
      cell(row, r.slo_target === null ? "–" : slo.percent(r.slo_target));
      cell(row, r.slo_at_risk ? "at risk" : "", r.slo_at_risk ? "flag" : "");
      tbody.appendChild(row);
    });
    table.hidden = body.impacted.length === 0;
  }

  function parsePercent(text) {
    var value = Number(String(text).trim().replace(/%$/, "").replace(",", "."));
    return String(text).trim() === "" || isNaN(value) ? text : value / 100;
  }

  function initServicePage(box) {
    var form = document.getElementById("whatif-form");
    var status = document.getElementById("whatif-status");
    var mapLink = document.getElementById("whatif-map-link");
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var input = document.getElementById("whatif-availability").value;
      var availability = parsePercent(input);
      var depth = Number(document.getElementById("whatif-depth").value);
      status.textContent = "Running the impact analysis…";
      state.done = false;
      // A value that is not a number goes to the API as typed: its 422 says what is wrong.
      runImpact(box.dataset.serviceId, availability, depth).then(function (body) {
        state.impact = body;
        state.error = null;
        status.textContent = "";
        showImpact(body);
        mapLink.href = "/?focus=" + encodeURIComponent(box.dataset.serviceId) + "&whatif=" +
          encodeURIComponent(availability) + "&max_depth=" + depth;
        mapLink.hidden = false;
      }).catch(function (err) {
        state.error = err.message;
        status.textContent = "Impact analysis refused: " + err.message;
        document.getElementById("whatif-summary").hidden = true;
        document.getElementById("whatif-table").hidden = true;
        mapLink.hidden = true;
      }).then(function () { state.done = true; });
    });
    loadConstraint(box);
  }

  /* ---- the map ---- */

  var MAP_STYLE = [
    { selector: "node.whatif-source", style: { "border-color": "#111", "border-width": 5, shape: "diamond" } },
    { selector: "node.whatif-impacted", style: { "border-color": "#e0a800", "border-width": 5 } },
    { selector: "node.whatif-at-risk", style: { "border-color": "#c01d2e", "border-width": 6,
      "background-color": "#f3b7be" } },
  ];

  function initMap(params) {
    var serviceId = params.get("focus");
    var availability = Number(params.get("whatif"));
    var depth = Number(params.get("max_depth") || 10);
    var panel = slo.el("section", { id: "whatif-panel", class: "panel" });
    panel.appendChild(slo.el("h2", {}, "What if " + serviceId + " ran at " + slo.percent(availability)));
    var text = slo.el("p", { id: "whatif-map-status", class: "small" }, "Running the impact analysis…");
    panel.appendChild(text);
    var legend = slo.el("ul", { class: "legend-list small" });
    [["whatif-source", "the service"], ["whatif-impacted", "bound lower"], ["whatif-at-risk", "SLO of record at risk"]]
      .forEach(function (item) {
        var li = slo.el("li");
        li.appendChild(slo.el("span", { class: "swatch " + item[0] }));
        li.appendChild(document.createTextNode(item[1]));
        legend.appendChild(li);
      });
    panel.appendChild(legend);
    var sidebar = document.querySelector(".sidebar");
    sidebar.insertBefore(panel, sidebar.firstChild.nextSibling);

    window.sloMapState.ready.then(function () {
      return runImpact(serviceId, availability, depth);
    }).then(function (body) {
      var cy = window.sloMap;
      var style = cy.style();
      MAP_STYLE.forEach(function (s) { style.selector(s.selector).style(s.style); });
      style.update();
      var source = cy.getElementById(serviceId).addClass("whatif-source");
      var lit = source;
      body.impacted.forEach(function (r) {
        var node = cy.getElementById(r.service_id);
        node.addClass(r.slo_at_risk ? "whatif-at-risk" : "whatif-impacted");
        lit = lit.union(node);
      });
      var edges = lit.edgesWith(lit).filter(function (e) { return e.hasClass("hard") && e.hasClass("sync"); });
      cy.elements().addClass("faded");
      lit.union(edges).removeClass("faded");
      cy.fit(lit, 40);
      state.impact = body;
      text.textContent = body.summary.impacted + " service(s) upstream bound lower, " + body.summary.at_risk +
        " SLO(s) of record at risk.";
    }).catch(function (err) {
      state.error = err.message;
      text.textContent = "Impact analysis refused: " + err.message;
    }).then(function () { state.done = true; });
  }

  var box = document.getElementById("whatif");
  if (box) {
    initServicePage(box);
  } else if (window.sloMapState) {
    var params = new URLSearchParams(window.location.search);
    if (params.get("whatif") !== null && params.get("focus")) initMap(params);
  }
})();
