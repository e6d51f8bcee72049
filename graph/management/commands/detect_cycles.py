"""`manage.py detect_cycles`: detect circular dependencies now and update the alerts."""

from django.core.management.base import BaseCommand

from graph.services.cycles import cycle_alerts_sync


class Command(BaseCommand):
    help = (
        "Detect cycles in the effective, non-stale dependency graph and update circular-dependency alerts: "
        "open new ones, refresh those still present, auto-resolve those gone, reopen those back."
    )

    def handle(self, *args, **options):
        verbose = options["verbosity"] >= 1
        result = cycle_alerts_sync(progress=self.stdout.write if verbose else None)
        if not verbose:
            return
        self.stdout.write(
            f"{len(result.cycles)} cycle(s) in {result.sccs} strongly connected component(s) of a graph of "
            f"{result.nodes} services and {result.edges} edges."
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"alerts: {result.created} created, {result.reopened} reopened, {result.resolved} auto-resolved, "
                f"{result.refreshed} still open or acknowledged; took {result.duration_seconds:.2f} s"
            )
        )
        if result.truncated_sccs:
            self.stdout.write(
                self.style.WARNING(
                    f"{result.truncated_sccs} component(s) hold more cycles than CYCLE_MAX_PER_SCC; "
                    "only the first ones are listed."
                )
            )
        for cycle in result.cycles[:50]:
            self.stdout.write("  " + " → ".join(cycle + cycle[:1]))
        if len(result.cycles) > 50:
            self.stdout.write(f"  ... and {len(result.cycles) - 50} more (see the admin or the API)")
