"""`manage.py discover_otel_graph [--lookback 1h]`: merge the OTel service
graph read from the telemetry source into the dependency graph, now."""

from django.core.management.base import BaseCommand, CommandError

from telemetry.services import otel_graph_discover
from telemetry.sources import TelemetryError


class Command(BaseCommand):
    help = "Discover dependency edges from OpenTelemetry service-graph metrics (traces_service_graph_request_total)."

    def add_arguments(self, parser):
        parser.add_argument("--lookback", help="Trailing PromQL range to read, e.g. 15m or 1h (OTEL_GRAPH_LOOKBACK).")

    def handle(self, *args, lookback: str | None = None, **options):
        try:
            result = otel_graph_discover(lookback=lookback)
        except TelemetryError as exc:
            raise CommandError(str(exc)) from exc
        for warning in result.warnings:
            self.stderr.write(f"warning: {warning}")
        self.stdout.write(
            f"{result.edges_seen} edge(s) seen, {result.edges_upserted} upserted, {result.edges_skipped} skipped; "
            f"databases: {', '.join(result.databases) or '-'}; externals: {', '.join(result.externals) or '-'}; "
            f"services created: {', '.join(result.services_auto_created) or '-'}"
        )
