"""graph_ingest: transactions, idempotency, concurrency (real PostgreSQL)."""

import random

import pytest
from django.db import IntegrityError

from graph.models import AlertStatus, CircularDependencyAlert, Service, ServiceDependency
from graph.selectors import effective_edges, graph_version_current
from graph.services.cycles import cycle_alerts_sync
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
def test_concurrent_ingestions_neither_deadlock_nor_lose_edges(run_together, ):
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

    def work(source, edges):
        for _ in range(3):
            graph_ingest(source=source, nodes=[{"service_id": e["source"]} for e in edges[:10]], edges=edges)

    run_together(work, batches)  # raises a deadlock (or any error) a call met
    expected = {(e["source"], e["target"], source) for source, edges in batches for e in edges}
    stored = set(ServiceDependency.objects.values_list("source__service_id", "target__service_id",
                                                       "discovery_source"))
    assert stored == expected
    assert Service.objects.count() == len({n for a, b, _ in expected for n in (a, b)})
    # Each batch's first write changes the graph; a repeat bumps the version
    # only when another batch changed the same records in between.
    assert len(batches) <= graph_version_current() <= 3 * len(batches)


# --- Cycle detection only when the topology may have changed -----------------
# Detection runs after the commit (transaction.on_commit), so these tests
# commit for real. Whether it ran shows on the alerts: each run stamps
# `last_seen_at` of every cycle still present.

CYCLE = [edge("a", "b"), edge("b", "c"), edge("c", "a")]


def last_seen() -> dict[tuple, object]:
    return {tuple(path): seen for path, seen in CircularDependencyAlert.objects.values_list("cycle_path",
                                                                                         "last_seen_at")}


def sources_of(source: str, target: str) -> tuple[str, ...]:
    return next(e.discovery_sources for e in effective_edges() if (e.source, e.target) == (source, target))


@pytest.mark.django_db(transaction=True)
def test_another_source_confirming_known_edges_bumps_the_version_without_detection():
    first = graph_ingest(source="manual", nodes=[], edges=CYCLE)
    assert first.circular_dependencies_detected == [["a", "b", "c"]]
    seen = last_seen()
    assert list(seen) == [("a", "b", "c")]

    result = graph_ingest(source="service_mesh", nodes=[], edges=[edge("a", "b"), edge("b", "c")])

    assert result.graph_version == first.graph_version + 1 == graph_version_current()
    assert sorted(sources_of("a", "b")) == ["manual", "service_mesh"]
    assert last_seen() == seen  # detection did not run
    assert result.circular_dependencies_detected == [["a", "b", "c"]]


@pytest.mark.django_db(transaction=True)
def test_changed_attributes_and_catalog_fields_skip_detection():
    first = graph_ingest(source="manual", nodes=[], edges=CYCLE)
    seen = last_seen()
    result = graph_ingest(source="manual", nodes=[{"service_id": "a", "team": "payments"}],
                          edges=[edge("a", "b", protocol="grpc", timeout_ms=250)])
    assert result.graph_version > first.graph_version
    assert ServiceDependency.objects.get(source__service_id="a").timeout_ms == 250
    assert last_seen() == seen
    assert result.circular_dependencies_detected == [["a", "b", "c"]]


@pytest.mark.django_db(transaction=True)
def test_a_new_pair_among_known_ones_runs_detection():
    graph_ingest(source="manual", nodes=[], edges=[edge("a", "b"), edge("b", "c")])
    assert not CircularDependencyAlert.objects.exists()
    # Known pairs confirmed by another source, plus one nobody reported: c -> a.
    result = graph_ingest(source="service_mesh", nodes=[], edges=[edge("a", "b"), edge("b", "c"), edge("c", "a")])
    assert result.circular_dependencies_detected == [["a", "b", "c"]]
    alert = CircularDependencyAlert.objects.get()
    assert (alert.cycle_path, alert.status) == (["a", "b", "c"], AlertStatus.OPEN)


@pytest.mark.django_db(transaction=True)
def test_a_revived_stale_edge_runs_detection_unless_another_source_reports_it():
    graph_ingest(source="otel_service_graph", nodes=[], edges=CYCLE)
    ServiceDependency.objects.filter(source__service_id="c").update(is_stale=True)
    cycle_alerts_sync()  # what the hourly sweep's detection would find: no cycle
    assert CircularDependencyAlert.objects.get().status == AlertStatus.RESOLVED

    # The same source sees c -> a again: the stale record is revived, the cycle is back.
    result = graph_ingest(source="otel_service_graph", nodes=[], edges=[edge("c", "a")])
    assert result.circular_dependencies_detected == [["a", "b", "c"]]
    alert = CircularDependencyAlert.objects.get()
    assert (alert.status, alert.reopen_count) == (AlertStatus.OPEN, 1)

    # A stale record of a pair that another source reports live changes nothing detection walks.
    graph_ingest(source="service_mesh", nodes=[], edges=[edge("c", "a")])
    ServiceDependency.objects.filter(source__service_id="c", discovery_source="service_mesh").update(is_stale=True)
    seen = last_seen()
    result = graph_ingest(source="service_mesh", nodes=[], edges=[edge("c", "a")])
    assert not ServiceDependency.objects.filter(is_stale=True).exists()
    assert last_seen() == seen
    assert result.circular_dependencies_detected == [["a", "b", "c"]]


@pytest.mark.django_db(transaction=True)
def test_a_pair_other_sources_only_report_stale_runs_detection():
    graph_ingest(source="manual", nodes=[], edges=CYCLE[:2])
    graph_ingest(source="otel_service_graph", nodes=[], edges=[edge("c", "a")])
    ServiceDependency.objects.filter(discovery_source="otel_service_graph").update(is_stale=True)
    cycle_alerts_sync()
    assert CircularDependencyAlert.objects.get().status == AlertStatus.RESOLVED
    result = graph_ingest(source="service_mesh", nodes=[], edges=[edge("c", "a")])
    assert result.circular_dependencies_detected == [["a", "b", "c"]]
    assert CircularDependencyAlert.objects.get().status == AlertStatus.OPEN


@pytest.mark.django_db(transaction=True)
def test_removing_an_edge_of_a_cycle_runs_detection():
    graph_ingest(source="manual", nodes=[], edges=CYCLE)
    result = graph_ingest(source="manual", nodes=[], edges=CYCLE[:2], mode="replace")
    assert result.edges_removed == 1
    assert result.circular_dependencies_detected == []
    assert CircularDependencyAlert.objects.get().status == AlertStatus.RESOLVED
