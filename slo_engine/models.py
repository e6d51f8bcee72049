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


def api_keys_forget(prefixes) -> None:
    """Drop the cached copies of these keys now and again once the current
    transaction commits, so a request racing the change cannot leave the old
    state cached (a revoked key must stop working at once)."""
    keys = [api_key_cache_key(prefix) for prefix in prefixes]
    if not keys:
        return
    cache.delete_many(keys)
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(lambda: cache.delete_many(keys))


class ApiKeyQuerySet(models.QuerySet):
    """Bulk changes forget the cached keys they touch, like single saves do."""

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
        super().save(*args, **kwargs)
        api_keys_forget([self.prefix])

    def delete(self, *args, **kwargs):
        result = super().delete(*args, **kwargs)
        api_keys_forget([self.prefix])
        return result
