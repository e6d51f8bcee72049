"""Hostile input at the HTTP level (issue 17, items 1-5, 7-11, 14), sent to
the application under gunicorn with DEBUG off on a private PostgreSQL: each
answer is a 4xx problem+json naming the field, with a correlation id, and
the database is exactly as it was."""

import json
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest

PROBLEM = "application/problem+json"
INGEST = "/api/v1/services/dependencies"


@pytest.fixture(scope="module")
def server(private_postgres, module_app_server):
    server = module_app_server(env={
        "DATABASE_URL": private_postgres.url, "REDIS_URL": "", "DEBUG": "false", "SECRET_KEY": "hardening-tests",
        "RATE_LIMIT_QUERY": "100000/min", "RATE_LIMIT_INGEST": "100000/min",
    })
    # A small graph with a cycle, so PATCH and acknowledge have targets.
    response = httpx.post(f"{server.url}{INGEST}", headers=_auth(private_postgres.keys["write"]), timeout=30, json={
        "nodes": [{"service_id": "hx-checkout", "team": "payments", "metadata": {"owner": "pay"}}],
        "edges": [{"source": "hx-checkout", "target": "hx-payment"}, {"source": "hx-payment", "target": "hx-ledger"},
                  {"source": "hx-ledger", "target": "hx-checkout"}],
    })
    assert response.status_code == 200, response.text
    return server


@pytest.fixture(scope="module")
def write(private_postgres) -> dict:
    return _auth(private_postgres.keys["write"])


@pytest.fixture(scope="module")
def alert_id(server, private_postgres) -> int:
    with psycopg.connect(private_postgres.url) as db:
        return db.execute("SELECT id FROM graph_circulardependencyalert WHERE cycle_path::text LIKE '%hx-%'"
                          ).fetchone()[0]


def _auth(key: str) -> dict:
    return {"Authorization": f"Api-Key {key}"}


def snapshot(database_url: str) -> dict:
    """Everything an API write can change, to compare before and after."""
    with psycopg.connect(database_url) as db:
        return {
            table: db.execute(f"SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) "  # noqa: S608
                              f"FROM {table} t").fetchone()[0]
            for table in ("graph_service", "graph_servicedependency", "graph_circulardependencyalert",
                          "graph_graphversion", "recommendations_slorecommendation")
        }


def assert_problem(response: httpx.Response, status: int, field: str | None = None) -> dict:
    assert response.status_code == status, response.text[:2000]
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["x-correlation-id"]
    body = response.json()
    assert body["status"] == status and body["correlation_id"] == response.headers["x-correlation-id"]
    if field is not None:
        assert field in [error["field"] for error in body["errors"]], body
    return body


def post_raw(server, path: str, text: str, headers: dict, method: str = "POST") -> httpx.Response:
    return httpx.request(method, f"{server.url}{path}", content=text.encode(),
                         headers={**headers, "Content-Type": "application/json"}, timeout=30)


# 1. More than 1,000 query parameters: 400, with or without a key.
@pytest.mark.parametrize("path", ["/api/v1/services", "/api/v1/circular-dependencies/",
                                  "/api/v1/services/hx-checkout/sli-aggregates", "/api/v1/graph"])
@pytest.mark.parametrize("with_key", [True, False])
def test_more_than_1000_query_parameters_is_a_400(server, private_postgres, write, path, with_key):
    before = snapshot(private_postgres.url)
    query = "&".join(f"p{i}=1" for i in range(1001))
    response = httpx.get(f"{server.url}{path}?{query}", headers=write if with_key else {}, timeout=30)
    body = assert_problem(response, 400, "query")
    assert "1000" in body["detail"]
    assert snapshot(private_postgres.url) == before


