import pytest

from graph.models import Service
from graph.selectors import ServiceNotFound, ServiceRetired, graph_map, graph_version_current, service_subgraph
from graph.services.catalog import service_retire
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
    with django_assert_num_queries(3):  # version, the service, the CTE
        service_subgraph(service_id="a", use_cache=False)


def test_unknown_and_retired_services_raise():
    graph_ingest(source="manual", nodes=[], edges=edges(("a", "b")))
    with pytest.raises(ServiceNotFound):
        service_subgraph(service_id="nope")
    service_subgraph(service_id="b")  # cached while active
    service_retire(service=Service.objects.get(service_id="b"), actor="test")
    with pytest.raises(ServiceRetired):
        service_subgraph(service_id="b")


def test_graph_map_follows_the_version():
    graph_ingest(source="manual", nodes=[{"service_id": "lonely"}], edges=edges(("a", "b")))
    body = graph_map()
    assert {n["service_id"] for n in body["nodes"]} == {"a", "b", "lonely"}
    assert body["graph_version"] == graph_version_current()
    graph_version_bump()
    assert graph_map()["graph_version"] == body["graph_version"] + 1
