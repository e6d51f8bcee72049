"""The load benchmark's workload does what its figures say it does: pipeline
pushes re-observe (no version bump), graph-change pushes bump the version."""

import pytest

from graph.selectors import graph_version_current
from graph.services.ingest import graph_ingest
from slo_engine.benchmarks.load import graph_change_payload, percentiles, pipeline_payloads, summarise

EDGES = [[f"s{i}", f"s{i + 1}"] for i in range(20)]


def ingest(payload: dict) -> int:
    return graph_ingest(source=payload["source"], nodes=[], edges=payload["edges"]).graph_version


@pytest.mark.django_db
def test_pipeline_pushes_re_observe_and_graph_changes_bump_the_version():
    graph_ingest(source="manual", nodes=[], edges=[{"source": s, "target": t} for s, t in EDGES])
    pushes = pipeline_payloads(EDGES, seed=3)
    assert pushes == pipeline_payloads(EDGES, seed=3)  # the driver and the orchestrator agree
    for push in pushes:  # the pipeline's first report (before the run)
        ingest(push)
    reported = graph_version_current()
    for push in pushes:  # re-pushes during the run
        assert ingest(push) == reported
    changed = ingest(graph_change_payload(pushes[0], 1))
    assert changed == reported + 1
    assert ingest(graph_change_payload(pushes[0], 2)) == changed + 1  # every change differs from the last
    assert ingest(pushes[0]) == changed + 2  # the pipeline's next push reverts it


def test_figures_count_non_2xx_and_missing_answers_as_errors():
    records = [("subgraph", 200, 5.0), ("subgraph", 200, 7.0), ("ingest", 500, 30.0),
               ("subgraph", "ConnectionRefusedError", 1.0)]
    figures = summarise(records, elapsed=2.0)
    assert figures["requests"] == 4 and figures["errors"] == 2
    assert figures["errors_by_kind_and_status"] == {"ingest:500": 1, "subgraph:ConnectionRefusedError": 1}
    assert figures["throughput_rps"] == 2.0
    assert percentiles([float(n) for n in range(1, 101)])["p99"] == 99.0
