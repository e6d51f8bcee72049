"""API keys: hashed at rest by djangorestframework-api-key, with a scope."""

from django.db import models
from django.db.models import Q
from rest_framework_api_key.models import AbstractAPIKey


class ApiKeyScope(models.TextChoices):
    READ = "read"
    WRITE = "write"


class ApiKey(AbstractAPIKey):
    scope = models.CharField(max_length=8, choices=ApiKeyScope.choices, default=ApiKeyScope.READ)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "API key"
        verbose_name_plural = "API keys"
        constraints = [models.CheckConstraint(condition=Q(scope__in=ApiKeyScope.values), name="api_key_scope_valid")]

    @property
    def can_write(self) -> bool:
        return self.scope == ApiKeyScope.WRITE
