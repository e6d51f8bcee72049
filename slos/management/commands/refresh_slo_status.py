"""Score every active SLO now (what the beat task does every few minutes)."""

from django.core.management.base import BaseCommand, CommandError

from slos.models import ServiceLevelObjective, SloState
from slos.services import slo_status_refresh


class Command(BaseCommand):
    help = "Compute the status (budget, burn rates, health) of every active SLO, or of one service's."

    def add_arguments(self, parser):
        parser.add_argument("--service", default="", help="service_id of one service")

    def handle(self, *args, service: str, **options):
        slos = ServiceLevelObjective.objects.filter(state=SloState.ACTIVE).select_related("service").order_by("pk")
        if service:
            slos = slos.filter(service__service_id=service)
            if not slos.exists():
                raise CommandError(f"service {service!r} has no active SLO")
        every = max(1, slos.count() // 20)

        def progress(done: int, total: int) -> None:
            if done % every == 0 or done == total:
                self.stderr.write(f"scored {done}/{total}")

        result = slo_status_refresh(slos=slos, progress=progress)
        health = ", ".join(f"{count} {name}" for name, count in sorted(result.by_health.items())) or "none"
        self.stdout.write(self.style.SUCCESS(
            f"{result.scored} SLOs scored in {result.seconds:.1f} s ({health}); {result.stale} left stale"))
        if result.stale and not result.scored:
            raise CommandError("telemetry failed for every SLO; the last statuses are kept, marked stale")
