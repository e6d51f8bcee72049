"""API-key and staff-session authentication for `/api/`.

Keys are accepted as `Authorization: Api-Key <key>`, `Authorization: Bearer
<key>` (what clients of earlier SLO-engine services send) or `X-API-Key: <key>`.
They are looked up by prefix and checked against the stored hash
(djangorestframework-api-key); the plain key is never stored. The stored key
(hash, scope, expiry, revocation) is cached for API_KEY_CACHE_SECONDS, so an
authenticated request costs no database round trip; every change to a key
(save, delete, bulk update) replaces its cached copy with a short "changed"
marker, so revocation applies to the next request.
"""

import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from rest_framework import authentication, exceptions

from slo_engine.models import ApiKey, api_key_cache_key

_AUTH_SCHEMES = ("api-key", "bearer")


@dataclass(frozen=True)
class ApiKeyPrincipal:
    """The identity of a request authenticated by an API key."""

    api_key: ApiKey

    is_authenticated = True
    is_anonymous = False
    is_staff = False
    is_active = True

    @property
    def username(self) -> str:
        return self.api_key.name

    @property
    def can_write(self) -> bool:
        return self.api_key.can_write

    def __str__(self) -> str:
        return f"api-key:{self.api_key.name}"


def key_from_request(request) -> str | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header:
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() in _AUTH_SCHEMES and value.strip():
            return value.strip()
    value = request.META.get("HTTP_X_API_KEY", "").strip()
    return value or None


def api_key_lookup(*, prefix: str) -> ApiKey | None:
    """The stored key with this prefix (revoked and expired ones included),
    from the cache when present; None when there is none. A key changed in
    the last few seconds is read from the database and not cached (see
    `slo_engine.models.api_keys_forget`)."""
    cache_key = api_key_cache_key(prefix)
    cached = cache.get(cache_key)
    if isinstance(cached, ApiKey):
        return cached
    api_key = ApiKey.objects.filter(prefix=prefix).first()
    if api_key is not None and cached is None and settings.API_KEY_CACHE_SECONDS:
        cache.add(cache_key, api_key, settings.API_KEY_CACHE_SECONDS)
    return api_key


USE_RECORD_SECONDS = 60
# When this process last asked the cache whether a key's use is due: a busy
# key costs one cache round trip a minute per process, not one per request.
_use_checked: dict[str, float] = {}


def _record_use(api_key: ApiKey) -> None:
    """Stamp `last_used_at` at most once a minute per key: a cache marker
    shared by all processes decides. While the cache is unreachable the
    stamp waits (one UPDATE per request of a busy key would queue on its row
    lock)."""
    now = time.monotonic()
    if now - _use_checked.get(api_key.prefix, -USE_RECORD_SECONDS) < USE_RECORD_SECONDS:
        return
    _use_checked[api_key.prefix] = now
    if cache.add(f"auth:api-key-used:{api_key.prefix}", 1, USE_RECORD_SECONDS):
        ApiKey.objects.filter(pk=api_key.pk).record_use(timezone.now())


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        key = key_from_request(request)
        if key is None:
            return None
        api_key = api_key_lookup(prefix=key.partition(".")[0])
        if api_key is None or not api_key.is_valid(key):
            raise exceptions.AuthenticationFailed("Invalid API key.")
        if api_key.revoked:
            raise exceptions.AuthenticationFailed("This API key has been revoked.")
        if api_key.has_expired:
            raise exceptions.AuthenticationFailed("This API key has expired.")
        _record_use(api_key)
        return ApiKeyPrincipal(api_key), api_key

    def authenticate_header(self, request):
        return 'Api-Key realm="api"'


class StaffSessionAuthentication(authentication.SessionAuthentication):
    """Admin users' sessions work for the browsable API; other users do not."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is None:
            return None
        user, auth = result
        if not user.is_staff:
            return None
        return user, auth

