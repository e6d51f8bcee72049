"""graph_ingest: transactions, idempotency, concurrency (real PostgreSQL)."""

import random
import threading

import pytest
from django.db import IntegrityError, connection

from graph.models import Service, ServiceDependency
from graph.selectors import graph_version_current
from graph.services.ingest import IngestResult, graph_ingest, graph_version_bump


def edge(source: str, target: str, **attributes) -> dict:
    return {"source": source, "target": target, "attributes": attributes}


@pytest.mark.django_db
def test_result_has_the_response_keys():
    result = graph_ingest(source="manual", nodes=[{"service_id": "a"}], edges=[edge("a", "b")])
    assert isinstance(result, IngestResult)
    assert result.as_dict() == {
        "nodes_upserted": 1, "edges_upserted": 1, "edges_removed": 0, "services_auto_created": ["b"],
        "circular_dependencies_detected": [], "warnings": [], "graph_version": graph_version_current(),
    }


@pytest.mark.django_db
def test_database_error_mid_write_persists_nothing():
    version = graph_version_current()
    # timeout_ms 0 passes no serializer here; the CHECK constraint rejects it
    # after the services and the first edges were written in the transaction.
    with pytest.raises(IntegrityError):
        graph_ingest(source="manual", nodes=[{"service_id": "a"}],
                     edges=[edge("a", "b"), edge("b", "c", timeout_ms=0)])
    assert not Service.objects.exists()
    assert not ServiceDependency.objects.exists()
    assert graph_version_current() == version


@pytest.mark.django_db
def test_changed_attributes_are_updated_and_stale_records_revived():
    graph_ingest(source="otel_service_graph", nodes=[], edges=[edge("a", "b", confidence_score=0.4)])
    ServiceDependency.objects.update(is_stale=True)
    graph_ingest(source="otel_service_graph", nodes=[], edges=[edge("a", "b", confidence_score=0.9,
                                                                     communication_mode="async")])
    record = ServiceDependency.objects.get()
    assert (record.confidence_score, record.communication_mode, record.is_stale) == (0.9, "async", False)


@pytest.mark.django_db
def test_node_fields_update_only_what_is_given_and_merge_metadata():
    graph_ingest(source="manual", nodes=[{"service_id": "a", "team": "t1", "criticality": "high",
                                          "metadata": {"tier": 1}}], edges=[])
    graph_ingest(source="otel_service_graph", nodes=[{"service_id": "a", "metadata": {"kind": "database"}}],
                 edges=[])
    service = Service.objects.get(service_id="a")
    assert (service.team, service.criticality, service.metadata) == ("t1", "high", {"tier": 1, "kind": "database"})
    assert service.discovered is False


@pytest.mark.django_db
def test_services_first_seen_by_discovery_are_discovered():
    graph_ingest(source="otel_service_graph", nodes=[{"service_id": "db", "metadata": {"kind": "database"}}],
                 edges=[edge("api", "db")])
    assert set(Service.objects.values_list("service_id", "discovered")) == {("db", True), ("api", True)}


@pytest.mark.django_db
def test_version_bump_increments():
    first = graph_version_bump()
    assert graph_version_bump() == first + 1 == graph_version_current()


@pytest.mark.django_db(transaction=True)
def test_concurrent_ingestions_neither_deadlock_nor_lose_edges():
    """Eight threads ingest overlapping graphs, each listing its services in a
    different order; every edge of every batch must be stored."""
    names = [f"svc-{i:02d}" for i in range(30)]
    batches = []
    for worker in range(8):
        rng = random.Random(worker)
        pairs = {tuple(rng.sample(names, 2)) for _ in range(60)}
        edges = [edge(a, b, protocol=f"w{worker}") for a, b in pairs]
        rng.shuffle(edges)
        source = ("manual", "otel_service_graph")[worker % 2]
        batches.append((source, edges))
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(batches))

    def work(source, edges):
        try:
            barrier.wait()
            for _ in range(3):
                graph_ingest(source=source, nodes=[{"service_id": e["source"]} for e in edges[:10]], edges=edges)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=batch) for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    expected = {(e["source"], e["target"], source) for source, edges in batches for e in edges}
    stored = set(ServiceDependency.objects.values_list("source__service_id", "target__service_id",
                                                       "discovery_source"))
    assert stored == expected
    assert Service.objects.count() == len({n for a, b, _ in expected for n in (a, b)})
    # Each batch's first write changes the graph; a repeat bumps the version
    # only when another batch changed the same records in between.
    assert len(batches) <= graph_version_current() <= 3 * len(batches)
