"""Tracing across real processes: one trace from gunicorn through
PostgreSQL into a Celery worker, received by our own OTLP/HTTP receiver;
workers without child processes; nothing at all when no endpoint is set."""

import json
from pathlib import Path

import httpx
import pytest

# --- real processes --------------------------------------------------------

# OpenBLAS (numpy) starts a pool of native threads per CPU on import; one
# thread for it makes a process's thread count that of its Python threads.
NO_BLAS_THREADS = {"OPENBLAS_NUM_THREADS": "1"}


def _threads(pid: int) -> int:
    """Threads of a process, as the kernel counts them."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise AssertionError(f"no thread count for {pid}")


def _gunicorn_worker_pid(server) -> int:
    children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children").read_text().split()
    assert len(children) == 1, children
    return int(children[0])


def _ancestors(span, by_id: dict) -> list:
    chain = []
    while span.parent_span_id:
        span = by_id[span.parent_span_id]
        chain.append(span)
    return chain


CYCLE_PAYLOAD = {
    "nodes": [{"service_id": "otel-cart", "team": "shop"}],
    "edges": [{"source": "otel-cart", "target": "otel-stock", "attributes": {"protocol": "grpc"}},
              {"source": "otel-stock", "target": "otel-ledger", "attributes": {}},
              {"source": "otel-ledger", "target": "otel-cart", "attributes": {}}],
}


@pytest.mark.slow
def test_one_trace_from_the_request_through_its_queries_into_the_worker(
    private_postgres, private_redis, app_server, celery_worker_process, otlp_receiver, prometheus_factory,
):
    """gunicorn and a prefork Celery worker export to our own OTLP/HTTP
    receiver. The ingest's trace holds its HTTP span, its SQL, the domain
    spans and the worker's run of the task it enqueued after commit; removing
    an edge record enqueues cycle detection after the commit, and the worker's
    task span joins the request's trace; a recommendation's telemetry read
    holds the calls to Prometheus."""
    prometheus = prometheus_factory()
    env = {
        "TELEMETRY_SOURCE": "prometheus", "PROMETHEUS_URL": prometheus.url, "PROMETHEUS_RETRIES": "0",
        "DATABASE_URL": private_postgres.url, "REDIS_URL": private_redis.url, "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO", "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_receiver.url, "OTEL_BSP_SCHEDULE_DELAY": "100",
        "OTEL_SERVICE_NAME": "", "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=test",
        "OTEL_TRACES_SAMPLER": "parentbased_always_on", **NO_BLAS_THREADS,
    }
    worker = celery_worker_process(env=env)
    server = app_server(env=env)
    auth = {"Authorization": f"Api-Key {private_postgres.keys['write']}"}
    with httpx.Client(base_url=server.url, timeout=30, headers=auth) as http:
        ingest = http.post("/api/v1/services/dependencies", json=CYCLE_PAYLOAD,
                           headers={"X-Correlation-ID": "otel-ingest-1"})
        assert ingest.status_code == 200, ingest.text
        assert ["otel-cart", "otel-stock", "otel-ledger"] in ingest.json()["circular_dependencies_detected"]
        record = http.get("/api/v1/dependencies/", params={"source": "otel-ledger"}).json()["results"][0]
        removed = http.delete(f"/api/v1/dependencies/{record['id']}", headers={"X-Correlation-ID": "otel-delete-2"})
        assert removed.status_code == 204
        recommendation = http.get("/api/v1/services/otel-cart/slo-recommendations",
                                  params={"force_regenerate": "true"}, headers={"X-Correlation-ID": "otel-recs-3"})
        assert recommendation.status_code == 422  # an empty Prometheus: no history yet
    assert _threads(_gunicorn_worker_pid(server)) == 2  # the one serving, and the exporter's

    def server_span(spans, correlation_id):
        return next((s for s in spans if s.kind == "SERVER" and s.attributes.get("correlation_id") == correlation_id),
                    None)

    def delete_trace_complete(spans) -> bool:
        request = server_span(spans, "otel-delete-2")
        return request is not None and any(
            s.trace_id == request.trace_id and s.name == "graph.cycles.detect" for s in spans)

    def ingest_trace_complete(spans) -> bool:
        request = server_span(spans, "otel-ingest-1")
        return request is not None and any(s.trace_id == request.trace_id and s.kind == "CONSUMER" for s in spans)

    spans = otlp_receiver.wait_for(lambda spans: ingest_trace_complete(spans)
                                   and server_span(spans, "otel-recs-3") is not None
                                   and delete_trace_complete(spans), what="the three traces")

    # The ingest: HTTP span -> graph.ingest -> SQL and cycle detection, one trace.
    request = server_span(spans, "otel-ingest-1")
    ingest_trace = otlp_receiver.trace(request.trace_id)
    by_id = {s.span_id: s for s in ingest_trace}
    assert request.parent_span_id == ""
    assert request.name.startswith("POST")
    assert request.attributes.get("http.response.status_code", request.attributes.get("http.status_code")) == 200
    assert request.resource["service.name"] == "slo-engine"
    assert request.resource["deployment.environment"] == "test"
    (ingest_span,) = [s for s in ingest_trace if s.name == "graph.ingest"]
    assert ingest_span.parent_span_id == request.span_id
    assert ingest_span.attributes["graph.ingest.records_written"] == 3
    sql = [s for s in ingest_trace if s.kind == "CLIENT"
           and "postgresql" in (s.attributes.get("db.system"), s.attributes.get("db.system.name"))]
    assert len(sql) >= 5
    assert all(request in _ancestors(s, by_id) for s in sql)
    assert any(s.parent_span_id == ingest_span.span_id for s in sql)
    (detection,) = [s for s in ingest_trace if s.name == "graph.cycles.detect"]
    assert detection.parent_span_id == ingest_span.span_id
    assert detection.attributes["graph.cycles.found"] >= 1
    # After the commit, the ingest enqueues the new services' SLI aggregates;
    # the worker's run of that task is part of the request's trace.
    (publish,) = [s for s in ingest_trace if s.kind == "PRODUCER"]
    (run,) = [s for s in ingest_trace if s.kind == "CONSUMER"]
    assert "telemetry.tasks.compute_sli_aggregates" in publish.name
    assert "telemetry.tasks.compute_sli_aggregates" in run.name
    assert request in _ancestors(publish, by_id)
    assert run.parent_span_id == publish.span_id
    assert run.resource["process.pid"] != request.resource["process.pid"]
    assert run.attributes["correlation_id"] == "otel-ingest-1"

    # The delete: HTTP span -> publish -> the worker's run of the task.
    request = server_span(spans, "otel-delete-2")
    delete_trace = otlp_receiver.trace(request.trace_id)
    by_id = {s.span_id: s for s in delete_trace}
    (publish,) = [s for s in delete_trace if s.kind == "PRODUCER"]
    (run,) = [s for s in delete_trace if s.kind == "CONSUMER"]
    assert "graph.tasks.detect_cycles" in publish.name and "graph.tasks.detect_cycles" in run.name
    assert request in _ancestors(publish, by_id)
    assert run.parent_span_id == publish.span_id
    assert run.resource["process.pid"] != request.resource["process.pid"]  # another process
    assert run.attributes["correlation_id"] == "otel-delete-2"
    (worker_detection,) = [s for s in delete_trace if s.name == "graph.cycles.detect"]
    assert worker_detection.parent_span_id == run.span_id
    assert worker_detection.attributes["graph.cycles.resolved"] >= 1  # the cycle is gone
    worker_sql = [s for s in delete_trace if s.kind == "CLIENT" and s.resource == run.resource
                  and "postgresql" in (s.attributes.get("db.system"), s.attributes.get("db.system.name"))]
    assert worker_sql and all(run in _ancestors(s, by_id) for s in worker_sql)

    # The recommendation: HTTP span -> generate -> build -> telemetry read ->
    # the calls to Prometheus (and the 422 recorded on the build).
    recs_request = server_span(spans, "otel-recs-3")
    recs_trace = otlp_receiver.trace(recs_request.trace_id)
    recs_by_id = {s.span_id: s for s in recs_trace}
    (read,) = [s for s in recs_trace if s.name == "recommendation.telemetry_read"]
    assert [a.name for a in _ancestors(read, recs_by_id)][:2] == ["recommendation.build", "recommendation.generate"]
    assert recs_request in _ancestors(read, recs_by_id)
    assert recs_by_id[read.parent_span_id].status == "ERROR"  # InsufficientData
    calls = [s for s in recs_trace if s.kind == "CLIENT" and s.parent_span_id == read.span_id]
    urls = [s.attributes.get("url.full") or s.attributes.get("http.url") or "" for s in calls]
    assert all(url.startswith(f"{prometheus.url}/api/v1/") for url in urls), urls
    assert any(url.startswith(f"{prometheus.url}/api/v1/query_range") for url in urls), urls

    # The worker's JSON line of the detection carries the trace id and the
    # correlation id of the request that caused it.
    worker_lines = [json.loads(line) for line in worker.logs().splitlines() if line.startswith("{")]
    (detected,) = [r for r in worker_lines if r.get("trace_id") == request.trace_id
                   and r["message"].startswith("cycle detection:")]
    assert detected["correlation_id"] == "otel-delete-2"
    assert detected["span_id"] == worker_detection.span_id

    # The request's JSON log line carries the trace id the receiver got.
    server.stop()
    ingest_spans = {s.span_id for s in ingest_trace}
    (access,) = [r for r in server.json_logs()
                 if r.get("logger") == "slo_engine.request" and r.get("correlation_id") == "otel-ingest-1"]
    assert access["trace_id"] == server_span(spans, "otel-ingest-1").trace_id
    assert access["span_id"] in ingest_spans
    assert access["trace_sampled"] is True


@pytest.mark.slow
@pytest.mark.parametrize("pool", ["threads", "solo"])
def test_workers_without_child_processes_trace_their_tasks(pool, private_postgres, private_redis,
                                                            celery_worker_process, otlp_receiver):
    """The threads and solo pools run tasks in the worker process itself:
    tracing is set up there (worker_init), and a task enqueued inside a
    traced operation runs in its trace."""
    from slo_engine.processes import app_environment, run_in_app

    env = {"DATABASE_URL": private_postgres.url, "REDIS_URL": private_redis.url,
           "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_receiver.url, "OTEL_BSP_SCHEDULE_DELAY": "100"}
    worker = celery_worker_process(env=env, pool=pool)
    run_in_app(
        "from slo_engine import tracing\n"
        "from graph.tasks import detect_cycles\n"
        "tracing.configure_tracing()\n"
        f"with tracing.span('test.enqueue', {{'test.pool': '{pool}'}}):\n"
        "    detect_cycles.delay()\n"
        "tracing.shutdown_tracing()\n",
        env=app_environment(**env),
    )
    spans = otlp_receiver.wait_for(lambda spans: any(s.name == "graph.cycles.detect" for s in spans),
                                   what=f"the {pool} worker's detection span")
    (root,) = [s for s in spans if s.name == "test.enqueue"]
    (run,) = [s for s in spans if s.kind == "CONSUMER"]
    (detection,) = [s for s in spans if s.name == "graph.cycles.detect"]
    assert run.trace_id == root.trace_id == detection.trace_id
    assert detection.parent_span_id == run.span_id
    assert run.resource["process.pid"] == worker.process.pid  # no child process: the worker itself


_OFF_PROBE = """
import json, sys, threading
from django.test import Client
from slo_engine import tracing
configured = tracing.configure_tracing()
client = Client(HTTP_AUTHORIZATION="Api-Key " + sys.argv[1])
statuses = [
    client.post("/api/v1/services/dependencies", {"edges": [{"source": "off-a", "target": "off-b"}]},
                content_type="application/json").status_code,
    client.get("/api/v1/services/off-a/dependencies?depth=2").status_code,
]
from django.conf import settings
print(json.dumps({
    "configured": configured, "statuses": statuses, "threads": threading.active_count(),
    "otel_modules": sorted(m for m in sys.modules if m.startswith("opentelemetry")),
    "middleware": [m for m in settings.MIDDLEWARE if "opentelemetry" in m],
    "no_span": tracing.span("x") is tracing.NO_SPAN,
}))
"""


@pytest.mark.slow
def test_off_without_an_endpoint_no_exporter_thread_and_no_span_code_loaded(private_postgres, app_server):
    import subprocess

    from slo_engine.processes import BASE_DIR, PYTHON, app_environment

    env = {"DATABASE_URL": private_postgres.url, "REDIS_URL": "", "OTEL_EXPORTER_OTLP_ENDPOINT": "",
           "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "", **NO_BLAS_THREADS}
    server = app_server(env=env)
    auth = {"Authorization": f"Api-Key {private_postgres.keys['write']}"}
    with httpx.Client(base_url=server.url, timeout=30, headers=auth) as http:
        assert http.post("/api/v1/services/dependencies",
                         json={"edges": [{"source": "off-x", "target": "off-y"}]}).status_code == 200
        assert http.get("/api/v1/services/off-x/dependencies").status_code == 200
    assert _threads(_gunicorn_worker_pid(server)) == 1

    # The same requests through the whole middleware stack in a process of
    # its own: OpenTelemetry is never imported, so no span can exist.
    result = subprocess.run(
        [PYTHON, "-c", "import django\ndjango.setup()\n" + _OFF_PROBE, private_postgres.keys["write"]],
        cwd=BASE_DIR, env=app_environment(**env), capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    assert probe == {"configured": False, "statuses": [200, 200], "threads": 1, "otel_modules": [],
                     "middleware": [], "no_span": True}
