from rest_framework import permissions

from slo_engine.api.authentication import ApiKeyPrincipal
from slo_engine.api.errors import ProblemError


class HasScopedAccess(permissions.BasePermission):
    """Reads need any valid key (or a staff session); writes need a `write`
    key or a staff session."""

    message = "This operation needs an API key with the 'write' scope."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if request.method in permissions.SAFE_METHODS:
            return True
        return request_can_write(request)


def request_can_write(request) -> bool:
    """Whether the caller may write: a `write` key or a staff session. For a
    read that writes (e.g. `force_regenerate=true`), check it in the view."""
    user = getattr(request, "user", None)
    if isinstance(user, ApiKeyPrincipal):
        return user.can_write
    return bool(user is not None and user.is_authenticated and user.is_staff)


def require_write_scope(request, *, field: str, what: str) -> None:
    """Raise a 403 problem naming `field` unless the caller may write;
    `what` says which part of the request is a write."""
    if not request_can_write(request):
        message = f"{what} writes: it needs an API key with the 'write' scope."
        raise ProblemError(403, message, errors=[{"field": field, "message": message}])


def actor_name(request) -> str:
    """Who made a request, for audit fields (`created_by`, `acknowledged_by`)."""
    user = getattr(request, "user", None)
    if isinstance(user, ApiKeyPrincipal):
        return f"api-key:{user.api_key.name}"
    if user is not None and user.is_authenticated:
        return user.get_username()
    return ""
