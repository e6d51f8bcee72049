from django.apps import AppConfig


class SloEngineConfig(AppConfig):
    name = "slo_engine"
    verbose_name = "SLO Engine"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from slo_engine.api import schema  # noqa: F401  registers the OpenAPI auth schemes
