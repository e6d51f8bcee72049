"""Operator transitions of circular-dependency alerts.

open -> acknowledged -> resolved, and open -> resolved. Each transition is a
conditional UPDATE ... WHERE status IN (...), so two operators acting at once
cannot both win; the loser gets AlertTransitionError (409 in the API).
"""

import json
from collections.abc import Iterable

from django.db import connection
from django.db.models import Count, QuerySet, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from graph.models import AlertStatus, CircularDependencyAlert
from slo_engine.metrics import OPEN_ALERTS


class AlertTransitionError(Exception):
    def __init__(self, alert_id: int, current: str, wanted: str):
        super().__init__(f"Alert {alert_id} is {current}; it cannot be {wanted}.")
        self.alert_id = alert_id
        self.current = current
        self.wanted = wanted


def _transition(*, alert_ids: Iterable[int], allowed_from: tuple[str, ...], changes: dict) -> int:
    changed = (
        CircularDependencyAlert.objects.filter(pk__in=list(alert_ids), status__in=allowed_from)
        .update(**changes, updated_at=timezone.now())
    )
    if changed:
        alerts_gauge_refresh()
    return changed


def alerts_gauge_refresh() -> None:
    """Set the `slo_engine_open_alerts{status}` gauge from the table (one
    grouped COUNT), after detection and after each operator transition."""
    counts = dict(
        CircularDependencyAlert.objects.order_by().values_list("status").annotate(n=Count("pk")).values_list(
            "status", "n"
        )
    )
    for status in AlertStatus.values:
        OPEN_ALERTS.labels(status=status).set(counts.get(status, 0))


def alerts_acknowledge(*, alert_ids: Iterable[int], actor: str, notes: str = "") -> int:
    """Acknowledge open alerts; returns how many changed (others are skipped)."""
    return _transition(
        alert_ids=alert_ids,
        allowed_from=(AlertStatus.OPEN,),
        changes={
            "status": AlertStatus.ACKNOWLEDGED,
            "acknowledged_by": actor,
            "acknowledged_at": timezone.now(),
            "acknowledgement_notes": notes,
        },
    )


def alerts_resolve(*, alert_ids: Iterable[int], actor: str, notes: str = "") -> int:
    """Resolve open or acknowledged alerts; returns how many changed."""
    return _transition(
        alert_ids=alert_ids,
        allowed_from=(AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED),
        changes={
            "status": AlertStatus.RESOLVED,
            "resolved_by": actor,
            "resolved_at": timezone.now(),
            "resolution_notes": notes,
        },
    )


def alert_acknowledge(*, alert: CircularDependencyAlert, actor: str, notes: str = "") -> CircularDependencyAlert:
    """Acknowledge one alert or raise AlertTransitionError; returns it refreshed."""
    if not alerts_acknowledge(alert_ids=[alert.pk], actor=actor, notes=notes):
        alert.refresh_from_db()
        raise AlertTransitionError(alert.pk, alert.status, AlertStatus.ACKNOWLEDGED)
    alert.refresh_from_db()
    return alert


def alert_resolve(*, alert: CircularDependencyAlert, actor: str, notes: str = "") -> CircularDependencyAlert:
    """Resolve one alert or raise AlertTransitionError; returns it refreshed."""
    if not alerts_resolve(alert_ids=[alert.pk], actor=actor, notes=notes):
        alert.refresh_from_db()
        raise AlertTransitionError(alert.pk, alert.status, AlertStatus.RESOLVED)
    alert.refresh_from_db()
    return alert


def alerts_involving_service(*, queryset: QuerySet, service_id: str) -> QuerySet:
    """Narrow `queryset` to alerts whose cycle passes through `service_id`.

    PostgreSQL answers with jsonb containment (`cycle_path @> '["svc"]'`);
    SQLite, which has no JSON containment, matches the quoted element in the
    stored JSON text, so a service_id never matches a longer one it prefixes.
    """
    if connection.features.supports_json_field_contains:
        return queryset.filter(cycle_path__contains=[service_id])
    as_text = Cast("cycle_path", output_field=TextField())
    return queryset.alias(cycle_text=as_text).filter(cycle_text__contains=json.dumps(service_id))