# 2 and 8. Form and multipart bodies (1,001 fields or one): 415, JSON only.
@pytest.mark.parametrize("fields", [1, 1001])
@pytest.mark.parametrize("encoding", ["form", "multipart"])
def test_form_and_multipart_bodies_are_415_and_write_nothing(server, private_postgres, write, fields, encoding):
    before = snapshot(private_postgres.url)
    data = {f"nodes{i}": "x" for i in range(fields)}
    if encoding == "form":
        response = httpx.post(f"{server.url}{INGEST}", data=data, headers=write, timeout=30)
    else:
        response = httpx.post(f"{server.url}{INGEST}", data=data, files={"file": ("g.json", b"{}")},
                              headers=write, timeout=30)
    body = assert_problem(response, 415, "Content-Type")
    assert "application/json" in body["detail"]
    assert snapshot(private_postgres.url) == before


def test_text_bodies_are_415_on_every_write(server, private_postgres, write, alert_id):
    before = snapshot(private_postgres.url)
    for method, path in [("POST", INGEST), ("PATCH", "/api/v1/services/hx-checkout"),
                         ("POST", f"/api/v1/circular-dependencies/{alert_id}/acknowledge")]:
        response = httpx.request(method, f"{server.url}{path}", content=b'{"team": "x"}',
                                 headers={**write, "Content-Type": "text/plain"}, timeout=30)
        assert_problem(response, 415, "Content-Type")
    assert snapshot(private_postgres.url) == before


# 3. JSON nested 1,000 levels deep (and just past the limit): 400, not a RecursionError.
@pytest.mark.parametrize("depth", [1000, 33])
def test_deeply_nested_json_is_a_400(server, private_postgres, write, alert_id, depth):
    before = snapshot(private_postgres.url)
    nested = "[" * depth + "]" * depth
    bodies = [
        (INGEST, "POST", f'{{"nodes": [{{"service_id": "hx-deep", "metadata": {{"x": {nested}}}}}]}}'),
        ("/api/v1/services/hx-checkout", "PATCH", f'{{"metadata": {{"x": {nested}}}}}'),
        (f"/api/v1/circular-dependencies/{alert_id}/acknowledge", "POST", f'{{"notes": {nested}}}'),
    ]
    for path, method, text in bodies:
        body = assert_problem(post_raw(server, path, text, write, method), 400, "body")
        assert "32 levels" in body["detail"]
    assert snapshot(private_postgres.url) == before


# 4. Lone surrogates as a key or a value: 422 naming where.
@pytest.mark.parametrize(("path", "method", "text", "field"), [
    (INGEST, "POST", '{"nodes": [{"service_id": "hx-s", "metadata": {"owner": "\\ud800"}}]}',
     "nodes[0].metadata.owner"),
    (INGEST, "POST", '{"nodes": [{"service_id": "hx-s", "metadata": {"\\udc00x": 1}}]}', "nodes[0].metadata"),
    (INGEST, "POST", '{"edges": [{"source": "hx-a", "target": "hx-b", "attributes": {"retry_config": '
                     '{"on": ["\\ud83d"]}}}]}', "edges[0].attributes.retry_config.on[0]"),
    ("/api/v1/services/hx-checkout", "PATCH", '{"metadata": {"\\ud800": "x"}}', "metadata"),
    ("/api/v1/services/hx-checkout", "PATCH", '{"display_name": "a\\udfffb"}', "display_name"),
])
def test_lone_surrogates_are_a_422_naming_the_field(server, private_postgres, write, path, method, text, field):
    before = snapshot(private_postgres.url)
    body = assert_problem(post_raw(server, path, text, write, method), 422, field)
    assert "surrogate" in body["detail"]
    assert snapshot(private_postgres.url) == before


# 5. A number beyond float range: 422 naming it (never stored as Infinity).
@pytest.mark.parametrize(("path", "method", "text", "field"), [
    (INGEST, "POST", '{"nodes": [{"service_id": "hx-big", "metadata": {"weight": 1e400}}]}',
     "nodes[0].metadata.weight"),
    (INGEST, "POST", '{"edges": [{"source": "hx-a", "target": "hx-b", "attributes": {"retry_config": '
                     '{"backoff": [-1e999]}}}]}', "edges[0].attributes.retry_config.backoff[0]"),
    ("/api/v1/services/hx-checkout", "PATCH", '{"metadata": {"n": 2e308}}', "metadata.n"),
])
def test_numbers_beyond_float_range_are_a_422(server, private_postgres, write, path, method, text, field):
    before = snapshot(private_postgres.url)
    assert_problem(post_raw(server, path, text, write, method), 422, field)
    assert snapshot(private_postgres.url) == before


