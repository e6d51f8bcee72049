from django.apps import AppConfig


class TelemetryConfig(AppConfig):
    name = "telemetry"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from graph.signals import services_created
        from telemetry.receivers import aggregates_for_new_services

        services_created.connect(aggregates_for_new_services, dispatch_uid="telemetry-aggregates-for-new-services")
