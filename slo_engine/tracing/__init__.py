"""Traces of our own: OpenTelemetry spans of requests, queries, tasks, calls
to Prometheus and the domain work in between.

Off unless `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`)
is set. Off means off: the OpenTelemetry packages are not even imported, no
library is instrumented, no exporter thread runs, and `span()` hands back one
shared do-nothing object, so the request path allocates no span.

Tracing is set up once per process, never at import, by the process's own
start-up hook: gunicorn's `post_fork` (gunicorn.conf.py), Celery's
`worker_process_init` (prefork pool processes) or `worker_init` (solo and
threads pools; slo_engine/celery.py), and `manage.py` for its commands
(`runserver` in the process that serves, not in the autoreloader). The SDK
side lives in `slo_engine.tracing.sdk`, imported only when tracing is on.

Domain code marks where the time goes with `span()` (a context manager) or
`traced()` (a decorator), and adds what it learned with `span_attributes()`.
Attribute values come from closed sets (directions, sources, phases), counts,
and `service.id`, the service concerned.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from typing import Any

DEFAULT_SERVICE_NAME = "slo-engine"
CORRELATION_ID_ATTRIBUTE = "correlation_id"

# The SDK tracer once tracing is on in this process; None means off.
_tracer: Any = None
_trace_api: Any = None
_provider: Any = None
# The process that ran `configure_tracing` (a forked child must run its own).
_configured_pid: int | None = None


def tracing_requested(environ: Mapping[str, str] = os.environ) -> bool:
    """True when the environment asks for traces: an OTLP endpoint is set and
    the SDK is not disabled (`OTEL_SDK_DISABLED=true`)."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return bool(environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))


def tracing_enabled() -> bool:
    return _tracer is not None


def configure_tracing(environ: Mapping[str, str] = os.environ) -> bool:
    """Set tracing up for this process from the standard OTEL_* variables:
    the tracer provider, the OTLP exporter and the instrumentation of Django,
    psycopg, Celery, Redis, requests and httpx. Runs once per process (a
    second call, or one in the same process after a fork hook, does nothing).
    Returns whether tracing is on."""
    global _configured_pid, _provider, _trace_api, _tracer
    if _configured_pid == os.getpid():
        return _tracer is not None
    _configured_pid = os.getpid()
    if not tracing_requested(environ):
        return False
    # The Django instrumentation reads settings.MIDDLEWARE (and would fall
    # back to empty settings without a settings module).
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "slo_engine.settings")
    from slo_engine.tracing import sdk

    _provider = sdk.provider_from_environment(environ)
    sdk.instrument_libraries(_provider, environ)
    _trace_api = sdk.trace_api()
    _tracer = _provider.get_tracer("slo_engine")
    return True


def shutdown_tracing() -> None:
    """Export what is buffered and stop the exporter (a process's exit hook)."""
    if _provider is not None:
        _provider.shutdown()


_AUTORELOAD_ENV = "RUN_MAIN"  # django.utils.autoreload.DJANGO_AUTORELOAD_ENV


def command_is_traced(argv: list[str], environ: Mapping[str, str] = os.environ) -> bool:
    """Whether `manage.py argv...` is the process that does the command's
    work. `runserver` with the autoreloader runs twice: only the child that
    serves (RUN_MAIN=true) is, the parent just watches files. Help is not."""
    command = argv[1] if len(argv) > 1 else ""
    if not command or command.startswith("-") or command == "help":
        return False
    return command != "runserver" or "--noreload" in argv or environ.get(_AUTORELOAD_ENV) == "true"


def configure_tracing_for_command(argv: list[str], environ: Mapping[str, str] = os.environ) -> bool:
    """`manage.py`'s hook: set tracing up when the command is traced (see
    `command_is_traced`). Without a request or task around them, a command's
    traces start at its domain spans (an ingestion, a recommendation)."""
    return command_is_traced(argv, environ) and configure_tracing(environ)


class _NoSpan:
    """What `span()` returns when tracing is off: one shared object that
    accepts and drops everything a span would."""

    __slots__ = ()

    def __enter__(self) -> _NoSpan:
        return self

    def __exit__(self, *exc_info) -> bool:
        return False

    def set_attribute(self, key: str, value) -> None:
        return None

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        return None

    def is_recording(self) -> bool:
        return False


NO_SPAN = _NoSpan()


def span(name: str, attributes: Mapping[str, Any] | None = None):
    """A context manager: a child span of the current one named `name` with
    `attributes`, current while the block runs (the block's exception is
    recorded on it). Off: the shared `NO_SPAN`, nothing allocated."""
    if _tracer is None:
        return NO_SPAN
    return _tracer.start_as_current_span(name, attributes=attributes)


def traced(name: str, attributes: Mapping[str, Any] | None = None) -> Callable:
    """Decorator: each call of the function runs in `span(name, attributes)`.
    Whether tracing is on is checked per call (functions are decorated at
    import, before a process's start-up hook turns tracing on)."""

    def decorate(function: Callable) -> Callable:
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            if _tracer is None:
                return function(*args, **kwargs)
            with _tracer.start_as_current_span(name, attributes=attributes):
                return function(*args, **kwargs)

        return wrapper

    return decorate


def span_attributes(attributes: Mapping[str, Any]) -> None:
    """Set `attributes` on the current span (a no-op when tracing is off or
    the span is not sampled)."""
    if _tracer is None:
        return
    _trace_api.get_current_span().set_attributes(attributes)


def current_trace_ids() -> tuple[str, str, bool] | None:
    """(trace_id, span_id, sampled) of the current span as lowercase hex, the
    form trace back ends search by; None when off or no span is active."""
    if _tracer is None:
        return None
    context = _trace_api.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x"), context.trace_flags.sampled
