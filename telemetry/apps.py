from django.apps import AppConfig


class TelemetryConfig(AppConfig):
    name = "telemetry"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from graph.signals import services_created
        from slo_engine.health import register_check
        from telemetry.health import check_telemetry
        from telemetry.receivers import aggregates_for_new_services

        register_check("telemetry", check_telemetry, critical=False, public=["span_metrics"])
        services_created.connect(aggregates_for_new_services, dispatch_uid="telemetry-aggregates-for-new-services")
