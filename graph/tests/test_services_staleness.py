"""The staleness sweep with fixed times."""

from datetime import UTC, datetime, timedelta

import pytest

from graph.models import GraphVersion, ServiceDependency
from graph.selectors import effective_edges
from graph.services.ingest import graph_ingest
from graph.services.staleness import edges_mark_stale
from graph.tests.factories import ServiceDependencyFactory, ServiceFactory
from slo_engine.metrics import STALE_EDGES

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def _otel_edge(source: str, target: str, observed_at: datetime, **fields) -> ServiceDependency:
    return ServiceDependencyFactory(
        source=ServiceFactory(service_id=source), target=ServiceFactory(service_id=target),
        discovery_source="otel_service_graph", confidence_score=0.9, last_observed_at=observed_at, **fields,
    )


def test_edge_goes_stale_after_the_threshold_and_comes_back_when_observed(settings):
    settings.STALE_EDGE_THRESHOLD_HOURS = 168
    edge = _otel_edge("a", "b", T0)

    assert edges_mark_stale(now=T0 + timedelta(hours=168)).marked_stale == 0  # exactly at the threshold
    edge.refresh_from_db()
    assert not edge.is_stale

    result = edges_mark_stale(now=T0 + timedelta(hours=168, seconds=1))
    edge.refresh_from_db()
    assert result.marked_stale == 1 and result.stale_total == 1
    assert edge.is_stale
    assert effective_edges() == []  # traversal and cycles no longer see it
    assert STALE_EDGES._value.get() == 1

    graph_ingest(
        source="otel_service_graph", nodes=[], edges=[{"source": "a", "target": "b"}],
        observed_at=T0 + timedelta(hours=200),
    )
    edge.refresh_from_db()
    assert not edge.is_stale
    assert edge.last_observed_at == T0 + timedelta(hours=200)
    assert [(e.source, e.target) for e in effective_edges()] == [("a", "b")]
    assert edges_mark_stale(now=T0 + timedelta(hours=201)).stale_total == 0


def test_manual_edges_never_go_stale():
    manual = ServiceDependencyFactory(
        source=ServiceFactory(service_id="a"), target=ServiceFactory(service_id="b"), last_observed_at=T0
    )
    backstage = _otel_edge("a", "c", T0, )
    ServiceDependency.objects.filter(pk=backstage.pk).update(discovery_source="backstage")

    result = edges_mark_stale(now=T0 + timedelta(days=365), threshold_hours=1)

    manual.refresh_from_db()
    backstage.refresh_from_db()
    assert not manual.is_stale
    assert backstage.is_stale
    assert result.marked_stale == 1


def test_threshold_override_and_version_bump_only_on_change():
    _otel_edge("a", "b", T0)
    _otel_edge("b", "c", T0 + timedelta(hours=10))
    GraphVersion.objects.update_or_create(pk=1, defaults={"version": 5})

    first = edges_mark_stale(now=T0 + timedelta(hours=12), threshold_hours=5)
    assert first.marked_stale == 1
    assert first.graph_version == 6 == GraphVersion.objects.get(pk=1).version
    assert first.cutoff == T0 + timedelta(hours=7)

    again = edges_mark_stale(now=T0 + timedelta(hours=12), threshold_hours=5)
    assert again.marked_stale == 0 and again.stale_total == 1
    assert again.graph_version == 6  # nothing changed, caches stay valid

    with pytest.raises(ValueError):
        edges_mark_stale(now=T0, threshold_hours=0)
