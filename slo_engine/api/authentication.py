"""API-key and staff-session authentication for `/api/`.

Keys are accepted as `Authorization: Api-Key <key>`, `Authorization: Bearer
<key>` (what clients of earlier SLO-engine services send) or `X-API-Key: <key>`.
They are looked up by prefix and checked against the stored hash
(djangorestframework-api-key); the plain key is never stored.
"""

from dataclasses import dataclass

from django.utils import timezone
from rest_framework import authentication, exceptions

from slo_engine.models import ApiKey

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


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        key = key_from_request(request)
        if key is None:
            return None
        try:
            api_key = ApiKey.objects.get_from_key(key)
        except ApiKey.DoesNotExist:
            raise exceptions.AuthenticationFailed("Invalid API key.") from None
        if api_key.revoked:
            raise exceptions.AuthenticationFailed("This API key has been revoked.")
        if api_key.has_expired:
            raise exceptions.AuthenticationFailed("This API key has expired.")
        # One cheap conditional UPDATE at most once a minute per key.
        now = timezone.now()
        if api_key.last_used_at is None or (now - api_key.last_used_at).total_seconds() > 60:
            ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
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

