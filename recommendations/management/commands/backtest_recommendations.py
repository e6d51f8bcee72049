"""Walk-forward backtest of the recommendations over the stored history."""

from django.core.management.base import BaseCommand, CommandError

from graph.models import Service
from recommendations.services import BACKTEST_HISTORY_DAYS, backtest_run
from telemetry.sources import get_telemetry_source

TIERS = ("conservative", "balanced", "aggressive")


def _rate(value) -> str:
    return "-" if value is None else f"{value:.2%}"


class Command(BaseCommand):
    help = ("Walk forward over the stored history: fit on the 30 days before each step, compare each tier's "
            "target with the next window's availability; print per tier the pairs, the mean stated and the "
            "realised breach rates and a reliability table, and store the run (served by "
            "/api/v1/recommendations/calibration).")

    def add_arguments(self, parser):
        parser.add_argument("--service", default="", help="service_id: score only this service's windows")
        parser.add_argument("--step-days", type=int, default=7, help="days between two evaluated windows")
        parser.add_argument("--history-days", type=int, default=BACKTEST_HISTORY_DAYS,
                            help="how many days of history to read per service")

    def handle(self, *args, service: str, step_days: int, history_days: int, **options):
        if step_days < 1:
            raise CommandError("--step-days must be at least 1")
        if service and not Service.objects.active().filter(service_id=service).exists():
            raise CommandError(f"unknown service {service!r}")
        run = backtest_run(source=get_telemetry_source(), step_days=step_days, history_days=history_days,
                           service_id=service or None, progress=lambda message: self.stderr.write(message))
        self.stdout.write(f"Backtest over {run.services} service(s): window {run.window_days} days, "
                          f"lookback {run.lookback_days} days, step {run.step_days} days, "
                          f"history {run.history_days} days")
        self.stdout.write(f"{'tier':<14}{'pairs':>8}{'stated':>10}{'realised':>10}")
        for name in TIERS:
            tier = run.tiers[name]
            self.stdout.write(f"{name:<14}{tier['pairs']:>8}{_rate(tier['mean_stated_probability']):>10}"
                              f"{_rate(tier['realised_breach_rate']):>10}")
        for name in TIERS:
            self.stdout.write(f"\nreliability, {name}: stated bin -> pairs, mean stated, realised")
            for row in run.tiers[name]["reliability"]:
                self.stdout.write(f"  [{row['stated_lo']:.1%}, {row['stated_hi']:.1%})  {row['pairs']:>6}  "
                                  f"{row['mean_stated_probability']:>8.2%}  {row['realised_breach_rate']:>8.2%}")
        if not run.services:
            self.stdout.write(self.style.WARNING(
                f"no service has {run.lookback_days + run.window_days} days of history yet: nothing to score"))
