/* The service map: the effective graph from /api/v1/graph drawn with the
   vendored Cytoscape.js; focus uses the subgraph API, cycles the alert API.
   Exposes `window.sloMap` (the Cytoscape instance) and `window.sloMapState`. */
(function () {
  "use strict";

  var LARGE_GRAPH = 400;
  var COLOURS = { critical: "#d1394b", high: "#ee8a2a", medium: "#3b82c4", low: "#8a9aab" };
  var state = { loaded: false, error: null, focus: null, depth: 2, neighbourhood: [], cycles: [] };
  window.sloMapState = state;

  var statusBox = document.getElementById("map-status");
  var searchStatus = document.getElementById("search-status");
  var depthSelect = document.getElementById("depth-select");
  var searchInput = document.getElementById("search-input");

  function setStatus(text) {
    statusBox.textContent = text;
    statusBox.hidden = !text;
  }

  function edgeId(source, target) { return source + "->" + target; }
  // Failed share of an edge's requests from which it is drawn as failing
  // (red) or erroring (amber).
  var FAILING_RATIO = 0.05;
  var ERRORING_RATIO = 0.01;

  function toElements(graph) {
    var nodes = (graph.nodes || []).map(function (n) {
      var id = n.service_id || n.id;
      return {
        group: "nodes",
        data: {
          id: id,
          label: id,
          name: n.display_name || id,
          team: n.team || "",
          criticality: n.criticality || "medium",
          colour: COLOURS[n.criticality] || COLOURS.medium,
          discovered: !!n.discovered,
        },
      };
    });
    var known = {};
    nodes.forEach(function (n) { known[n.data.id] = true; });
    var edges = [];
    (graph.edges || []).forEach(function (e) {
      if (!known[e.source] || !known[e.target]) return;
      var classes = [e.criticality || "hard", e.communication_mode || "sync"];
      if (e.is_stale) classes.push("stale");
      // Edge health from the service graph or the mesh: failing calls stand out.
      if (typeof e.failure_ratio === "number") {
        if (e.failure_ratio >= FAILING_RATIO) classes.push("failing");
        else if (e.failure_ratio >= ERRORING_RATIO) classes.push("erroring");
      }
      edges.push({
        group: "edges",
        data: {
          id: edgeId(e.source, e.target),
          source: e.source,
          target: e.target,
          criticality: e.criticality,
          mode: e.communication_mode,
          confidence: typeof e.confidence_score === "number" ? e.confidence_score : 1,
          sources: (e.discovery_sources || []).join(", "),
          failureRatio: typeof e.failure_ratio === "number" ? e.failure_ratio : null,
          requestRate: typeof e.request_rate === "number" ? e.request_rate : null,
        },
        classes: classes.join(" "),
      });
    });
    return nodes.concat(edges);
  }

  var style = [
    { selector: "node", style: {
      "background-color": "data(colour)", label: "data(label)", "font-size": 11, color: "#1d2733",
      "text-valign": "bottom", "text-margin-y": 4, width: 26, height: 26, "border-width": 2, "border-color": "#fff",
      "text-background-color": "#fbfcfd", "text-background-opacity": 0.8, "text-background-padding": 1,
      "min-zoomed-font-size": 7 } },
    { selector: "node[criticality = 'critical']", style: { width: 34, height: 34 } },
    { selector: "edge", style: {
      width: "mapData(confidence, 0, 1, 1, 2.4)", "line-color": "#7b8797", "target-arrow-color": "#7b8797",
      "target-arrow-shape": "triangle", "curve-style": "bezier", "arrow-scale": 0.9 } },
    { selector: "edge.soft", style: { "line-style": "dashed" } },
    { selector: "edge.degraded", style: { "line-style": "dotted", "line-color": "#a9b3bf", "target-arrow-color": "#a9b3bf" } },
    { selector: "edge.async", style: { "line-style": "dashed", "line-color": "#0f9488", "target-arrow-color": "#0f9488",
      "target-arrow-shape": "vee" } },
    { selector: "edge.erroring", style: { "line-color": "#d97706", "target-arrow-color": "#d97706" } },
    { selector: "edge.failing", style: { "line-color": "#dc2626", "target-arrow-color": "#dc2626", width: 3.2,
      "z-index": 8 } },
    { selector: "edge.stale", style: { opacity: 0.3 } },
    { selector: "edge.cycle", style: { "line-color": "#8b3fd9", "target-arrow-color": "#8b3fd9", width: 3.5,
      "line-style": "solid", "z-index": 10 } },
    { selector: "node.cycle", style: { "border-color": "#8b3fd9", "border-width": 4 } },
    { selector: "node.focused", style: { "border-color": "#111", "border-width": 4 } },
    { selector: "edge.focus-edge", style: { width: 2.8, "z-index": 9 } },
    { selector: ".faded", style: { opacity: 0.12 } },
    { selector: "node:selected", style: { "overlay-opacity": 0.08 } },
  ];

  function roots(cy) {
    var r = cy.nodes().filter(function (n) { return n.indegree(false) === 0; });
    return r.length ? r : cy.nodes().slice(0, 1);
  }

  var cy = cytoscape({
    container: document.getElementById("cy"),
    style: style,
    elements: [],
    wheelSensitivity: 0.3,
    minZoom: 0.02,
    maxZoom: 3,
  });
  window.sloMap = cy;

  // Layers first (callers above callees), then a force-directed pass from
  // those positions: deterministic, and no edge runs through a node row.
  function isLarge() { return cy.nodes().length > LARGE_GRAPH; }

  // Small graphs: layers first (callers above callees), then a force-directed
  // pass from those positions: deterministic, and no edge runs through a row
  // of nodes. The force pass is quadratic, so large graphs get rings by
  // degree (hubs in the middle) and lay out each focused neighbourhood.
  function runLayout() {
    if (isLarge()) {
      cy.layout({ name: "concentric", concentric: function (n) { return n.degree(false); },
        levelWidth: function () { return 4; }, minNodeSpacing: 6, animate: false, padding: 30 }).run();
      return;
    }
    // A fixed box (not the window's) keeps the picture the same on every screen.
    cy.layout({ name: "breadthfirst", directed: true, roots: roots(cy), spacingFactor: 1.0, padding: 30,
      avoidOverlap: true, animate: false, boundingBox: { x1: 0, y1: 0, w: 1100, h: 820 } }).run();
    cy.layout({ name: "cose", randomize: false, animate: false, padding: 30, nodeRepulsion: function () { return 9000; },
      idealEdgeLength: function () { return 70; }, edgeElasticity: function () { return 80; }, gravity: 0.6,
      numIter: 1500, nodeDimensionsIncludeLabels: true, fit: false }).run();
    cy.fit(cy.elements(), 30);
  }

  /** On a large graph, put the focused service in the middle and its neighbours on rings by depth. */
  function layoutNeighbourhood(node, body) {
    if (!isLarge()) return;
    var depthOf = {};
    body.nodes.forEach(function (n) { depthOf[n.service_id] = n.depth; });
    var keep = cy.collection().union(node);
    body.nodes.forEach(function (n) { keep = keep.union(cy.getElementById(n.service_id)); });
    var centre = node.position();
    keep.layout({ name: "concentric", animate: false, fit: false, minNodeSpacing: 30,
      boundingBox: { x1: centre.x - 400, y1: centre.y - 300, w: 800, h: 600 },
      concentric: function (n) { return n.id() === node.id() ? 100 : 100 - (depthOf[n.id()] || 0); },
      levelWidth: function () { return 1; } }).run();
  }

  function markCycles(alerts) {
    state.cycles = alerts.filter(function (a) { return a.status !== "resolved"; });
    cy.elements().removeClass("cycle");
    var list = document.getElementById("cycle-list");
    list.textContent = "";
    state.cycles.forEach(function (alert) {
      var path = alert.cycle_path || [];
      path.forEach(function (id, i) {
        cy.getElementById(id).addClass("cycle");
        cy.getElementById(edgeId(id, path[(i + 1) % path.length])).addClass("cycle");
      });
      var item = slo.el("li");
      var link = slo.el("a", { href: "#", "data-cycle": alert.id }, path.concat(path.slice(0, 1)).join(" → "));
      link.addEventListener("click", function (ev) {
        ev.preventDefault();
        highlight(cy.collection(path.map(function (id) { return cy.getElementById(id); })).union(cy.edges(".cycle").filter(
          function (e) { return path.indexOf(e.source().id()) >= 0 && path.indexOf(e.target().id()) >= 0; })));
      });
      item.appendChild(link);
      item.appendChild(slo.el("span", { class: "status" }, " " + alert.status));
      list.appendChild(item);
    });
    document.getElementById("cycle-panel").hidden = state.cycles.length === 0;
  }

  function highlight(collection) {
    cy.elements().addClass("faded");
    collection.removeClass("faded");
    cy.animate({ fit: { eles: collection, padding: 60 } }, { duration: 250 });
  }

  function fillOptions() {
    var options = document.getElementById("service-options");
    options.textContent = "";
    cy.nodes().sort(function (a, b) { return a.id() < b.id() ? -1 : 1; }).forEach(function (n) {
      options.appendChild(slo.el("option", { value: n.id() }, n.data("name")));
    });
  }

  function resetFocus() {
    state.focus = null;
    state.neighbourhood = [];
    cy.elements().removeClass("faded focused focus-edge");
    document.getElementById("focus-panel").hidden = true;
    if (isLarge()) runLayout();
    cy.animate({ fit: { eles: cy.elements(), padding: 30 } }, { duration: 200 });
    history.replaceState(null, "", window.location.pathname);
  }

  function showFocusPanel(node, body) {
    var panel = document.getElementById("focus-panel");
    document.getElementById("focus-title").textContent = node.data("name");
    document.getElementById("focus-meta").textContent = node.id() + " · " + node.data("criticality") +
      (node.data("team") ? " · team " + node.data("team") : "");
    var stats = body.statistics || {};
    document.getElementById("focus-counts").textContent = (stats.total_nodes || body.nodes.length) +
      " services and " + (stats.total_edges || body.edges.length) + " dependencies within " + body.depth +
      " hop" + (body.depth === 1 ? "" : "s") + " (upstream and downstream).";
    document.getElementById("focus-page-link").href = "/services/" + encodeURIComponent(node.id()) + "/";
    var list = document.getElementById("focus-neighbours");
    list.textContent = "";
    body.nodes.slice().sort(function (a, b) {
      return a.depth - b.depth || (a.service_id < b.service_id ? -1 : 1);
    }).forEach(function (n) {
      var item = slo.el("li");
      var link = slo.el("a", { href: "?focus=" + encodeURIComponent(n.service_id) }, n.service_id);
      link.addEventListener("click", function (ev) { ev.preventDefault(); focusService(n.service_id); });
      item.appendChild(link);
      item.appendChild(slo.el("span", { class: "muted" }, " (" + n.depth + ")"));
      list.appendChild(item);
    });
    panel.hidden = false;
  }

  /** Focus one service: fetch its neighbourhood from the subgraph API and fade the rest. */
  function focusService(serviceId) {
    var node = cy.getElementById(serviceId);
    if (node.empty()) {
      searchStatus.textContent = "No service " + serviceId + " on the map.";
      return Promise.resolve(null);
    }
    var depth = parseInt(depthSelect.value, 10) || 2;
    state.depth = depth;
    searchStatus.textContent = "Loading the neighbourhood of " + serviceId + "…";
    var url = "/api/v1/services/" + encodeURIComponent(serviceId) + "/dependencies?direction=both&depth=" + depth;
    return slo.apiFetch(url).then(function (body) {
      var keep = cy.collection().union(node);
      body.nodes.forEach(function (n) { keep = keep.union(cy.getElementById(n.service_id)); });
      var edges = cy.collection();
      body.edges.forEach(function (e) { edges = edges.union(cy.getElementById(edgeId(e.source, e.target))); });
      cy.elements().removeClass("focused focus-edge");
      layoutNeighbourhood(node, body);
      node.addClass("focused");
      edges.addClass("focus-edge");
      highlight(keep.union(edges));
      state.focus = serviceId;
      state.neighbourhood = body.nodes.map(function (n) { return n.service_id; });
      searchStatus.textContent = "";
      showFocusPanel(node, body);
      history.replaceState(null, "", "?focus=" + encodeURIComponent(serviceId));
      return body;
    }).catch(function (err) {
      searchStatus.textContent = "Could not load the neighbourhood: " + err.message;
      state.error = err.message;
    });
  }

  function findService(query) {
    var q = query.trim().toLowerCase();
    if (!q) return null;
    var exact = cy.nodes().filter(function (n) { return n.id().toLowerCase() === q || n.data("name").toLowerCase() === q; });
    if (exact.nonempty()) return exact[0].id();
    var partial = cy.nodes().filter(function (n) {
      return n.id().toLowerCase().indexOf(q) >= 0 || n.data("name").toLowerCase().indexOf(q) >= 0;
    }).sort(function (a, b) { return a.id().length - b.id().length; });
    return partial.nonempty() ? partial[0].id() : null;
  }

  document.getElementById("map-search").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var id = findService(searchInput.value);
    if (!id) {
      searchStatus.textContent = "No service matches “" + searchInput.value + "”.";
      return;
    }
    searchInput.value = id;
    focusService(id);
  });
  depthSelect.addEventListener("change", function () { if (state.focus) focusService(state.focus); });
  document.getElementById("reset-button").addEventListener("click", resetFocus);
  cy.on("tap", "node", function (ev) { focusService(ev.target.id()); });
  cy.on("dbltap", "node", function (ev) {
    window.location.href = "/services/" + encodeURIComponent(ev.target.id()) + "/";
  });
  cy.on("tap", function (ev) { if (ev.target === cy && state.focus) resetFocus(); });

  function load() {
    setStatus("Loading the graph…");
    // The graph with stale edges minus the live graph = the stale edges.
    return Promise.all([
      slo.apiFetch("/api/v1/graph"),
      slo.apiFetch("/api/v1/graph?include_stale=true"),
    ]).then(function (graphs) {
      var live = {};
      graphs[0].edges.forEach(function (e) { live[edgeId(e.source, e.target)] = true; });
      graphs[1].edges.forEach(function (e) { e.is_stale = e.is_stale || !live[edgeId(e.source, e.target)]; });
      cy.add(toElements(graphs[1]));
      if (cy.nodes().empty()) {
        setStatus("No services yet: push a graph to POST /api/v1/services/dependencies " +
          "(or run manage.py seed_demo for the demo).");
        return null;
      }
      runLayout();
      fillOptions();
      var stale = cy.edges(".stale").length;
      setStatus(cy.nodes().length + " services · " + cy.edges().length + " dependencies" +
        (stale ? " (" + stale + " stale)" : "") + (isLarge() ? " · search or click a service to focus it" : ""));
      return slo.apiFetchAll("/api/v1/circular-dependencies/?page_size=500").then(markCycles, function (err) {
        state.error = "cycle alerts: " + err.message;
      });
    }).then(function () {
      state.loaded = true;
      var focus = JSON.parse(document.getElementById("map-focus").textContent || '""');
      if (focus) {
        searchInput.value = focus;
        return focusService(focus);
      }
      return null;
    }).catch(function (err) {
      state.error = err.message;
      setStatus("Could not load the graph: " + err.message);
    });
  }

  state.ready = load();
})();
