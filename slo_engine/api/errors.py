"""RFC 7807 problem details for every API error.

`{"type", "title", "status", "detail", "instance", "correlation_id",
"errors": [{"field", "message"}]}` with `Content-Type: application/problem+json`.
Validation errors of a well-formed body are 422; malformed JSON is 400.
"""

import logging
from http import HTTPStatus

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation, TooManyFieldsSent, TooManyFilesSent
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response

from slo_engine.logging import correlation_id_var

logger = logging.getLogger("slo_engine.api")
security_logger = logging.getLogger("django.security")

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://slo-engine.dev/problems/"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the resource."
    default_code = "conflict"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


class ProblemError(exceptions.APIException):
    """A problem with its own status, title, type and extra members (e.g. the
    data-quality facts of a 422), rendered by `problem_exception_handler`."""

    def __init__(self, status_code: int, detail: str, *, title: str | None = None,
                 problem_type: str | None = None, errors: list[dict] | None = None, extra: dict | None = None):
        super().__init__(detail)
        self.status_code = status_code
        self.title = title
        self.problem_type = problem_type
        self.errors = errors or []
        self.extra = extra or {}


class UnprocessableEntity(exceptions.ValidationError):
    """A well-formed request that breaks a rule. `detail` maps field -> messages."""

    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY


def flatten_errors(detail, prefix: str = "") -> list[dict]:
    """Turn DRF's nested error detail into `[{"field": "edges[3].target", "message": ...}]`."""
    out: list[dict] = []
    if isinstance(detail, dict):
        for key, value in detail.items():
            if key in ("non_field_errors", "__all__"):
                field = prefix
            elif isinstance(key, int) or (isinstance(key, str) and key.isdigit()):
                field = f"{prefix}[{key}]"
            else:
                field = f"{prefix}.{key}" if prefix else str(key)
            out.extend(flatten_errors(value, field))
    elif isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            out.extend({"field": prefix or None, "message": str(item)} for item in detail)
        else:
            for index, item in enumerate(detail):
                if item in ({}, [], None):
                    continue
                out.extend(flatten_errors(item, f"{prefix}[{index}]"))
    else:
        out.append({"field": prefix or None, "message": str(detail)})
    return out


def problem_body(*, status_code: int, detail: str, instance: str, errors=None, title: str | None = None,
                 problem_type: str | None = None) -> dict:
    phrase = HTTPStatus(status_code).phrase
    return {
        "type": PROBLEM_TYPE_BASE + (problem_type or phrase.lower().replace(" ", "-").replace("'", "")),
        "title": title or phrase,
        "status": status_code,
        "detail": detail,
        "instance": instance,
        "correlation_id": correlation_id_var.get(),
        "errors": errors or [],
    }


def problem_response(request, *, status_code: int, detail: str, errors=None, headers=None, **kwargs) -> Response:
    body = problem_body(
        status_code=status_code, detail=detail, instance=request.get_full_path() if request else "",
        errors=errors, **kwargs,
    )
    return Response(body, status=status_code, headers=headers, content_type=PROBLEM_CONTENT_TYPE)


def _too_many_fields_where(request) -> str:
    """`query` when the query string holds more fields than Django parses,
    else `body` (a form body: answered 415 by the parser, but a form read
    elsewhere, e.g. by a CSRF check, can trip the limit first)."""
    query = request.META.get("QUERY_STRING", "") if request is not None else ""
    fields = sum(1 for part in query.replace(";", "&").split("&") if part)
    return "query" if fields > (settings.DATA_UPLOAD_MAX_NUMBER_FIELDS or fields) else "body"


def _bad_request(request, exc: SuspiciousOperation) -> exceptions.APIException:
    """Django's SuspiciousOperation (too many fields, a disallowed host, ...)
    is the client's fault: a 400, logged like Django logs it."""
    security_logger.warning("%s: %s", type(exc).__name__, exc)
    if isinstance(exc, (TooManyFieldsSent, TooManyFilesSent)):
        where = _too_many_fields_where(request)
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        message = f"More than {limit} fields (DATA_UPLOAD_MAX_NUMBER_FIELDS)."
        return ProblemError(400, f"The request has too many {'query parameters' if where == 'query' else 'fields'}; "
                                 f"the limit is {limit}.", errors=[{"field": where, "message": message}])
    return ProblemError(400, "The request was refused as suspicious (e.g. a Host not in ALLOWED_HOSTS).")


def problem_exception_handler(exc, context):
    request = context.get("request")
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "Not found.")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    elif isinstance(exc, SuspiciousOperation):
        exc = _bad_request(request, exc)

    if not isinstance(exc, exceptions.APIException):
        logger.exception("Unhandled error in API view", extra={"path": getattr(request, "path", "")})
        return problem_response(
            request, status_code=500, detail="An unexpected error occurred; quote the correlation id."
        )

    headers = {}
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        headers["Retry-After"] = str(max(1, int(exc.wait + 0.999)))
    if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
        headers["WWW-Authenticate"] = 'Api-Key realm="api"'

    if isinstance(exc, ProblemError):
        if exc.status_code >= 500:
            logger.error("API error %s: %s", exc.status_code, exc.detail)
        response = problem_response(
            request, status_code=exc.status_code, detail=str(exc.detail), errors=exc.errors, headers=headers,
            title=exc.title, problem_type=exc.problem_type,
        )
        response.data.update(exc.extra)
        return response

    status_code = exc.status_code
    errors = []
    if isinstance(exc, exceptions.ValidationError):
        # A validation error of a well-formed body breaks a rule: 422.
        status_code = 422
        errors = flatten_errors(exc.detail)
        detail = "; ".join(
            f"{e['field']}: {e['message']}" if e["field"] else e["message"] for e in errors[:5]
        ) or "Invalid request."
    elif isinstance(exc, exceptions.ParseError):
        detail = str(exc.detail)
        errors = [{"field": "body", "message": detail}]
    elif isinstance(exc, exceptions.UnsupportedMediaType):
        detail = f"{exc.detail} The API accepts application/json only."
        errors = [{"field": "Content-Type", "message": detail}]
    else:
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if isinstance(exc.detail, (dict, list)):
            errors = flatten_errors(exc.detail)
    if status_code >= 500:
        logger.error("API error %s: %s", status_code, detail)
    return problem_response(request, status_code=status_code, detail=str(detail), errors=errors, headers=headers)


def _django_problem(request, status_code: int, detail: str) -> JsonResponse:
    body = problem_body(status_code=status_code, detail=detail, instance=request.get_full_path())
    return JsonResponse(body, status=status_code, content_type=PROBLEM_CONTENT_TYPE)


def handler404(request, exception=None):
    if request.path.startswith("/api/"):
        return _django_problem(request, 404, "No such API endpoint.")
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def handler500(request):
    logger.error("Unhandled server error", extra={"path": request.path})
    if request.path.startswith("/api/"):
        return _django_problem(request, 500, "An unexpected error occurred; quote the correlation id.")
    from django.views.defaults import server_error

    return server_error(request)


def handler400(request, exception=None):
    if request.path.startswith("/api/"):
        if isinstance(exception, RequestDataTooBig):
            return _django_problem(request, 413, "The request body is too large.")
        return _django_problem(request, 400, "Bad request.")
    from django.views.defaults import bad_request

    return bad_request(request, exception)
