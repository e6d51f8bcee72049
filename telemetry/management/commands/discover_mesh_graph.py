"""`manage.py discover_mesh_graph [--mesh istio|linkerd] [--lookback 1h]`:
merge the service mesh's edges read from Prometheus into the graph, now."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from telemetry.services import mesh_graph_discover
from telemetry.sources import TelemetryError
from telemetry.sources.mesh import MESHES


class Command(BaseCommand):
    help = "Discover dependency edges from Istio or Linkerd metrics (MESH_DISCOVERY) in Prometheus."

    def add_arguments(self, parser):
        parser.add_argument("--mesh", choices=MESHES, help="Which mesh's metrics to read (default MESH_DISCOVERY).")
        parser.add_argument("--lookback", help="Trailing PromQL range to read, e.g. 15m or 1h (OTEL_GRAPH_LOOKBACK).")

    def handle(self, *args, mesh: str | None = None, lookback: str | None = None, **options):
        mesh = mesh or settings.MESH_DISCOVERY
        if mesh == "off":
            raise CommandError("MESH_DISCOVERY is off: set it to istio or linkerd, or pass --mesh")
        self.stdout.write(f"Reading {mesh} metrics from {settings.PROMETHEUS_URL}...")
        try:
            result = mesh_graph_discover(mesh=mesh, lookback=lookback)
        except TelemetryError as exc:
            raise CommandError(str(exc)) from exc
        for warning in result.warnings:
            self.stderr.write(f"warning: {warning}")
        self.stdout.write(
            f"{result.edges_seen} edge(s) seen, {result.edges_upserted} upserted, {result.edges_skipped} skipped; "
            f"services created: {', '.join(result.services_auto_created) or '-'}"
        )
