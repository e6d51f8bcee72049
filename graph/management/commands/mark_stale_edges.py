"""`manage.py mark_stale_edges [--threshold-hours N]`: run the staleness sweep now."""

from django.core.management.base import BaseCommand

from graph.services.staleness import edges_mark_stale


class Command(BaseCommand):
    help = "Mark discovered edge records not observed for STALE_EDGE_THRESHOLD_HOURS as stale."

    def add_arguments(self, parser):
        parser.add_argument("--threshold-hours", type=int, help="Override STALE_EDGE_THRESHOLD_HOURS.")

    def handle(self, *args, threshold_hours: int | None = None, **options):
        result = edges_mark_stale(threshold_hours=threshold_hours)
        self.stdout.write(
            f"{result.marked_stale} edge record(s) marked stale "
            f"(not observed since {result.cutoff:%Y-%m-%d %H:%M} UTC); "
            f"{result.stale_total} stale in total; graph version {result.graph_version}"
        )
