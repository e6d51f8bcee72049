"""Rate limits on the shared cache (Redis), per API key, else per user or IP.

Two scopes: `ingest` (RATE_LIMIT_INGEST, default 10/min) for graph
ingestion and `query` (RATE_LIMIT_QUERY, default 600/min) for everything
else. Rates are read from settings at request time, so a changed setting
applies without a restart of the class definitions.

Fixed-window counters: one atomic INCR per request on a key named after the
window (a single round trip to Redis, see `slo_engine.cache_atomic`), so
concurrent requests on several web processes can never slip past the limit
together (a read-modify-write history list can), and the cost per request
does not grow with the rate. When the cache is unreachable the count is
unknown and the throttle fails open: the API keeps answering.
"""

import math
import time

from django.conf import settings
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

from slo_engine.api.authentication import ApiKeyPrincipal
from slo_engine.cache_atomic import cache_incr_with_expiry


class ScopedKeyRateThrottle(BaseThrottle):
    """Fixed-window throttle keyed on the caller's identity within a scope."""

    scope = ""
    rate_setting = ""
    parse_rate = SimpleRateThrottle.parse_rate

    def __init__(self):
        self.num_requests: int | None = None
        self.duration: int | None = None
        self.count = 0
        self.window_end = 0.0

    def get_rate(self) -> str:
        return getattr(settings, self.rate_setting)

    def identity(self, request) -> str:
        user = request.user
        if isinstance(user, ApiKeyPrincipal):
            return f"key:{user.api_key.pk}"
        if user is not None and user.is_authenticated:
            return f"user:{user.pk}"
        return f"ip:{self.get_ident(request)}"

    def allow_request(self, request, view) -> bool:
        self.num_requests, self.duration = self.parse_rate(self.get_rate())
        if self.num_requests is None:
            return True
        now = time.time()
        window = int(now // self.duration)
        self.window_end = (window + 1) * self.duration
        key = f"throttle:{self.scope}:{self.identity(request)}:{window}"
        # None: the cache is down (the error is logged): fail open.
        count = cache_incr_with_expiry(key, self.duration + 1)
        self.count = count or 0
        return count is None or count <= self.num_requests

    def wait(self) -> float:
        return max(0.0, self.window_end - time.time())

    def rate_limit_state(self) -> dict[str, int] | None:
        """Limit, remaining requests and seconds until the window resets,
        after `allow_request` ran; None when this throttle did not apply."""
        if self.num_requests is None:
            return None
        return {
            "limit": self.num_requests,
            "remaining": max(0, self.num_requests - self.count),
            "reset": max(0, math.ceil(self.window_end - time.time())),
        }


class IngestRateThrottle(ScopedKeyRateThrottle):
    scope = "ingest"
    rate_setting = "RATE_LIMIT_INGEST"


class QueryRateThrottle(ScopedKeyRateThrottle):
    scope = "query"
    rate_setting = "RATE_LIMIT_QUERY"
