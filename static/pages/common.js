/* Shared helpers of the pages: API calls with the staff session. */
(function () {
  "use strict";

  function cookie(name) {
    var match = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return match ? decodeURIComponent(match[1]) : "";
  }

  /** An API error carrying the RFC 7807 problem (if any) and the HTTP status. */
  function ApiError(status, problem, message) {
    this.name = "ApiError";
    this.status = status;
    this.problem = problem || null;
    this.message = message;
  }
  ApiError.prototype = Object.create(Error.prototype);

  /**
   * Fetch from the API with the session cookie; non-GET requests carry the
   * CSRF token. Resolves with parsed JSON (or text when `opts.text`), rejects
   * with ApiError whose message is the problem's detail.
   */
  function apiFetch(url, opts) {
    opts = opts || {};
    var method = (opts.method || "GET").toUpperCase();
    var headers = { Accept: opts.text ? "*/*" : "application/json" };
    if (method !== "GET" && method !== "HEAD") {
      headers["X-CSRFToken"] = cookie("csrftoken");
      if (opts.body !== undefined) headers["Content-Type"] = "application/json";
    }
    return fetch(url, {
      method: method,
      headers: headers,
      credentials: "same-origin",
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    }).then(function (response) {
      if (!response.ok) {
        return response.text().then(function (body) {
          var problem = null;
          try { problem = JSON.parse(body); } catch (e) { problem = null; }
          var detail = (problem && (problem.detail || problem.title)) || response.statusText;
          throw new ApiError(response.status, problem, detail + " (HTTP " + response.status + ")");
        });
      }
      return opts.text ? response.text() : response.json();
    });
  }

  /** Follow DRF pagination (`next`) and return all `results`. */
  function apiFetchAll(url) {
    var items = [];
    function page(next) {
      return apiFetch(next).then(function (body) {
        if (Array.isArray(body)) return items.concat(body);
        items = items.concat(body.results || []);
        return body.next ? page(body.next) : items;
      });
    }
    return page(url);
  }

  function percent(value, digits) {
    if (value === null || value === undefined || isNaN(value)) return "–";
    var text = (value * 100).toFixed(digits === undefined ? 3 : digits);
    if (text.indexOf(".") >= 0) text = text.replace(/0+$/, "").replace(/\.$/, "");
    return text + "%";
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  window.slo = { apiFetch: apiFetch, apiFetchAll: apiFetchAll, ApiError: ApiError, percent: percent, el: el };
})();
