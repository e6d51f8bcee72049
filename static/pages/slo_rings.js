/* Rings each node of the service map with its SLO health (the worst of its
   SLOs of record), from /api/v1/slos/. Runs once the map has loaded;
   exposes `window.sloRingState` ({loaded, health: {service_id: band}}). */
(function () {
  "use strict";

  var COLOURS = { healthy: "#1f8a5b", warning: "#d08a00", critical: "#d1394b", exhausted: "#7a1020",
    unknown: "#8a9aab" };
  var RANK = { healthy: 0, unknown: 1, warning: 2, critical: 3, exhausted: 4 };
  var state = { loaded: false, error: null, health: {} };
  window.sloRingState = state;

  function worst(a, b) { return (RANK[a] || 0) >= (RANK[b] || 0) ? a : b; }

  (window.sloMapState && window.sloMapState.ready || Promise.resolve()).then(function () {
    return slo.apiFetchAll("/api/v1/slos/?page_size=500");
  }).then(function (slos) {
    slos.forEach(function (item) {
      var band = item.status ? item.status.health : "unknown";
      state.health[item.service_id] = state.health[item.service_id] ? worst(state.health[item.service_id], band) : band;
    });
    var cy = window.sloMap;
    cy.batch(function () {
      Object.keys(state.health).forEach(function (serviceId) {
        var node = cy.getElementById(serviceId);
        if (node.nonempty()) node.data("slo_health", state.health[serviceId]);
      });
    });
    // Outlines leave the border to focus and cycle marks.
    cy.style().selector("node[slo_health]").style({
      "outline-width": 4, "outline-offset": 2, "outline-opacity": 1,
      "outline-color": function (node) { return COLOURS[node.data("slo_health")] || COLOURS.unknown; },
    }).update();
    state.loaded = true;
  }).catch(function (err) {
    state.error = err.message;
  });
})();
