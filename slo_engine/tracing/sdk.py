"""The OpenTelemetry SDK side of `slo_engine.tracing`, imported only when
tracing is on: the tracer provider built from the standard environment
variables, and the instrumentation of the libraries the application uses.

Variables (the OpenTelemetry specification's): `OTEL_EXPORTER_OTLP_ENDPOINT`
or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, `OTEL_EXPORTER_OTLP_PROTOCOL`
(`http/protobuf`, the default, or `grpc`), `OTEL_EXPORTER_OTLP_HEADERS`,
`..._TIMEOUT`, `..._COMPRESSION`, `..._CERTIFICATE` (read by the exporter),
`OTEL_SERVICE_NAME` (default `slo-engine`), `OTEL_RESOURCE_ATTRIBUTES`,
`OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG`, `OTEL_BSP_*` (batching),
`OTEL_PROPAGATORS`, `OTEL_PYTHON_DJANGO_EXCLUDED_URLS`.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import socket
from collections.abc import Mapping

from django.core.exceptions import ImproperlyConfigured
from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import SpanKind

from slo_engine.logging import correlation_id_var
from slo_engine.tracing import CORRELATION_ID_ATTRIBUTE, DEFAULT_SERVICE_NAME

logger = logging.getLogger("slo_engine.tracing")

# Probes and scrapes come every few seconds and have nothing to follow.
DEFAULT_EXCLUDED_URLS = "/health/,/api/v1/health,/metrics"
PROTOCOLS = ("http/protobuf", "grpc")


def trace_api():
    return trace


def _ratio(environ: Mapping[str, str]) -> float:
    raw = environ.get("OTEL_TRACES_SAMPLER_ARG", "").strip()
    if not raw:
        return 1.0
    try:
        ratio = float(raw)
    except ValueError:
        ratio = -1.0
    if not 0.0 <= ratio <= 1.0:
        raise ImproperlyConfigured(f"OTEL_TRACES_SAMPLER_ARG must be a ratio in [0, 1], got {raw!r}")
    return ratio


def sampler_from_environment(environ: Mapping[str, str]) -> Sampler:
    """The sampler `OTEL_TRACES_SAMPLER` names (default parentbased_always_on,
    as the specification says), wrapped so that a client call with no parent
    is never recorded (see OrphanClientSpansDropped)."""
    name = (environ.get("OTEL_TRACES_SAMPLER") or "parentbased_always_on").strip().lower()
    choices = {
        "always_on": lambda: ALWAYS_ON,
        "always_off": lambda: ALWAYS_OFF,
        "traceidratio": lambda: TraceIdRatioBased(_ratio(environ)),
        "parentbased_always_on": lambda: ParentBased(ALWAYS_ON),
        "parentbased_always_off": lambda: ParentBased(ALWAYS_OFF),
        "parentbased_traceidratio": lambda: ParentBased(TraceIdRatioBased(_ratio(environ))),
    }
    if name not in choices:
        raise ImproperlyConfigured(f"OTEL_TRACES_SAMPLER must be one of {sorted(choices)}, got {name!r}")
    return OrphanClientSpansDropped(choices[name]())


class OrphanClientSpansDropped(Sampler):
    """Drops client spans that have no parent, then asks `delegate`.

    A query, a Redis command or an HTTP call made outside any request, task
    or domain span (the Celery worker acknowledging a message, a management
    command's bookkeeping) would otherwise each start a one-span trace: noise
    that buries the traces an operator follows."""

    def __init__(self, delegate: Sampler):
        self.delegate = delegate

    def should_sample(self, parent_context, trace_id, name, kind=None, attributes=None, links=None,
                      trace_state=None) -> SamplingResult:
        if kind is SpanKind.CLIENT and not trace.get_current_span(parent_context).get_span_context().is_valid:
            return SamplingResult(Decision.DROP)
        return self.delegate.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)

    def get_description(self) -> str:
        return f"OrphanClientSpansDropped{{{self.delegate.get_description()}}}"


class CorrelationIdSpanProcessor(SpanProcessor):
    """Puts the correlation id of the request or task on the first span a
    process starts for it (a task's span, a command's domain span), so a log
    line's correlation id finds its trace and the trace finds its log lines.
    (The Django request span starts before the correlation id is known; the
    instrumentation's response hook sets it there.)"""

    def on_start(self, span, parent_context=None) -> None:
        if span.parent is not None and not span.parent.is_remote:
            return
        correlation_id = correlation_id_var.get()
        if correlation_id != "-":
            span.set_attribute(CORRELATION_ID_ATTRIBUTE, correlation_id)


def resource_from_environment() -> Resource:
    """`OTEL_RESOURCE_ATTRIBUTES` and `OTEL_SERVICE_NAME` as the SDK reads
    them, with `service.name` defaulting to slo-engine, over `host.name` and
    `process.pid` (which web worker or task process sent a span)."""
    resource = Resource.create()
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: DEFAULT_SERVICE_NAME}))
    return Resource({"host.name": socket.gethostname(), "process.pid": os.getpid()}).merge(resource)


