"""Issue 17 items 10, 12 and 13 on the application and the real PostgreSQL:
one base view and throttle for every API endpoint, a schema that tells the
truth, and public health probes that say what failed but not where."""

import logging

import pytest
import yaml
from django.contrib.auth import get_user_model
from django.test import override_settings
from django.urls import URLPattern, URLResolver, get_resolver

from graph.models import CircularDependencyAlert, Service
from graph.tests.factories import CircularDependencyAlertFactory, ServiceFactory
from slo_engine.api.views import ApiViewMixin

pytestmark = pytest.mark.django_db
PROBLEM = "application/problem+json"
BROKER_WITH_SECRET = "redis://probe-user:s3cret-pass@127.0.0.1:1/0"


def _routes(resolver: URLResolver, prefix: str = ""):
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern, route)
        elif isinstance(pattern, URLPattern):
            yield route, pattern.callback


# 10. One base view and throttle for every endpoint.
def test_every_api_view_shares_the_base():
    """Every DRF view routed under /api/v1/ subclasses the shared base (rate
    limit headers, 413, problem+json): a new endpoint that does not fails here."""
    views = {route: getattr(callback, "cls", None) for route, callback in _routes(get_resolver())
             if route.startswith("api/v1/")}
    drf_views = {route: cls for route, cls in views.items() if cls is not None}
    assert len(drf_views) >= 8
    outside = sorted(route for route, cls in drf_views.items() if not issubclass(cls, ApiViewMixin))
    assert outside == []


@pytest.fixture
def alert():
    return CircularDependencyAlertFactory(cycle_path=["a", "b", "c"], scc_size=3)


@pytest.mark.parametrize("request_path", [
    ("get", "/api/v1/circular-dependencies/"),
    ("get", "/api/v1/circular-dependencies/{alert}"),
    ("post", "/api/v1/circular-dependencies/{alert}/acknowledge"),
    ("post", "/api/v1/circular-dependencies/{alert}/resolve"),
    ("get", "/api/v1/services/tracked/sli-aggregates"),
])
def test_alert_and_sli_endpoints_are_throttled(write_client, settings, alert, request_path):
    settings.RATE_LIMIT_QUERY = "2/min"
    ServiceFactory(service_id="tracked")
    method, path = request_path
    path = path.format(alert=alert.pk)
    first = getattr(write_client, method)(path, {}, format="json") if method == "post" else write_client.get(path)
    assert first.status_code in (200, 409), first.content
    assert (first["X-RateLimit-Limit"], first["X-RateLimit-Remaining"]) == ("2", "1")
    getattr(write_client, method)(path, {}, format="json") if method == "post" else write_client.get(path)
    before = CircularDependencyAlert.objects.values().get(pk=alert.pk)
    third = getattr(write_client, method)(path, {}, format="json") if method == "post" else write_client.get(path)
    assert third.status_code == 429
    assert third["Content-Type"] == PROBLEM and int(third["Retry-After"]) >= 1
    assert CircularDependencyAlert.objects.values().get(pk=alert.pk) == before


# 12. The schema tells the truth, and the server agrees with it.
@pytest.fixture(scope="module")
def schema(django_db_blocker) -> dict:
    from django.test import Client

    with django_db_blocker.unblock():
        return yaml.safe_load(Client().get("/api/schema/").content)


def _parameter(schema: dict, path: str, name: str) -> dict:
    return next(p for p in schema["paths"][path]["get"]["parameters"] if p["name"] == name)


def test_schema_states_the_page_bounds(schema):
    for path in ("/api/v1/services/", "/api/v1/dependencies/", "/api/v1/circular-dependencies/"):
        assert _parameter(schema, path, "page")["schema"]["minimum"] == 1
        page_size = _parameter(schema, path, "page_size")["schema"]
        assert (page_size["minimum"], page_size["maximum"]) == (1, 500)


@pytest.mark.parametrize("query", ["page=0", "page=", "page=-1", "page_size=0", "page_size=501", "page_size="])
def test_page_parameters_outside_the_bounds_are_a_422(read_client, query):
    ServiceFactory()
    response = read_client.get(f"/api/v1/services?{query}")
    assert response.status_code == 422 and response["Content-Type"] == PROBLEM
    assert [e["field"] for e in response.json()["errors"]] == [query.split("=")[0]]


@pytest.mark.parametrize(("path", "query", "field"), [
    ("/api/v1/services", "criticality=", "criticality"),
    ("/api/v1/services", "discovered=", "discovered"),
    ("/api/v1/services", "discovered=maybe", "discovered"),
    ("/api/v1/services", "include_retired=", "include_retired"),
    ("/api/v1/dependencies", "is_stale=", "is_stale"),
    ("/api/v1/dependencies", "discovery_source=", "discovery_source"),
    ("/api/v1/dependencies", "communication_mode=", "communication_mode"),
    ("/api/v1/circular-dependencies", "status=", "status"),
    ("/api/v1/circular-dependencies", "scc_size_min=", "scc_size_min"),
    ("/api/v1/services/svc/sli-aggregates", "sli_type=", "sli_type"),
    ("/api/v1/services/svc/dependencies", "include_stale=", "include_stale"),
    ("/api/v1/services/svc/dependencies", "include_stale=yes", "include_stale"),
    ("/api/v1/services/svc/dependencies", "direction=", "direction"),
    ("/api/v1/graph", "include_stale=1", "include_stale"),
    ("/api/v1/services/svc/slo-recommendations", "sli_type=", "sli_type"),
])
def test_empty_or_unknown_enum_and_boolean_values_are_a_422(read_client, path, query, field):
    ServiceFactory(service_id="svc")
    response = read_client.get(f"{path}?{query}")
    assert response.status_code == 422, response.content
    assert response["Content-Type"] == PROBLEM
    assert field in [e["field"] for e in response.json()["errors"]]


