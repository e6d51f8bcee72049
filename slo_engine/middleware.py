"""Correlation ids: taken from the request's X-Correlation-ID (or generated),
made available to log records and Celery tasks, echoed on every response.

The middleware also writes the application's access log: one line per request
(logger `slo_engine.request`) with method, path, status and duration, carrying
the correlation id like every other line logged while the request runs.
"""

import logging
import re
import time
import uuid

from django.conf import settings
from django.http import HttpResponse, JsonResponse

from slo_engine.api.errors import PROBLEM_CONTENT_TYPE, problem_body
from slo_engine.logging import correlation_id_var

HEADER = "HTTP_X_CORRELATION_ID"
RESPONSE_HEADER = "X-Correlation-ID"
# Accept only ids that are safe to echo into headers and logs.
_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# Probes and scrapes come every few seconds; they are logged at DEBUG only.
_QUIET_PREFIXES = ("/health/", "/api/v1/health", "/metrics", "/static/")

access_logger = logging.getLogger("slo_engine.request")


def new_correlation_id() -> str:
    return uuid.uuid4().hex


class CorrelationIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.META.get(HEADER, "")
        correlation_id = incoming if _VALID_ID.match(incoming) else new_correlation_id()
        request.correlation_id = correlation_id
        token = correlation_id_var.set(correlation_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response[RESPONSE_HEADER] = correlation_id
            _log_request(request, response.status_code, started)
        finally:
            correlation_id_var.reset(token)
        return response


def _log_request(request, status: int, started: float) -> None:
    if status >= 500:
        level = logging.ERROR
    elif status >= 400:
        level = logging.WARNING
    elif request.path.startswith(_QUIET_PREFIXES):
        level = logging.DEBUG
    else:
        level = logging.INFO
    if not access_logger.isEnabledFor(level):
        return
    duration_ms = round((time.perf_counter() - started) * 1000, 2)
    access_logger.log(
        level, "%s %s %s %.1fms", request.method, request.path, status, duration_ms,
        extra={"method": request.method, "path": request.path, "status": status, "duration_ms": duration_ms},
    )


class RequestLimitsMiddleware:
    """414 for a URL over MAX_URL_BYTES, 431 for a header over
    MAX_HEADER_BYTES or more than MAX_HEADER_COUNT headers, answered as a
    problem (on `/api/`) with the correlation id. gunicorn's own limits
    (gunicorn.conf.py) sit above these, so its bare HTML error pages only
    meet requests far past them."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        url_bytes = len(request.META.get("RAW_URI") or request.get_full_path())
        if url_bytes > settings.MAX_URL_BYTES:
            return _limit_response(request, 414, f"The URL is {url_bytes} bytes; the limit is "
                                                 f"{settings.MAX_URL_BYTES}.", "url")
        headers = [(key, value) for key, value in request.META.items()
                   if key.startswith("HTTP_") or key in ("CONTENT_TYPE", "CONTENT_LENGTH")]
        if len(headers) > settings.MAX_HEADER_COUNT:
            return _limit_response(request, 431, f"The request has {len(headers)} headers; the limit is "
                                                 f"{settings.MAX_HEADER_COUNT}.", "headers")
        for key, value in headers:
            if len(key) + len(value) > settings.MAX_HEADER_BYTES:
                name = key.removeprefix("HTTP_").replace("_", "-").title()
                return _limit_response(request, 431, f"The {name} header is over {settings.MAX_HEADER_BYTES} "
                                                     "bytes.", name)
        return self.get_response(request)


def _limit_response(request, status: int, detail: str, field: str):
    if not request.path.startswith("/api/"):
        return HttpResponse(detail, status=status, content_type="text/plain; charset=utf-8")
    # The URL itself is what is too long: the problem names the path only.
    body = problem_body(status_code=status, detail=detail, instance=request.path[:512],
                        errors=[{"field": field, "message": detail}])
    return JsonResponse(body, status=status, content_type=PROBLEM_CONTENT_TYPE)
