"""The load benchmark's workload does what its figures say it does: pipeline
pushes re-observe (no version bump), graph-change pushes bump the version."""

import pytest

from graph.benchmarks.load import graph_change_payload, percentiles, pipeline_payloads, summarise
from graph.selectors import graph_version_current
from graph.services.ingest import graph_ingest

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


@pytest.mark.slow
def test_a_short_load_run_end_to_end(monkeypatch, settings):
    """The whole harness at toy size: scratch database, gunicorn, the locust
    driver in its own process, graph changes, figures and target verdicts."""
    if "postgresql" not in settings.DATABASES["default"]["ENGINE"] or not settings.REDIS_URL:
        pytest.skip("the load test needs PostgreSQL and Redis")
    from graph.benchmarks.load import run

    for name, value in {"LOAD_CLIENTS": "5", "LOAD_DURATION_SECONDS": "4", "LOAD_CACHED_SECONDS": "2",
                        "LOAD_SERVICES": "60", "LOAD_EDGES": "150", "LOAD_HOT_QUERIES": "20",
                        "LOAD_GRAPH_CHANGES_PER_MINUTE": "60", "LOAD_THINK_MS": "50", "LOAD_WORKERS": "2"}.items():
        monkeypatch.setenv(name, value)
    lines = []
    figures = run(progress=lines.append)
    mixed, cached = figures["mixed"], figures["cached_subgraph"]
    assert mixed["errors"] == 0 and cached["errors"] == 0, (mixed, cached)
    assert mixed["requests"] > 50 and cached["requests"] > 20
    assert set(mixed["latency_ms"]) >= {"overall", "subgraph", "service_list", "ingest", "graph_change"}
    assert mixed["graph_changes"] >= 2
    # Each change bumps the version and the pipeline's next push of it reverts it.
    assert figures["server"]["graph_version_bumps"] >= mixed["graph_changes"]
    assert figures["server"]["traversal_cache_hits"] > 0
    assert set(figures["meets_targets"]) == {"zero_errors", "cached_subgraph_p99", "overall_p99"}
    assert any("locust" in line or "driving" in line for line in lines)
