"""Domain spans of the graph: ingest, cycle detection and traversal."""

import pytest

SUBGRAPH = "/api/v1/services/{}/dependencies?direction={}&depth={}"

CYCLE = {
    "nodes": [{"service_id": "checkout"}],
    "edges": [{"source": "checkout", "target": "payment", "attributes": {}},
              {"source": "payment", "target": "ledger", "attributes": {}},
              {"source": "ledger", "target": "checkout", "attributes": {}}],
}


@pytest.mark.django_db(transaction=True)  # detection runs on the real commit, inside the ingestion
def test_ingest_cycle_detection_and_traversal_spans(write_client, recorded_spans):
    response = write_client.post("/api/v1/services/dependencies", CYCLE, format="json",
                                 HTTP_X_CORRELATION_ID="corr-ingest")
    assert response.status_code == 200
    (ingest,) = recorded_spans.named("graph.ingest")
    assert dict(ingest.attributes) == {
        "graph.ingest.source": "manual", "graph.ingest.mode": "merge", "graph.ingest.nodes": 1,
        "graph.ingest.edges": 3, "graph.ingest.services_created": 3, "graph.ingest.records_written": 3,
        "graph.ingest.records_removed": 0, "graph.ingest.cycles": 1, "correlation_id": "corr-ingest",
    }
    (cycles,) = recorded_spans.named("graph.cycles.detect")
    assert cycles.parent.span_id == ingest.context.span_id
    assert cycles.context.trace_id == ingest.context.trace_id
    assert cycles.attributes["graph.cycles.found"] == 1
    assert cycles.attributes["graph.cycles.created"] == 1
    assert cycles.attributes["graph.cycles.sccs"] == 1

    responses = [write_client.get(SUBGRAPH.format("checkout", "upstream", 4)) for _ in range(2)]
    assert [r.status_code for r in responses] == [200, 200]
    miss, hit = recorded_spans.named("graph.traversal")
    attributes = dict(miss.attributes)
    # Here the domain span is the request's first span: it carries the correlation id.
    assert attributes.pop("correlation_id") == responses[0]["X-Correlation-ID"]
    assert attributes == {"service.id": "checkout", "graph.traversal.direction": "upstream",
                                     "graph.traversal.depth": 4, "graph.traversal.include_stale": False,
                                     "graph.traversal.cache_hit": False}
    assert hit.attributes["graph.traversal.cache_hit"] is True
    assert miss.context.trace_id != hit.context.trace_id  # two requests, two traces


@pytest.mark.django_db
def test_a_failed_traversal_span_records_the_error(read_client, recorded_spans):
    assert read_client.get(SUBGRAPH.format("nowhere", "downstream", 2)).status_code == 404
    (failed,) = recorded_spans.named("graph.traversal")
    assert failed.attributes["service.id"] == "nowhere"
    assert not failed.status.is_ok
    assert failed.events[0].attributes["exception.type"].endswith("ServiceNotFound")
