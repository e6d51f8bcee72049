"""Rate limits on the shared cache (Redis), per API key, else per user or IP.

Two scopes: `ingest` (RATE_LIMIT_INGEST, default 10/min) for graph
ingestion and `query` (RATE_LIMIT_QUERY, default 600/min) for everything
else. Rates are read from settings at request time, so a changed setting
applies without a restart of the class definitions.
"""

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from slo_engine.api.authentication import ApiKeyPrincipal


class ScopedKeyRateThrottle(SimpleRateThrottle):
    """Sliding-window throttle keyed on the caller's identity within a scope."""

    scope = ""
    rate_setting = ""

    def get_rate(self) -> str:
        return getattr(settings, self.rate_setting)

    def get_cache_key(self, request, view) -> str:
        user = request.user
        if isinstance(user, ApiKeyPrincipal):
            ident = f"key:{user.api_key.pk}"
        elif user is not None and user.is_authenticated:
            ident = f"user:{user.pk}"
        else:
            ident = f"ip:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def rate_limit_state(self) -> dict[str, int] | None:
        """Limit, remaining requests and seconds until a slot frees, after
        `allow_request` ran; None when this throttle did not apply."""
        if not getattr(self, "key", None) or self.num_requests is None:
            return None
        history = getattr(self, "history", [])
        remaining = max(0, self.num_requests - len(history))
        reset = int(history[-1] + self.duration - self.now + 0.999) if history else 0
        return {"limit": self.num_requests, "remaining": remaining, "reset": max(0, reset)}


class IngestRateThrottle(ScopedKeyRateThrottle):
    scope = "ingest"
    rate_setting = "RATE_LIMIT_INGEST"


class QueryRateThrottle(ScopedKeyRateThrottle):
    scope = "query"
    rate_setting = "RATE_LIMIT_QUERY"
