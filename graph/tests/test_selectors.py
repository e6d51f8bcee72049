import pytest

from graph.selectors import graph_map, graph_version_current, service_subgraph
from graph.services.ingest import graph_ingest, graph_version_bump

pytestmark = pytest.mark.django_db


def edges(*pairs):
    return [{"source": a, "target": b, "attributes": {}} for a, b in pairs]


def test_subgraph_is_cached_per_graph_version(django_assert_num_queries):
    graph_ingest(source="manual", nodes=[], edges=edges(("a", "b")))
    first = service_subgraph(service_id="a")
    with django_assert_num_queries(1):  # only the graph version
        assert service_subgraph(service_id="a") == first
    graph_ingest(source="manual", nodes=[], edges=edges(("b", "c")))
    assert [n["service_id"] for n in service_subgraph(service_id="a")["nodes"]] == ["b", "c"]


def test_uncached_read_skips_the_cache(django_assert_num_queries):
    graph_ingest(source="manual", nodes=[], edges=edges(("a", "b")))
    service_subgraph(service_id="a")
    with django_assert_num_queries(2):  # version and the CTE
        service_subgraph(service_id="a", use_cache=False)


def test_graph_map_follows_the_version():
    graph_ingest(source="manual", nodes=[{"service_id": "lonely"}], edges=edges(("a", "b")))
    body = graph_map()
    assert {n["service_id"] for n in body["nodes"]} == {"a", "b", "lonely"}
    assert body["graph_version"] == graph_version_current()
    graph_version_bump()
    assert graph_map()["graph_version"] == body["graph_version"] + 1
