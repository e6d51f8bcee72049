"""Log formatting: every record carries the correlation id of the request or
task that produced it, and `LOG_FORMAT=json` writes one JSON object a line.
With tracing on, a record logged while a span is active also carries its
`trace_id` and `span_id` (and `trace_sampled`: whether the trace is exported).
"""

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

from slo_engine import tracing

correlation_id_var: ContextVar[str] = ContextVar("correlation_id", default="-")

_TRACE_FIELDS = ("trace_id", "span_id", "trace_sampled")
_RESERVED = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "correlation_id", *_TRACE_FIELDS}


def get_correlation_id() -> str:
    return correlation_id_var.get()


class CorrelationIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "correlation_id", None):
            record.correlation_id = correlation_id_var.get()
        if tracing.tracing_enabled():
            ids = tracing.current_trace_ids()
            if ids is not None:
                record.trace_id, record.span_id, record.trace_sampled = ids
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line; `extra={...}` fields become top-level keys."""

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "timestamp": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "correlation_id": getattr(record, "correlation_id", correlation_id_var.get()),
        }
        for key in _TRACE_FIELDS:
            if hasattr(record, key):
                payload[key] = getattr(record, key)
        for key, value in vars(record).items():
            if key not in _RESERVED and not key.startswith("_"):
                payload[key] = value
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


@contextmanager
def access_log_quiet() -> Iterator[None]:
    """Keep per-request access lines (`slo_engine.request`, INFO) out of the
    output while the block runs, e.g. a benchmark sending thousands."""
    access_log = logging.getLogger("slo_engine.request")
    level = access_log.level
    access_log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        access_log.setLevel(level)
