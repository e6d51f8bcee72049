"""Generate SLO recommendations now: all active services, or one."""

from django.core.management.base import BaseCommand, CommandError

from graph.models import Service
from recommendations.services import BatchContext, InsufficientData, fleet_prior_refit, recommendations_generate
from telemetry.sources import TelemetryError, get_telemetry_source


class Command(BaseCommand):
    help = ("Generate SLO recommendations for every active service (refitting the fleet prior first, as the "
            "daily batch does) or for --service ID, with progress output.")

    def add_arguments(self, parser):
        parser.add_argument("--service", default="", help="service_id of one service")

    def handle(self, *args, service: str, **options):
        services = Service.objects.active().order_by("service_id")
        if service:
            services = services.filter(service_id=service)
            if not services.exists():
                raise CommandError(f"unknown service {service!r}")
        total = services.count()
        context = BatchContext()
        source = get_telemetry_source()
        if not service:
            # As the daily batch: refit the fleet prior first, every service then uses it.
            prior = fleet_prior_refit(source=source)
            self.stdout.write(f"fleet prior fitted on {prior.services_used} services"
                              + (" (fewer than 20: the default prior)" if prior.is_default else ""))
        counts = {"generated": 0, "insufficient_data": 0, "failed": 0}
        for index, item in enumerate(services.iterator(), start=1):
            try:
                rows = recommendations_generate(service=item, source=source, context=context)
            except InsufficientData as exc:
                counts["insufficient_data"] += 1
                self.stdout.write(f"[{index}/{total}] {item.service_id}: skipped, {exc}")
                continue
            except TelemetryError as exc:
                counts["failed"] += 1
                self.stderr.write(f"[{index}/{total}] {item.service_id}: telemetry failed: {exc}")
                continue
            counts["generated"] += 1
            balanced = rows[0].tiers["balanced"]["target"]
            self.stdout.write(f"[{index}/{total}] {item.service_id}: availability {balanced:.4%} (balanced)"
                              + (f", latency p99 {rows[1].tiers['balanced']['threshold_ms']:g} ms" if len(rows) > 1
                                 else ""))
        self.stdout.write(self.style.SUCCESS(
            f"{counts['generated']} generated, {counts['insufficient_data']} with insufficient data, "
            f"{counts['failed']} failed"))
        if counts["failed"] and service:
            raise CommandError("generation failed")