def exporter_from_environment(environ: Mapping[str, str]) -> SpanExporter:
    """The OTLP span exporter of `OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL`; it
    reads its endpoint, headers, timeout, compression and certificate from
    the environment itself."""
    protocol = (environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
                or "http/protobuf").strip()
    if protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    elif protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    else:
        raise ImproperlyConfigured(f"OTEL_EXPORTER_OTLP_PROTOCOL must be one of {PROTOCOLS}, got {protocol!r}")
    return OTLPSpanExporter()


def provider_from_environment(environ: Mapping[str, str]) -> TracerProvider:
    """A tracer provider exporting in batches (a background thread), made the
    global one so the instrumentations use it."""
    provider = TracerProvider(resource=resource_from_environment(), sampler=sampler_from_environment(environ))
    provider.add_span_processor(CorrelationIdSpanProcessor())
    provider.add_span_processor(BatchSpanProcessor(exporter_from_environment(environ)))
    trace.set_tracer_provider(provider)
    logger.info(
        "tracing on: service %s, sampler %s",
        provider.resource.attributes.get(SERVICE_NAME), provider.sampler.get_description(),
    )
    return provider


def _django_response_hook(span, request, response) -> None:
    correlation_id = getattr(request, "correlation_id", None)
    if correlation_id and span.is_recording():
        span.set_attribute(CORRELATION_ID_ATTRIBUTE, correlation_id)


def instrument_libraries(provider: TracerProvider, environ: Mapping[str, str]) -> None:
    """The maintained instrumentations: Django requests (its middleware goes
    first in MIDDLEWARE, so this runs before the WSGI handler is built),
    psycopg queries, Celery publish and run (the trace context travels in
    the task's headers), Redis commands, and requests/httpx calls (the
    Prometheus client)."""
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.instrumentation.requests import RequestsInstrumentor

    excluded = None
    if not (environ.get("OTEL_PYTHON_DJANGO_EXCLUDED_URLS") or environ.get("OTEL_PYTHON_EXCLUDED_URLS")):
        excluded = DEFAULT_EXCLUDED_URLS
    DjangoInstrumentor().instrument(tracer_provider=provider, excluded_urls=excluded,
                                    response_hook=_django_response_hook)
    PsycopgInstrumentor().instrument(tracer_provider=provider)
    CeleryInstrumentor().instrument(tracer_provider=provider)
    RedisInstrumentor().instrument(tracer_provider=provider)
    RequestsInstrumentor().instrument(tracer_provider=provider)
    # httpx is a development dependency here; instrument it where installed.
    if importlib.util.find_spec("httpx") is not None:
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

        HTTPXClientInstrumentor().instrument(tracer_provider=provider)
