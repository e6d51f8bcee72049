from rest_framework import permissions

from slo_engine.api.authentication import ApiKeyPrincipal


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
        if isinstance(user, ApiKeyPrincipal):
            return user.can_write
        return bool(user.is_staff)


def actor_name(request) -> str:
    """Who made a request, for audit fields (`created_by`, `acknowledged_by`)."""
    user = getattr(request, "user", None)
    if isinstance(user, ApiKeyPrincipal):
        return f"api-key:{user.api_key.name}"
    if user is not None and user.is_authenticated:
        return user.get_username()
    return ""
