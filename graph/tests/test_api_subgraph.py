"""GET /api/v1/services/{id}/dependencies over HTTP, checked against networkx."""

import json

import networkx as nx
import pytest
import requests
from django.conf import settings as django_settings
from django.utils import timezone

from graph.models import ServiceDependency
from graph.services.ingest import graph_ingest

pytestmark = pytest.mark.django_db

SAMPLE = ("frontend-proxy", "frontend", "checkout", "kafka", "load-generator", "product-catalog", "accounting")


def topology() -> dict:
    return json.loads((django_settings.DEMO_TOPOLOGY_FILE).read_text())


@pytest.fixture
def demo_graph(db) -> nx.DiGraph:
    payload = topology()
    graph_ingest(source="manual", nodes=payload["nodes"], edges=payload["edges"])
    return nx.DiGraph((e["source"], e["target"]) for e in payload["edges"])


def expected(graph: nx.DiGraph, start: str, direction: str, depth: int) -> tuple[dict, set]:
    """Fewest-hops depths and walked edges, computed in memory."""
    depths: dict[str, int] = {}
    edges: set[tuple[str, str]] = set()
    if direction in ("downstream", "both"):
        down = nx.single_source_shortest_path_length(graph, start, cutoff=depth)
        depths = dict(down)
        edges |= {(u, v) for u, v in graph.edges if u in down and down[u] < depth and v in down}
    if direction in ("upstream", "both"):
        up = nx.single_source_shortest_path_length(graph.reverse(copy=False), start, cutoff=depth)
        for node, hops in up.items():
            depths[node] = min(hops, depths.get(node, hops))
        edges |= {(u, v) for u, v in graph.edges if v in up and up[v] < depth and u in up}
    depths.pop(start, None)
    return depths, edges


def subgraph_url(service_id: str, **params) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"/api/v1/services/{service_id}/dependencies" + (f"?{query}" if query else "")


@pytest.mark.parametrize("direction", ["downstream", "upstream", "both"])
def test_subgraph_matches_networkx_at_every_depth(read_client, demo_graph, direction):
    for start in SAMPLE:
        for depth in range(1, 11):
            response = read_client.get(subgraph_url(start, direction=direction, depth=depth))
            assert response.status_code == 200, response.content
            body = response.json()
            depths, edges = expected(demo_graph, start, direction, depth)
            assert {n["service_id"]: n["depth"] for n in body["nodes"]} == depths, (start, depth)
            assert {(e["source"], e["target"]) for e in body["edges"]} == edges, (start, depth)
            assert body["statistics"] == {
                "total_nodes": len(depths), "total_edges": len(edges),
                "max_depth_reached": max(depths.values(), default=0),
            }
            assert (body["service_id"], body["direction"], body["depth"]) == (start, direction, depth)


def test_subgraph_defaults_and_representation(read_client, demo_graph):
    body = read_client.get(subgraph_url("checkout") + "/").json()
    assert (body["direction"], body["depth"]) == ("downstream", 3)
    payment = next(n for n in body["nodes"] if n["service_id"] == "payment")
    assert payment["depth"] == 1 and payment["team"] == "astronomy-shop" and payment["criticality"]
    edge = next(e for e in body["edges"] if (e["source"], e["target"]) == ("checkout", "payment"))
    assert edge["discovery_sources"] == ["manual"] and edge["confidence_score"] == 1.0
    assert edge["communication_mode"] in ("sync", "async") and edge["criticality"] in ("hard", "soft", "degraded")


@pytest.mark.parametrize(
    ("params", "field"),
    [({"depth": 0}, "depth"), ({"depth": 11}, "depth"), ({"depth": "deep"}, "depth"),
     ({"direction": "sideways"}, "direction"), ({"min_confidence": 2}, "min_confidence"),
     ({"include_stale": "perhaps"}, "include_stale")],
)
def test_bad_query_parameters_are_422(read_client, demo_graph, params, field):
    response = read_client.get(subgraph_url("checkout", **params))
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == [field]


def test_unknown_service_is_404(read_client, demo_graph):
    response = read_client.get(subgraph_url("no-such-service"))
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"