@pytest.mark.parametrize(("path", "query", "field"), [
    ("/api/v1/circular-dependencies", "scc_size_max=3&scc_size_max=0", "scc_size_max"),
    ("/api/v1/services", "criticality=high&criticality=low", "criticality"),
    ("/api/v1/services", "page=1&page=2", "page"),
    ("/api/v1/services", "page_size=5&page_size=10", "page_size"),
    ("/api/v1/services/svc/dependencies", "depth=1&depth=2", "depth"),
    ("/api/v1/services/svc/sli-aggregates", "time_window=1h&time_window=1d", "time_window"),
])
def test_a_scalar_parameter_given_twice_is_a_422(read_client, path, query, field):
    """Found by the large schemathesis run: the schema says one value, and
    taking the last of several silently is a guess."""
    ServiceFactory(service_id="svc")
    response = read_client.get(f"{path}?{query}")
    assert response.status_code == 422, response.content
    assert field in [e["field"] for e in response.json()["errors"]]


def test_boolean_filters_take_true_and_false(read_client):
    ServiceFactory(service_id="found", discovered=True)
    ServiceFactory(service_id="declared", discovered=False)
    ids = [s["service_id"] for s in read_client.get("/api/v1/services?discovered=true").json()["results"]]
    assert ids == ["found"]
    ids = [s["service_id"] for s in read_client.get("/api/v1/services?discovered=False").json()["results"]]
    assert ids == ["declared"]


def test_schema_marks_the_ingest_body_required_and_json_only(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if "requestBody" in operation:
                assert list(operation["requestBody"]["content"]) == ["application/json"], (method, path)
    assert schema["paths"]["/api/v1/services/dependencies/"]["post"]["requestBody"]["required"] is True


def test_schema_forbids_extra_properties_in_request_bodies(schema):
    components = schema["components"]["schemas"]
    for name in ("PatchedServiceUpdateRequest", "IngestRequestRequest", "IngestNodeRequest", "IngestEdgeRequest",
                 "EdgeAttributesRequest", "AcknowledgeRequest", "ResolveRequest"):
        assert components[name]["additionalProperties"] is False, name


def test_schema_lists_the_errors_every_operation_can_answer(schema):
    for path, item in schema["paths"].items():
        if not path.startswith("/api/v1/"):
            continue
        for method, operation in item.items():
            codes = set(operation["responses"])
            assert {"400", "401", "429"} <= codes, (method, path, codes)
            if method != "get":
                assert "403" in codes, (method, path)
            if "requestBody" in operation:
                assert {"413", "415", "422"} <= codes, (method, path)
            for code, response in operation["responses"].items():
                if code.startswith("4"):
                    assert list(response["content"]) == [PROBLEM], (method, path, code)


def test_patch_with_an_extra_property_is_rejected_as_the_schema_says(write_client):
    ServiceFactory(service_id="svc", team="a")
    response = write_client.patch("/api/v1/services/svc", {"team": "b", "owner": "x"}, format="json")
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["owner"]
    assert Service.objects.get(service_id="svc").team == "a"


# 13. Public readiness says which part failed, never where or why.
def test_public_readiness_names_no_host_url_or_error(client, caplog):
    with override_settings(CELERY_BROKER_URL=BROKER_WITH_SECRET, CELERY_TASK_ALWAYS_EAGER=False), \
            caplog.at_level(logging.WARNING, logger="slo_engine.health"):
        response = client.get("/health/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["broker"]
    assert body["checks"]["broker"]["status"] == "error"
    text = response.content.decode()
    for secret in ("127.0.0.1", "redis://", "probe-user", "s3cret", "Error", "refused", "test_slo_engine"):
        assert secret not in text, secret
    for check in body["checks"].values():
        assert set(check) <= {"status", "critical", "latency_ms", "vendor", "backend", "mode", "source", "span_metrics"}
    # The detail goes to the log.
    assert any("broker" in record.getMessage() and "Error" in record.getMessage() for record in caplog.records)


def test_healthy_public_readiness_shows_no_database_host_or_name(client, settings):
    response = client.get("/api/v1/health/ready")
    assert response.status_code == 200
    text = response.content.decode()
    database = settings.DATABASES["default"]
    assert str(database["NAME"]) not in text
    assert (database.get("HOST") or "127.0.0.1") not in text
    assert response.json()["checks"]["database"]["vendor"] == "postgresql"


def test_staff_users_see_the_detail(client):
    staff = get_user_model().objects.create_user("ops", password="pw", is_staff=True)
    client.force_login(staff)
    with override_settings(CELERY_BROKER_URL=BROKER_WITH_SECRET, CELERY_TASK_ALWAYS_EAGER=False):
        body = client.get("/health/ready").json()
    assert "Error" in body["checks"]["broker"]["error"]
    assert body["checks"]["database"]["host"]
