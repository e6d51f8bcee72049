"""RFC 7807 problem+json for API errors, with the correlation id."""

import pytest

pytestmark = pytest.mark.django_db
KEYS = {"type", "title", "status", "detail", "instance", "correlation_id", "errors"}


def test_unknown_service_is_404_problem(read_client):
    response = read_client.get("/api/v1/services/ghost", HTTP_X_CORRELATION_ID="req-42")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert set(body) == KEYS
    assert body["status"] == 404 and body["instance"] == "/api/v1/services/ghost"
    assert body["correlation_id"] == "req-42" == response["X-Correlation-ID"]


def test_unknown_endpoint_is_404_problem(read_client):
    response = read_client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"


def test_validation_problem_lists_fields(write_client):
    response = write_client.post("/api/v1/services/dependencies",
                                 {"edges": [{"source": "a", "target": "a"}, {"source": "b"}]}, format="json")
    body = response.json()
    assert response.status_code == 422 and set(body) == KEYS
    assert {e["field"] for e in body["errors"]} == {"edges[0].target", "edges[1].target"}
    assert "edges[0].target" in body["detail"]


def test_unsupported_media_type_is_problem(write_client):
    response = write_client.generic("POST", "/api/v1/services/dependencies", "a,b", content_type="text/csv")
    assert response.status_code == 415
    assert response["Content-Type"] == "application/problem+json"


def test_throttled_query_is_429_problem(read_client, settings):
    settings.RATE_LIMIT_QUERY = "1/min"
    assert read_client.get("/api/v1/services").status_code == 200
    response = read_client.get("/api/v1/services")
    assert response.status_code == 429
    assert response["Content-Type"] == "application/problem+json"
    assert int(response["Retry-After"]) >= 1
    assert response["X-RateLimit-Limit"] == "1" and response["X-RateLimit-Remaining"] == "0"
