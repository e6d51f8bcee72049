from django.contrib import admin
from rest_framework_api_key.admin import APIKeyModelAdmin

from slo_engine.models import ApiKey


@admin.register(ApiKey)
class ApiKeyAdmin(APIKeyModelAdmin):
    list_display = (*APIKeyModelAdmin.list_display, "scope", "last_used_at")
    list_filter = ("scope", "revoked")
