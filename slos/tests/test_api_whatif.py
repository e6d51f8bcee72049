"""The what-if endpoints over HTTP: shapes, read-key access, and bad input
answered as problem+json naming the field (never a 500), writing nothing."""

import pytest

from graph.models import GraphVersion, Service, ServiceDependency
from slos.models import ServiceLevelObjective, SloChange
from slos.tests.whatif_fixtures import build_shop

PROBLEM = "application/problem+json"


@pytest.fixture
def shop(db):
    build_shop()


def _problem(response, status: int, field: str | None) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith(PROBLEM)
    body = response.json()
    if field is not None:
        assert field in {e["field"] for e in body["errors"]}, body
    return body


@pytest.mark.parametrize("path", ["/api/v1/services/checkout/constraint-analysis",
                                  "/api/v1/services/checkout/constraint-analysis/"])
def test_constraint_analysis_with_and_without_slash(shop, read_client, path):
    response = read_client.get(path, {"target": "0.997", "window_days": "7"})
    assert response.status_code == 200
    body = response.json()
    assert set(body) >= {"service_id", "target", "dependency_bound", "achievable", "own_budget_minutes",
                         "dependencies", "warnings"}
    assert set(body["dependencies"][0]) >= {"service_id", "availability", "required_availability",
                                            "extra_nine_availability", "meets_required", "slo_target"}
    assert (body["target"], body["window_days"], body["achievable"]) == (0.997, 7, True)
    assert len(body["dependencies"]) == 3


def test_constraint_analysis_defaults_to_the_slo_of_record(shop, read_client):
    body = read_client.get("/api/v1/services/checkout/constraint-analysis").json()
    assert (body["target"], body["window_days"], body["achievable"]) == (0.998, 28, False)
    _problem(read_client.get("/api/v1/services/cart/constraint-analysis"), 422, "target")


@pytest.mark.parametrize("target", ["0.5", "0.3", "1", "0.999995", "abc", "nan", "inf", "-inf"])
def test_constraint_target_out_of_range(shop, read_client, target):
    _problem(read_client.get("/api/v1/services/checkout/constraint-analysis", {"target": target}), 422, "target")


@pytest.mark.parametrize("window_days", ["0", "-3", "400", "x"])
def test_constraint_window_days_invalid(shop, read_client, window_days):
    _problem(read_client.get("/api/v1/services/checkout/constraint-analysis",
                             {"target": "0.99", "window_days": window_days}), 422, "window_days")


def test_unknown_service_is_404(shop, read_client):
    _problem(read_client.get("/api/v1/services/nobody/constraint-analysis", {"target": "0.99"}), 404, None)
    # Without a target too: the service is looked up before its default target.
    _problem(read_client.get("/api/v1/services/nobody/constraint-analysis"), 404, None)
    _problem(read_client.post("/api/v1/impact-analysis", {"service_id": "nobody", "availability": 0.99},
                              format="json"), 404, None)


@pytest.mark.parametrize("path", ["/api/v1/impact-analysis", "/api/v1/impact-analysis/"])
def test_impact_analysis_with_a_read_key(shop, read_client, path):
    response = read_client.post(path, {"service_id": "payment", "availability": 0.995, "max_depth": 1},
                                format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert sorted(r["service_id"] for r in body["impacted"]) == ["admin", "cart", "checkout"]
    assert set(body["impacted"][0]) == {"service_id", "depth", "current_bound", "projected_bound", "delta",
                                        "slo_target", "slo_at_risk"}
    assert body["summary"]["impacted"] == 3 and body["summary"]["at_risk"] == 1


@pytest.mark.parametrize(("payload", "field"), [
    ({"service_id": "payment", "availability": 0.99, "max_depth": 11}, "max_depth"),
    ({"service_id": "payment", "availability": 0.99, "max_depth": 0}, "max_depth"),
    ({"service_id": "payment", "availability": 0.99, "max_depth": "3"}, "max_depth"),
    ({"service_id": "payment", "availability": 0.99, "max_depth": 2.5}, "max_depth"),
    ({"service_id": "payment", "availability": "abc"}, "availability"),
    ({"service_id": "payment", "availability": "0.99"}, "availability"),
    ({"service_id": "payment", "availability": True}, "availability"),
    ({"service_id": "payment", "availability": None}, "availability"),
    ({"service_id": "payment", "availability": 1.5}, "availability"),
    ({"service_id": "payment", "availability": -0.1}, "availability"),
    ({"service_id": "payment"}, "availability"),
    ({"availability": 0.99}, "service_id"),
    ({"service_id": ["payment"], "availability": 0.99}, "service_id"),
])
def test_impact_bad_input_is_422_naming_the_field(shop, read_client, payload, field):
    _problem(read_client.post("/api/v1/impact-analysis", payload, format="json"), 422, field)


def test_impact_non_finite_and_malformed_bodies(shop, read_client):
    _problem(read_client.post("/api/v1/impact-analysis", '{"service_id": "payment", "availability": NaN}',
                              content_type="application/json"), 400, "body")  # NaN is not JSON
    _problem(read_client.post("/api/v1/impact-analysis", '{"service_id": ', content_type="application/json"),
             400, "body")
    _problem(read_client.post("/api/v1/impact-analysis", [1, 2], format="json"), 422, None)


def test_keys_are_required_and_nothing_is_written(shop, anon_client, read_client):
    assert anon_client.get("/api/v1/services/checkout/constraint-analysis", {"target": "0.99"}).status_code == 401
    assert anon_client.post("/api/v1/impact-analysis", {"service_id": "payment", "availability": 0.9},
                            format="json").status_code == 401
    counts = (Service.objects.count(), ServiceDependency.objects.count(), ServiceLevelObjective.objects.count(),
              SloChange.objects.count(), GraphVersion.objects.values_list("version", flat=True).first())
    read_client.get("/api/v1/services/checkout/constraint-analysis", {"target": "0.99"})
    read_client.post("/api/v1/impact-analysis", {"service_id": "payment", "availability": 0.9}, format="json")
    assert counts == (Service.objects.count(), ServiceDependency.objects.count(),
                      ServiceLevelObjective.objects.count(), SloChange.objects.count(),
                      GraphVersion.objects.values_list("version", flat=True).first())