def test_an_integer_beyond_float_range_in_a_number_field_is_a_422(server, private_postgres, write):
    before = snapshot(private_postgres.url)
    text = ('{"edges": [{"source": "hx-a", "target": "hx-b", "attributes": {"confidence_score": 1' + "0" * 400
            + "}}]}")
    assert_problem(post_raw(server, INGEST, text, write), 422, "edges[0].attributes.confidence_score")
    assert snapshot(private_postgres.url) == before


def test_nan_and_infinity_literals_are_malformed_json(server, private_postgres, write):
    before = snapshot(private_postgres.url)
    for literal in ("NaN", "Infinity", "-Infinity"):
        text = f'{{"nodes": [{{"service_id": "hx-nan", "metadata": {{"x": {literal}}}}}]}}'
        assert_problem(post_raw(server, INGEST, text, write), 400, "body")
    assert snapshot(private_postgres.url) == before


# 7. Replace without an `edges` key: 422, the source's edges stay.
def test_replace_without_edges_is_a_422_and_deletes_nothing(server, private_postgres, write):
    before = snapshot(private_postgres.url)
    response = httpx.post(f"{server.url}{INGEST}", headers=write, timeout=30,
                          json={"source": "manual", "mode": "replace", "nodes": [{"service_id": "hx-checkout"}]})
    body = assert_problem(response, 422, "edges")
    assert '"edges": []' in body["detail"]
    assert snapshot(private_postgres.url) == before


# 9. Misplaced, misspelled and wrongly typed fields: 422 naming each.
@pytest.mark.parametrize(("payload", "fields"), [
    ({"nodez": [{"service_id": "hx-x"}], "edges": []}, {"nodez"}),
    ({"edges": [{"source": "hx-a", "target": "hx-b", "communication_mode": "async"}]},
     {"edges[0].communication_mode"}),
    ({"edges": [{"source": "hx-a", "target": "hx-b", "attributes": {"timeout": 800}}]},
     {"edges[0].attributes.timeout"}),
    ({"nodes": [{"service_id": "hx-a", "team": 5, "tags": ["ok", 7]}]}, {"nodes[0].team", "nodes[0].tags"}),
    ({"edges": [{"source": "hx-a", "target": "hx-b", "attributes": {"timeout_ms": "800", "confidence_score": True}}]},
     {"edges[0].attributes.timeout_ms", "edges[0].attributes.confidence_score"}),
])
def test_unknown_and_wrongly_typed_fields_are_a_422(server, private_postgres, write, payload, fields):
    before = snapshot(private_postgres.url)
    response = httpx.post(f"{server.url}{INGEST}", json=payload, headers=write, timeout=30)
    body = assert_problem(response, 422)
    assert fields <= {error["field"] for error in body["errors"]}, body
    assert snapshot(private_postgres.url) == before


def test_patch_and_alert_bodies_are_strict_too(server, private_postgres, write, alert_id):
    before = snapshot(private_postgres.url)
    assert_problem(httpx.patch(f"{server.url}/api/v1/services/hx-checkout", json={"team": 5}, headers=write,
                               timeout=30), 422, "team")
    assert_problem(httpx.post(f"{server.url}/api/v1/circular-dependencies/{alert_id}/acknowledge",
                              json={"note": "typo"}, headers=write, timeout=30), 422, "note")
    assert_problem(httpx.post(f"{server.url}/api/v1/circular-dependencies/{alert_id}/resolve",
                              json={"resolution_notes": ["x"]}, headers=write, timeout=30), 422, "resolution_notes")
    assert snapshot(private_postgres.url) == before


# 10. Every API endpoint is throttled and says so.
@pytest.mark.parametrize("path", ["/api/v1/circular-dependencies/", "/api/v1/services/hx-checkout/sli-aggregates",
                                  "/api/v1/services", "/api/v1/graph", "/api/v1/stats"])
