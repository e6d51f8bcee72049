"""`manage.py setup_periodic_tasks`: create or update the django-celery-beat
schedules of DESIGN.md section 10. Idempotent: tasks are keyed by name, so a
second run changes nothing (and a changed interval updates the task)."""

import json
from dataclasses import dataclass

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask


@dataclass(frozen=True)
class Schedule:
    name: str
    task: str
    description: str
    every_minutes: int | None = None
    # Daily at this UTC time (crontab) when every_minutes is None.
    hour: int = 0
    minute: int = 0


def schedules() -> list[Schedule]:
    return [
        Schedule("otel-graph-discovery", "telemetry.tasks.discover_otel_graph",
                 "Merge the OpenTelemetry service graph into the dependency graph.",
                 every_minutes=settings.OTEL_GRAPH_INGEST_INTERVAL_MINUTES),
        Schedule("mesh-graph-discovery", "telemetry.tasks.discover_mesh_graph",
                 "Merge Istio or Linkerd edges (MESH_DISCOVERY; does nothing when off) into the dependency graph.",
                 every_minutes=settings.OTEL_GRAPH_INGEST_INTERVAL_MINUTES),
        Schedule("stale-edge-sweep", "graph.tasks.mark_stale_edges",
                 "Mark discovered edges not observed for STALE_EDGE_THRESHOLD_HOURS as stale.", every_minutes=60),
        Schedule("sli-aggregates", "telemetry.tasks.compute_sli_aggregates",
                 "Compute SLI aggregates of every service and window.", every_minutes=60),
        Schedule("recommendation-expiry", "recommendations.tasks.expire_recommendations",
                 "Expire SLO recommendations past their expiry time; prune old superseded/expired ones.",
                 every_minutes=60),
        Schedule("cycle-detection", "graph.tasks.detect_cycles",
                 "Detect circular dependencies (also runs after each ingestion).", hour=2, minute=30),
        Schedule("recommendation-batch", "recommendations.tasks.generate_recommendations_batch",
                 "Regenerate SLO recommendations of every service, then flag SLOs due for review and apply "
                 "SLO_AUTO_APPROVE.", hour=3, minute=0),
        Schedule("slo-status", "slos.tasks.refresh_slo_status",
                 "Score every active SLO: error budget, burn rates, alert conditions, health.",
                 every_minutes=settings.SLO_STATUS_INTERVAL_MINUTES),
    ]


class Command(BaseCommand):
    help = "Create or update the periodic task schedules (django-celery-beat). Safe to run repeatedly."

    @transaction.atomic
    def handle(self, *args, **options):
        for schedule in schedules():
            if schedule.every_minutes is not None:
                interval, _ = IntervalSchedule.objects.get_or_create(
                    every=schedule.every_minutes, period=IntervalSchedule.MINUTES
                )
                timing = {"interval": interval, "crontab": None}
                when = f"every {schedule.every_minutes} min"
            else:
                crontab, _ = CrontabSchedule.objects.get_or_create(
                    minute=str(schedule.minute), hour=str(schedule.hour), day_of_week="*",
                    day_of_month="*", month_of_year="*", timezone="UTC",
                )
                timing = {"interval": None, "crontab": crontab}
                when = f"daily at {schedule.hour:02d}:{schedule.minute:02d} UTC"
            fields = {
                "task": schedule.task, "description": schedule.description, "args": "[]",
                "kwargs": json.dumps({}), **timing,
            }
            task = PeriodicTask.objects.filter(name=schedule.name).first()
            if task is None:
                PeriodicTask.objects.create(name=schedule.name, enabled=True, **fields)
                state = "created"
            elif any(getattr(task, key) != value for key, value in fields.items()):
                # An operator's enabled/disabled choice in the admin is kept.
                for key, value in fields.items():
                    setattr(task, key, value)
                task.save()
                state = "updated"
            else:
                state = "unchanged"
            self.stdout.write(f"{state:9} {schedule.name:22} {schedule.task} ({when})")
