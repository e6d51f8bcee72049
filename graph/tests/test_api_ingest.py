"""POST /api/v1/services/dependencies over HTTP against PostgreSQL."""

import json
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from graph.models import GraphVersion, Service, ServiceDependency
from graph.selectors import graph_version_current
from graph.tests.factories import ServiceDependencyFactory, ServiceFactory

URL = "/api/v1/services/dependencies"
pytestmark = pytest.mark.django_db


def topology() -> dict:
    return json.loads((django_settings.DEMO_TOPOLOGY_FILE).read_text())


def edge(source: str, target: str, **attributes) -> dict:
    return {"source": source, "target": target, "attributes": attributes}


def fields_of(problem: dict) -> set[str]:
    return {e["field"] for e in problem["errors"]}


def snapshot() -> tuple[list, list]:
    services = list(Service.objects.order_by("service_id").values())
    edges = [
        {k: v for k, v in row.items() if k != "last_observed_at"}
        for row in ServiceDependency.objects.order_by("id").values()
    ]
    return services, edges


def test_ingest_demo_topology(write_client):
    payload = topology()
    response = write_client.post(URL, payload, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["nodes_upserted"] == 27
    assert body["edges_upserted"] == 44
    assert body["edges_removed"] == 0
    assert body["services_auto_created"] == []
    assert body["circular_dependencies_detected"] == []
    assert body["graph_version"] == GraphVersion.objects.get(pk=1).version
    assert Service.objects.count() == 27
    assert ServiceDependency.objects.filter(discovery_source="manual").count() == 44
    checkout = Service.objects.get(service_id="checkout")
    assert (checkout.criticality, checkout.team, checkout.discovered) == ("critical", "astronomy-shop", False)
    assert checkout.created_by == "api-key:test-write"
    first = payload["edges"][0]
    stored = ServiceDependency.objects.get(source__service_id=first["source"], target__service_id=first["target"])
    assert stored.protocol == first["attributes"]["protocol"]


def test_reingest_changes_only_last_observed_at(write_client):
    payload = topology()
    first = write_client.post(URL, payload, format="json").json()
    before = snapshot()
    observed_before = dict(ServiceDependency.objects.values_list("id", "last_observed_at"))

    payload["timestamp"] = (timezone.now() + timedelta(minutes=1)).isoformat()
    second = write_client.post(URL, payload, format="json").json()

    assert snapshot() == before
    observed_after = dict(ServiceDependency.objects.values_list("id", "last_observed_at"))
    assert all(observed_after[pk] > observed_before[pk] for pk in observed_before)
    # Nothing a traversal shows changed: the version (and so every cached
    # subgraph) stays, and no detection run is needed.
    assert second["graph_version"] == first["graph_version"]
    assert second["services_auto_created"] == []


def test_reobservation_keeps_cached_subgraphs_but_a_change_invalidates_them(write_client, read_client):
    payload = topology()
    write_client.post(URL, payload, format="json")
    subgraph_url = "/api/v1/services/checkout/dependencies?depth=1"
    before = read_client.get(subgraph_url).json()

    payload["timestamp"] = (timezone.now() + timedelta(minutes=1)).isoformat()
    write_client.post(URL, payload, format="json")
    with CaptureQueriesContext(connection) as queries:
        assert read_client.get(subgraph_url).json() == before
    assert not any("WITH RECURSIVE" in q["sql"] for q in queries.captured_queries)

    write_client.post(URL, {"edges": [edge("checkout", "brand-new-dependency")]}, format="json")
    after = read_client.get(subgraph_url).json()
    assert "brand-new-dependency" in {node["service_id"] for node in after["nodes"]}


def test_edge_to_unknown_service_auto_creates_it_and_keeps_existing_catalog_data(write_client):
    ServiceFactory(service_id="payment", team="payments", criticality="critical", display_name="Payment")
    response = write_client.post(URL, {"edges": [edge("checkout", "payment"), edge("checkout", "fraud")]},
                                 format="json")
    assert response.status_code == 200, response.content
    assert response.json()["services_auto_created"] == ["checkout", "fraud"]
    assert set(Service.objects.filter(discovered=True).values_list("service_id", flat=True)) == {"checkout", "fraud"}
    payment = Service.objects.get(service_id="payment")
    assert (payment.team, payment.criticality, payment.display_name, payment.discovered) == (
        "payments", "critical", "Payment", False)


def test_metadata_fallbacks_and_repeated_pairs(write_client):
    payload = {
        "nodes": [{"service_id": "legacy", "metadata": {"service_name": "Legacy Billing", "team": "billing",
                                                        "criticality": "high"}}],
        "edges": [edge("legacy", "db", protocol="sql"), edge("legacy", "db", protocol="postgres", timeout_ms=300)],
    }
    body = write_client.post(URL, payload, format="json").json()
    legacy = Service.objects.get(service_id="legacy")
    assert (legacy.display_name, legacy.team, legacy.criticality) == ("Legacy Billing", "billing", "high")
    record = ServiceDependency.objects.get()
    assert (record.protocol, record.timeout_ms) == ("postgres", 300)
    assert body["edges_upserted"] == 1
    assert any("more than once" in w for w in body["warnings"])


def test_bad_edge_rolls_back_whole_request(write_client):
    payload = topology()
    payload["edges"].append(edge("checkout", "payment", criticality="fatal"))
    response = write_client.post(URL, payload, format="json")
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert "edges[44].attributes.criticality" in fields_of(response.json())
    assert Service.objects.count() == 0
    assert ServiceDependency.objects.count() == 0


def test_replace_mode_deletes_only_that_sources_missing_records(write_client):
    write_client.post(URL, {"source": "backstage", "edges": [edge("a", "b"), edge("b", "c")]}, format="json")
    write_client.post(URL, {"source": "manual", "edges": [edge("b", "c")]}, format="json")
    body = write_client.post(URL, {"source": "backstage", "mode": "replace", "edges": [edge("a", "b")]},
                             format="json").json()
    assert body["edges_removed"] == 1
    rows = set(ServiceDependency.objects.values_list("source__service_id", "target__service_id", "discovery_source"))
    assert rows == {("a", "b", "backstage"), ("b", "c", "manual")}


def test_timestamp_rules(write_client):
    past = timezone.now() - timedelta(days=2)
    write_client.post(URL, {"edges": [edge("a", "b")], "timestamp": past.isoformat()}, format="json")
    assert abs(ServiceDependency.objects.get().last_observed_at - past) < timedelta(seconds=1)

    future = timezone.now() + timedelta(minutes=10)
    response = write_client.post(URL, {"edges": [edge("a", "c")], "timestamp": future.isoformat()}, format="json")
    assert response.status_code == 422
    assert fields_of(response.json()) == {"timestamp"}
    assert ServiceDependency.objects.count() == 1


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"edges": "checkout->payment"}, "edges"),
        ({"edges": [{"source": "a", "target": 5}]}, "edges[0].target"),
        ({"edges": [edge("a", "b", timeout_ms="soon")]}, "edges[0].attributes.timeout_ms"),
        ({"edges": [edge("a", "b", confidence_score=1.5)]}, "edges[0].attributes.confidence_score"),
        ({"edges": [edge("a", "b", communication_mode="carrier-pigeon")]}, "edges[0].attributes.communication_mode"),
        ({"edges": [edge("a", "a")]}, "edges[0].target"),
        ({"edges": [edge("a", "dependencies")]}, "edges[0].target"),
        ({"edges": [edge("Not A Slug!", "b")]}, "edges[0].source"),
        ({"source": "carrier", "edges": []}, "source"),
        ({"mode": "overwrite", "edges": []}, "mode"),
        ({"nodes": [{"service_id": "a", "criticality": "extreme"}]}, "nodes[0].criticality"),
        ({"nodes": [{"service_id": "a", "metadata": {"criticality": "extreme"}}]}, "nodes[0].metadata.criticality"),
        ({"nodes": [{"display_name": "no id"}]}, "nodes[0].service_id"),
        ({}, "body"),
    ],
)
def test_invalid_payloads_are_422_naming_the_field(write_client, payload, field):
    response = write_client.post(URL, payload, format="json")
    assert response.status_code == 422, response.content
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert field in fields_of(problem)
    assert problem["status"] == 422 and problem["correlation_id"]
    assert ServiceDependency.objects.count() == 0 and Service.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ('{"edges": [', 400, "body"),
        ("[1, 2, 3]", 422, "body"),
        ('"just a string"', 422, "body"),
        ("", 422, "body"),
    ],
)
def test_malformed_empty_and_non_object_bodies(write_client, body, status, field):
    response = write_client.generic("POST", URL, body, content_type="application/json")
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert field in fields_of(response.json())