def test_every_endpoint_sends_rate_limit_headers(server, write, path):
    response = httpx.get(f"{server.url}{path}", headers=write, timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["x-ratelimit-limit"] == "100000"
    assert int(response.headers["x-ratelimit-remaining"]) < 100000
    assert "x-ratelimit-reset" in response.headers


def test_alert_transitions_are_throttled(server, write, alert_id):
    response = httpx.post(f"{server.url}/api/v1/circular-dependencies/{alert_id}/acknowledge",
                          json={"notes": "looking"}, headers=write, timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["x-ratelimit-limit"] == "100000"


# 11. Oversized URL and headers: the application's 414/431 problems, not gunicorn's HTML.
def test_long_url_is_a_414_problem(server, private_postgres, write):
    before = snapshot(private_postgres.url)
    response = httpx.get(f"{server.url}/api/v1/services?search={'a' * 9000}", headers=write, timeout=30)
    body = assert_problem(response, 414, "url")
    assert "8192" in body["detail"]
    # Well past the application's limit gunicorn still defers to it.
    response = httpx.get(f"{server.url}/api/v1/services?search={'a' * 60_000}", headers=write, timeout=30)
    assert_problem(response, 414, "url")
    assert snapshot(private_postgres.url) == before


def test_oversized_header_is_a_431_problem(server, private_postgres, write):
    before = snapshot(private_postgres.url)
    response = httpx.get(f"{server.url}/api/v1/services", headers={**write, "X-Big": "b" * 9000}, timeout=30)
    assert_problem(response, 431, "X-Big")
    many = {f"X-H{i}": "1" for i in range(120)}
    assert_problem(httpx.get(f"{server.url}/api/v1/services", headers={**write, **many}, timeout=30), 431, "headers")
    assert snapshot(private_postgres.url) == before


# 14. Timestamps out of bounds and oversized metadata: 422 naming the field.
@pytest.mark.parametrize(("payload", "field"), [
    ({"timestamp": "1999-12-31T23:59:59Z", "edges": [{"source": "hx-a", "target": "hx-b"}]}, "timestamp"),
    ({"timestamp": "2999-01-01T00:00:00Z", "edges": [{"source": "hx-a", "target": "hx-b"}]}, "timestamp"),
    ({"nodes": [{"service_id": "hx-huge", "metadata": {"blob": "x" * (64 * 1024)}}]}, "nodes[0].metadata"),
    ({"edges": [{"source": "hx-a", "target": "hx-b", "attributes": {"retry_config": {"x": "y" * 70_000}}}]},
     "edges[0].attributes.retry_config"),
])
def test_out_of_bounds_ingest_values_are_a_422(server, private_postgres, write, payload, field):
    before = snapshot(private_postgres.url)
    assert_problem(httpx.post(f"{server.url}{INGEST}", json=payload, headers=write, timeout=30), 422, field)
    assert snapshot(private_postgres.url) == before


def test_oversized_metadata_on_patch_is_a_422(server, private_postgres, write):
    before = snapshot(private_postgres.url)
    response = httpx.patch(f"{server.url}/api/v1/services/hx-checkout", json={"metadata": {"x": "é" * 40_000}},
                           headers=write, timeout=30)
    body = assert_problem(response, 422, "metadata")
    assert "65536" in body["detail"]
    assert snapshot(private_postgres.url) == before


def test_the_bounds_accept_what_is_inside_them(server, private_postgres, write):
    """The limits turn away only what is past them: a recent timestamp and a
    metadata document just under 64 KiB are stored."""
    blob = "x" * (64 * 1024 - 100)
    observed = (datetime.now(UTC) - timedelta(days=89)).isoformat()
    response = httpx.post(f"{server.url}{INGEST}", headers=write, timeout=30, json={
        "timestamp": observed, "nodes": [{"service_id": "hx-ok", "metadata": {"blob": blob}}]})
    assert response.status_code == 200, response.text
    with psycopg.connect(private_postgres.url) as db:
        stored = db.execute("SELECT metadata FROM graph_service WHERE service_id = 'hx-ok'").fetchone()[0]
    assert json.dumps(stored) == json.dumps({"blob": blob})
