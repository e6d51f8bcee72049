"""A real OTLP/HTTP trace receiver for tests: what an OpenTelemetry Collector
or Tempo does at `POST /v1/traces`, minus the storage.

It listens on a free loopback port, decodes each `ExportTraceServiceRequest`
(protobuf, optionally gzip-compressed) with `opentelemetry-proto`, answers
with an `ExportTraceServiceResponse`, and keeps every span it received with
its resource attributes. Fixture: `otlp_receiver` (started and stopped per
test); point an application at it with `OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url`.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status


def _value(value: AnyValue):
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return {item.key: _value(item.value) for item in value.kvlist_value.values}
    return getattr(value, kind) if kind else None


@dataclass(frozen=True)
class ReceivedSpan:
    """One exported span, ids as lowercase hex (the form logs carry)."""

    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    kind: str  # SERVER, CLIENT, PRODUCER, CONSUMER, INTERNAL
    attributes: dict
    resource: dict
    scope: str
    status: str  # UNSET, OK, ERROR
    start_ns: int
    end_ns: int


@dataclass
class OtlpReceiver:
    host: str = "127.0.0.1"
    port: int = 0
    spans: list[ReceivedSpan] = field(default_factory=list)
    export_requests: int = 0
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        """The base endpoint (`OTEL_EXPORTER_OTLP_ENDPOINT`)."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                if self.path != "/v1/traces":
                    self.send_error(404)
                    return
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                request = ExportTraceServiceRequest()
                try:
                    request.ParseFromString(body)
                except Exception:
                    self.send_error(400, "not an ExportTraceServiceRequest")
                    return
                receiver._store(request)
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                return None

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, name="otlp-receiver", daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _store(self, request: ExportTraceServiceRequest) -> None:
        received = []
        for resource_spans in request.resource_spans:
            resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    received.append(ReceivedSpan(
                        trace_id=span.trace_id.hex(), span_id=span.span_id.hex(),
                        parent_span_id=span.parent_span_id.hex(), name=span.name,
                        kind=Span.SpanKind.Name(span.kind).removeprefix("SPAN_KIND_"),
                        attributes={a.key: _value(a.value) for a in span.attributes},
                        resource=resource, scope=scope_spans.scope.name,
                        status=Status.StatusCode.Name(span.status.code).removeprefix("STATUS_CODE_"),
                        start_ns=span.start_time_unix_nano, end_ns=span.end_time_unix_nano,
                    ))
        with self._lock:
            self.spans.extend(received)
            self.export_requests += 1

    def received(self) -> list[ReceivedSpan]:
        with self._lock:
            return list(self.spans)

    def trace(self, trace_id: str) -> list[ReceivedSpan]:
        return [s for s in self.received() if s.trace_id == trace_id]

    def wait_for(self, predicate: Callable[[list[ReceivedSpan]], bool], *, timeout: float = 30,
                 what: str = "spans") -> list[ReceivedSpan]:
        """Poll until `predicate(spans received so far)` holds; returns them."""
        deadline = time.monotonic() + timeout
        while True:
            spans = self.received()
            if predicate(spans):
                return spans
            if time.monotonic() > deadline:
                names = sorted({(s.kind, s.name) for s in spans})
                raise TimeoutError(f"timed out after {timeout}s waiting for {what}; received {names}")
            time.sleep(0.1)


@pytest.fixture
def otlp_receiver() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver()
    receiver.start()
    yield receiver
    receiver.stop()
