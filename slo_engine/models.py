"""API keys: hashed at rest by djangorestframework-api-key, with a scope."""

from django.core.cache import cache
from django.db import models, transaction
from django.db.models import Q
from rest_framework_api_key.models import AbstractAPIKey, APIKeyManager


class ApiKeyScope(models.TextChoices):
    READ = "read"
    WRITE = "write"


def api_key_cache_key(prefix: str) -> str:
    """Where authentication caches the key with this prefix (see
    `slo_engine.api.authentication.api_key_lookup`)."""
    return f"auth:api-key:{prefix}"


# After a change, lookups read the key from the database and do not cache
# it for this long: a lookup that read the old state just before the change
# committed cannot store it over the marker (it only adds where nothing is).
API_KEY_CHANGED_SECONDS = 10
API_KEY_CHANGED = "changed"


def api_keys_forget(prefixes) -> None:
    """Replace the cached copies of these keys with a short-lived "changed"
    marker, now and again once the current transaction commits, so a revoked
    key stops working at the next request and a request racing the change
    cannot leave the old state cached."""
    markers = {api_key_cache_key(prefix): API_KEY_CHANGED for prefix in prefixes}
    if not markers:
        return
    cache.set_many(markers, API_KEY_CHANGED_SECONDS)
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(lambda: cache.set_many(markers, API_KEY_CHANGED_SECONDS))


class ApiKeyQuerySet(models.QuerySet):
    """Bulk changes forget the cached keys they touch, like single saves do."""

    def record_use(self, when) -> int:
        """Set `last_used_at`, which authentication never reads back from the
        database: the cached copies stay valid."""
        return super().update(last_used_at=when)

    def update(self, **kwargs):
        prefixes = list(self.values_list("prefix", flat=True))
        rows = super().update(**kwargs)
        api_keys_forget(prefixes)
        return rows

    update.alters_data = True

    def delete(self):
        prefixes = list(self.values_list("prefix", flat=True))
        result = super().delete()
        api_keys_forget(prefixes)
        return result

    delete.alters_data = True


class ApiKeyManager(APIKeyManager.from_queryset(ApiKeyQuerySet)):
    pass


class ApiKey(AbstractAPIKey):
    scope = models.CharField(max_length=8, choices=ApiKeyScope.choices, default=ApiKeyScope.READ)
    last_used_at = models.DateTimeField(null=True, blank=True)

    objects = ApiKeyManager()

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "API key"
        verbose_name_plural = "API keys"
        constraints = [models.CheckConstraint(condition=Q(scope__in=ApiKeyScope.values), name="api_key_scope_valid")]

    @property
    def can_write(self) -> bool:
        return self.scope == ApiKeyScope.WRITE

    def save(self, *args, **kwargs):
        changed = not self._state.adding  # a new key has no cached copy to replace
        super().save(*args, **kwargs)
        if changed:
            api_keys_forget([self.prefix])

    def delete(self, *args, **kwargs):
        result = super().delete(*args, **kwargs)
        api_keys_forget([self.prefix])
        return result
