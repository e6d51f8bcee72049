from django.apps import AppConfig


class SlosConfig(AppConfig):
    name = "slos"
    verbose_name = "SLOs of record"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from slos import metrics, signals  # noqa: F401  (registers the /metrics gauges, connects the receivers)
