"""The hard sync edge SQL of the what-if analyses: the effective (merged)
edges whose top-priority live record is hard and sync, checked against the
Python merge, on PostgreSQL and on SQLite."""

import random

import pytest

from graph.models import Service, ServiceDependency
from graph.queries import hard_sync_edges, hard_sync_edges_sql
from graph.selectors import effective_edges
from graph.tests.factories import ServiceDependencyFactory, ServiceFactory
from graph.tests.test_queries import _sqlite_database

SOURCES = ("manual", "service_mesh", "backstage", "otel_service_graph")


def _edge(source: str, target: str, **attributes) -> ServiceDependency:
    return ServiceDependencyFactory(source=ServiceFactory(service_id=source),
                                    target=ServiceFactory(service_id=target), **attributes)


@pytest.fixture
def mixed_graph(db):
    rng = random.Random(7)
    names = [f"s{i:02d}" for i in range(30)]
    seen = set()
    while len(seen) < 110:
        a, b = rng.sample(names, 2)
        source = rng.choice(SOURCES)
        if (a, b, source) in seen:
            continue
        seen.add((a, b, source))
        _edge(a, b, discovery_source=source, communication_mode=rng.choice(("sync", "sync", "async")),
              criticality=rng.choice(("hard", "hard", "soft", "degraded")), is_stale=rng.random() < 0.1)
    Service.objects.filter(service_id="s03").update(retired_at="2025-01-01T00:00:00Z")


def test_every_hard_sync_edge_matches_the_python_merge(mixed_graph):
    expected = {(e.source, e.target) for e in effective_edges() if e.is_hard_sync}
    got = hard_sync_edges()
    assert len(got) == len(set(got))
    assert set(got) == expected
    assert expected and all("s03" not in pair for pair in expected)


def test_manual_soft_record_outranks_an_observed_hard_one(db):
    _edge("a", "b", discovery_source="manual", criticality="soft")
    _edge("a", "b", discovery_source="otel_service_graph", criticality="hard")
    _edge("a", "c", discovery_source="manual", criticality="hard")
    _edge("a", "c", discovery_source="otel_service_graph", criticality="soft")
    _edge("a", "d", discovery_source="manual", criticality="hard", is_stale=True)
    _edge("a", "e", discovery_source="backstage", communication_mode="async")
    assert hard_sync_edges() == [("a", "c")]


def test_the_same_sql_runs_on_sqlite():
    records = [("a", "b", "manual", 1.0, False), ("b", "c", "manual", 1.0, False), ("c", "a", "backstage", 1.0, False),
               ("c", "d", "manual", 1.0, True), ("x", "a", "otel_service_graph", 0.5, False)]
    conn = _sqlite_database(records)
    conn.execute("UPDATE graph_servicedependency SET criticality = 'soft' WHERE source_id = 'id-x'")
    assert sorted(conn.execute(hard_sync_edges_sql()).fetchall()) == [("a", "b"), ("b", "c"), ("c", "a")]
