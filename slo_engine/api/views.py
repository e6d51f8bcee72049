"""Shared behaviour of every API view (DESIGN.md section 5).

Every `/api/` endpoint subclasses `BaseApiView` (an APIView) or
`BaseGenericViewSet` (with DRF's list/retrieve/... mixins). From them and
the REST_FRAMEWORK settings it gets: API-key/staff authentication, read vs
write scope (`HasScopedAccess`; a read that writes calls
`require_write_scope`), the `query` rate limit (set `throttle_classes` or
`get_throttles` for another) with `X-RateLimit-*` headers, a 413 for bodies
over DATA_UPLOAD_MAX_MEMORY_SIZE, JSON-only bodies with depth and value
checks (`slo_engine.api.parsers`), strict pagination and filters, and
problem+json errors. Bodies use `StrictSerializer`, query strings
`QuerySerializer` (slo_engine.api.serializers).
`web/tests/test_api_hardening.py::test_every_api_view_shares_the_base`
holds every routed view to this.
"""

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers, viewsets
from rest_framework.views import APIView

from slo_engine.api.errors import PROBLEM_CONTENT_TYPE, PayloadTooLarge
from slo_engine.api.throttles import QueryRateThrottle, ScopedKeyRateThrottle


class ProblemFieldErrorSerializer(serializers.Serializer):
    field = serializers.CharField(allow_null=True)
    message = serializers.CharField()


class ProblemSerializer(serializers.Serializer):
    """RFC 7807 problem details (DESIGN.md section 5, errors)."""

    type = serializers.URLField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    instance = serializers.CharField()
    correlation_id = serializers.CharField()
    errors = ProblemFieldErrorSerializer(many=True)


_PROBLEM_DESCRIPTIONS = {
    400: "Malformed JSON, or more query parameters than DATA_UPLOAD_MAX_NUMBER_FIELDS.",
    401: "No valid API key.",
    403: "The API key lacks the 'write' scope.",
    404: "No such resource.",
    409: "The request conflicts with the resource's current state.",
    413: "The request body is too large.",
    415: "Unsupported content type: the API accepts application/json only.",
    422: "The request breaks a rule; `errors` names each field.",
    429: "Rate limited; retry after `Retry-After` seconds.",
}


def problem_responses(*codes: int) -> dict[tuple[int, str], OpenApiResponse]:
    """OpenAPI responses for the given error status codes (plus 400, 401 and
    429, which every endpoint can answer), as `application/problem+json`."""
    return {
        (code, PROBLEM_CONTENT_TYPE): OpenApiResponse(response=ProblemSerializer,
                                                      description=_PROBLEM_DESCRIPTIONS[code])
        for code in sorted({400, 401, 429, *codes})
    }


class ApiViewMixin:
    """Adds `X-RateLimit-*` headers from the throttles that applied, and turns
    away bodies over DATA_UPLOAD_MAX_MEMORY_SIZE with 413 before parsing."""

    throttle_classes = [QueryRateThrottle]

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            raise PayloadTooLarge(
                f"The request body is {length} bytes; the limit is {settings.DATA_UPLOAD_MAX_MEMORY_SIZE}."
            )

    def check_throttles(self, request):
        # DRF's own loop, keeping the throttles so their state can be reported.
        self.rate_limit_states = []
        waits = []
        for throttle in self.get_throttles():
            allowed = throttle.allow_request(request, self)
            if isinstance(throttle, ScopedKeyRateThrottle):
                state = throttle.rate_limit_state()
                if state is not None:
                    self.rate_limit_states.append(state)
            if not allowed:
                waits.append(throttle.wait())
        if waits:
            self.throttled(request, max((w for w in waits if w is not None), default=None))

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        states = getattr(self, "rate_limit_states", None)
        if states:
            tightest = min(states, key=lambda s: s["remaining"])
            response["X-RateLimit-Limit"] = str(tightest["limit"])
            response["X-RateLimit-Remaining"] = str(tightest["remaining"])
            response["X-RateLimit-Reset"] = str(tightest["reset"])
        return response


class BaseApiView(ApiViewMixin, APIView):
    """Base of non-model API views."""


class BaseGenericViewSet(ApiViewMixin, viewsets.GenericViewSet):
    """Base of model viewsets; mix in the DRF list/retrieve/destroy mixins."""
