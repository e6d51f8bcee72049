"""Pure merge rules: no database."""

import pytest

from graph.domain.merge import EdgeRecord, merge_records, noisy_or


def test_noisy_or():
    assert noisy_or([0.3, 0.4]) == pytest.approx(0.58)
    assert noisy_or([1.0, 0.2]) == 1.0
    assert noisy_or([]) == 0.0


def test_priority_source_gives_attributes_and_as_dict():
    records = [
        EdgeRecord("a", "b", "otel_service_graph", communication_mode="async", confidence_score=0.5),
        EdgeRecord("a", "b", "backstage", communication_mode="sync", protocol="grpc", confidence_score=0.5),
        EdgeRecord("a", "b", "manual", is_stale=True, protocol="http"),
    ]
    [edge] = merge_records(records)
    assert edge.as_dict() == {
        "source": "a", "target": "b", "communication_mode": "sync", "criticality": "hard", "protocol": "grpc",
        "timeout_ms": None, "confidence_score": 0.75, "discovery_sources": ["backstage", "otel_service_graph"],
        "request_rate": None, "failure_ratio": None,
    }
    [with_stale] = merge_records(records, include_stale=True)
    assert with_stale.protocol == "http" and with_stale.confidence_score == 1.0


def test_edge_health_is_the_busiest_rate_and_the_request_weighted_failure_ratio():
    records = [
        EdgeRecord("a", "b", "otel_service_graph", request_rate=10.0, failure_ratio=0.1),
        EdgeRecord("a", "b", "service_mesh", request_rate=30.0, failure_ratio=0.3),
        EdgeRecord("a", "b", "manual"),  # measures nothing: left out of both
    ]
    [edge] = merge_records(records)
    assert edge.request_rate == 30.0
    assert edge.failure_ratio == pytest.approx((10 * 0.1 + 30 * 0.3) / 40)
    [unmeasured] = merge_records([EdgeRecord("a", "b", "manual")])
    assert (unmeasured.request_rate, unmeasured.failure_ratio) == (None, None)
