"""Tracing (slo_engine/tracing): configuration from the OTEL_* variables,
domain spans and their attributes, trace ids in JSON log lines, one trace
from gunicorn through PostgreSQL into a Celery worker received by a real
OTLP/HTTP receiver, and nothing at all when no endpoint is set."""

import io
import json
import logging
from pathlib import Path

import httpx
import pytest
from django.core.exceptions import ImproperlyConfigured
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import Decision
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags

from graph.models import Service
from graph.services.ingest import graph_ingest
from recommendations.services import recommendations_generate
from slo_engine import tracing
from slo_engine.celery import pool_forks_processes
from slo_engine.logging import CorrelationIdFilter, JsonFormatter, correlation_id_var
from slo_engine.tracing.sdk import (
    CorrelationIdSpanProcessor,
    exporter_from_environment,
    resource_from_environment,
    sampler_from_environment,
)
from telemetry.sources.demo import DemoSource

SUBGRAPH = "/api/v1/services/{}/dependencies?direction={}&depth={}"


@pytest.fixture
def recorded_spans(monkeypatch):
    """Tracing on in this process for the domain spans only (no library is
    instrumented here): a real SDK provider with the production sampler and
    correlation-id processor, exporting to memory."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=sampler_from_environment({}))
    provider.add_span_processor(CorrelationIdSpanProcessor())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(tracing, "_tracer", provider.get_tracer("test"))
    monkeypatch.setattr(tracing, "_trace_api", trace)
    yield exporter
    provider.shutdown()


def _named(exporter: InMemorySpanExporter, name: str) -> list:
    return [s for s in exporter.get_finished_spans() if s.name == name]


# --- off -------------------------------------------------------------------

def test_off_span_is_one_shared_object_and_helpers_do_nothing():
    assert not tracing.tracing_enabled()
    assert tracing.span("graph.traversal", {"service.id": "x"}) is tracing.NO_SPAN
    assert tracing.span("other") is tracing.NO_SPAN
    with tracing.span("graph.traversal") as current:
        current.set_attribute("graph.traversal.depth", 3)
        tracing.span_attributes({"graph.traversal.cache_hit": True})
        assert tracing.current_trace_ids() is None

    @tracing.traced("test.op")
    def double(value):
        return value * 2

    assert double(21) == 42
    assert double.__name__ == "double"


def test_tracing_is_requested_only_by_an_endpoint_and_not_when_disabled():
    assert not tracing.tracing_requested({})
    assert not tracing.tracing_requested({"OTEL_SERVICE_NAME": "slo-engine", "OTEL_TRACES_SAMPLER": "always_on"})
    assert tracing.tracing_requested({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    assert tracing.tracing_requested({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"})
    assert not tracing.tracing_requested({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"})


# --- configuration ---------------------------------------------------------

def test_sampler_follows_the_standard_variables():
    ratio = sampler_from_environment({"OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
                                      "OTEL_TRACES_SAMPLER_ARG": "0.1"})
    assert "ParentBased" in ratio.get_description() and "0.1" in ratio.get_description()
    assert "AlwaysOnSampler" in sampler_from_environment({}).get_description()
    assert "AlwaysOffSampler" in sampler_from_environment({"OTEL_TRACES_SAMPLER": "always_off"}).get_description()
    with pytest.raises(ImproperlyConfigured, match="OTEL_TRACES_SAMPLER must be one of"):
        sampler_from_environment({"OTEL_TRACES_SAMPLER": "sometimes"})
    with pytest.raises(ImproperlyConfigured, match="OTEL_TRACES_SAMPLER_ARG"):
        sampler_from_environment({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "1.5"})


def test_client_spans_without_a_parent_are_dropped_others_follow_the_sampler():
    sampler = sampler_from_environment({"OTEL_TRACES_SAMPLER": "always_on"})
    trace_id = 0x5B8EFFF798038103D269B633813FC60C
    assert sampler.should_sample(None, trace_id, "SELECT", kind=SpanKind.CLIENT).decision is Decision.DROP
    assert sampler.should_sample(None, trace_id, "graph.ingest", kind=SpanKind.INTERNAL).decision.is_sampled()
    assert sampler.should_sample(None, trace_id, "run/task", kind=SpanKind.CONSUMER).decision.is_sampled()
    parent = trace.set_span_in_context(NonRecordingSpan(SpanContext(
        trace_id, 0xEEE19B7EC3C1B174, is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED))))
    assert sampler.should_sample(parent, trace_id, "SELECT", kind=SpanKind.CLIENT).decision.is_sampled()


def test_service_name_defaults_to_slo_engine_and_resource_attributes_pass(monkeypatch):
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=staging")
    attributes = resource_from_environment().attributes
    assert attributes["service.name"] == "slo-engine"
    assert attributes["deployment.environment"] == "staging"
    monkeypatch.setenv("OTEL_SERVICE_NAME", "slo-engine-eu")
    assert resource_from_environment().attributes["service.name"] == "slo-engine-eu"
    monkeypatch.delenv("OTEL_SERVICE_NAME")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attributes")
    assert resource_from_environment().attributes["service.name"] == "from-attributes"


def test_exporter_protocol_http_protobuf_by_default_grpc_on_request(monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    http = exporter_from_environment({})
    assert type(http).__module__.startswith("opentelemetry.exporter.otlp.proto.http")
    http.shutdown()
    grpc = exporter_from_environment({"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})
    assert type(grpc).__module__.startswith("opentelemetry.exporter.otlp.proto.grpc")
    grpc.shutdown()
    with pytest.raises(ImproperlyConfigured, match="OTEL_EXPORTER_OTLP_PROTOCOL"):
        exporter_from_environment({"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"})


def test_commands_are_traced_in_the_process_that_works():
    assert tracing.command_is_traced(["manage.py", "generate_recommendations"], {})
    assert tracing.command_is_traced(["manage.py", "runserver", "--noreload"], {})
    assert tracing.command_is_traced(["manage.py", "runserver"], {"RUN_MAIN": "true"})
    assert not tracing.command_is_traced(["manage.py", "runserver"], {})  # the autoreloader's parent
    assert not tracing.command_is_traced(["manage.py"], {})
    assert not tracing.command_is_traced(["manage.py", "--help"], {})


def test_celery_pools_that_fork_set_tracing_up_in_their_children():
    assert pool_forks_processes("prefork")
    assert not pool_forks_processes("solo")
    assert not pool_forks_processes("threads")


# --- domain spans ----------------------------------------------------------

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
    (ingest,) = _named(recorded_spans, "graph.ingest")
    assert dict(ingest.attributes) == {
        "graph.ingest.source": "manual", "graph.ingest.mode": "merge", "graph.ingest.nodes": 1,
        "graph.ingest.edges": 3, "graph.ingest.services_created": 3, "graph.ingest.records_written": 3,
        "graph.ingest.records_removed": 0, "graph.ingest.cycles": 1, "correlation_id": "corr-ingest",
    }
    (cycles,) = _named(recorded_spans, "graph.cycles.detect")
    assert cycles.parent.span_id == ingest.context.span_id
    assert cycles.context.trace_id == ingest.context.trace_id
    assert cycles.attributes["graph.cycles.found"] == 1
    assert cycles.attributes["graph.cycles.created"] == 1
    assert cycles.attributes["graph.cycles.sccs"] == 1

    responses = [write_client.get(SUBGRAPH.format("checkout", "upstream", 4)) for _ in range(2)]
    assert [r.status_code for r in responses] == [200, 200]
    miss, hit = _named(recorded_spans, "graph.traversal")
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
    (failed,) = _named(recorded_spans, "graph.traversal")
    assert failed.attributes["service.id"] == "nowhere"
    assert not failed.status.is_ok
    assert failed.events[0].attributes["exception.type"].endswith("ServiceNotFound")


@pytest.mark.django_db
def test_recommendation_phases_are_spans_of_the_generation(recorded_spans, settings):
    settings.TELEMETRY_SOURCE = "demo"
    graph_ingest(source="manual", nodes=[{"service_id": "checkout"}],
                 edges=[{"source": "checkout", "target": "payment", "attributes": {}}])
    recorded_spans.clear()
    recommendations_generate(service=Service.objects.get(service_id="checkout"), source=DemoSource())

    spans = recorded_spans.get_finished_spans()
    (generate,) = _named(recorded_spans, "recommendation.generate")
    (build,) = _named(recorded_spans, "recommendation.build")
    (persist,) = _named(recorded_spans, "recommendation.persist")
    assert generate.parent is None and generate.attributes["service.id"] == "checkout"
    assert build.parent.span_id == generate.context.span_id and build.attributes["service.id"] == "checkout"
    assert persist.parent.span_id == generate.context.span_id
    in_build = [s for s in spans if s.parent is not None and s.parent.span_id == build.context.span_id]
    reads = {s.attributes["recommendation.telemetry.of"] for s in in_build if s.name == "recommendation.telemetry_read"}
    maths = {s.attributes["recommendation.sli_type"] for s in in_build if s.name == "recommendation.maths"}
    assert reads == {"service", "dependencies"}
    assert maths == {"availability", "latency"}
    assert {s.context.trace_id for s in spans} == {generate.context.trace_id}
    # Phases run in order: read, maths, then persist after the build.
    assert persist.start_time >= build.end_time


def test_correlation_id_goes_on_the_first_span_of_a_process_only(recorded_spans):
    token = correlation_id_var.set("corr-task-9")
    try:
        with tracing.span("task.root"), tracing.span("task.child"):
            pass
    finally:
        correlation_id_var.reset(token)
    with tracing.span("no.correlation"):
        pass
    root, child, plain = (_named(recorded_spans, n)[0] for n in ("task.root", "task.child", "no.correlation"))
    assert root.attributes["correlation_id"] == "corr-task-9"
    assert "correlation_id" not in child.attributes
    assert "correlation_id" not in plain.attributes


def test_json_log_lines_carry_the_active_span_ids(recorded_spans):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(CorrelationIdFilter())
    log = logging.getLogger("slo_engine.tests.tracing")
    log.addHandler(handler)
    log.propagate = False
    try:
        with tracing.span("graph.ingest") as current:
            log.warning("inside")
        log.warning("outside")
    finally:
        log.removeHandler(handler)
        log.propagate = True
    inside, outside = (json.loads(line) for line in stream.getvalue().splitlines())
    context = current.get_span_context()
    assert inside["trace_id"] == format(context.trace_id, "032x")
    assert inside["span_id"] == format(context.span_id, "016x")
    assert inside["trace_sampled"] is True
    assert "trace_id" not in outside and "span_id" not in outside


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
