"""`manage.py compute_sli_aggregates [--service ID ...]`: compute the SLI
aggregates of every active service (or the named ones) now."""

from django.core.management.base import BaseCommand, CommandError

from telemetry.services import sli_aggregates_compute
from telemetry.sources import TelemetryError


class Command(BaseCommand):
    help = "Compute SLI aggregates (availability, error rate, latency, throughput) for every window."

    def add_arguments(self, parser):
        parser.add_argument("--service", action="append", dest="services", help="A service_id (repeatable).")

    def handle(self, *args, services: list[str] | None = None, **options):
        try:
            result = sli_aggregates_compute(services=services)
        except TelemetryError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"{result.services} service(s), {result.rows_written} aggregate row(s) written; "
            f"failed: {', '.join(result.services_failed) or '-'}; "
            f"without data: {', '.join(result.services_without_data) or '-'}"
        )
        if result.services_failed:
            raise CommandError(f"{len(result.services_failed)} service(s) failed; see the log")
