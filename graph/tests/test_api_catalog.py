"""Catalog endpoints: services, edge records, the graph map and stats."""

import pytest

from graph.models import Service
from graph.selectors import graph_version_current
from graph.services.ingest import graph_ingest
from graph.tests.factories import ServiceDependencyFactory, ServiceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalog(db):
    graph_ingest(
        source="manual",
        nodes=[
            {"service_id": "checkout", "team": "payments", "criticality": "critical", "tags": ["pci", "core"]},
            {"service_id": "payment", "team": "payments", "criticality": "high", "tags": ["pci"]},
            {"service_id": "search", "team": "discovery", "criticality": "low", "display_name": "Product Search"},
        ],
        edges=[{"source": "checkout", "target": "payment", "attributes": {}},
               {"source": "checkout", "target": "search", "attributes": {"communication_mode": "async"}}],
    )
    graph_ingest(source="otel_service_graph", nodes=[],
                 edges=[{"source": "checkout", "target": "fraud", "attributes": {"confidence_score": 0.5}}])


def ids(response) -> list[str]:
    return [row["service_id"] for row in response.json()["results"]]


def test_service_list_filters(read_client, catalog):
    assert ids(read_client.get("/api/v1/services")) == ["checkout", "fraud", "payment", "search"]
    assert ids(read_client.get("/api/v1/services/?team=payments")) == ["checkout", "payment"]
    assert ids(read_client.get("/api/v1/services?criticality=critical")) == ["checkout"]
    assert ids(read_client.get("/api/v1/services?discovered=true")) == ["fraud"]
    assert ids(read_client.get("/api/v1/services?tag=pci")) == ["checkout", "payment"]
    assert ids(read_client.get("/api/v1/services?tag=pc")) == []
    assert ids(read_client.get("/api/v1/services?search=product")) == ["search"]
    response = read_client.get("/api/v1/services?criticality=extreme")
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["criticality"]


def test_service_list_pagination_and_query_count(read_client, catalog, django_assert_num_queries):
    for i in range(30):
        ServiceFactory(service_id=f"extra-{i:02d}")
    read_client.get("/api/v1/services")  # caches the key and records its use
    # graph version (read from the database inside the test's transaction),
    # count, page.
    with django_assert_num_queries(3):
        body = read_client.get("/api/v1/services?page_size=10&page=2").json()
    assert body["count"] == 34 and len(body["results"]) == 10 and body["next"] and body["previous"]
    # The same page again comes from the cache: only the graph version is read.
    with django_assert_num_queries(1):
        assert read_client.get("/api/v1/services?page_size=10&page=2").json() == body
    assert len(read_client.get("/api/v1/services?page_size=500").json()["results"]) == 34
    # Over the documented maximum is a 422 naming the parameter, not a silent clamp.
    too_big = read_client.get("/api/v1/services?page_size=1000")
    assert too_big.status_code == 422
    assert [error["field"] for error in too_big.json()["errors"]] == ["page_size"]


def test_retire_hides_and_restore_returns(read_client, write_client, catalog):
    version = graph_version_current()
    assert read_client.delete("/api/v1/services/search").status_code == 403
    body = write_client.delete("/api/v1/services/search/").json()
    assert body["is_retired"] is True and body["updated_by"] == "api-key:test-write"
    assert graph_version_current() == version + 1
    assert "search" not in ids(read_client.get("/api/v1/services"))
    assert "search" in ids(read_client.get("/api/v1/services?include_retired=true"))
    assert read_client.get("/api/v1/services/search").json()["is_retired"] is True
    assert write_client.post("/api/v1/services/search/restore/").json()["is_retired"] is False
    assert "search" in ids(read_client.get("/api/v1/services"))


def test_patch_service(read_client, write_client, catalog):
    response = write_client.patch("/api/v1/services/search", {"team": "growth", "tags": ["beta"]}, format="json")
    assert response.status_code == 200
    assert (response.json()["team"], response.json()["tags"]) == ("growth", ["beta"])
    service = Service.objects.get(service_id="search")
    assert (service.team, service.display_name) == ("growth", "Product Search")
    bad = write_client.patch("/api/v1/services/search", {"criticality": "extreme", "service_id": "x"}, format="json")
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"service_id"}
    bad = write_client.patch("/api/v1/services/search", {"criticality": "extreme"}, format="json")
    assert [e["field"] for e in bad.json()["errors"]] == ["criticality"]
    assert read_client.patch("/api/v1/services/search", {"team": "x"}, format="json").status_code == 403
    assert write_client.put("/api/v1/services/search", {"team": "x"}, format="json").status_code == 405
    assert write_client.patch("/api/v1/services/nope", {"team": "x"}, format="json").status_code == 404


def test_dependency_list_filters_and_query_count(read_client, catalog, django_assert_num_queries):
    for _ in range(5):
        ServiceDependencyFactory()
    read_client.get("/api/v1/dependencies")
    # count, page with both services joined (the key is cached since the first request)
    with django_assert_num_queries(2):
        body = read_client.get("/api/v1/dependencies").json()
    assert body["count"] == 8
    rows = read_client.get("/api/v1/dependencies?source=checkout&discovery_source=manual").json()["results"]
    assert {(r["source"], r["target"]) for r in rows} == {("checkout", "payment"), ("checkout", "search")}
    rows = read_client.get("/api/v1/dependencies/?target=fraud").json()["results"]
    assert [(r["discovery_source"], r["confidence_score"]) for r in rows] == [("otel_service_graph", 0.5)]
    rows = read_client.get("/api/v1/dependencies?communication_mode=async").json()["results"]
    assert [r["target"] for r in rows] == ["search"]
    assert read_client.get("/api/v1/dependencies?is_stale=true").json()["count"] == 0
    record = read_client.get(f"/api/v1/dependencies/{rows[0]['id']}").json()
    assert record["source"] == "checkout"
    assert read_client.get("/api/v1/dependencies?discovery_source=carrier").status_code == 422


def test_graph_map(read_client, write_client, catalog):
    body = read_client.get("/api/v1/graph").json()
    assert {n["service_id"] for n in body["nodes"]} == {"checkout", "fraud", "payment", "search"}
    assert {(e["source"], e["target"]) for e in body["edges"]} == {
        ("checkout", "payment"), ("checkout", "search"), ("checkout", "fraud")}
    write_client.delete("/api/v1/services/fraud")
    body = read_client.get("/api/v1/graph/").json()
    assert "fraud" not in {n["service_id"] for n in body["nodes"]}
    assert all(e["target"] != "fraud" for e in body["edges"])


def test_stats(read_client, write_client, catalog):
    write_client.delete("/api/v1/services/search")
    body = read_client.get("/api/v1/stats").json()
    assert body["services"]["total"] == 3 and body["services"]["retired"] == 1
    assert body["services"]["discovered"] == 1
    assert body["services"]["by_criticality"] == {"critical": 1, "high": 1, "medium": 1}
    assert body["edges"] == {"total": 3, "stale": 0, "by_discovery_source": {"manual": 2, "otel_service_graph": 1}}
    assert body["open_alerts"] == 0 and body["active_recommendations"] == 0
    assert read_client.get("/api/v1/stats/").status_code == 200
