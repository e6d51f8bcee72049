"""`recorded_spans`: tracing on in the test process for the domain spans
only (no library is instrumented): a real OpenTelemetry SDK provider with the
production sampler and correlation-id processor, exporting to memory.

    def test_x(recorded_spans):
        ...
        (span,) = recorded_spans.named("graph.ingest")
"""

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from slo_engine import tracing
from slo_engine.tracing.sdk import CorrelationIdSpanProcessor, sampler_from_environment


class RecordedSpans(InMemorySpanExporter):
    def named(self, name: str) -> list:
        """The finished spans called `name`, in the order they ended."""
        return [s for s in self.get_finished_spans() if s.name == name]


@pytest.fixture
def recorded_spans(monkeypatch):
    exporter = RecordedSpans()
    provider = TracerProvider(sampler=sampler_from_environment({}))
    provider.add_span_processor(CorrelationIdSpanProcessor())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(tracing, "_tracer", provider.get_tracer("test"))
    monkeypatch.setattr(tracing, "_trace_api", trace)
    yield exporter
    provider.shutdown()
