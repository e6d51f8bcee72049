"""Tracing (slo_engine/tracing): configuration from the OTEL_* variables,
the span helpers, the correlation id on spans and trace ids in JSON log lines.
Domain spans are tested beside their code (graph, recommendations, slos);
the real processes (gunicorn, workers, an OTLP receiver) in web/tests."""

import io
import json
import logging

import pytest
from django.core.exceptions import ImproperlyConfigured
from opentelemetry import trace
from opentelemetry.sdk.trace.sampling import Decision
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags

from slo_engine import tracing
from slo_engine.celery import pool_forks_processes
from slo_engine.logging import CorrelationIdFilter, JsonFormatter, correlation_id_var
from slo_engine.tracing.sdk import (
    exporter_from_environment,
    resource_from_environment,
    sampler_from_environment,
)

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

def test_correlation_id_goes_on_the_first_span_of_a_process_only(recorded_spans):
    token = correlation_id_var.set("corr-task-9")
    try:
        with tracing.span("task.root"), tracing.span("task.child"):
            pass
    finally:
        correlation_id_var.reset(token)
    with tracing.span("no.correlation"):
        pass
    root, child, plain = (recorded_spans.named(n)[0] for n in ("task.root", "task.child", "no.correlation"))
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