@override_settings(INGEST_MAX_EDGES=3, INGEST_MAX_NODES=2)
def test_ingest_limits_from_settings(write_client):
    response = write_client.post(URL, {"edges": [edge("a", f"t{i}") for i in range(4)]}, format="json")
    assert response.status_code == 422
    assert fields_of(response.json()) == {"edges"}
    assert "INGEST_MAX_EDGES" in response.json()["detail"]
    response = write_client.post(URL, {"nodes": [{"service_id": f"n{i}"} for i in range(3)]}, format="json")
    assert response.status_code == 422
    assert fields_of(response.json()) == {"nodes"}
    assert Service.objects.count() == 0


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=2048)
def test_body_over_upload_limit_is_413(write_client):
    payload = {"edges": [edge("a", f"target-{i}", protocol="http") for i in range(100)]}
    response = write_client.post(URL, payload, format="json")
    assert response.status_code == 413
    assert response["Content-Type"] == "application/problem+json"
    assert ServiceDependency.objects.count() == 0


@override_settings(RATE_LIMIT_INGEST="2/min")
def test_ingest_is_throttled_per_key_with_headers(write_client, read_client):
    payload = {"edges": [edge("a", "b")]}
    first = write_client.post(URL, payload, format="json")
    assert (first["X-RateLimit-Limit"], first["X-RateLimit-Remaining"]) == ("2", "1")
    assert write_client.post(URL, payload, format="json").status_code == 200
    throttled = write_client.post(URL, payload, format="json")
    assert throttled.status_code == 429
    assert throttled["Content-Type"] == "application/problem+json"
    assert 1 <= int(throttled["Retry-After"]) <= 60
    assert throttled["X-RateLimit-Remaining"] == "0"
    assert 1 <= int(throttled["X-RateLimit-Reset"]) <= 60
    # Reads use the query scope, so they are not affected.
    assert read_client.get("/api/v1/services").status_code == 200


def test_delete_dependency_record(write_client, read_client):
    record = ServiceDependencyFactory()
    version = graph_version_current()
    assert read_client.delete(f"/api/v1/dependencies/{record.pk}").status_code == 403
    response = write_client.delete(f"/api/v1/dependencies/{record.pk}/")
    assert response.status_code == 204
    assert not ServiceDependency.objects.exists()
    assert graph_version_current() == version + 1
    assert write_client.delete(f"/api/v1/dependencies/{record.pk}").status_code == 404


def test_get_on_ingest_path_is_not_a_service(read_client):
    response = read_client.get(URL)
    assert response.status_code == 405
    assert response["Content-Type"] == "application/problem+json"
