"""Scoring: the budget, burn rates, alert conditions and health of every
active SLO, from the telemetry source (section 13).

One run reads each SLO's events (range queries over the window, instant
queries for the burn windows), scores them with `slos.domain.budget` and
upserts the `SloStatus` rows in chunks. When the source fails for an SLO
the last status stays, marked `stale` with the error: nothing is lost.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from slo_engine.tracing import span, span_attributes, traced
from slos.domain.budget import SCORING_WINDOWS, Events, score
from slos.models import ServiceLevelObjective, SloHealth, SloState, SloStatus
from telemetry.sources import TelemetryError, TelemetrySource, get_telemetry_source

logger = logging.getLogger(__name__)

# Points of the window series: 112 steps is 6 h on a 28-day window.
WINDOW_STEPS = 112
WRITE_CHUNK = 500
_STATUS_FIELDS = [
    "computed_at", "window_start", "window_availability", "total_events", "budget_total", "budget_consumed",
    "budget_remaining", "budget_total_minutes", "budget_remaining_minutes", "burn_rates", "firing",
    "firing_conditions", "exhaustion_at", "health", "burn_down", "stale", "error",
]


@dataclass
class RefreshResult:
    scored: int = 0
    stale: int = 0
    by_health: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {"scored": self.scored, "stale": self.stale, "by_health": dict(sorted(self.by_health.items())),
                "seconds": round(self.seconds, 3)}


def window_step(window_days: int) -> timedelta:
    """The range-query step for a window: whole hours, about WINDOW_STEPS points."""
    return timedelta(hours=max(1, round(window_days * 24 / WINDOW_STEPS)))


def _finite(value: float | None) -> float | None:
    # JSON and the database hold no infinities: an infinite burn (target 1) is shown as None.
    return float(value) if value is not None and math.isfinite(value) else None


def slo_status_compute(*, slo: ServiceLevelObjective, source: TelemetrySource, now: datetime) -> SloStatus:
    """Score one SLO now (unsaved SloStatus). Raises TelemetryError."""
    with span("slo.score", {"service.id": slo.service.service_id, "slo.sli_type": slo.sli_type}):
        events = source.slo_events(
            slo.service.service_id, window_days=slo.window_days, windows=SCORING_WINDOWS,
            step=window_step(slo.window_days), at=now, threshold_ms=slo.threshold_ms, metadata=slo.service.metadata,
        )
        points = [(at, Events(counts.good, counts.total)) for at, counts in events.series]
        recent = {w: (Events(c.good, c.total) if c is not None else None) for w, c in events.windows.items()}
        result = score(window_points=points, recent=recent, target=slo.target, window_days=slo.window_days, now=now)
        span_attributes({"slo.health": result.health, "slo.firing": result.firing or "none"})
    return SloStatus(
        slo=slo, computed_at=now, window_start=now - timedelta(days=slo.window_days),
        window_availability=result.window_availability, total_events=result.total_events,
        budget_total=result.budget_total, budget_consumed=_finite(result.budget_consumed),
        budget_remaining=result.budget_remaining, budget_total_minutes=result.budget_total_minutes,
        budget_remaining_minutes=result.budget_remaining_minutes,
        burn_rates={w: _finite(r) for w, r in result.burn_rates.items()}, firing=result.firing,
        firing_conditions=[{k: (_finite(v) if isinstance(v, float) else v) for k, v in item.items()}
                           for item in result.firing_conditions],
        exhaustion_at=result.exhaustion_at, health=result.health, burn_down=result.burn_down,
        stale=False, error="",
    )


def _write(statuses: list[SloStatus]) -> None:
    if statuses:
        SloStatus.objects.bulk_create(statuses, update_conflicts=True, unique_fields=["slo"],
                                      update_fields=_STATUS_FIELDS)


def _mark_stale(slos: list[ServiceLevelObjective], error: str, now: datetime) -> None:
    """Keep the last score, flagged stale; an SLO never scored gets an unknown one."""
    ids = [slo.pk for slo in slos]
    with transaction.atomic():
        SloStatus.objects.filter(slo_id__in=ids).update(stale=True, error=error[:2000])
        scored = set(SloStatus.objects.filter(slo_id__in=ids).values_list("slo_id", flat=True))
        SloStatus.objects.bulk_create(
            [SloStatus(slo=slo, computed_at=now, health=SloHealth.UNKNOWN, stale=True, error=error[:2000])
             for slo in slos if slo.pk not in scored],
            ignore_conflicts=True,
        )


@traced("slo.status.refresh")
def slo_status_refresh(*, slos: Iterable[ServiceLevelObjective] | None = None, source: TelemetrySource | None = None,
                       now: datetime | None = None,
                       progress: Callable[[int, int], None] | None = None) -> RefreshResult:
    """Score `slos` (default: every active SLO) and store their status.

    Returns counts (scored, stale, by health). A telemetry failure on one SLO
    marks that SLO's status stale and the run goes on; a status of an SLO
    retired meanwhile is not written (the row would outlive its SLO's use).
    """
    started = time.monotonic()
    source = source or get_telemetry_source()
    now = now or timezone.now()
    if slos is None:
        slos = ServiceLevelObjective.objects.filter(state=SloState.ACTIVE).select_related("service").order_by("pk")
    slos = list(slos)
    result = RefreshResult()
    pending: list[SloStatus] = []
    failed: dict[str, list[ServiceLevelObjective]] = {}
    for index, slo in enumerate(slos, start=1):
        try:
            status = slo_status_compute(slo=slo, source=source, now=now)
        except TelemetryError as exc:
            logger.warning("SLO %s of %s not scored: %s", slo.pk, slo.service.service_id, exc)
            failed.setdefault(str(exc), []).append(slo)
            result.stale += 1
        else:
            pending.append(status)
            result.scored += 1
            result.by_health[status.health] = result.by_health.get(status.health, 0) + 1
        if len(pending) >= WRITE_CHUNK:
            _write_active(pending)
            pending = []
        if progress is not None:
            progress(index, len(slos))
    _write_active(pending)
    for error, group in failed.items():
        _mark_stale(group, error, now)
    result.seconds = time.monotonic() - started
    span_attributes({"slo.scored": result.scored, "slo.stale": result.stale})
    logger.info("SLO status refreshed: %s", result.as_dict(), extra={"counts": result.as_dict()})
    return result


def _write_active(statuses: list[SloStatus]) -> None:
    if not statuses:
        return
    with transaction.atomic():
        active = set(ServiceLevelObjective.objects
                     .filter(pk__in=[s.slo_id for s in statuses], state=SloState.ACTIVE)
                     .values_list("pk", flat=True))
        _write([s for s in statuses if s.slo_id in active])