def test_write_is_visible_to_next_read_despite_cache(read_client, write_client, demo_graph, django_assert_num_queries):
    url = subgraph_url("payment", depth=1)
    before = read_client.get(url).json()["nodes"]
    assert "card-network" not in {n["service_id"] for n in before}
    # Second identical read comes from the cache (and so does the key): only
    # the graph version, which a test's transaction reads from the database
    # (a cached entry implies the service was active at that version).
    with django_assert_num_queries(1):
        assert read_client.get(url).json()["nodes"] == before
    write_client.post("/api/v1/services/dependencies",
                      {"edges": [{"source": "payment", "target": "card-network"}]}, format="json")
    nodes = read_client.get(url).json()["nodes"]
    assert {n["service_id"] for n in nodes} == {n["service_id"] for n in before} | {"card-network"}


def test_subgraph_query_count_is_pinned(read_client, demo_graph, django_assert_num_queries):
    read_client.get("/api/v1/services")  # caches the key and records its use
    # graph version, service lookup (a cache miss), the recursive CTE.
    with django_assert_num_queries(3):
        assert read_client.get(subgraph_url("frontend", direction="both", depth=10)).status_code == 200


def test_stale_records_are_skipped_unless_asked_for(read_client, demo_graph):
    ServiceDependency.objects.filter(source__service_id="checkout", target__service_id="payment").update(is_stale=True)
    ids = {n["service_id"] for n in read_client.get(subgraph_url("checkout", depth=1)).json()["nodes"]}
    assert "payment" not in ids
    body = read_client.get(subgraph_url("checkout", depth=1, include_stale="true")).json()
    assert "payment" in {n["service_id"] for n in body["nodes"]}


def test_min_confidence_uses_noisy_or_of_sources(read_client, db):
    def otel(source, target, confidence):
        return {"source": source, "target": target, "attributes": {"confidence_score": confidence}}

    graph_ingest(source="otel_service_graph", nodes=[], edges=[otel("a", "b", 0.3), otel("a", "c", 0.3)])
    graph_ingest(source="service_mesh", nodes=[], edges=[otel("a", "b", 0.4)])

    body = read_client.get(subgraph_url("a", depth=1, min_confidence=0.5)).json()
    assert [n["service_id"] for n in body["nodes"]] == ["b"]
    edge = body["edges"][0]
    assert edge["confidence_score"] == pytest.approx(1 - 0.7 * 0.6)
    assert edge["discovery_sources"] == ["service_mesh", "otel_service_graph"]
    body = read_client.get(subgraph_url("a", depth=1, min_confidence=0.3)).json()
    assert [n["service_id"] for n in body["nodes"]] == ["b", "c"]


def test_retired_services_are_excluded_and_restorable(read_client, write_client, demo_graph):
    before = {n["service_id"] for n in read_client.get(subgraph_url("checkout", depth=1)).json()["nodes"]}
    assert "payment" in before
    response = write_client.delete("/api/v1/services/payment")
    assert response.status_code == 200 and response.json()["is_retired"] is True
    after = {n["service_id"] for n in read_client.get(subgraph_url("checkout", depth=1)).json()["nodes"]}
    assert after == before - {"payment"}
    assert read_client.get(subgraph_url("payment")).status_code == 404
    assert write_client.post("/api/v1/services/payment/restore").json()["is_retired"] is False
    restored = {n["service_id"] for n in read_client.get(subgraph_url("checkout", depth=1)).json()["nodes"]}
    assert restored == before


@pytest.mark.django_db(transaction=True)
def test_over_a_real_http_server(live_server, write_key, read_key):
    payload = topology()
    response = requests.post(f"{live_server.url}/api/v1/services/dependencies", json=payload,
                             headers={"Authorization": f"Bearer {write_key}"}, timeout=30)
    assert response.status_code == 200, response.text
    assert response.json()["edges_upserted"] == 44
    assert response.headers["X-Correlation-ID"]

    response = requests.get(f"{live_server.url}/api/v1/services/checkout/dependencies/?depth=2&direction=both",
                            headers={"X-API-Key": read_key, "X-Correlation-ID": "trace-123"}, timeout=30)
    assert response.status_code == 200
    assert response.headers["X-Correlation-ID"] == "trace-123"
    assert int(response.headers["X-RateLimit-Remaining"]) < int(response.headers["X-RateLimit-Limit"])
    graph = nx.DiGraph((e["source"], e["target"]) for e in payload["edges"])
    depths, _ = expected(graph, "checkout", "both", 2)
    assert {n["service_id"]: n["depth"] for n in response.json()["nodes"]} == depths

    response = requests.post(f"{live_server.url}/api/v1/services/dependencies", data="{not json",
                             headers={"Authorization": f"Api-Key {write_key}", "Content-Type": "application/json"},
                             timeout=30)
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == "body"
    assert timezone.now()  # the server answered within the test's own clock
