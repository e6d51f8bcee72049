import json
import logging

import pytest
from django.core.cache import cache
from django.db import transaction
from django.test import override_settings

from graph.models import GraphVersion, Service
from graph.selectors import (
    GRAPH_VERSION_CACHE_KEY,
    GRAPH_VERSION_CACHE_SECONDS,
    ServiceNotFound,
    ServiceRetired,
    graph_map,
    graph_version_current,
    graph_version_publish,
    service_subgraph_json,
)
from graph.services.catalog import service_retire
from graph.services.ingest import graph_ingest, graph_version_bump

pytestmark = pytest.mark.django_db


def subgraph_of(**query) -> dict:
    return json.loads(service_subgraph_json(**query))


def edges(*pairs):
    return [{"source": a, "target": b, "attributes": {}} for a, b in pairs]


def test_subgraph_is_cached_per_graph_version(django_assert_num_queries):
    graph_ingest(source="manual", nodes=[], edges=edges(("a", "b")))
    first = subgraph_of(service_id="a")
    with django_assert_num_queries(1):  # only the graph version
        assert subgraph_of(service_id="a") == first
    graph_ingest(source="manual", nodes=[], edges=edges(("b", "c")))
    assert [n["service_id"] for n in subgraph_of(service_id="a")["nodes"]] == ["b", "c"]


def test_uncached_read_skips_the_cache(django_assert_num_queries):
    graph_ingest(source="manual", nodes=[], edges=edges(("a", "b")))
    subgraph_of(service_id="a")
    with django_assert_num_queries(3):  # version, the service, the CTE
        subgraph_of(service_id="a", use_cache=False)


def test_unknown_and_retired_services_raise():
    graph_ingest(source="manual", nodes=[], edges=edges(("a", "b")))
    with pytest.raises(ServiceNotFound):
        subgraph_of(service_id="nope")
    subgraph_of(service_id="b")  # cached while active
    service_retire(service=Service.objects.get(service_id="b"), actor="test")
    with pytest.raises(ServiceRetired):
        subgraph_of(service_id="b")


def test_graph_map_follows_the_version():
    graph_ingest(source="manual", nodes=[{"service_id": "lonely"}], edges=edges(("a", "b")))
    body = graph_map()
    assert {n["service_id"] for n in body["nodes"]} == {"a", "b", "lonely"}
    assert body["graph_version"] == graph_version_current()
    graph_version_bump()
    assert graph_map()["graph_version"] == body["graph_version"] + 1


# --- The graph version mirrored in the cache ---------------------------------
# Only reads outside a transaction use the mirror, so these tests commit for
# real (transaction=True), like requests do.

INGEST = "/api/v1/services/dependencies"


def committed_version(version: int) -> None:
    GraphVersion.objects.update_or_create(pk=1, defaults={"version": version})


def mirror() -> int | None:
    return cache.get(GRAPH_VERSION_CACHE_KEY)


@pytest.mark.django_db(transaction=True)
def test_a_read_outside_a_transaction_publishes_the_committed_version(django_assert_num_queries):
    committed_version(41)
    assert mirror() is None
    assert graph_version_current() == 41
    assert mirror() == 41
    with django_assert_num_queries(0):  # served by the mirror
        assert graph_version_current() == 41


@pytest.mark.django_db(transaction=True)
def test_an_ingest_is_visible_to_the_next_read(write_client, read_client):
    def downstream_of_a() -> list[str]:
        response = read_client.get("/api/v1/services/a/dependencies?depth=3")
        assert response.status_code == 200
        return [n["service_id"] for n in response.json()["nodes"]]

    first = write_client.post(INGEST, {"edges": edges(("a", "b"))}, format="json").json()["graph_version"]
    assert mirror() == first
    assert downstream_of_a() == ["b"]  # now cached under that version
    second = write_client.post(INGEST, {"edges": edges(("b", "c"))}, format="json").json()["graph_version"]
    assert second > first
    assert mirror() == second
    assert downstream_of_a() == ["b", "c"]


@pytest.mark.django_db(transaction=True)
def test_publishing_never_lowers_the_mirror():
    graph_version_publish(5)
    graph_version_publish(3)  # e.g. a reader that read the database before a writer committed
    assert mirror() == 5
    graph_version_publish(6)
    assert mirror() == 6


@pytest.mark.django_db(transaction=True)
def test_a_bump_reaches_the_mirror_only_once_committed():
    committed_version(7)
    assert graph_version_current() == 7
    with transaction.atomic():
        assert graph_version_bump() == 8
        # The writer's own reads see its bump; nobody else may yet.
        assert graph_version_current() == 8
        assert mirror() == 7
    assert mirror() == 8
    assert graph_version_current() == 8


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_bump_never_reaches_the_mirror():
    committed_version(7)
    graph_version_current()
    with pytest.raises(RuntimeError), transaction.atomic():
        graph_version_bump()
        raise RuntimeError("the write failed")
    assert mirror() == 7
    # A bump in a rolled-back savepoint of a committed transaction neither.
    with transaction.atomic():
        with pytest.raises(RuntimeError), transaction.atomic():
            graph_version_bump()
            raise RuntimeError("this part failed")
    assert mirror() == 7
    cache.delete(GRAPH_VERSION_CACHE_KEY)
    assert graph_version_current() == 7


@pytest.mark.django_db(transaction=True)
def test_the_mirror_expires_so_a_lost_publish_cannot_stick():
    committed_version(3)
    graph_version_current()
    assert 0 < cache.ttl(GRAPH_VERSION_CACHE_KEY) <= GRAPH_VERSION_CACHE_SECONDS  # django-redis (the test cache)
    graph_version_publish(4)
    assert 0 < cache.ttl(GRAPH_VERSION_CACHE_KEY) <= GRAPH_VERSION_CACHE_SECONDS


@pytest.mark.django_db(transaction=True)
def test_the_version_is_read_from_the_database_while_the_cache_is_down(private_redis, caplog):
    committed_version(4)
    private_redis.stop()
    down = {"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": private_redis.url,
                        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2,
                                    "IGNORE_EXCEPTIONS": True}}}
    with override_settings(CACHES=down), caplog.at_level(logging.WARNING):
        assert graph_version_current() == 4
        with transaction.atomic():
            assert graph_version_bump() == 5
        assert graph_version_current() == 5
    assert any("not published to the cache" in r.getMessage() for r in caplog.records)


def test_hard_sync_graph_condenses_cycles_and_keeps_only_hard_sync(db, django_assert_num_queries):
    from graph.selectors import hard_sync_graph
    from graph.services.ingest import graph_version_bump
    from graph.tests.factories import ServiceDependencyFactory, ServiceFactory

    def edge(a, b, **attributes):
        ServiceDependencyFactory(source=ServiceFactory(service_id=a), target=ServiceFactory(service_id=b),
                                 **attributes)

    edge("x", "a")
    edge("a", "b")
    edge("b", "a")
    edge("x", "c", criticality="soft")
    edge("y", "x")
    # Each read asks the graph version first (from the database inside a
    # test's transaction), then, unless cached, one query for the edges.
    with django_assert_num_queries(2):
        whole = hard_sync_graph()
    assert whole.component_of["a"] == whole.component_of["b"] != whole.component_of["x"]
    assert "c" not in whole and "y" in whole
    assert whole.edges() == [("a", "b"), ("b", "a"), ("x", "a"), ("y", "x")]
    with django_assert_num_queries(1):  # the graph of this version, from the cache
        assert hard_sync_graph().edges() == whole.edges()
    edge("z", "y")
    graph_version_bump()  # what every graph write does
    assert ("z", "y") in hard_sync_graph().edges()
