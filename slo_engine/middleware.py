"""Correlation ids: taken from the request's X-Correlation-ID (or generated),
made available to log records and Celery tasks, echoed on every response."""

import re
import uuid

from slo_engine.logging import correlation_id_var

HEADER = "HTTP_X_CORRELATION_ID"
RESPONSE_HEADER = "X-Correlation-ID"
# Accept only ids that are safe to echo into headers and logs.
_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


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
        try:
            response = self.get_response(request)
        finally:
            correlation_id_var.reset(token)
        response[RESPONSE_HEADER] = correlation_id
        return response
